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
import { fetchOptionsOf, postgresPoolSizeOf } from '../projections/kafka/fetch-options.ts';

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
  // Every projector reports its liveness to Postgres (consumer_heartbeats).
  const pool = createPool(config.pgUrl, name === 'postgres' ? postgresPoolSizeOf(config.topicPartitions) : name === 'quarantine' || name === 'flakiness' ? 5 : name === 'webhooks' ? 10 : 1);
  const heartbeat = new Heartbeat(pool, name, config.heartbeatIntervalMs, logger);
  if (name === 'postgres') {
    projection = Object.assign(new PostgresProjection(pool, logger), { close: () => pool.end() });
  } else if (name === 'blobs') {
    projection = Object.assign(new BlobsProjection(new LocalBlobStore(config.blobDir), logger), { close: () => pool.end() });
  } else if (name === 'clickhouse') {
    const ch = ClickHouse.connect(config.clickhouseUrl, config.clickhouseDb);
    projection = Object.assign(new ClickHouseProjection(ch, config.topic, logger), {
      close: () => Promise.all([ch.close(), pool.end()]).then(() => undefined),
    });
  } else if (name === 'flakiness') {
    const ch = ClickHouse.connect(config.clickhouseUrl, config.clickhouseDb);
    const scorer = new FlakinessProjection(pool, ch, logger, {
      sweepEveryMs: config.flakinessSweepMs,
      onClose: () => Promise.all([ch.close(), pool.end()]).then(() => undefined),
    });
    scorer.start();
    projection = scorer;
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
    ...fetchOptionsOf(name, config.topicPartitions),
  });
}
