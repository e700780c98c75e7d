import { betaQuantile } from './beta.ts';

// The flakiness model, version 1 (docs/flakiness.md). Pure functions: from the
// executions of one test case to its evidence, and from the evidence to a score
// with a credible interval and a classification. Nothing here reads a clock or
// a database; the caller passes `asOfDay`.
//
// Rescoring with a new version is a new constant here and, if it needs new
// facts, new ClickHouse tables filled by replaying the log. The scores the
// flakiness projection stores carry their version; stored scores of another
// version are not served, and the projection scores every project again.
export const SCORING_VERSION = 'flakiness-v1';

export type Classification = 'stable' | 'flaky' | 'broken' | 'insufficient_data';

// The final outcome of one execution: passed, passed after a failed attempt
// (a retry flake), failed (failed or timed out). Skipped and interrupted
// executions say nothing about flakiness and are not passed in.
export type Outcome = 'pass' | 'flaky' | 'fail';

export type Execution = {
  t: number; // started at, unix seconds (ordering)
  seq: string; // tie-breaker for executions in the same second (the result id)
  outcome: Outcome;
  branch: string;
  commit: string; // compared for equality only (may be a hash)
  runId: string;
  commitSha?: string; // the commit as reported, where the caller has it
};

export type FlakinessParams = {
  halfLifeDays: number;
  windowDays: number;
  minRuns: number;
  priorAlpha: number;
  priorBeta: number;
  credibleMass: number;
  minFlakeWeight: number;
  brokenMinRuns: number;
  brokenSignificance: number;
  incidentFailureShare: number;
  incidentMinResults: number;
};

export const DEFAULT_PARAMS: FlakinessParams = {
  halfLifeDays: 7,
  windowDays: 28,
  minRuns: 8,
  priorAlpha: 0.1,
  priorBeta: 1.9,
  credibleMass: 0.9,
  minFlakeWeight: 1 / 16, // one flake within four half-lives (the default window)
  brokenMinRuns: 3,
  brokenSignificance: 0.01,
  incidentFailureShare: 0.5,
  incidentMinResults: 10,
};

export type FlakyExample = { runId: string; commit: string; at: number; kind: 'retry' | 'same_commit' | 'transient' };

export type Evidence = {
  executions: number; // in the window, outside incidents
  weightedExecutions: number;
  flakeWeight: number; // time-decayed flaky executions
  flakyExecutions: number;
  retryFlakes: number;
  sameCommitFlakes: number;
  flakyCommits: number;
  transientFailures: number;
  flips: number;
  failures: number;
  brokenFailures: number;
  currentFailureStreak: number;
  broken: boolean;
  firstFlaky: FlakyExample | null;
  lastFlaky: FlakyExample | null;
  examples: FlakyExample[]; // up to 5, most recent first
};

export type Score = {
  version: string;
  score: number;
  interval: { lower: number; upper: number; mass: number };
  classification: Classification;
};

const DAY = 86_400;
// One test case's evidence and score in a scoring (the read model stores these).
export type CaseFlakiness = {
  testCaseId: string;
  lastAt: number; // unix seconds of its latest execution in scope
  incidentExecutions: number; // executions left out because their run was an incident
  evidence: Evidence;
  score: Score; // without its interval: see withInterval
};

export const dayOf = (unixSeconds: number) => Math.floor(unixSeconds / DAY);
export const decayWeight = (ageDays: number, halfLifeDays: number) => Math.pow(2, -Math.max(0, ageDays) / halfLifeDays);

// Probability of `k` more failures in a row from a test whose failure rate has
// the posterior Beta(prior + failures, prior + others) after `n` executions of
// which `f` failed: the Beta-binomial predictive.
function streakProbability(k: number, f: number, n: number, p: FlakinessParams): number {
  let prob = 1;
  for (let i = 0; i < k; i++) prob *= (p.priorAlpha + f + i) / (p.priorAlpha + p.priorBeta + n + i);
  return prob;
}

type Streak = { start: number; end: number; leading: boolean; terminal: boolean };

function failureStreaks(seq: Execution[]): Streak[] {
  const streaks: Streak[] = [];
  for (let i = 0; i < seq.length; i++) {
    if (seq[i]!.outcome !== 'fail') continue;
    let j = i;
    while (j + 1 < seq.length && seq[j + 1]!.outcome === 'fail') j++;
    streaks.push({ start: i, end: j, leading: i === 0, terminal: j === seq.length - 1 });
    i = j;
  }
  return streaks;
}

const byTime = (a: Execution, b: Execution) => a.t - b.t || (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0);

