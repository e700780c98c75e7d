import type { Config } from '../../lib/config.ts';
import type { Logger } from '../../lib/logger.ts';
import { createPool, withTransaction, type Queryable } from '../../lib/pg.ts';
import { createKafka, topicEnds, topicIdOf } from '../../lib/kafka.ts';
import { postgresPositionsAreCurrent, recordTopicIdentityPostgres } from '../../projections/kafka/topic-identity.ts';
import { migratePostgres } from '../../lib/migrate.ts';
import { runProjection, type RunningConsumer } from '../../projections/kafka/consumer.ts';
import { PostgresProjection, POSTGRES_PROJECTION } from '../../projections/postgres/projector.ts';
import { POSTGRES_READ_MODELS } from '../../projections/postgres/read-models.ts';
import { fetchOptionsOf, postgresPoolSizeOf } from '../../projections/kafka/fetch-options.ts';

// `runledger rebuild postgres`: replays the whole log into fresh read models in
// a shadow schema, built by the same migration files, while the live tables keep
// serving and the live projector keeps applying. Once the shadow caught up, the
// switch waits for the live projector to be stopped (the command says so), lets
// the shadow reach its last position, and in one transaction moves the live
// tables to a `<shadow>_old` schema and the shadow tables into `public`, with the
// projection's position. A projector started afterwards resumes from there.
// (Pausing the live projector with a table lock instead was tried; under load it
// sometimes left the projector stalled after the switch, so the switch asks for a
// stop, as `rebuild clickhouse` must anyway.)
export type RebuildResult = { shadow: string; old: string | null; events: number; ms: number; switchMs: number };

export const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function positions(db: Queryable): Promise<Map<number, number>> {
  const r = await db.query(`SELECT partition, "offset" FROM projection_offsets WHERE projection = $1`, [POSTGRES_PROJECTION]);
  return new Map(r.rows.map((x) => [Number(x.partition), Number(x.offset)]));
}

export const reached = (have: Map<number, number>, want: Map<number, number>) =>
  [...want].every(([p, offset]) => offset < 0 || (have.get(p) ?? -1) >= offset);

export async function rebuildPostgres(
  config: Config,
  logger: Logger,
  opts: { keepOld?: boolean; timeoutMs?: number; say?: (line: string) => void } = {},
): Promise<RebuildResult> {
  const started = Date.now();
  const stamp = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`;
  const shadow = `rebuild_${stamp}`;
  const timeoutMs = opts.timeoutMs ?? 6 * 3600_000;
  const live = createPool(config.pgUrl, 2);
  await live.query(`CREATE SCHEMA ${shadow}`);
  const url = new URL(config.pgUrl);
  url.searchParams.set('options', `-c search_path=${shadow}`);
  const shadowPool = createPool(url.toString(), postgresPoolSizeOf(config.topicPartitions));
  let consumer: RunningConsumer | null = null;
  const kafka = createKafka(config, 'runledger-rebuild');
  const admin = kafka.admin();
  const groupId = `${config.consumerGroupPrefix}.rebuild.${shadow}`;
  let switchMs = 0;
  let switchStarted = 0;
  try {
    await migratePostgres(shadowPool);
    consumer = await runProjection({
      kafka, topic: config.topic, dlqTopic: config.dlqTopic, groupId, logger,
      projection: new PostgresProjection(shadowPool, logger),
      sessionTimeoutMs: config.consumerSessionTimeoutMs, ...fetchOptionsOf(POSTGRES_PROJECTION, config.topicPartitions),
    });
    await admin.connect();
    // Last offset per partition at the start: catch up to it while the live tables serve.
    const target = new Map([...(await topicEnds(admin, config.topic))].map(([p, end]) => [p, end - 1]));
    const deadline = Date.now() + timeoutMs;
    const catchUp = async (want: Map<number, number>, what: string) => {
      while (!reached(await positions(shadowPool), want)) {
        if (Date.now() > deadline) throw new Error(`rebuild did not reach ${what} in time`);
        await pause(50);
      }
    };
    await catchUp(target, 'the end of the log');
    logger.info({ shadow, target: Object.fromEntries(target) }, 'shadow caught up with the log; switching');

    // The switch needs the live projector stopped (like `rebuild clickhouse`):
    // then the shadow reaches its last position and nothing moves during the swap.
    await waitForProjectorsToStop(live, POSTGRES_PROJECTION, config, deadline, opts.say);
    switchStarted = Date.now();
    // After the topic was re-created the live positions are the old topic's: there is nothing of them to reach.
    const topicId = await topicIdOf(config, config.topic);
    const liveCurrent = await postgresPositionsAreCurrent(live, POSTGRES_PROJECTION, config.topic, topicId, await topicEnds(admin, config.topic));
    await catchUp(liveCurrent ? await positions(live) : new Map(), 'the live position');
    await consumer.stop();
    consumer = null;
    const old = `${shadow}_old`;
    await withTransaction(live, async (client) => {
      await client.query(`CREATE SCHEMA ${old}`);
      for (const table of POSTGRES_READ_MODELS) {
        await client.query(`ALTER TABLE public.${table} SET SCHEMA ${old}`);
        await client.query(`ALTER TABLE ${shadow}.${table} SET SCHEMA public`);
      }
      // projection_offsets is shared with other projections: only this one's rows change.
      await client.query('DELETE FROM public.projection_offsets WHERE projection = $1', [POSTGRES_PROJECTION]);
      await client.query(
        `INSERT INTO public.projection_offsets SELECT * FROM ${shadow}.projection_offsets WHERE projection = $1`,
        [POSTGRES_PROJECTION],
      );
      await recordTopicIdentityPostgres(client, POSTGRES_PROJECTION, config.topic, topicId);
    });
    switchMs = Date.now() - switchStarted;
    await live.query(`DROP SCHEMA ${shadow} CASCADE`);
    if (!opts.keepOld) await live.query(`DROP SCHEMA ${old} CASCADE`);
    const events = [...(await positions(live))].reduce((n, [, o]) => n + o + 1, 0);
    logger.info({ old: opts.keepOld ? old : null, ms: Date.now() - started, switchMs }, 'switched to the rebuilt read models');
    return { shadow, old: opts.keepOld ? old : null, events, ms: Date.now() - started, switchMs };
  } catch (err) {
    await live.query(`DROP SCHEMA IF EXISTS ${shadow} CASCADE`).catch(() => undefined);
    throw err;
  } finally {
    await consumer?.stop().catch(() => undefined);
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    await shadowPool.end().catch(() => undefined);
    await live.end();
  }
}

// Waits until consumer_heartbeats shows no live instance of a projection (a
// graceful stop removes its row at once; a killed one ages out after
// RUNLEDGER_HEARTBEAT_STALE_MS), telling the operator once what to do.
export async function waitForProjectorsToStop(
  db: Queryable, projection: string, config: Config, deadline: number, say?: (line: string) => void,
): Promise<void> {
  let told = false;
  for (;;) {
    const r = await db.query(
      `SELECT count(*)::int AS n FROM consumer_heartbeats WHERE projection = $1 AND now() - updated_at <= $2 * interval '1 millisecond'`,
      [projection, config.heartbeatStaleMs],
    );
    if (r.rows[0].n === 0) return;
    if (!told) say?.(`the rebuilt tables are ready: stop the ${projection} projector(s) to switch; reads go on meanwhile`);
    told = true;
    if (Date.now() > deadline) throw new Error(`the ${projection} projector was not stopped in time`);
    await pause(200);
  }
}
