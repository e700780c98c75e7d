import { linkBaseOf, type Config } from '../lib/config.ts';
import type { Logger } from '../lib/logger.ts';
import type { EventEnvelope } from '../schemas/events.ts';
import { createPool } from '../lib/pg.ts';
import { ClickHouse } from '../lib/clickhouse.ts';
import { createKafka } from '../lib/kafka.ts';
import { groupIdOf, type ProjectionName } from '../lib/consumer-groups.ts';
import { runProjection, type Projection, type RunningConsumer } from '../projections/kafka/consumer.ts';
import { PostgresProjection } from '../projections/postgres/projector.ts';
import { ClickHouseProjection } from '../projections/clickhouse/projector.ts';
import { BlobsProjection } from '../projections/blobs/projector.ts';
import { LocalBlobStore } from '../lib/blobs/blob-store.ts';
import { Heartbeat } from '../projections/kafka/heartbeat.ts';
import { QuarantineReactor } from '../projections/quarantine/reactor.ts';
import { FlakinessProjection } from '../projections/flakiness/projection.ts';
import { EventLog } from '../lib/event-log.ts';
import { WebhookDispatcher } from '../projections/webhooks/dispatcher.ts';
import { WebhookSender } from '../domain/webhooks/sender.ts';
import { DigestScheduler } from '../projections/webhooks/scheduler.ts';
import { verifyTopicIdentity } from '../projections/kafka/topic-identity.ts';

// Projections build read models (`flakiness` keeps each project's scores,
// computed from ClickHouse); `quarantine` and `webhooks` are reactors: they
// consume the log the same way, with their own consumer groups; the first
// appends events, the second enqueues webhook deliveries (and its process sends them).

