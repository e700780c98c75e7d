import { createHash, randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import { AppError } from '../errors.ts';
import type { Pool } from '../pg.ts';
import type { Logger } from '../logger.ts';
import type { Principal } from './principal.ts';

// Idempotency-Key on any POST (Fusillade reference, docs/ingest.md). The key is
// claimed in Postgres (INSERT … ON CONFLICT) before the work starts, so it holds
// across processes and two concurrent requests with one key cannot both create;
// the response is stored after the work and replayed for the same key and body.

export const MAX_KEY_LENGTH = 256;
const CLAIM_SECONDS = 600; // an upload of 200 MB over a slow link still fits
const WAIT_FOR_OTHER_MS = 10_000;
const REPLAYED_HEADERS = ['content-type', 'location', 'x-runledger-position', 'x-runledger-stale'];

type Stored = { status: number; headers: Record<string, string>; body: string };
type Claim =
  | { kind: 'claimed'; owner: string }
  | { kind: 'replay'; stored: Stored }
  | { kind: 'mismatch' }
  | { kind: 'in_progress' };

export class IdempotencyStore {
  private claims = 0;

  constructor(private pool: Pool, private ttlSeconds: number) {}

  async claim(scope: string, key: string, fingerprint: string): Promise<Claim> {
    if (++this.claims % 500 === 0) await this.sweep();
    const owner = randomUUID();
    // A new row, or one whose TTL ran out, or a claim its process abandoned.
    const won = await this.pool.query(
      `INSERT INTO idempotency_keys AS k (scope, key, fingerprint, owner, locked_until)
       VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))
       ON CONFLICT (scope, key) DO UPDATE SET fingerprint = excluded.fingerprint, owner = excluded.owner,
         locked_until = excluded.locked_until, created_at = now(), status = NULL, headers = NULL, body = NULL, completed_at = NULL
       WHERE k.created_at < now() - make_interval(secs => $6) OR (k.owner IS NOT NULL AND k.locked_until < now())
       RETURNING owner`,
      [scope, key, fingerprint, owner, CLAIM_SECONDS, this.ttlSeconds],
    );
    if (won.rows[0]?.owner === owner) return { kind: 'claimed', owner };
    const row = (await this.pool.query('SELECT fingerprint, owner, status, headers, body FROM idempotency_keys WHERE scope = $1 AND key = $2', [scope, key])).rows[0];
    if (!row) return this.claim(scope, key, fingerprint); // swept in between
    if (row.fingerprint !== fingerprint) return { kind: 'mismatch' };
    if (row.owner) return { kind: 'in_progress' };
    return { kind: 'replay', stored: { status: row.status, headers: row.headers, body: row.body } };
  }

  async complete(scope: string, key: string, owner: string, stored: Stored): Promise<void> {
    await this.pool.query(
      `UPDATE idempotency_keys SET owner = NULL, locked_until = NULL, status = $4, headers = $5, body = $6, completed_at = now()
       WHERE scope = $1 AND key = $2 AND owner = $3`,
      [scope, key, owner, stored.status, JSON.stringify(stored.headers), stored.body],
    );
  }

  async release(scope: string, key: string, owner: string): Promise<void> {
    await this.pool.query('DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND owner = $3', [scope, key, owner]);
  }

  // Deletes up to 1000 keys past their TTL (every 500th claim does, and the
  // housekeeping process until none is left); how many it deleted.
  async sweep(): Promise<number> {
    const r = await this.pool.query(
      `DELETE FROM idempotency_keys WHERE ctid IN (
         SELECT ctid FROM idempotency_keys WHERE created_at < now() - make_interval(secs => $1) LIMIT 1000)`,
      [this.ttlSeconds],
    );
    return r.rowCount ?? 0;
  }
}

export const fingerprintOf = (...parts: Array<string | Buffer>) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\u0000');
  return h.digest('hex');
};

const scopeOf = (ctx: Context): string => {
  const p = ctx.state.principal as Principal;
  return p.kind === 'api_key' ? `api_key:${p.keyId}` : `user:${p.userId}`;
};

