import type { Config } from '../../lib/config.ts';
import type { Logger } from '../../lib/logger.ts';
import { createPool } from '../../lib/pg.ts';
import { ClickHouse, chDateTime, sql } from '../../lib/clickhouse.ts';
import { createKafka, topicEnds, topicIdOf } from '../../lib/kafka.ts';
import { clickhousePositionsAreCurrent } from '../../projections/kafka/topic-identity.ts';
import { clickhouseViewStatements, migrateClickHouse } from '../../lib/migrate.ts';
import { runProjection, type RunningConsumer } from '../../projections/kafka/consumer.ts';
import { CLICKHOUSE_FACT_TABLES, CLICKHOUSE_PROJECTION, ClickHouseProjection, DELETED_PROJECTS_TABLE } from '../../projections/clickhouse/projector.ts';
import { CLICKHOUSE_DERIVED_TABLES } from '../../projections/clickhouse/tables/derived.ts';
import { waitForMutations } from '../../projections/reset.ts';
import { fetchOptionsOf } from '../../projections/kafka/fetch-options.ts';
import { pause, reached, waitForProjectorsToStop, type RebuildResult } from './rebuild.ts';

const OFFSETS = 'projection_offsets_v1';
// Every table the projector fills, directly or through its views.
export const REBUILT_TABLES = [...CLICKHOUSE_FACT_TABLES, ...CLICKHOUSE_DERIVED_TABLES, DELETED_PROJECTS_TABLE];

// `runledger rebuild clickhouse`: replays the log into fresh tables (facts, the tables their views fill, tombstones) in a
// shadow database created by the same migration files, while the live tables
// keep serving, then switches with one `RENAME TABLE live TO old, shadow TO live`.
//
// ClickHouse has no transaction that could pause the live projector at a batch
// boundary, and the projector keeps its positions in memory; so the switch waits
// until no ClickHouse projector is running (consumer_heartbeats shows none):
// stop it when the command says so; reads go on meanwhile. The shadow then
// reaches the live position, the tables are swapped, the shadow's position is
// recorded, and a projector started afterwards resumes from it.
async function positions(ch: ClickHouse, topic: string): Promise<Map<number, number>> {
  const rows = await ch.select<{ p: number; o: string }>(
    `SELECT partition AS p, toString(max(offset)) AS o FROM ${OFFSETS}
     WHERE projection = ${sql.str(CLICKHOUSE_PROJECTION)} AND topic = ${sql.str(topic)} GROUP BY partition`,
  );
  return new Map(rows.map((r) => [Number(r.p), Number(r.o)]));
}

async function refuseAfterTopicRecreated(config: Config, live: ClickHouse): Promise<void> {
  const admin = createKafka(config, 'runledger-rebuild').admin();
  await admin.connect();
  try {
    const [id, ends] = await Promise.all([topicIdOf(config, config.topic), topicEnds(admin, config.topic)]);
    if (!(await clickhousePositionsAreCurrent(live, CLICKHOUSE_PROJECTION, config.topic, id, ends))) {
      await live.close();
      throw new Error(`the ClickHouse positions belong to an earlier topic ${config.topic} (it was re-created): stop the clickhouse projector(s) and run \`ops/runledger reset clickhouse\` instead`);
    }
  } finally {
    await admin.disconnect();
  }
}

export async function rebuildClickHouse(
  config: Config,
  logger: Logger,
  opts: { keepOld?: boolean; timeoutMs?: number; say?: (line: string) => void } = {},
): Promise<RebuildResult> {
  const started = Date.now();
  const id = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`;
  const shadowDb = `${config.clickhouseDb}_rebuild_${id}`;
  const deadline = Date.now() + (opts.timeoutMs ?? 6 * 3600_000);
  const live = ClickHouse.connect(config.clickhouseUrl, config.clickhouseDb);
  await refuseAfterTopicRecreated(config, live);
  const pool = createPool(config.pgUrl, 1);
  await live.command(`CREATE DATABASE ${sql.ident(shadowDb)}`);
  const shadow = ClickHouse.connect(config.clickhouseUrl, shadowDb);
  const kafka = createKafka(config, 'runledger-rebuild');
  const admin = kafka.admin();
  const groupId = `${config.consumerGroupPrefix}.rebuild.${shadowDb}`;
  let consumer: RunningConsumer | null = null;
  const catchUp = async (want: Map<number, number>, what: string) => {
    while (!reached(await positions(shadow, config.topic), want)) {
      if (Date.now() > deadline) throw new Error(`rebuild did not reach ${what} in time`);
      await pause(100);
    }
  };
  try {
    await migrateClickHouse(shadow);
    consumer = await runProjection({
      kafka, topic: config.topic, dlqTopic: config.dlqTopic, groupId, logger,
      projection: new ClickHouseProjection(shadow, config.topic, logger),
      sessionTimeoutMs: config.consumerSessionTimeoutMs, ...fetchOptionsOf(CLICKHOUSE_PROJECTION, config.topicPartitions),
    });
    await admin.connect();
    const target = new Map([...(await topicEnds(admin, config.topic))].map(([p, end]) => [p, end - 1]));
    await catchUp(target, 'the end of the log');
    logger.info({ shadowDb }, 'shadow caught up with the log');

    await waitForProjectorsToStop(pool, CLICKHOUSE_PROJECTION, config, deadline, opts.say);
    const switchStarted = Date.now();
    await catchUp(await positions(live, config.topic), 'the live position');
    await consumer.stop();
    consumer = null;
    await waitForMutations(shadow);
    const old = `${config.clickhouseDb}_old_${id}`;
    await live.command(`CREATE DATABASE ${sql.ident(old)}`);
    await live.command(
      `RENAME TABLE ${REBUILT_TABLES.map((t) => `${config.clickhouseDb}.${t} TO ${old}.${t}, ${shadowDb}.${t} TO ${config.clickhouseDb}.${t}`).join(', ')}`,
    );
    // The views feed the switched-in tables from now on (no insert runs meanwhile:
    // no projector does).
    const views = await live.select<{ name: string }>(
      `SELECT name FROM system.tables WHERE database = ${sql.str(config.clickhouseDb)} AND engine = 'MaterializedView'`,
    );
    for (const v of views) await live.command(`DROP TABLE ${sql.ident(v.name)}`);
    for (const statement of await clickhouseViewStatements()) await live.command(statement);
    // projection_offsets_v1 may hold other projections' positions: only the shadow's are added.
    const reachedAt = await positions(shadow, config.topic);
    await live.insert(OFFSETS, [...reachedAt].map(([partition, offset]) => (
      { projection: CLICKHOUSE_PROJECTION, topic: config.topic, partition, offset, updated_at: chDateTime(Date.now()) })));
    const switchMs = Date.now() - switchStarted;
    await live.command(`DROP DATABASE ${sql.ident(shadowDb)}`);
    if (!opts.keepOld) await live.command(`DROP DATABASE ${sql.ident(old)}`);
    const events = [...reachedAt].reduce((n, [, o]) => n + o + 1, 0);
    logger.info({ old: opts.keepOld ? old : null, ms: Date.now() - started, switchMs }, 'switched to the rebuilt tables');
    return { shadow: shadowDb, old: opts.keepOld ? old : null, events, ms: Date.now() - started, switchMs };
  } catch (err) {
    await live.command(`DROP DATABASE IF EXISTS ${sql.ident(shadowDb)}`).catch(() => undefined);
    throw err;
  } finally {
    await consumer?.stop().catch(() => undefined);
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    await Promise.all([shadow.close(), live.close(), pool.end()]);
  }
}