// The evidence of one test case from its executions in the window (incident
// runs already removed).
//
// - A retry flake (failed attempt, then passed) is flakiness.
// - A failure of a commit that also passed is flakiness (same code, other result).
// - A lone failure between passes on a branch is a flip: flakiness.
// - A streak of failures is tested against the failure rate the test shows
//   elsewhere (Beta-binomial predictive): plausible, it is flakiness too (if
//   passes surround it on its branch); implausible, it is a broken episode, and
//   every failure on any branch while it lasted belongs to it, not to flakiness
//   (except failures of a commit that also passed).
//   Streaks are looked for along each branch and along all branches together,
//   so a breakage seen partly on main and partly on a feature branch is one.
// - A test is broken now when an implausible streak of at least brokenMinRuns
//   failures ends the history of a branch that ran within the last half-life.
//
// `executions` may be a sparse subset of the history (what ClickHouse sends for a
// project, domain/ch/flakiness.ts): every failed or flaky execution, the
// executions next to a failure in time order (along its branch and along all
// branches), and the last of each branch. That is all the sequence rules look
// at; `whole` then gives what the subset cannot: how many executions there were,
// their total weight, and the commits that also passed.
export type WholeHistory = { executions: number; weightedExecutions: number; commitsWithPass: ReadonlySet<string> };

export function evidenceOf(executions: readonly Execution[], asOfDay: number, params: FlakinessParams = DEFAULT_PARAMS, whole?: WholeHistory): Evidence {
  const weight = (e: Execution) => decayWeight(asOfDay - dayOf(e.t), params.halfLifeDays);
  const commitsWithPass = whole?.commitsWithPass ?? new Set(executions.filter((e) => e.outcome !== 'fail' && e.commit).map((e) => e.commit));
  const total = whole?.executions ?? executions.length;
  const kind = new Map<Execution, FlakyExample['kind']>();
  const broken = new Set<Execution>();
  let flips = 0;
  let brokenNow = false;
  let currentFailureStreak = 0;
  const episodes: Array<{ from: number; to: number }> = []; // open intervals, unix seconds (ties: see byTime)

  const all = [...executions].sort(byTime);
  const branches = new Map<string, Execution[]>();
  for (const e of all) {
    if (!branches.has(e.branch)) branches.set(e.branch, []);
    branches.get(e.branch)!.push(e);
  }
  for (const e of all) {
    if (e.outcome === 'flaky') kind.set(e, 'retry');
    else if (e.outcome === 'fail' && e.commit && commitsWithPass.has(e.commit)) kind.set(e, 'same_commit');
  }
  const sequences = [...branches.values()].map((seq) => ({ seq, streaks: failureStreaks(seq), perBranch: true }));
  for (const { seq, streaks } of sequences) {
    for (let i = 1; i < seq.length; i++) if ((seq[i]!.outcome === 'fail') !== (seq[i - 1]!.outcome === 'fail')) flips++;
    for (const s of streaks) if (s.start === s.end && !s.leading && !s.terminal && !kind.has(seq[s.start]!)) kind.set(seq[s.start]!, 'transient');
  }
  if (branches.size > 1) sequences.push({ seq: all, streaks: failureStreaks(all), perBranch: false });

  // The failure rate each streak is tested against: what the rest of the history shows.
  const flakyFailures = new Set(all.filter((e) => e.outcome === 'fail' && kind.has(e)));
  for (const { seq, streaks, perBranch } of sequences) {
    const active = dayOf(seq.at(-1)!.t) >= asOfDay - params.halfLifeDays;
    for (const s of streaks) {
      const k = s.end - s.start + 1;
      if (s.terminal && active) currentFailureStreak = Math.max(currentFailureStreak, k);
      if (k < 2) continue;
      let inside = 0;
      for (let i = s.start; i <= s.end; i++) if (flakyFailures.has(seq[i]!)) inside++;
      // How surprising a streak this long is anywhere in a history this long.
      const anywhere = (total - k + 1) * streakProbability(k, flakyFailures.size - inside, total - k, params);
      const plausible = anywhere >= params.brokenSignificance;
      if (!plausible) {
        if (s.terminal && active && k >= params.brokenMinRuns) brokenNow = true;
        // From the pass before to the pass after; at the edges of the history, its own failures.
        episodes.push({ from: s.leading ? seq[s.start]!.t - 1 : seq[s.start - 1]!.t, to: s.terminal ? seq[s.end]!.t + 1 : seq[s.end + 1]!.t });
      } else if (perBranch && !s.leading && !s.terminal) {
        for (let i = s.start; i <= s.end; i++) if (!kind.has(seq[i]!)) kind.set(seq[i]!, 'transient');
      }
    }
  }
  // (A commit that both passed and failed stays flakiness: the same code gave two results.)
  for (const e of all) {
    if (e.outcome === 'fail' && kind.get(e) !== 'same_commit' && episodes.some((p) => e.t > p.from && e.t < p.to)) {
      kind.delete(e);
      broken.add(e);
    }
  }

  let weightedExecutions = 0;
  let flakeWeight = 0;
  const flaky: Array<{ e: Execution; kind: FlakyExample['kind'] }> = [];
  for (const e of all) { // in time order: the sums do not depend on the order given
    const w = weight(e);
    weightedExecutions += w;
    const k = kind.get(e);
    if (!k) continue;
    flakeWeight += w;
    flaky.push({ e, kind: k });
  }
  if (whole) weightedExecutions = whole.weightedExecutions;
  const ordered = flaky.sort((a, b) => byTime(a.e, b.e));
  const strip = (x: (typeof ordered)[number] | undefined): FlakyExample | null =>
    x ? { runId: x.e.runId, commit: x.e.commitSha || x.e.commit, at: x.e.t, kind: x.kind } : null;
  const count = (k: FlakyExample['kind']) => ordered.filter((x) => x.kind === k).length;
  return {
    executions: total,
    weightedExecutions,
    flakeWeight,
    flakyExecutions: ordered.length,
    retryFlakes: count('retry'),
    sameCommitFlakes: count('same_commit'),
    flakyCommits: new Set(ordered.filter((x) => x.kind === 'same_commit').map((x) => x.e.commit)).size,
    transientFailures: count('transient'),
    flips,
    failures: executions.filter((e) => e.outcome === 'fail').length,
    brokenFailures: broken.size,
    currentFailureStreak,
    broken: brokenNow,
    firstFlaky: strip(ordered[0]),
    lastFlaky: strip(ordered.at(-1)),
    examples: ordered.slice(-5).reverse().map((x) => strip(x)!),
  };
}

