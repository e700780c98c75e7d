import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Pool } from './pg.ts';
import type { ClickHouse } from './clickhouse.ts';

// Numbered SQL files (NNN_<verb>_<table>.sql) applied once each, in order, by the
// stack and by the tests alike. A file may hold several statements separated by
// a line containing only `-- ;` (ClickHouse takes one statement per request).
export const MIGRATIONS_DIR = new URL('../ops/migrations/', import.meta.url).pathname;

async function migrationFiles(dir: string): Promise<{ name: string; statements: string[] }[]> {
  const names = (await readdir(dir)).filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f)).sort();
  return Promise.all(
    names.map(async (name) => {
      const text = await readFile(join(dir, name), 'utf8');
      const statements = text.split(/^-- ;\s*$/m).map((s) => s.trim()).filter((s) => s.replace(/--.*$/gm, '').trim());
      return { name, statements };
    }),
  );
}

export async function migratePostgres(pool: Pool, dir = join(MIGRATIONS_DIR, 'pg')): Promise<string[]> {
  const client = await pool.connect();
  try {
    // One migrator at a time across processes.
    await client.query('SELECT pg_advisory_lock(4242001)');
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const done = new Set((await client.query('SELECT name FROM schema_migrations')).rows.map((r) => r.name as string));
    const applied: string[] = [];
    for (const m of await migrationFiles(dir)) {
      if (done.has(m.name)) continue;
      await client.query('BEGIN');
      try {
        for (const s of m.statements) await client.query(s);
        await client.query('INSERT INTO schema_migrations (name) VALUES ($1)', [m.name]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${m.name} failed: ${(err as Error).message}`);
      }
      applied.push(m.name);
    }
    return applied;
  } finally {
    await client.query('SELECT pg_advisory_unlock(4242001)').catch(() => undefined);
    client.release();
  }
}

export async function migrateClickHouse(ch: ClickHouse, dir = join(MIGRATIONS_DIR, 'clickhouse')): Promise<string[]> {
  await ch.command(
    'CREATE TABLE IF NOT EXISTS schema_migrations (name String, applied_at DateTime) ENGINE = MergeTree ORDER BY name',
  );
  const done = new Set((await ch.select<{ name: string }>('SELECT name FROM schema_migrations')).map((r) => r.name));
  const applied: string[] = [];
  for (const m of await migrationFiles(dir)) {
    if (done.has(m.name)) continue;
    // ClickHouse DDL is not transactional: statements are written to be re-runnable
    // (IF NOT EXISTS), so a migration interrupted half-way is simply run again.
    for (const s of m.statements) await ch.command(s);
    await ch.insert('schema_migrations', [{ name: m.name, applied_at: Math.floor(Date.now() / 1000) }]);
    applied.push(m.name);
  }
  return applied;
}

// The materialised views the ClickHouse migrations create, as their CREATE
// statements: `runledger rebuild clickhouse` creates them again over the tables
// it switched in (a view follows its tables by name on some versions and by
// identity on others, so re-creating them is the one way that works on both).
// A later migration may define a view again (012 did, after dropping it): the
// last definition of each is the one in force.
export async function clickhouseViewStatements(dir = join(MIGRATIONS_DIR, 'clickhouse')): Promise<string[]> {
  const views = new Map<string, string>();
  for (const s of (await migrationFiles(dir)).flatMap((m) => m.statements)) {
    const name = /^\s*(?:--.*\n\s*)*CREATE MATERIALIZED VIEW (?:IF NOT EXISTS )?(\w+)/i.exec(s)?.[1];
    if (name) views.set(name, s);
  }
  return [...views.values()];
}
