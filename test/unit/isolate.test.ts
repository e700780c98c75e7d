import { describe, expect, it } from 'vitest';
import { applyIsolating, classifyClickHouseError, classifyPostgresError, rejectionReason } from '../../projections/kafka/isolate.ts';

const pgError = (code: string) => Object.assign(new Error(`pg ${code}`), { code });
const chError = (code: string) => Object.assign(new Error(`Code: ${code}`), { code });

describe('store error classifier', () => {
  it('calls Postgres data exceptions and constraint violations data errors, the rest infrastructure', () => {
    for (const code of ['22P02', '22P05', '22003', '22021', '23505', '23514', '23502']) expect(classifyPostgresError(pgError(code)), code).toBe('data');
    for (const code of ['40P01', '40001', '57P01', '53300', '08006', '42P01', 'ECONNREFUSED', 'ETIMEDOUT']) {
      expect(classifyPostgresError(pgError(code)), code).toBe('infrastructure');
    }
    expect(classifyPostgresError(new Error('Connection terminated unexpectedly'))).toBe('infrastructure');
    expect(classifyPostgresError(undefined)).toBe('infrastructure');
  });

  it('calls ClickHouse parse and type errors data errors, the rest infrastructure', () => {
    for (const code of ['25', '26', '27', '6', '38', '41', '53', '72', '117', '321']) expect(classifyClickHouseError(chError(code)), code).toBe('data');
    // TIMEOUT_EXCEEDED, TOO_MANY_SIMULTANEOUS_QUERIES, MEMORY_LIMIT_EXCEEDED, TOO_MANY_PARTS, SYNTAX_ERROR, UNKNOWN_TABLE
    for (const code of ['159', '202', '241', '252', '62', '60', 'ECONNRESET', 'ECONNREFUSED']) {
      expect(classifyClickHouseError(chError(code)), code).toBe('infrastructure');
    }
    expect(classifyClickHouseError(new Error('socket hang up'))).toBe('infrastructure');
    // 18.16's message shape, which the client does not parse into a code
    const old = new Error('Code: 25, e.displayText() = DB::Exception: Cannot parse escape sequence: missing second part of surrogate pair');
    expect(classifyClickHouseError(old)).toBe('data');
    expect(classifyClickHouseError(new Error('Code: 159, e.displayText() = DB::Exception: Timeout exceeded'))).toBe('infrastructure');
    expect(rejectionReason('clickhouse', old)).toMatch(/^clickhouse rejected the event \(code 25\): Code: 25/);
  });

  it('names the store and its code in the reason', () => {
    expect(rejectionReason('postgres', pgError('22P05'))).toBe('postgres rejected the event (code 22P05): pg 22P05');
  });
});

describe('applyIsolating', () => {
  // A store that refuses any write holding a bad item, writing nothing then.
  const store = (bad: Set<number>) => {
    const written: number[] = [];
    let attempts = 0;
    const attempt = async (items: readonly number[]) => {
      attempts += 1;
      const refused = items.find((i) => bad.has(i));
      if (refused !== undefined) throw pgError('22P02');
      written.push(...items);
    };
    return { written, attempt, attempts: () => attempts };
  };

  it('writes everything in one attempt when nothing is refused', async () => {
    const s = store(new Set());
    const rejected = await applyIsolating([1, 2, 3], s.attempt, classifyPostgresError, () => undefined);
    expect(rejected).toEqual([]);
    expect(s.written).toEqual([1, 2, 3]);
    expect(s.attempts()).toBe(1);
  });

  it('isolates the refused items and writes the rest in order', async () => {
    const items = Array.from({ length: 100 }, (_, i) => i);
    const s = store(new Set([0, 37, 38, 99]));
    const seen: number[] = [];
    const rejected = await applyIsolating(items, s.attempt, classifyPostgresError, ({ item }) => {
      // Each is reported before anything after it is written.
      expect(s.written.every((w) => w < item)).toBe(true);
      seen.push(item);
    });
    expect(rejected.map((r) => r.item)).toEqual([0, 37, 38, 99]);
    expect(seen).toEqual([0, 37, 38, 99]);
    expect(s.written).toEqual(items.filter((i) => ![0, 37, 38, 99].includes(i)));
    expect(s.attempts()).toBeLessThan(4 * 2 * Math.ceil(Math.log2(100)) + 2);
  });

  it('rethrows an infrastructure failure without isolating anything', async () => {
    let calls = 0;
    const down = async () => {
      calls += 1;
      throw pgError('57P01');
    };
    await expect(applyIsolating([1, 2, 3, 4], down, classifyPostgresError, () => undefined)).rejects.toMatchObject({ code: '57P01' });
    expect(calls).toBe(1);
  });
});
