import { mkdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunledgerClient } from './client.ts';
import { RunledgerError } from './errors.ts';
import { backoffMs, sleep } from './retry.ts';
import type { BatchItem, BatchResult } from './types.ts';

// A bounded, ordered queue of batch items that survives an API that is down or
// slow: items wait in memory up to `maxMemoryItems`, then in segment files on
// disk, up to `maxItems` in all (past that, new items are dropped and counted).
// Each send takes up to `batchSize` items or `maxBatchBytes` of JSON, whichever
// comes first; a failed send puts its items back in front and waits a backoff.

export type Entry<M> = { item: BatchItem; meta: M; bytes: number };

export type OutboxOptions<M> = {
  batchSize?: number;
  maxBatchBytes?: number;
  maxMemoryItems?: number;
  maxItems?: number;
  spoolDir?: string;
  // Completes items just before they are sent (e.g. with the run id, known only
  // once the run exists); may send what they depend on first. Throwing fails the send.
  prepare?: (entries: Entry<M>[]) => Promise<BatchItem[]>;
  onAccepted?: (entry: Entry<M>, result: Extract<BatchResult, { status: 'accepted' }>) => void;
  // Longest wait between failed sends.
  maxBackoffMs?: number;
};

// Waits for `work`, but not past the deadline; the timer goes with the wait, so
// nothing keeps the process alive after it.
async function until(work: Promise<unknown>, deadline: number): Promise<void> {
  const stop = new AbortController();
  try {
    await Promise.race([work, sleep(Math.max(0, deadline - Date.now()), stop.signal).catch(() => undefined)]);
  } finally {
    stop.abort();
  }
}

// Rejections worth sending again: the API could not store the item this time.
const RETRYABLE_CODES = new Set(['unavailable', 'rate_limited', 'internal_error', 'network_error']);

export type Undeliverable<M> = { entry: Entry<M>; code: string; message: string };

export class Outbox<M> {
  private head: Entry<M>[] = [];
  private tail: Entry<M>[] = [];
  private segments: string[] = [];
  private spoolDir: string | null = null;
  private segmentSeq = 0;
  private count = 0;
  // Taken by the send in flight: not delivered until the API said so.
  private inFlight: Entry<M>[] = [];
  private sending: Promise<boolean> | null = null;
  private failuresInARow = 0;
  private nextTryAt = 0;
  private readonly o: Required<Omit<OutboxOptions<M>, 'spoolDir' | 'prepare' | 'onAccepted'>> & OutboxOptions<M>;
  readonly rejected: Undeliverable<M>[] = [];
  dropped = 0;
  accepted = 0;
  lastError: RunledgerError | null = null;
  // A failure no retry can fix (bad credentials): sending stops.
  fatal: RunledgerError | null = null;

  constructor(private client: RunledgerClient, options: OutboxOptions<M> = {}) {
    this.o = { batchSize: 500, maxBatchBytes: 4 * 1024 * 1024, maxMemoryItems: 5000, maxItems: 500_000, maxBackoffMs: 30_000, ...options };
  }

  // Items not delivered yet, including those of a send still in flight.
  get pending(): number {
    return this.count + this.inFlight.length;
  }

  // Entries not delivered yet, oldest first (reads the spooled ones back).
  *unsent(): Generator<Entry<M>> {
    yield* this.inFlight;
    yield* this.head;
    for (const s of this.segments) yield* JSON.parse(readFileSync(s, 'utf8')) as Entry<M>[];
    yield* this.tail;
  }

  push(item: BatchItem, meta: M): boolean {
    if (this.count >= this.o.maxItems) {
      this.dropped++;
      return false;
    }
    const entry = { item, meta, bytes: Buffer.byteLength(JSON.stringify(item)) };
    if (this.segments.length === 0 && this.tail.length === 0 && this.head.length < this.o.maxMemoryItems) this.head.push(entry);
    else {
      this.tail.push(entry);
      if (this.tail.length >= this.o.batchSize) this.spill();
    }
    this.count++;
    return true;
  }

  private spill() {
    if (!this.spoolDir) {
      const base = this.o.spoolDir ?? tmpdir();
      mkdirSync(base, { recursive: true });
      this.spoolDir = mkdtempSync(join(base, 'runledger-outbox-'));
    }
    const file = join(this.spoolDir, `${String(++this.segmentSeq).padStart(8, '0')}.json`);
    writeFileSync(file, JSON.stringify(this.tail));
    this.segments.push(file);
    this.tail = [];
  }

