import { Partitioners, type IHeaders, type Kafka } from 'kafkajs';
import type { Config } from '../../lib/config.ts';
import { REPLAYED_FOR_HEADER, REPLAYED_FROM_HEADER } from '../../schemas/events.ts';

// `runledger dlq list|replay`: the dead-letter topic, read from the beginning
// by a throwaway consumer group (the projectors never read it).
export type DeadLetterEntry = {
  dlqPartition: number;
  dlqOffset: number;
  reason: string;
  step: string;
  projection: string;
  origin: { topic: string; partition: number; offset: number };
  key: string | null;
  eventId: string | null;
  eventType: string | null;
  correlationId: string | null;
  bytes: number;
  headers: IHeaders;
  value: Buffer | null;
};

const header = (h: IHeaders | undefined, name: string): string => {
  const v = h?.[name];
  const one = Array.isArray(v) ? v[0] : v;
  return one === undefined ? '' : one.toString();
};

function describeValue(value: Buffer | null): { eventId: string | null; eventType: string | null; correlationId: string | null } {
  try {
    const e = JSON.parse(value?.toString('utf8') ?? '') as Record<string, unknown>;
    const s = (x: unknown) => (typeof x === 'string' ? x : null);
    return { eventId: s(e.id), eventType: s(e.type), correlationId: s(e.correlationId) };
  } catch {
    return { eventId: null, eventType: null, correlationId: null };
  }
}

export async function readDeadLetters(kafka: Kafka, config: Config): Promise<DeadLetterEntry[]> {
  const admin = kafka.admin();
  await admin.connect();
  const groupId = `${config.consumerGroupPrefix}.dlq-reader.${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  try {
    const ends = (await admin.fetchTopicOffsets(config.dlqTopic)).filter((o) => Number(o.high) > Number(o.low));
    if (ends.length === 0) return [];
    const want = new Map(ends.map((o) => [o.partition, Number(o.high) - 1]));
    const entries: DeadLetterEntry[] = [];
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: config.dlqTopic, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('reading the dead-letter topic timed out')), 60_000);
        consumer
          .run({
            autoCommit: false,
            eachMessage: async ({ partition, message }) => {
              const offset = Number(message.offset);
              if (offset <= (want.get(partition) ?? -1)) {
                const h = message.headers;
                entries.push({
                  dlqPartition: partition,
                  dlqOffset: offset,
                  reason: header(h, 'dlq-reason'),
                  step: header(h, 'dlq-step'),
                  projection: header(h, 'dlq-projection'),
                  origin: { topic: header(h, 'dlq-topic'), partition: Number(header(h, 'dlq-partition')), offset: Number(header(h, 'dlq-offset')) },
                  key: message.key?.toString() ?? null,
                  ...describeValue(message.value),
                  bytes: message.value?.length ?? 0,
                  headers: h ?? {},
                  value: message.value,
                });
              }
              if (offset >= (want.get(partition) ?? -1)) want.delete(partition);
              if (want.size === 0) {
                clearTimeout(timer);
                resolve();
              }
            },
          })
          .catch(reject);
      });
    } finally {
      await consumer.disconnect();
    }
    return entries.sort((a, b) => a.dlqPartition - b.dlqPartition || a.dlqOffset - b.dlqOffset);
  } finally {
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
}

export type ReplayFilter = { dlqOffsets?: number[]; projection?: string; step?: string };

// Appends the selected dead letters' original bytes, key and headers (without
// the dlq-* ones, plus `replayed-from` and `replayed-for`) to the event topic.
export async function replayDeadLetters(kafka: Kafka, config: Config, filter: ReplayFilter): Promise<Array<DeadLetterEntry & { replayedFor: string[] }>> {
  const all = await readDeadLetters(kafka, config);
  const selected = all.filter(
    (e) =>
      (!filter.dlqOffsets || filter.dlqOffsets.includes(e.dlqOffset)) &&
      (!filter.projection || e.projection === filter.projection) &&
      (!filter.step || e.step === filter.step),
  );
  // One copy per origin, for the projections whose dead letters of it are
  // selected: only they apply it (REPLAYED_FOR_HEADER); the others applied the
  // event the first time, and a second application would count its result
  // twice in ClickHouse's aggregates or send its webhook again.
  const byOrigin = new Map<string, { entry: DeadLetterEntry; projections: Set<string> }>();
  for (const e of selected) {
    const origin = `${e.origin.topic}/${e.origin.partition}/${e.origin.offset}`;
    const copy = byOrigin.get(origin);
    if (copy) copy.projections.add(e.projection);
    else byOrigin.set(origin, { entry: e, projections: new Set([e.projection]) });
  }
  if (byOrigin.size === 0) return [];
  const copies = [...byOrigin.values()].map(({ entry, projections }) => ({ ...entry, replayedFor: [...projections].sort() }));
  // The same partitioner as ingest (murmur2 on the key): a run's events stay on one partition.
  const producer = kafka.producer({
    idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  try {
    await producer.send({
      topic: config.topic,
      acks: -1,
      messages: copies.map((e) => ({
        key: e.key,
        value: e.value,
        headers: {
          ...Object.fromEntries(Object.entries(e.headers).filter(([k]) => !k.startsWith('dlq-') && k !== REPLAYED_FROM_HEADER && k !== REPLAYED_FOR_HEADER)),
          [REPLAYED_FROM_HEADER]: `${config.dlqTopic}:${e.dlqPartition}:${e.dlqOffset}`,
          [REPLAYED_FOR_HEADER]: e.replayedFor.join(','),
        },
      })),
    });
  } finally {
    await producer.disconnect();
  }
  return copies;
}
