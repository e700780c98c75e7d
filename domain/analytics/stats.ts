import { logGamma } from './flakiness/beta.ts';

// Tests for run comparison (domain/analytics/compare.ts). One-sided: they
// ask whether the current side is worse (fails more, runs slower).

const logChoose = (n: number, k: number) => logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1);

// Fisher's exact test on the 2×2 table
//            failed  passed
//   current    a       b
//   before     c       d
// P(current has a or more failures | the margins), i.e. the hypergeometric tail:
// small when the current side fails more than the history explains.
export function fisherGreater(a: number, b: number, c: number, d: number): number {
  const n1 = a + b; // current executions
  const k = a + c; // failures in all
  const n = a + b + c + d;
  const lo = Math.max(0, k - (c + d));
  const hi = Math.min(k, n1);
  const denominator = logChoose(n, n1);
  let p = 0;
  for (let x = Math.max(a, lo); x <= hi; x++) p += Math.exp(logChoose(k, x) + logChoose(n - k, n1 - x) - denominator);
  return Math.min(1, p);
}

// The Mann-Whitney U test of "y tends to be larger than x": U counts the pairs
// (x, y) with y > x (ties count one half). For samples up to EXACT_MAX pairs the
// p-value is exact — the permutation distribution of the rank sum of y, ties
// given their mid-ranks — and normal with tie correction beyond.
const EXACT_MAX = 2500;
export function mannWhitneyGreater(x: readonly number[], y: readonly number[]): { u: number; p: number } {
  const n1 = x.length;
  const n2 = y.length;
  if (n1 === 0 || n2 === 0) return { u: 0, p: 1 };
  let u = 0;
  for (const yi of y) for (const xi of x) u += yi > xi ? 1 : yi === xi ? 0.5 : 0;
  if (n1 * n2 <= EXACT_MAX) return { u, p: exactRankSumTail(x, y) };
  const all = [...x, ...y].sort((p, q) => p - q);
  let ties = 0;
  for (let i = 0; i < all.length;) {
    let j = i;
    while (j + 1 < all.length && all[j + 1] === all[i]) j++;
    const t = j - i + 1;
    ties += t * t * t - t;
    i = j + 1;
  }
  const n = n1 + n2;
  const mean = (n1 * n2) / 2;
  const variance = ((n1 * n2) / 12) * (n + 1 - ties / (n * (n - 1)));
  if (variance <= 0) return { u, p: 1 };
  const z = (u - mean - 0.5) / Math.sqrt(variance); // continuity correction
  return { u, p: 1 - normalCdf(z) };
}

// P(rank sum of y ≥ observed) over every way to pick n2 of the pooled values:
// counts by dynamic programming over the values' doubled mid-ranks (integers).
function exactRankSumTail(x: readonly number[], y: readonly number[]): number {
  const pooled = [...x.map((v) => ({ v, y: false })), ...y.map((v) => ({ v, y: true }))].sort((a, b) => a.v - b.v);
  const n = pooled.length;
  const k = y.length;
  const ranks2 = new Array<number>(n); // 2 × mid-rank
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && pooled[j + 1]!.v === pooled[i]!.v) j++;
    for (let t = i; t <= j; t++) ranks2[t] = i + j + 2; // ((i+1) + (j+1)) / 2, doubled
    i = j + 1;
  }
  const observed = pooled.reduce((s, e, i) => s + (e.y ? ranks2[i]! : 0), 0);
  const maxSum = ranks2.reduce((a, b) => a + b, 0);
  // ways[c][s]: ways to pick c of the values seen so far with doubled rank sum s.
  const ways = Array.from({ length: k + 1 }, () => new Float64Array(maxSum + 1));
  ways[0]![0] = 1;
  for (let i = 0; i < n; i++) {
    const r = ranks2[i]!;
    for (let c = Math.min(k, i + 1); c >= 1; c--) {
      const to = ways[c]!;
      const from = ways[c - 1]!;
      for (let s = maxSum; s >= r; s--) to[s]! += from[s - r]!;
    }
  }
  let total = 0;
  let tail = 0;
  const last = ways[k]!;
  for (let s = 0; s <= maxSum; s++) {
    total += last[s]!;
    if (s >= observed) tail += last[s]!;
  }
  return tail / total;
}

// Φ(z), Abramowitz–Stegun 7.1.26 on erf (|error| < 1.5e-7).
export function normalCdf(z: number): number {
  const t = 1 / (1 + (0.3275911 * Math.abs(z)) / Math.SQRT2);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-(z * z) / 2);
  return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}
