// Run histories with known ground truth, for measuring how well the flakiness
// model classifies (bench/flakiness/accuracy.ts). Pure and seeded: the same
// options give the same histories.
//
// The suite: stable tests; flaky tests whose per-attempt failure probability
// runs from 0.1 % to 40 % (two thirds below 2 %, as in real suites); flaky
// tests with bursts (a few runs in a row at 30–60 %); broken tests (failing
// since the start); newly broken tests (broken by a commit, failing for at
// least their last three runs); fixed tests (broken by one commit for 3–8 runs,
// fixed by a later one).
// Some runs are infrastructure incidents, where most tests fail at once.
// Runs are on main (re-runs of the same commit now and then) and on a few
// feature branches.

import { rng } from '../../test/support/random.ts';

export type Truth = 'stable' | 'flaky' | 'broken';
export type Kind = 'stable' | 'flaky' | 'burst' | 'broken' | 'newly_broken' | 'fixed';

export type SimTest = {
  index: number; title: string; fullTitle: string; filePath: string; kind: Kind; truth: Truth;
  p: number; // per-attempt failure probability outside bursts and broken stretches
  manifested: boolean; // failed at least one attempt outside incident runs
};

export type SimAttempt = { attempt: number; status: 'passed' | 'failed'; duration: number; error: { message: string } | null };
export type SimResult = {
  test: number; status: 'passed' | 'failed' | 'flaky'; duration: number; retries: number; attempt: number;
  attempts: SimAttempt[]; error: { message: string } | null;
};
export type SimRun = { index: number; at: Date; branch: string; commit: string; incident: boolean; results: SimResult[] };

export type SimOptions = {
  seed: number;
  tests: number;
  runs: number; // runs per test: every test runs in every run
  retries: number; // attempts after the first failed one
  runsPerDay: number;
  end: Date;
  incidentRate: number; // share of runs that are incidents
  incidentFailureShare: number; // share of tests an incident fails
};

export const DEFAULT_SIM: Omit<SimOptions, 'end'> = {
  seed: 1, tests: 400, runs: 30, retries: 2, runsPerDay: 4, incidentRate: 0.05, incidentFailureShare: 0.75,
};

const logUniform = (r: () => number, lo: number, hi: number) => Math.exp(Math.log(lo) + r() * (Math.log(hi) - Math.log(lo)));
const int = (r: () => number, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1)); // inclusive

const KIND_SHARES: Array<[Kind, number]> = [
  ['stable', 0.68], ['flaky', 0.18], ['burst', 0.03], ['broken', 0.02], ['newly_broken', 0.04], ['fixed', 0.05],
];