// Builds a projection with its own connections and starts consuming.
export async function startProjection(name: ProjectionName, config: Config, logger: Logger): Promise<RunningConsumer> {
  // Positions stored for an earlier incarnation of the topic would skip events in silence: refuse before consuming.
  await verifyTopicIdentity(name, config, logger);
  const kafka = createKafka(config, `runledger-projection-${name}`);
  let projection: Projection | Projection<EventEnvelope>;
  let fetch: { minBytes: number; maxWaitTimeInMs: number; maxBytes?: number; maxBytesPerPartition?: number; partitionsConsumedConcurrently?: number };
  // Every projector reports its liveness to Postgres (consumer_heartbeats).
  // The Postgres projection holds one connection per partition it applies at once.
  const pool = createPool(config.pgUrl, name === 'postgres' ? config.topicPartitions + 1 : name === 'quarantine' || name === 'flakiness' ? 5 : name === 'webhooks' ? 10 : 1);
  const heartbeat = new Heartbeat(pool, name, config.heartbeatIntervalMs, logger);
  if (name === 'postgres') {
    projection = Object.assign(new PostgresProjection(pool, logger), { close: () => pool.end() });
    // Every partition's batch at once, each in its own transaction: the
    // projector's encoding and Postgres' writing overlap on two cores instead of
    // taking turns (test cases, shared by partitions, are locked in id order).
    // Fetches big enough to hold every partition's batch (12 MB, 2 MB each):
    // with the default 2 MB (1 MB each) a fetch held about two partitions, so
    // two transactions overlapped and each event paid a share of a fetch, a
    // commit and ~14 statements. Catch-up alone, same bench run, two runs each:
    // 2 MB 9,710 and 9,590 events/s; 6 MB 12,331 to 13,555; 12 MB 17,685 and
    // 13,838 at 240–245 MB peak RSS; 24 MB 18,172 and 16,286 but 297–303 MB.
    fetch = {
      minBytes: 1, maxWaitTimeInMs: 100, maxBytes: 12 * 1024 * 1024, maxBytesPerPartition: 2 * 1024 * 1024,
      partitionsConsumedConcurrently: config.topicPartitions,
    };
  } else if (name === 'blobs') {
    projection = Object.assign(new BlobsProjection(new LocalBlobStore(config.blobDir), logger), { close: () => pool.end() });
    fetch = { minBytes: 1, maxWaitTimeInMs: 500 };
  } else if (name === 'clickhouse') {
    const ch = ClickHouse.connect(config.clickhouseUrl, config.clickhouseDb);
    projection = Object.assign(new ClickHouseProjection(ch, config.topic, logger), {
      close: () => Promise.all([ch.close(), pool.end()]).then(() => undefined),
    });
    // Bigger, rarer inserts: ClickHouse wants about one insert per second per
    // table. Every partition's batch at once: the projection writes them as one
    // group (one insert per table), so inserts do not multiply with partitions.
    // Fetches as big as kafkajs' defaults: a smaller group makes smaller
    // inserts, and ClickHouse's CPU per row grew by half with 2 MB groups.
    fetch = {
      minBytes: 256 * 1024, maxWaitTimeInMs: 1000, maxBytes: 10 * 1024 * 1024, maxBytesPerPartition: 4 * 1024 * 1024,
      partitionsConsumedConcurrently: config.topicPartitions,
    };
  } else if (name === 'flakiness') {
    const ch = ClickHouse.connect(config.clickhouseUrl, config.clickhouseDb);
    const scorer = new FlakinessProjection(pool, ch, logger, {
      sweepEveryMs: config.flakinessSweepMs,
      onClose: () => Promise.all([ch.close(), pool.end()]).then(() => undefined),
    });
    scorer.start();
    projection = scorer;
    // Scoring a project costs the same for one result as for thousands: fewer,
    // bigger batches, and the batches of every partition at once so that they
    // share one scoring per project (FlakinessProjection coalesces them).
    // A fetch costs one scoring whatever its size (about one per project per
    // second), so a catch-up drains about one fetch per second: 16 MB fetches
    // (it keeps only the envelopes of what it fetched). 10 MB drained ~6,000
    // events/s, 20 MB 10,600 but peaked at 299 MB (docs/scaling.md).
    fetch = {
      minBytes: 64 * 1024, maxWaitTimeInMs: 1000, maxBytes: 16 * 1024 * 1024, maxBytesPerPartition: 6 * 1024 * 1024,
      partitionsConsumedConcurrently: config.topicPartitions,
    };
  } else if (name === 'webhooks') {
    const ch = ClickHouse.connect(config.clickhouseUrl, config.clickhouseDb);
    // The sender runs beside the dispatcher, in this process, from Postgres.
    const sender = new WebhookSender(pool, config.webhooks, logger);
    // Scheduled digests too: they end as deliveries the sender sends.
    const scheduler = new DigestScheduler(pool, ch, logger, { everyMs: Math.min(1000, config.webhooks.pollMs * 4), onEnqueued: () => sender.kick(), linkBase: linkBaseOf(config) });
    projection = new WebhookDispatcher(pool, ch, config.topic, logger, {
      linkBase: linkBaseOf(config),
      onEnqueued: () => sender.kick(),
      onClose: async () => {
        await scheduler.close();
        await sender.close();
        await Promise.all([pool.end(), ch.close()]);
      },
    });
    sender.start();
    scheduler.start();
    fetch = { minBytes: 1, maxWaitTimeInMs: 200 };
  } else {
    const ch = ClickHouse.connect(config.clickhouseUrl, config.clickhouseDb);
    const eventLog = new EventLog(kafka, config.topic, config.kafkaTimeoutMs);
    const reactor = new QuarantineReactor(pool, ch, eventLog, logger, {
      onClose: async () => {
        await eventLog.close();
        await Promise.all([pool.end(), ch.close()]);
      },
    });
    reactor.start();
    projection = reactor;
    fetch = { minBytes: 1, maxWaitTimeInMs: 200 };
  }
  return runProjection({
    kafka,
    topic: config.topic,
    dlqTopic: config.dlqTopic,
    groupId: groupIdOf(config, name),
    projection,
    logger,
    sessionTimeoutMs: config.consumerSessionTimeoutMs,
    heartbeat,
    ...fetch,
  });
}
