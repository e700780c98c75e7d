import { describe, expect, it } from 'vitest';
import { sql } from '../../lib/clickhouse.ts';

// Pure unit checks of the escaping; test/integration/bad-input.test.ts round-trips
// the same payloads through a real ClickHouse.
describe('ClickHouse literal escaping', () => {
  it('escapes backslash before quote so a quote can never be un-escaped', () => {
    expect(sql.str("\\'")).toBe("'\\\\\\''");
    expect(sql.str("' OR 1=1 --")).toBe("'\\' OR 1=1 --'");
  });
  it('escapes control characters', () => {
    expect(sql.str('a\nb\tc\0d')).toBe("'a\\nb\\tc\\0d'");
  });
  it('refuses non-integers and non-identifiers', () => {
    expect(() => sql.int(1.5)).toThrow();
    expect(() => sql.int(Number.MAX_SAFE_INTEGER + 2)).toThrow();
    expect(() => sql.ident('t; DROP TABLE x')).toThrow();
    expect(sql.inList('c', [])).toBe('0');
  });
});
