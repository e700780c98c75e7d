import type { ClickHouse } from '../../lib/clickhouse.ts';

// ALTER … DELETE is asynchronous on every ClickHouse version we support.
export async function waitForMutations(ch: ClickHouse, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await ch.select<{ n: number }>(
      `SELECT toUInt32(count()) AS n FROM system.mutations WHERE database = '${ch.database}' AND is_done = 0`,
    );
    if (Number(rows[0]?.n ?? 0) === 0) return;
    if (Date.now() > deadline) throw new Error('ClickHouse mutations did not finish in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}
