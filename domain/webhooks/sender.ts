import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import CircuitBreaker from 'opossum';
import type { Pool } from '../../lib/pg.ts';
import type { Logger } from '../../lib/logger.ts';
import type { Config } from '../../lib/config.ts';
import { metrics } from '../../lib/metrics.ts';
import type { DeliveryRow, WebhookRow } from '../pg/webhooks.ts';
import { wellFormed } from '../../lib/text.ts';
import { DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, sign } from './signature.ts';
import { parseTarget, resolveTarget, TargetRefused } from './targets.ts';

export type SendResult = { statusCode: number | null; error: string | null; durationMs: number; excerpt: string | null };
type Settings = Config['webhooks'];
const EXCERPT = 1024;

// One POST of a delivery's body to its hook: SSRF check (re-resolved now),
// connect to the checked address, sign with the current time, bounded by the
// timeout. Never throws: an outcome of any kind is a SendResult.
export async function sendOnce(hook: Pick<WebhookRow, 'url' | 'headers' | 'secret'>, d: Pick<DeliveryRow, 'id' | 'event' | 'body'>, s: Settings): Promise<SendResult> {
  const started = Date.now();
  // What a receiver answers is stored in Postgres text: no NUL, no lone surrogate (lib/text.ts).
  const done = (r: Omit<SendResult, 'durationMs'>): SendResult => ({
    ...r, error: r.error === null ? null : wellFormed(r.error), excerpt: r.excerpt === null ? null : wellFormed(r.excerpt), durationMs: Date.now() - started,
  });
  let url: URL;
  let address: { address: string; family: 4 | 6 };
  try {
    url = parseTarget(hook.url, s.allowPrivate).url;
    address = await resolveTarget(url, s.allowPrivate);
  } catch (err) {
    if (err instanceof TargetRefused) return done({ statusCode: null, error: `refused: ${err.message}`, excerpt: null });
    throw err;
  }
  const t = Math.floor(Date.now() / 1000);
  const headers: Record<string, string> = {
    ...hook.headers,
    'content-type': 'application/json',
    'user-agent': 'Runledger-Webhooks/1',
    [SIGNATURE_HEADER]: sign(hook.secret, d.body, t),
    [DELIVERY_HEADER]: d.id,
    [EVENT_HEADER]: d.event,
  };
  const secure = url.protocol === 'https:';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return new Promise<SendResult>((resolve) => {
    let settled = false;
    const finish = (r: Omit<SendResult, 'durationMs'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(done(r));
    };
    let req: http.ClientRequest;
    // Node refuses a header it cannot send (ERR_INVALID_CHAR) by throwing here:
    // a hook stored before header values were checked fails its delivery, it
    // does not fail the caller.
    try {
      req = request();
    } catch (err) {
      settled = true;
      resolve(done({ statusCode: null, error: `refused: ${(err as Error).message}`, excerpt: null }));
      return;
    }
    const timer = setTimeout(() => finish({ statusCode: null, error: `timed out after ${s.timeoutMs} ms`, excerpt: null }), s.timeoutMs);
    req.on('error', (err) => finish({ statusCode: null, error: err.message, excerpt: null }));
    req.end(d.body);

    function request(): http.ClientRequest {
      return (secure ? https : http).request({
        method: 'POST', host, port: url.port || (secure ? 443 : 80), path: `${url.pathname}${url.search}`, headers,
        agent: false,
        // The connection goes to the address that passed the check, not to a second lookup.
        lookup: (_h, opts, cb) => {
          if ((opts as { all?: boolean }).all) (cb as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [address]);
          else cb(null, address.address, address.family);
        },
        ...(secure && !isIP(host) ? { servername: host } : {}),
      }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < EXCERPT) chunks.push(c);
          size += c.length;
          if (size >= EXCERPT) finish({ statusCode: res.statusCode ?? null, error: null, excerpt: Buffer.concat(chunks).toString('utf8').slice(0, EXCERPT) });
        });
        res.on('end', () => finish({ statusCode: res.statusCode ?? null, error: null, excerpt: Buffer.concat(chunks).toString('utf8').slice(0, EXCERPT) }));
        res.on('error', (err) => finish({ statusCode: res.statusCode ?? null, error: err.message, excerpt: null }));
      });
    }
  });
}

const ok = (r: SendResult) => r.statusCode !== null && r.statusCode >= 200 && r.statusCode < 300;

