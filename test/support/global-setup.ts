import pg from 'pg';
import { loadConfig } from '../../lib/config.ts';
import { ClickHouse } from '../../lib/clickhouse.ts';
import { createKafka } from '../../lib/kafka.ts';
import { buildServer } from '../../ops/build-server.ts';

// Stack names start with their creation time in base 36 (test/support/stack.ts).
// Only leftovers of interrupted runs are removed: a test run going on at the
// same time must keep its databases.
const STALE_MS = 2 * 3600 * 1000;
const isStale = (name: string) => {
  const born = parseInt(/^rl[._]t[._]([0-9a-z]+)[._]/.exec(name)?.[1] ?? '', 36);
  return Number.isFinite(born) && Date.now() - born > STALE_MS;
};

// Builds the server (dist/); fails fast, with the fix, when the services ops/test starts are not there,
// and removes what interrupted runs left behind.
export default async function globalSetup(): Promise<void> {
  // Tests that start the server's processes run its build, as ops/up does.
  await buildServer();
  const config = loadConfig();
  const hint = 'run the tests with ops/test (it starts Kafka and ClickHouse for them)';
  const admin = new pg.Client({ connectionString: config.pgUrl });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(`Postgres not reachable at ${config.pgUrl}: ${(err as Error).message}; ${hint}`);
  }
  try {
    const stale = await admin.query(`SELECT datname FROM pg_database WHERE datname LIKE 'rl\\_t\\_%'`);
    for (const row of stale.rows.filter((r) => isStale(r.datname))) await admin.query(`DROP DATABASE IF EXISTS ${row.datname} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
  const ch = ClickHouse.connect(config.clickhouseUrl, 'default');
  try {
    if (!(await ch.ping())) throw new Error('ping failed');
    const dbs = await ch.select<{ name: string }>(`SELECT name FROM system.databases WHERE name LIKE 'rl\\_t\\_%'`);
    for (const d of dbs.filter((x) => isStale(x.name))) await ch.command(`DROP DATABASE IF EXISTS ${d.name}`);
  } catch (err) {
    throw new Error(`ClickHouse not reachable at ${config.clickhouseUrl}: ${(err as Error).message}; ${hint}`);
  } finally {
    await ch.close();
  }
  const kafka = createKafka(config, 'runledger-test-setup').admin();
  try {
    await kafka.connect();
    const topics = (await kafka.listTopics()).filter((t) => t.startsWith('rl.t.') && isStale(t));
    if (topics.length) await kafka.deleteTopics({ topics });
  } catch (err) {
    throw new Error(`Kafka not reachable at ${config.kafkaBrokers.join(',')}: ${(err as Error).message}; ${hint}`);
  } finally {
    await kafka.disconnect();
  }
}
