// Prepares the stores for a stack: the Postgres database, migrations of both
// stores, and the Kafka topics. Safe to run any number of times.
import pg from 'pg';
import { loadConfig, type Config } from '../lib/config.ts';
import { createPool } from '../lib/pg.ts';
import { ClickHouse } from '../lib/clickhouse.ts';
import { createKafka, ensureTopics } from '../lib/kafka.ts';
import { migrateClickHouse, migratePostgres } from '../lib/migrate.ts';

export async function ensurePostgresDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const dbName = decodeURIComponent(target.pathname.slice(1));
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(dbName)) throw new Error(`unsupported database name ${dbName}`);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [dbName]);
    if (!exists.rowCount) await client.query(`CREATE DATABASE ${dbName}`);
  } finally {
    await client.end();
  }
}

export async function ensureClickHouseDatabase(config: Config): Promise<void> {
  const root = ClickHouse.connect(config.clickhouseUrl, 'default');
  try {
    await root.command(`CREATE DATABASE IF NOT EXISTS ${config.clickhouseDb}`);
  } finally {
    await root.close();
  }
}

async function retry<T>(what: string, fn: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what}: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

export async function setupStores(config: Config, log: (msg: string) => void = () => undefined): Promise<void> {
  await ensurePostgresDatabase(config.pgUrl);
  const pool = createPool(config.pgUrl, 2);
  try {
    const applied = await migratePostgres(pool);
    log(`postgres migrations applied: ${applied.length ? applied.join(', ') : 'none needed'}`);
  } finally {
    await pool.end();
  }
  await retry('clickhouse', () => ensureClickHouseDatabase(config));
  const ch = ClickHouse.connect(config.clickhouseUrl, config.clickhouseDb);
  try {
    const applied = await migrateClickHouse(ch);
    log(`clickhouse migrations applied: ${applied.length ? applied.join(', ') : 'none needed'}`);
  } finally {
    await ch.close();
  }
  const admin = createKafka(config, 'runledger-setup').admin();
  await retry('kafka', () => admin.connect());
  try {
    await retry('kafka topics', () => ensureTopics(admin, config));
    log(`kafka topics ready: ${config.topic}, ${config.dlqTopic}`);
  } finally {
    await admin.disconnect();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const config = loadConfig();
  setupStores(config, (m) => console.log(`[setup] ${m}`)).catch((err) => {
    console.error(`[setup] failed: ${(err as Error).message}`);
    process.exit(1);
  });
}
