import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { loadConfig, type Config } from '../../lib/config.ts';
import { createLogger } from '../../lib/logger.ts';
import { createPool, type Pool } from '../../lib/pg.ts';
import { ClickHouse } from '../../lib/clickhouse.ts';
import { committedOffsets, createKafka, topicEnds } from '../../lib/kafka.ts';
import { createApp, type RunledgerApp } from '../../app/api.ts';
import { EventLog } from '../../lib/event-log.ts';
import { setupStores } from '../../ops/setup.ts';
import { startProjection } from '../../app/projectors.ts';
import { groupIdOf, type ProjectionName } from '../../lib/consumer-groups.ts';
import type { RunningConsumer } from '../../projections/kafka/consumer.ts';
import type { Kafka } from 'kafkajs';

export type TestStack = {
  config: Config;
  env: Record<string, string>;
  url: string;
  app: RunledgerApp;
  pool: Pool;
  ch: ClickHouse;
  kafka: Kafka;
  startProjection(name: ProjectionName): Promise<void>;
  stopProjection(name: ProjectionName): Promise<void>;
  waitForProjections(names?: ProjectionName[], timeoutMs?: number): Promise<void>;
  topicEnd(): Promise<number>;
  stop(): Promise<void>;
};

// A stack of its own for one test file: its own Postgres and ClickHouse
// databases and its own topics on the shared test broker, the real app on a
// random port, and (optionally) the projections running in this process.
// `services`: environment variables that point the stack at other servers (the
// fault-injection tests' private Kafka, ClickHouse or Postgres).
export async function startTestStack(opts: { projections?: ProjectionName[]; overrides?: Partial<Config>; services?: Record<string, string> } = {}): Promise<TestStack> {
  const base = loadConfig({ ...(process.env as Record<string, string>), ...opts.services });
  const suffix = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const pgUrl = new URL(base.pgUrl);
  pgUrl.pathname = `/rl_t_${suffix}`;
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    ...opts.services,
    RUNLEDGER_PG_URL: pgUrl.toString(),
    RUNLEDGER_CLICKHOUSE_DB: `rl_t_${suffix}`,
    RUNLEDGER_TOPIC: `rl.t.${suffix}.events`,
    RUNLEDGER_DLQ_TOPIC: `rl.t.${suffix}.dlq`,
    RUNLEDGER_TOPIC_PARTITIONS: '3',
    RUNLEDGER_CONSUMER_GROUP_PREFIX: `rl.t.${suffix}`,
    RUNLEDGER_LOG_LEVEL: process.env.RUNLEDGER_LOG_LEVEL ?? 'silent',
    // Projector processes killed by tests give their partitions back sooner.
    RUNLEDGER_CONSUMER_SESSION_TIMEOUT_MS: '6000',
    // Every request of a test comes from 127.0.0.1: the login limit (10 per
    // minute per IP) would throttle the suite. Its own test sets it back.
    RUNLEDGER_AUTH_RATE_LIMIT: '1000000',
    // Test receivers listen on loopback over http; the SSRF tests set it back.
    RUNLEDGER_WEBHOOK_ALLOW_PRIVATE: process.env.RUNLEDGER_WEBHOOK_ALLOW_PRIVATE ?? '1',
    RUNLEDGER_BLOB_DIR: join(process.env.RUNLEDGER_BLOB_DIR ?? tmpdir(), `rl_t_${suffix}`),
  };
  // Tests send far more than a reporter would: no rate limit unless a test asks for one.
  const unlimited = { windowMs: 60_000, max: Object.fromEntries(Object.keys(base.rateLimits.max).map((g) => [g, 1_000_000])) } as Config['rateLimits'];
  const config = loadConfig(env, { rateLimits: unlimited, ...opts.overrides });
  await setupStores(config);

  const logger = createLogger('test', config.logLevel);
  const pool = createPool(config.pgUrl, 10);
  const ch = ClickHouse.connect(config.clickhouseUrl, config.clickhouseDb);
  const kafka = createKafka(config, 'runledger-test');
  const eventLog = new EventLog(kafka, config.topic, config.kafkaTimeoutMs);
  const app = createApp({ config, pool, ch, kafka, eventLog, logger });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const running = new Map<ProjectionName, RunningConsumer>();

  const stack: TestStack = {
    config, env, url, app, pool, ch, kafka,
    async startProjection(name) {
      if (!running.has(name)) running.set(name, await startProjection(name, config, logger));
    },
    async stopProjection(name) {
      await running.get(name)?.stop();
      running.delete(name);
    },
    async topicEnd() {
      const admin = kafka.admin();
      await admin.connect();
      try {
        return [...(await topicEnds(admin, config.topic)).values()].reduce((a, b) => a + b, 0);
      } finally {
        await admin.disconnect();
      }
    },
    async waitForProjections(names = [...running.keys()], timeoutMs = 90_000) {
      const admin = kafka.admin();
      await admin.connect();
      try {
        const ends = await topicEnds(admin, config.topic);
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const positions = await Promise.all(names.map((n) => projectionPositions(stack, n)));
          const behind = names.filter((_, i) => [...ends].some(([p, end]) => end > 0 && (positions[i]!.get(p) ?? -1) < end - 1));
          if (behind.length === 0) return;
          if (Date.now() > deadline) {
            const at = behind.map((n) => `${n} at ${JSON.stringify(Object.fromEntries(positions[names.indexOf(n)]!))}`).join('; ');
            throw new Error(`projections ${behind.join(', ')} did not catch up within ${timeoutMs} ms (${at}; log ends ${JSON.stringify(Object.fromEntries(ends))})`);
          }
          await new Promise((r) => setTimeout(r, 50));
        }
      } finally {
        await admin.disconnect();
      }
    },
    async stop() {
      for (const name of [...running.keys()]) await stack.stopProjection(name);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections?.();
      await app.close();
      await eventLog.close();
      await pool.end();
      await rm(config.blobDir, { recursive: true, force: true });
      await ch.command(`DROP DATABASE IF EXISTS ${config.clickhouseDb}`).catch(() => undefined);
      await ch.close();
      const admin = new pg.Client({ connectionString: base.pgUrl });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS rl_t_${suffix} WITH (FORCE)`).catch(() => undefined);
      await admin.end();
    },
  };
  for (const name of opts.projections ?? []) await stack.startProjection(name);
  return stack;
}

// How far a projection got, per partition, as recorded in its own store.
export async function projectionPositions(stack: TestStack, name: ProjectionName): Promise<Map<number, number>> {
  if (name === 'postgres' || name === 'flakiness') {
    const r = await stack.pool.query(`SELECT partition, "offset" FROM projection_offsets WHERE projection = $1 AND topic = $2`, [name, stack.config.topic]);
    return new Map(r.rows.map((x) => [Number(x.partition), Number(x.offset)]));
  }
  if (name === 'blobs' || name === 'quarantine' || name === 'webhooks') {
    // No store of its own: how far it got is its consumer group's committed offset.
    const admin = stack.kafka.admin();
    await admin.connect();
    try {
      const committed = await committedOffsets(admin, groupIdOf(stack.config, name), stack.config.topic);
      return new Map([...committed].filter(([, o]) => o >= 0).map(([p, o]) => [p, o - 1]));
    } finally {
      await admin.disconnect();
    }
  }
  const rows = await stack.ch.select<{ p: number; o: string }>(
    `SELECT partition AS p, toString(max(offset)) AS o FROM projection_offsets_v1 WHERE projection = 'clickhouse' GROUP BY partition`,
  );
  return new Map(rows.map((r) => [Number(r.p), Number(r.o)]));
}
