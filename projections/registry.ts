import type { Config } from '../lib/config.ts';
import type { Logger } from '../lib/logger.ts';
import { createPool } from '../lib/pg.ts';
import { ClickHouse } from '../lib/clickhouse.ts';
import { createKafka } from '../lib/kafka.ts';
import { runProjection, type Projection, type RunningConsumer } from './kafka/consumer.ts';
import { PostgresProjection } from './postgres/projector.ts';
import { ClickHouseProjection } from './clickhouse/projector.ts';
import { BlobsProjection } from './blobs/projector.ts';
import { LocalBlobStore } from '../ingest/blob-store.ts';
import { Heartbeat } from './kafka/heartbeat.ts';
import { QuarantineReactor } from './quarantine/reactor.ts';
import { EventLog } from '../ingest/event-log.ts';

// Projections build read models; `quarantine` is a reactor: it consumes the log
// the same way, with its own consumer group, and appends events.
export const PROJECTION_NAMES = ['postgres', 'clickhouse', 'blobs', 'quarantine'] as const;
export type ProjectionName = (typeof PROJECTION_NAMES)[number];

export const groupIdOf = (config: Config, name: ProjectionName) => `${config.consumerGroupPrefix}.projection.${name}`;

// Builds a projection with its own connections and starts consuming.
export async function startProjection(name: ProjectionName, config: Config, logger: Logger): Promise<RunningConsumer> {
  const kafka = createKafka(config, `runledger-projection-${name}`);
  let projection: Projection;
  let fetch: { minBytes: number; maxWaitTimeInMs: number };
  // Every projector reports its liveness to Postgres (consumer_heartbeats).
  const pool = createPool(config.pgUrl, name === 'postgres' || name === 'quarantine' ? 5 : 1);
  const heartbeat = new Heartbeat(pool, name, config.heartbeatIntervalMs, logger);
  if (name === 'postgres') {
    projection = Object.assign(new PostgresProjection(pool, logger), { close: () => pool.end() });
    fetch = { minBytes: 1, maxWaitTimeInMs: 100 };
  } else if (name === 'blobs') {
    projection = Object.assign(new BlobsProjection(new LocalBlobStore(config.blobDir), logger), { close: () => pool.end() });
    fetch = { minBytes: 1, maxWaitTimeInMs: 500 };
  } else if (name === 'clickhouse') {
    const ch = ClickHouse.connect(config.clickhouseUrl, config.clickhouseDb);
    projection = Object.assign(new ClickHouseProjection(ch, config.topic, logger), {
      close: () => Promise.all([ch.close(), pool.end()]).then(() => undefined),
    });
    // Bigger, rarer inserts: ClickHouse wants about one insert per second per table.
    fetch = { minBytes: 256 * 1024, maxWaitTimeInMs: 1000 };
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