export function simulate(opts: SimOptions): { tests: SimTest[]; runs: SimRun[] } {
  const r = rng(opts.seed);
  const R = opts.runs;

  // The runs first: when, on which branch, which code. Code changes with main's
  // commits; a feature branch's run tests its merge with main, so its commit
  // names both. The same commit is the same code, and a broken test fails in
  // every run of the code that broke it (breakages and fixes come with commits).
  const gapMs = (24 * 3600 * 1000) / opts.runsPerDay;
  const skeleton: Array<{ at: Date; branch: string; commit: string; version: number; incident: boolean }> = [];
  let version = 0;
  const featureCommits = new Map<string, number>();
  for (let run = 0; run < R; run++) {
    const at = new Date(opts.end.getTime() - (R - 1 - run) * gapMs + Math.floor(r() * 60_000));
    let branch = 'main';
    let label: string;
    if (run > 0 && r() < 0.15) {
      branch = `feature/${int(r, 1, 4)}`;
      const c = (featureCommits.get(branch) ?? 0) + (r() < 0.6 || !featureCommits.has(branch) ? 1 : 0);
      featureCommits.set(branch, c);
      label = `${branch}-${c}+main-${version}`;
    } else {
      if (run === 0 || r() < 0.75) version++;
      label = `main-${version}`;
    }
    skeleton.push({ at, branch, commit: hex(label), version, incident: r() < opts.incidentRate });
  }
  // Runs where a new version of main is first tested: where breakages and fixes can start.
  const firsts = skeleton.map((x, i) => i).filter((i) => i === 0 || skeleton[i]!.version !== skeleton[i - 1]!.version);
  const runsFrom = (v: number) => skeleton.filter((x) => x.version >= v).length;
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)]!;

  // Per test: how likely each run's attempts fail, and whether it is broken in that run.
  type Plan = { failP: (run: number) => number; brokenIn: (run: number) => boolean };
  const tests: SimTest[] = [];
  const plans: Plan[] = [];
  for (let i = 0; i < opts.tests; i++) {
    let x = r();
    let kind: Kind = 'stable';
    for (const [k, share] of KIND_SHARES) {
      if (x < share) {
        kind = k;
        break;
      }
      x -= share;
    }
    let p = 0;
    let brokenIn: (run: number) => boolean = () => false;
    let failP: (run: number) => number = () => 0;
    if (kind === 'flaky') {
      p = r() < 2 / 3 ? logUniform(r, 0.001, 0.02) : logUniform(r, 0.02, 0.4);
      failP = () => p;
    } else if (kind === 'burst') {
      // An environment that misbehaves for a few runs in a row: whatever the code.
      p = logUniform(r, 0.001, 0.01);
      const bursts = Array.from({ length: int(r, 1, 2) }, () => {
        const len = int(r, 3, 6);
        const start = int(r, 0, Math.max(0, R - len));
        return { start, end: start + len - 1, p: 0.3 + r() * 0.3 };
      });
      failP = (run) => bursts.find((b) => run >= b.start && run <= b.end)?.p ?? p;
    } else if (kind === 'broken') {
      brokenIn = () => true;
    } else if (kind === 'newly_broken') {
      // Broken by a commit tested first in the second half, failing in at least three runs since.
      const candidates = firsts.filter((f) => f >= R / 2 && runsFrom(skeleton[f]!.version) >= 3);
      const from = skeleton[pick(candidates.length ? candidates : [firsts.at(-1)!])]!.version;
      brokenIn = (run) => skeleton[run]!.version >= from;
    } else if (kind === 'fixed') {
      // Broken by one commit, fixed by a later one: three or more failing runs, three or more passing since.
      const spans: Array<[number, number]> = [];
      for (const a of firsts) for (const b of firsts) {
        const va = skeleton[a]!.version;
        const vb = skeleton[b]!.version;
        const failing = skeleton.filter((x) => x.version >= va && x.version < vb).length;
        if (a > 0 && vb > va && failing >= 3 && failing <= 8 && runsFrom(vb) >= 3) spans.push([va, vb]);
      }
      if (spans.length) {
        const [va, vb] = pick(spans);
        brokenIn = (run) => skeleton[run]!.version >= va && skeleton[run]!.version < vb;
      } else {
        kind = 'stable';
      }
    }
    const truth: Truth = kind === 'flaky' || kind === 'burst' ? 'flaky' : kind === 'broken' || kind === 'newly_broken' ? 'broken' : 'stable';
    const area = i % 23;
    tests.push({
      index: i, title: `case ${i}`, fullTitle: `Area ${area} > case ${i}`, filePath: `tests/area-${area}.spec.ts`,
      kind, truth, p, manifested: false,
    });
    plans.push({ failP, brokenIn });
  }

  const runs: SimRun[] = skeleton.map((run, index) => {
    const results: SimResult[] = [];
    for (const t of tests) {
      const plan = plans[t.index]!;
      const down = run.incident && r() < opts.incidentFailureShare;
      const broken = plan.brokenIn(index);
      const pFail = down || broken ? 1 : plan.failP(index);
      const attempts: SimAttempt[] = [];
      for (let a = 1; a <= 1 + opts.retries; a++) {
        const failed = r() < pFail;
        const duration = Math.round(200 + r() * 800 + (t.index % 7) * 300);
        const message = !failed ? null : down ? 'connect ECONNREFUSED 10.0.3.7:5432' : broken
          ? `expect(received).toBe(expected) // expected 200, received 500 in ${t.title}`
          : `Timed out ${[5000, 10000, 30000][a % 3]}ms waiting for locator('#widget-${int(r, 1, 99)}')`;
        attempts.push({ attempt: a, status: failed ? 'failed' : 'passed', duration, error: message ? { message } : null });
        if (!failed) break;
      }
      if (!down && !broken && attempts.some((x) => x.status === 'failed')) t.manifested = true;
      const last = attempts.at(-1)!;
      const status = last.status === 'failed' ? 'failed' : attempts.length > 1 ? 'flaky' : 'passed';
      results.push({
        test: t.index, status, duration: last.duration, retries: attempts.length - 1, attempt: attempts.length,
        attempts: attempts.length > 1 ? attempts : [], error: status === 'failed' ? last.error : null,
      });
    }
    return { index, at: run.at, branch: run.branch, commit: run.commit, incident: run.incident, results };
  });
  return { tests, runs };
}

// A stable 12-character hex name for a commit label, like a short sha.
function hex(label: string): string {
  let h = 2166136261;
  for (const c of label) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
  let g = 0x9e3779b9;
  for (const c of label) g = Math.imul(g ^ c.charCodeAt(0), 2246822519) >>> 0;
  return (h.toString(16).padStart(8, '0') + g.toString(16).padStart(8, '0')).slice(0, 12);
}