// The key of this request, validated, or null when it sent none.
export function idempotencyKeyOf(ctx: Context): string | null {
  if (ctx.method !== 'POST' || !('idempotency-key' in ctx.headers)) return null;
  const key = ctx.get('idempotency-key');
  if (key.length === 0 || key.length > MAX_KEY_LENGTH || !/^[\x21-\x7e]+$/.test(key)) {
    throw new AppError('idempotency_error', `Idempotency-Key must be 1 to ${MAX_KEY_LENGTH} visible ASCII characters`, {
      field: 'Idempotency-Key', maxLength: MAX_KEY_LENGTH, length: key.length,
    });
  }
  return key;
}

// Runs `work` at most once per key and body; replays its stored answer otherwise.
// Only a 2xx answer is stored: an error releases the key (nothing was created),
// so the same request can be sent again.
export async function onceForKey(
  ctx: Context, store: IdempotencyStore, logger: Logger, key: string, fingerprint: string,
  work: () => Promise<unknown>, redact: string[] = [],
): Promise<void> {
  const scope = scopeOf(ctx);
  let claim = await store.claim(scope, key, fingerprint);
  // The same request in flight elsewhere: wait for its answer rather than fail.
  for (const deadline = Date.now() + WAIT_FOR_OTHER_MS; claim.kind === 'in_progress' && Date.now() < deadline;) {
    await new Promise((r) => setTimeout(r, 50));
    claim = await store.claim(scope, key, fingerprint);
  }
  if (claim.kind === 'mismatch') {
    throw new AppError('idempotency_error', 'this Idempotency-Key was already used with a different request', { field: 'Idempotency-Key' }, {}, 409);
  }
  if (claim.kind === 'in_progress') {
    throw new AppError('idempotency_error', 'a request with this Idempotency-Key is still in progress', { field: 'Idempotency-Key' }, { 'Retry-After': '1' }, 409);
  }
  if (claim.kind === 'replay') {
    for (const [k, v] of Object.entries(claim.stored.headers)) ctx.set(k, v);
    ctx.set('Idempotent-Replayed', 'true');
    ctx.status = claim.stored.status;
    ctx.type = 'application/json';
    ctx.body = claim.stored.body;
    return;
  }
  try {
    await work();
  } catch (err) {
    await store.release(scope, key, claim.owner).catch((e) => logger.error({ err: e }, 'could not release an idempotency key'));
    throw err;
  }
  if (ctx.status < 200 || ctx.status >= 300) {
    await store.release(scope, key, claim.owner);
    return;
  }
  const headers: Record<string, string> = {};
  for (const h of REPLAYED_HEADERS) {
    const v = ctx.response.get(h);
    if (v) headers[h] = v;
  }
  let body = ctx.body as Record<string, unknown> | string | undefined;
  if (body && typeof body === 'object' && redact.length) body = Object.fromEntries(Object.entries(body).map(([k, v]) => [k, redact.includes(k) ? null : v]));
  // The work is done and answered either way; a key that could not be stored stays
  // claimed until its lock runs out, and a retry meanwhile gets 409 in progress.
  await store.complete(scope, key, claim.owner, { status: ctx.status, headers, body: typeof body === 'string' ? body : JSON.stringify(body ?? null) })
    .catch((err) => logger.error({ err }, 'could not store an idempotent response'));
}

// For every POST whose body the body reader already read. Routes that stream
// their body (uploads) call onceForKey themselves once they know the body.
export function idempotency(store: IdempotencyStore, logger: Logger, opts: { streamed: string[]; redact: Record<string, string[]> }) {
  return async (ctx: Context, next: Next) => {
    const key = idempotencyKeyOf(ctx);
    if (key === null) return next();
    if (opts.streamed.includes(ctx.path)) {
      ctx.state.idempotencyKey = key;
      return next();
    }
    const fingerprint = fingerprintOf(ctx.method, ctx.path, ctx.querystring, ctx.request.rawBody ?? '');
    await onceForKey(ctx, store, logger, key, fingerprint, () => next(), opts.redact[ctx.path]);
  };
}