// The sender: sends due deliveries from Postgres, in the dispatcher's process.
//
// Claiming: a sender takes due rows with FOR UPDATE SKIP LOCKED and gives each
// a lease (locked_until) for the time a send may take, then sends without
// holding a transaction. Several senders never take the same row; a sender
// that dies mid-send leaves a lease that expires, and the row is sent again
// (at-least-once; X-Runledger-Delivery is stable so receivers deduplicate).
//
// Isolation between receivers: sends run concurrently (RUNLEDGER_WEBHOOK_CONCURRENCY),
// at most RUNLEDGER_WEBHOOK_PER_TARGET_CONCURRENCY per target (host:port), and
// each target has its own opossum circuit breaker: a receiver that hangs holds
// at most its own slots until the timeout, and once its breaker opens its
// deliveries wait (without spending attempts) instead of being tried.
//
// Outcomes: 2xx delivered; 410 Gone disables the hook (and its pending
// deliveries); anything else, a timeout or a refused target is a failed
// attempt, retried after retryDelaysMs[attempt - 1], until they run out (failed).
export class WebhookSender {
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly perTarget = new Map<string, number>();
  private readonly breakers = new Map<string, CircuitBreaker<[() => Promise<SendResult>], SendResult>>();
  private readonly resetTimeoutMs: number;

