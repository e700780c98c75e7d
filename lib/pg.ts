import pg from 'pg';
import { metrics } from './metrics.ts';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
export type Queryable = Pick<pg.Pool, 'query'>;

// BIGINT (offsets, counts) as JS numbers: offsets stay far below 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

export function createPool(url: string, max = 10): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: 5000 });
  // An idle client losing its connection must not crash the process.
  pool.on('error', () => undefined);
  pool.on('connect', timeQueries);
  return pool;
}

// Every query of every pooled client (pool.query and transactions alike) is
// timed into runledger_db_query_duration_seconds{store="postgres"}.
function timeQueries(client: pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as { query: unknown }).query = (...args: unknown[]) => {
    const text = typeof args[0] === 'string' ? args[0] : ((args[0] as { text?: string })?.text ?? '');
    const op = /^\s*(\w+)/.exec(text)?.[1]?.toUpperCase() ?? 'OTHER';
    const started = process.hrtime.bigint();
    const done = (outcome: string) =>
      metrics.dbDuration.observe({ store: 'postgres', op, outcome }, Number(process.hrtime.bigint() - started) / 1e9);
    const cb = args[args.length - 1];
    if (typeof cb === 'function') {
      args[args.length - 1] = (err: unknown, res: unknown) => {
        done(err ? 'error' : 'ok');
        cb(err, res);
      };
      return query(...args);
    }
    const result = query(...args);
    if (result && typeof (result as Promise<unknown>).then === 'function') {
      (result as Promise<unknown>).then(() => done('ok'), () => done('error'));
    }
    return result;
  };
}

export async function withTransaction<T>(pool: pg.Pool, fn: (tx: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
