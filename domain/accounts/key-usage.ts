import type { Logger } from '../../lib/logger.ts';
import type { Pool } from '../../lib/pg.ts';
import { apiKeys } from '../pg/api-keys.ts';

// lastUsedAt of API keys without a write per request: each API process
// remembers when it last saw each key and writes them all in one statement
// every `flushMs` (a minute by default), so a key costs at most one write per
// minute per process however busy it is. Reads of a key merge in what this
// process has not written yet.
export class KeyUsage {
  private pending = new Map<string, Date>();
  private timer: NodeJS.Timeout;

  constructor(private pool: Pool, flushMs: number, private logger: Logger) {
    this.timer = setInterval(() => void this.flush(), flushMs);
    this.timer.unref();
  }

  touch(keyId: string): void {
    this.pending.set(keyId, new Date());
  }

  // The latest of what the database holds and what this process saw since.
  lastUsedAt(keyId: string, stored: Date | null): Date | null {
    const seen = this.pending.get(keyId);
    return seen && (!stored || seen > stored) ? seen : stored;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const uses = [...this.pending].map(([id, at]) => ({ id, at }));
    this.pending.clear();
    try {
      await apiKeys.recordUse(this.pool, uses);
    } catch (err) {
      // Kept for the next flush, unless the key was seen again meanwhile.
      for (const u of uses) if (!this.pending.has(u.id)) this.pending.set(u.id, u.at);
      this.logger.warn({ err, keys: uses.length }, 'could not record API key usage; will retry');
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
