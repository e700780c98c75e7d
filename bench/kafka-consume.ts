// What reading the log costs a consumer, by Kafka client (issue 15, "a faster
// Kafka client"): the same realistic messages (the projectors' load, as ingest
// writes them: key, JSON value, event-type and event-id headers) on a topic of
// six partitions, read whole by one consumer group member that does nothing
// with them but commit after each batch, as projections/kafka/consumer.ts does:
//   - kafkajs (the client every consumer uses), with the Postgres projector's fetch sizes;
//   - @platformatic/kafka (already a dependency, for topic ids), with the same sizes.
// Each client reads the topic twice, in turns, with a fresh group each time;
// the faster of its two reads counts. Figures: events/s, and this process's
// CPU per event (the client's own cost; the broker's is left out).
import { Consumer as PlatformaticConsumer, MessagesStreamModes } from '@platformatic/kafka';
import { loadConfig } from '../lib/config.ts';
import { createKafka } from '../lib/kafka.ts';
import { partitionKey } from '../schemas/events.ts';
import { projectorLoad } from './projectors/events.ts';
import { ownCpuSeconds } from './cpu.ts';

const PARTITIONS = 6;
const FETCH = { maxBytes: 2 * 1024 * 1024, maxBytesPerPartition: 1024 * 1024, minBytes: 1, maxWaitMs: 100 };

type Read = { eventsPerSecond: number; cpuMicrosPerEvent: number };

export async function measureKafkaConsume(results = Number(process.env.BENCH_RESULTS ?? 100_000)) {
  const config = loadConfig();
  const kafka = createKafka(config, 'bench-kafka-consume');
  const topic = `bench.consume.${Date.now().toString(36)}`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: -1 }] });

  const load = projectorLoad('proj_01JEXAMP1E0000000000000000', 20, Math.ceil(results / 20));
  const events = [...load.runs, ...load.batches.flat().map((pe) => pe.event)];
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  for (let i = 0; i < events.length; i += 500) {
    await producer.send({
      topic, acks: -1,
      messages: events.slice(i, i + 500).map((e) => ({ key: partitionKey(e), value: JSON.stringify(e), headers: { 'event-type': e.type, 'event-id': e.id } })),
    });
  }
  await producer.disconnect();
  const total = events.length;
  const bytes = events.reduce((n, e) => n + Buffer.byteLength(JSON.stringify(e)), 0);

  const timed = async (read: () => Promise<void>): Promise<Read> => {
    const c0 = ownCpuSeconds();
    const t0 = process.hrtime.bigint();
    await read();
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    return { eventsPerSecond: Math.round(total / s), cpuMicrosPerEvent: Math.round(((ownCpuSeconds() - c0) / total) * 1e6 * 10) / 10 };
  };

  let round = 0;
  const groupId = () => `${config.consumerGroupPrefix}.bench-consume-${Date.now().toString(36)}-${round++}`;

  const readWithKafkajs = () => timed(async () => {
    const consumer = kafka.consumer({
      groupId: groupId(), minBytes: FETCH.minBytes, maxWaitTimeInMs: FETCH.maxWaitMs, maxBytes: FETCH.maxBytes,
      maxBytesPerPartition: FETCH.maxBytesPerPartition,
    });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    let seen = 0;
    await new Promise<void>((resolve, reject) => {
      consumer.run({
        autoCommit: false, eachBatchAutoResolve: false, partitionsConsumedConcurrently: PARTITIONS,
        eachBatch: async ({ batch }) => {
          if (batch.messages.length === 0) return;
          for (const m of batch.messages) if (m.headers?.['event-type'] === undefined) throw new Error('a message without its headers');
          seen += batch.messages.length;
          await consumer.commitOffsets([{ topic, partition: batch.partition, offset: String(Number(batch.lastOffset()) + 1) }]);
          if (seen >= total) resolve();
        },
      }).catch(reject);
    });
    await consumer.disconnect();
  });

  const readWithPlatformatic = () => timed(async () => {
    const consumer = new PlatformaticConsumer({
      groupId: groupId(), clientId: 'bench-kafka-consume', bootstrapBrokers: config.kafkaBrokers,
      minBytes: FETCH.minBytes, maxBytes: FETCH.maxBytes, maxWaitTime: FETCH.maxWaitMs,
    });
    const stream = await consumer.consume({
      topics: [topic], mode: MessagesStreamModes.EARLIEST, autocommit: false,
      maxBytesPerPartition: FETCH.maxBytesPerPartition,
    });
    let seen = 0;
    // Committed per partition each time a fetch's messages of it were read, as kafkajs' batches are.
    const last = new Map<number, { commit: () => unknown }>();
    for await (const m of stream) {
      if (!m.headers.size) throw new Error('a message without its headers');
      seen += 1;
      last.set(m.partition, m);
      if (stream.readableLength === 0 || seen >= total) {
        await Promise.all([...last.values()].map((x) => x.commit()));
        last.clear();
      }
      if (seen >= total) break;
    }
    await stream.close();
    await consumer.close();
  });

  const reads: Record<'kafkajs' | 'platformatic', Read[]> = { kafkajs: [], platformatic: [] };
  for (let i = 0; i < 2; i++) {
    reads.kafkajs.push(await readWithKafkajs());
    reads.platformatic.push(await readWithPlatformatic());
  }
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
  const best = (r: Read[]) => r.reduce((a, b) => (b.eventsPerSecond > a.eventsPerSecond ? b : a));
  const kafkajs = best(reads.kafkajs);
  const platformatic = best(reads.platformatic);
  return {
    events: total, meanBytes: Math.round(bytes / total), partitions: PARTITIONS, reads,
    kafkajs, platformatic,
    ratio: {
      eventsPerSecond: Math.round((platformatic.eventsPerSecond / kafkajs.eventsPerSecond) * 100) / 100,
      cpuPerEvent: Math.round((platformatic.cpuMicrosPerEvent / kafkajs.cpuMicrosPerEvent) * 100) / 100,
    },
  };
}
