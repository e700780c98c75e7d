import { describe, expect, it } from 'vitest';
import { fisherGreater, mannWhitneyGreater, normalCdf } from '../../domain/analytics/stats.ts';

describe("Fisher's exact test (one-sided: the current side fails more)", () => {
  it('matches textbook values', () => {
    // Lady tasting tea: [[3,1],[1,3]] → one-sided p = 17/70
    expect(fisherGreater(3, 1, 1, 3)).toBeCloseTo(17 / 70, 10);
    expect(fisherGreater(1, 0, 0, 30)).toBeCloseTo(1 / 31, 10); // one failure against 30 clean runs
    expect(fisherGreater(1, 0, 5, 25)).toBeCloseTo(6 / 31, 10); // a test that failed 5 of 30 before
    expect(fisherGreater(0, 10, 3, 7)).toBe(1);
  });
});

describe('the Mann-Whitney U test (one-sided: y is larger)', () => {
  it('is exact for small samples, ties included', () => {
    // one new observation above all 30 earlier ones: p = 1/31
    const history = Array.from({ length: 30 }, (_, i) => 1000 + i);
    expect(mannWhitneyGreater(history, [2000]).p).toBeCloseTo(1 / 31, 10);
    expect(mannWhitneyGreater(history, [1014.5]).p).toBeCloseTo(16 / 31, 10);
    // x = 1,2,3; y = 4,5: U = 6 (the maximum), P = 1/C(5,2) = 0.1
    expect(mannWhitneyGreater([1, 2, 3], [4, 5])).toEqual({ u: 6, p: 0.1 });
    // ties: a new value above 30 earlier ones that repeat five values
    const tied = Array.from({ length: 30 }, (_, i) => 200 + (i % 5) * 7);
    expect(mannWhitneyGreater(tied, [2400]).p).toBeCloseTo(1 / 31, 10);
    expect(mannWhitneyGreater(tied, [214]).p).toBeCloseTo(19 / 31, 10); // ties with 6, above 12: (6 + 12 + 1)/31
    expect(mannWhitneyGreater([1, 1, 2], [1, 2]).p).toBeCloseTo(0.7, 10);
  });
  it('uses the normal approximation with a tie correction for large samples', () => {
    const x = Array.from({ length: 60 }, (_, i) => 100 + (i % 10));
    const y = Array.from({ length: 60 }, (_, i) => 104 + (i % 10));
    const r = mannWhitneyGreater(x, y);
    expect(r.p).toBeLessThan(0.001);
    expect(mannWhitneyGreater(y, x).p).toBeGreaterThan(0.99);
    expect(mannWhitneyGreater(x, x).p).toBeGreaterThan(0.4);
    expect(normalCdf(1.959964)).toBeCloseTo(0.975, 6);
  });
});
