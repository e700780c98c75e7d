import type { Context, Next } from 'koa';
import { AppError } from '../errors.ts';
import { sql, type ClickHouse } from '../clickhouse.ts';
import type { Pool } from '../pg.ts';
import type { Logger } from '../logger.ts';

// Read-your-writes across the log (docs/ingest.md). Every ingest response
// carries X-Runledger-Position: <partition>:<offset>,… of what it appended. A GET
// that sends it back (the same header, or ?position=) waits, bounded, until the
// projections its route reads from have applied those offsets; on timeout it
// answers with what is there and `X-Runledger-Stale: true`.

export type ProjectionName = 'postgres' | 'clickhouse' | 'flakiness';
export type Target = Map<number, number>;

// What each route reads besides the Postgres read models. Add a route here
// when it reads ClickHouse facts or the stored flakiness scores.
const READS: Array<[RegExp, ProjectionName[]]> = [
  [/^\/api\/tests\/[^/]+\/history$/, ['clickhouse']],
  [/^\/api\/analytics\//, ['clickhouse']],
  [/^\/api\/flakiness$/, ['clickhouse', 'flakiness']],
];

export const POSITION_HEADER = 'X-Runledger-Position';
export const STALE_HEADER = 'X-Runledger-Stale';
const MAX_ENTRIES = 1024;

export function parsePosition(token: string): Target {
  const target: Target = new Map();
  const parts = token.split(',');
  const bad = (why: string) =>
    new AppError('validation_error', `'position' ${why}`, { field: 'position', issues: [{ path: 'position', message: why }] });
  if (parts.length > MAX_ENTRIES) throw bad(`has more than ${MAX_ENTRIES} entries`);
  for (const part of parts) {
    const m = /^(\d{1,5}):(\d{1,15})$/.exec(part.trim());
    if (!m) throw bad('must be <partition>:<offset>[,<partition>:<offset>…] as sent in X-Runledger-Position');
    const p = Number(m[1]);
    target.set(p, Math.max(target.get(p) ?? -1, Number(m[2])));
  }
  return target;
}

type Waiter = { target: Target; projections: ProjectionName[]; deadline: number; resolve: (ok: boolean) => void };

// One poller for every waiting request: each tick reads the positions of the
// projections someone waits for, once, and releases whoever is satisfied.
export class ProjectionWatcher {
  private waiters = new Set<Waiter>();
  private running = false;

  constructor(private pool: Pool, private ch: ClickHouse, private topic: string, private logger: Logger, private pollMs = 20) {}

  waitFor(target: Target, projections: ProjectionName[], timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      this.waiters.add({ target, projections, deadline: Date.now() + timeoutMs, resolve });
      if (!this.running) void this.loop();
    });
  }

  async positions(name: ProjectionName): Promise<Map<number, number>> {
    if (name !== 'clickhouse') {
      const r = await this.pool.query(`SELECT partition, "offset" FROM projection_offsets WHERE projection = $1 AND topic = $2`, [name, this.topic]);
      return new Map(r.rows.map((x) => [Number(x.partition), Number(x.offset)]));
    }
    const rows = await this.ch.select<{ p: number; o: string }>(
      `SELECT partition AS p, toString(max(offset)) AS o FROM projection_offsets_v1
       WHERE projection = 'clickhouse' AND topic = ${sql.str(this.topic)} GROUP BY partition`,
    );
    return new Map(rows.map((r) => [Number(r.p), Number(r.o)]));
  }

  private async loop(): Promise<void> {
    this.running = true;
    try {
      while (this.waiters.size) {
        const needed = new Set([...this.waiters].flatMap((w) => w.projections));
        const current = new Map<ProjectionName, Map<number, number>>();
        for (const name of needed) {
          try {
            current.set(name, await this.positions(name));
          } catch (err) {
            this.logger.warn({ err, projection: name }, 'could not read projection positions');
          }
        }
        const now = Date.now();
        for (const w of this.waiters) {
          const done = w.projections.every((name) => {
            const at = current.get(name);
            return at && [...w.target].every(([p, o]) => (at.get(p) ?? -1) >= o);
          });
          if (done || now >= w.deadline) {
            this.waiters.delete(w);
            w.resolve(done);
          }
        }
        if (this.waiters.size) await new Promise((r) => setTimeout(r, this.pollMs));
      }
    } finally {
      this.running = false;
    }
  }
}

export function positionTokenOf(ctx: Context): string | null {
  const header = ctx.get('x-runledger-position');
  if (header) return header;
  const q = ctx.query.position;
  if (Array.isArray(q)) throw new AppError('validation_error', "'position' must be given once", { field: 'position', issues: [] });
  return q ? q : null;
}

// For GET routes: waits for the caller's own writes before the route reads.
export function readYourWrites(watcher: ProjectionWatcher, timeoutMs: number) {
  return async (ctx: Context, next: Next) => {
    if (ctx.method !== 'GET') return next();
    const token = positionTokenOf(ctx);
    if (token === null) return next();
    const target = parsePosition(token);
    const projections: ProjectionName[] = ['postgres', ...(READS.find(([route]) => route.test(ctx.path))?.[1] ?? [])];
    const caughtUp = await watcher.waitFor(target, projections, timeoutMs);
    if (!caughtUp) ctx.set(STALE_HEADER, 'true');
    await next();
  };
}