  private refill() {
    if (this.head.length > 0) return;
    const next = this.segments.shift();
    if (next) {
      this.head = JSON.parse(readFileSync(next, 'utf8'));
      unlinkSync(next);
    } else {
      this.head = this.tail;
      this.tail = [];
    }
  }

  private take(): Entry<M>[] {
    this.refill();
    let bytes = 0;
    let n = 0;
    while (n < this.head.length && n < this.o.batchSize) {
      const b = this.head[n]!.bytes + 1;
      if (n > 0 && bytes + b > this.o.maxBatchBytes) break;
      bytes += b;
      n++;
    }
    const taken = this.head.splice(0, n);
    this.count -= taken.length;
    return taken;
  }

  private putBack(entries: Entry<M>[]) {
    this.inFlight = [];
    this.head.unshift(...entries);
    this.count += entries.length;
  }

  // Sends one batch now (unless one is in flight). True when it made progress.
  sendOne(): Promise<boolean> {
    if (this.sending) return this.sending;
    this.sending = this.doSend().finally(() => {
      this.sending = null;
    });
    return this.sending;
  }

  // Ready for another try (no backoff pending)?
  get due(): boolean {
    return !this.fatal && this.count > 0 && Date.now() >= this.nextTryAt;
  }

  private async doSend(): Promise<boolean> {
    if (this.fatal || this.count === 0) return false;
    const entries = this.take();
    this.inFlight = entries;
    try {
      return await this.deliver(entries);
    } finally {
      this.inFlight = [];
    }
  }

  private async deliver(entries: Entry<M>[]): Promise<boolean> {
    try {
      const items = this.o.prepare ? await this.o.prepare(entries) : entries.map((e) => e.item);
      const res = await this.client.batch(items);
      const retry: Entry<M>[] = [];
      for (const r of res.body.results) {
        const entry = entries[r.index]!;
        if (r.status === 'accepted') {
          this.accepted++;
          this.o.onAccepted?.(entry, r);
        } else if (RETRYABLE_CODES.has(r.error.code)) retry.push(entry);
        else this.rejected.push({ entry, code: r.error.code, message: r.error.message });
      }
      if (retry.length) {
        this.putBack(retry);
        this.failed(new RunledgerError(`${retry.length} items were not stored this time`, 503, 'unavailable'));
        return retry.length < entries.length;
      }
      this.failuresInARow = 0;
      this.lastError = null;
      return true;
    } catch (err) {
      const e = err instanceof RunledgerError ? err : new RunledgerError((err as Error).message, 0, 'client_error');
      if (e.status === 413 && entries.length > 1) {
        // Too big for the server's limit: halve the batches from now on.
        this.o.batchSize = Math.max(1, Math.floor(entries.length / 2));
        this.o.maxBatchBytes = Math.max(64 * 1024, Math.floor(this.o.maxBatchBytes / 2));
        this.putBack(entries);
        return true;
      }
      if (e.retryable || e.code === 'client_error') {
        this.putBack(entries);
        this.failed(e);
        return false;
      }
      if (e.status === 401 || e.status === 403) {
        this.putBack(entries);
        this.fatal = e;
        return false;
      }
      // The whole batch refused for good (e.g. 413 for one item over the limit).
      for (const entry of entries) this.rejected.push({ entry, code: e.code, message: e.message });
      return true;
    }
  }

  private failed(e: RunledgerError) {
    this.lastError = e;
    this.failuresInARow++;
    const wait = e.retryAfterMs ?? backoffMs(this.failuresInARow, { minDelayMs: 500, maxDelayMs: this.o.maxBackoffMs });
    this.nextTryAt = Date.now() + Math.min(wait, this.o.maxBackoffMs);
  }

  // Sends until at most `keep` items are left, or until the deadline passes
  // (then what is left stays queued).
  async drain(deadline: number, keep = 0): Promise<void> {
    while (this.pending > keep && !this.fatal && Date.now() < deadline) {
      if (this.sending) {
        // A send started elsewhere (a timer) holds items: its outcome decides what is left.
        await until(this.sending, deadline);
        continue;
      }
      const wait = this.nextTryAt - Date.now();
      if (wait > 0) {
        if (Date.now() + wait >= deadline) return;
        await sleep(wait);
      }
      // A slow API answers when it answers: the deadline is kept all the same.
      await until(this.sendOne(), deadline);
    }
  }

  // Removes the spool files (after the unsent entries were read, if wanted).
  dispose() {
    if (this.spoolDir) rmSync(this.spoolDir, { recursive: true, force: true });
  }
}