  constructor(private pool: Pool, private settings: Settings, private logger: Logger) {
    this.resetTimeoutMs = Math.min(30_000, Math.max(1000, settings.retryDelaysMs[0] ?? 30_000));
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  // New deliveries were enqueued: look now rather than at the next poll.
  kick(): void {
    this.wake?.();
  }

  async close(): Promise<void> {
    this.running = false;
    this.kick();
    await this.loop;
    await Promise.allSettled([...this.inFlight.values()]);
    for (const b of this.breakers.values()) b.shutdown();
  }

  private async run(): Promise<void> {
    while (this.running) {
      let claimed = 0;
      try {
        claimed = await this.claimAndSend();
      } catch (err) {
        this.logger.warn({ err }, 'webhook sender: claiming failed');
      }
      if (claimed > 0 && this.inFlight.size < this.settings.concurrency) continue;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, this.settings.pollMs);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  private busyTargets(): string[] {
    return [...this.perTarget].filter(([, n]) => n >= this.settings.perTargetConcurrency).map(([t]) => t);
  }

  private async claimAndSend(): Promise<number> {
    const free = this.settings.concurrency - this.inFlight.size;
    if (free <= 0) return 0;
    // Longer than a send can take (the timeout, plus the lookup and the row update).
    const leaseMs = this.settings.timeoutMs + 5_000;
    const rows = (await this.pool.query(
      `UPDATE webhook_deliveries d SET locked_until = now() + make_interval(secs => $3::double precision / 1000)
       FROM webhooks w
       WHERE w.id = d.webhook_id AND d.id IN (
         SELECT d2.id FROM webhook_deliveries d2 JOIN webhooks w2 ON w2.id = d2.webhook_id
         WHERE d2.status = 'pending' AND d2.next_attempt_at <= now() AND (d2.locked_until IS NULL OR d2.locked_until < now())
           AND w2.target <> ALL($1::text[])
         ORDER BY d2.next_attempt_at LIMIT $2
         FOR UPDATE OF d2 SKIP LOCKED)
       RETURNING d.*, w.url AS w_url, w.headers AS w_headers, w.secret AS w_secret, w.is_active AS w_active, w.target AS w_target`,
      [this.busyTargets(), free, leaseMs],
    )).rows as Array<DeliveryRow & { w_url: string; w_headers: Record<string, string>; w_secret: string; w_active: boolean; w_target: string }>;
    for (const row of rows) {
      const n = this.perTarget.get(row.w_target) ?? 0;
      if (n >= this.settings.perTargetConcurrency) {
        // Over this target's share: hand the row back for a later round.
        await this.pool.query('UPDATE webhook_deliveries SET locked_until = NULL WHERE id = $1 AND attempts = $2', [row.id, row.attempts]);
        continue;
      }
      this.perTarget.set(row.w_target, n + 1);
      const p = this.deliver(row, { url: row.w_url, headers: row.w_headers, secret: row.w_secret, is_active: row.w_active, target: row.w_target })
        .catch((err) => this.logger.error({ err, deliveryId: row.id }, 'webhook delivery failed unexpectedly'))
        .finally(() => {
          this.inFlight.delete(row.id);
          const left = (this.perTarget.get(row.w_target) ?? 1) - 1;
          if (left > 0) this.perTarget.set(row.w_target, left);
          else this.perTarget.delete(row.w_target);
          this.kick();
        });
      this.inFlight.set(row.id, p);
    }
    return rows.length;
  }

  private breakerFor(target: string) {
    let b = this.breakers.get(target);
    if (!b) {
      b = new CircuitBreaker(async (send: () => Promise<SendResult>) => {
        const r = await send();
        // The breaker counts what says the receiver is unwell: no answer, or a 5xx.
        if (r.statusCode === null || r.statusCode >= 500) throw Object.assign(new Error(r.error ?? `HTTP ${r.statusCode}`), { result: r });
        return r;
      }, {
        timeout: false, // sendOnce has its own timeout
        errorThresholdPercentage: 50,
        volumeThreshold: 5,
        rollingCountTimeout: 60_000,
        resetTimeout: this.resetTimeoutMs,
      });
      b.on('open', () => this.logger.warn({ target }, 'webhook target circuit open'));
      this.breakers.set(target, b);
    }
    return b;
  }

  private async deliver(d: DeliveryRow, hook: Pick<WebhookRow, 'url' | 'headers' | 'secret' | 'is_active' | 'target'>): Promise<void> {
    if (!hook.is_active) {
      await this.pool.query(`UPDATE webhook_deliveries SET status = 'disabled', locked_until = NULL, last_error = 'webhook is inactive' WHERE id = $1`, [d.id]);
      return;
    }
    const breaker = this.breakerFor(hook.target);
    let result: SendResult;
    try {
      result = await breaker.fire(() => sendOnce(hook, d, this.settings));
    } catch (err) {
      const r = (err as { result?: SendResult }).result;
      if (!r) {
        // The circuit is open: not an attempt; look again when it may close.
        await this.pool.query(
          `UPDATE webhook_deliveries SET locked_until = NULL, last_error = $2,
             next_attempt_at = now() + make_interval(secs => $3::double precision / 1000) WHERE id = $1 AND attempts = $4`,
          [d.id, `circuit open for ${hook.target}`, this.resetTimeoutMs, d.attempts],
        );
        metrics.webhookDeliveries.inc({ outcome: 'circuit_open' });
        return;
      }
      result = r;
    }
    const attempts = d.attempts + 1;
    const common = [d.id, attempts, result.statusCode, result.error?.slice(0, 2000) ?? null, result.durationMs, result.excerpt, d.attempts];
    metrics.webhookDuration.observe(result.durationMs / 1000);
    if (ok(result)) {
      await this.pool.query(
        `UPDATE webhook_deliveries SET status = 'delivered', attempts = $2, last_status_code = $3, last_error = $4, last_duration_ms = $5,
           response_excerpt = $6, locked_until = NULL, next_attempt_at = NULL, delivered_at = now() WHERE id = $1 AND attempts = $7`, common,
      );
      metrics.webhookDeliveries.inc({ outcome: 'delivered' });
      return;
    }
    if (result.statusCode === 410) {
      await this.pool.query(
        `UPDATE webhook_deliveries SET status = 'disabled', attempts = $2, last_status_code = $3, last_error = $4, last_duration_ms = $5,
           response_excerpt = $6, locked_until = NULL, next_attempt_at = NULL WHERE id = $1 AND attempts = $7`, common,
      );
      await this.pool.query(
        `UPDATE webhooks SET is_active = false, disabled_reason = 'the receiver answered 410 Gone', updated_at = now() WHERE id = $1`, [d.webhook_id],
      );
      this.logger.warn({ webhookId: d.webhook_id }, 'webhook disabled: receiver answered 410');
      metrics.webhookDeliveries.inc({ outcome: 'gone' });
      return;
    }
    const delay = this.settings.retryDelaysMs[attempts - 1];
    await this.pool.query(
      `UPDATE webhook_deliveries SET attempts = $2, last_status_code = $3, last_error = $4, last_duration_ms = $5, response_excerpt = $6,
         locked_until = NULL, status = CASE WHEN $8::double precision IS NULL THEN 'failed' ELSE 'pending' END,
         next_attempt_at = CASE WHEN $8::double precision IS NULL THEN NULL ELSE now() + make_interval(secs => $8::double precision / 1000) END
       WHERE id = $1 AND attempts = $7`, [...common, delay ?? null],
    );
    metrics.webhookDeliveries.inc({ outcome: delay === undefined ? 'failed' : 'retry' });
  }
}