// The sparse subset of a history that evidenceOf needs (see WholeHistory), in
// time order: the specification of what caseEvidence in domain/ch/flakiness.ts
// selects in ClickHouse.
export function sparseHistory(executions: readonly Execution[]): { executions: Execution[]; whole: Omit<WholeHistory, 'weightedExecutions'> } {
  const all = [...executions].sort(byTime);
  const keep = new Set<Execution>();
  const mark = (seq: Execution[]) => seq.forEach((e, i) => {
    if (e.outcome !== 'pass' || seq[i - 1]?.outcome === 'fail' || seq[i + 1]?.outcome === 'fail' || i === seq.length - 1) keep.add(e);
  });
  mark(all);
  for (const branch of new Set(all.map((e) => e.branch))) mark(all.filter((e) => e.branch === branch));
  const passed = new Set(all.filter((e) => e.outcome !== 'fail' && e.commit).map((e) => e.commit));
  const failed = new Set(all.filter((e) => e.outcome === 'fail' && e.commit).map((e) => e.commit));
  return {
    executions: all.filter((e) => keep.has(e)),
    whole: { executions: all.length, commitsWithPass: new Set([...passed].filter((c) => failed.has(c))) },
  };
}

// The evidence of a test case that neither failed nor flaked in the window:
// how many executions it had, and their weight (the sum of their decayWeight),
// is all there is to it.
export function passOnlyEvidence(totals: { executions: number; weightedExecutions: number }): Evidence {
  return {
    executions: totals.executions, weightedExecutions: totals.weightedExecutions, flakeWeight: 0, flakyExecutions: 0, retryFlakes: 0,
    sameCommitFlakes: 0, flakyCommits: 0, transientFailures: 0, flips: 0, failures: 0, brokenFailures: 0, currentFailureStreak: 0,
    broken: false, firstFlaky: null, lastFlaky: null, examples: [],
  };
}

// Beta posterior over the time-decayed flaky and non-flaky executions.
export function posterior(ev: Evidence, params: FlakinessParams = DEFAULT_PARAMS): { alpha: number; beta: number } {
  return {
    alpha: params.priorAlpha + ev.flakeWeight,
    beta: params.priorBeta + Math.max(0, ev.weightedExecutions - ev.flakeWeight),
  };
}

export function classify(ev: Evidence, params: FlakinessParams = DEFAULT_PARAMS): Classification {
  if (ev.executions < params.minRuns) return 'insufficient_data';
  if (ev.broken) return 'broken';
  if (ev.flakeWeight >= params.minFlakeWeight) return 'flaky';
  return 'stable';
}

export function scoreOf(ev: Evidence, params: FlakinessParams = DEFAULT_PARAMS, withInterval = true): Score {
  const { alpha, beta } = posterior(ev, params);
  const tail = (1 - params.credibleMass) / 2;
  return {
    version: SCORING_VERSION,
    score: alpha / (alpha + beta),
    interval: withInterval
      ? { lower: betaQuantile(tail, alpha, beta), upper: betaQuantile(1 - tail, alpha, beta), mass: params.credibleMass }
      : { lower: NaN, upper: NaN, mass: params.credibleMass },
    classification: classify(ev, params),
  };
}
