import { describe, expect, it } from 'vitest';
import { betaCdf, betaQuantile } from '../../domain/analytics/flakiness/beta.ts';
import {
  DEFAULT_PARAMS, SCORING_VERSION, classify, decayWeight, evidenceOf, passOnlyEvidence, scoreOf, sparseHistory, type Execution, type Outcome,
} from '../../domain/analytics/flakiness/score.ts';
import { byScore } from '../../domain/analytics/flakiness/service.ts';

const DAY = 86_400;
const AS_OF = 20_000; // a day number
// A history on one branch: one execution per hour ending on AS_OF, a new commit
// for each unless `commits` says otherwise.
function history(outcomes: string, opts: { branch?: string; commits?: string[]; endDay?: number; hoursApart?: number } = {}): Execution[] {
  const end = ((opts.endDay ?? AS_OF) + 1) * DAY - 60;
  const gap = (opts.hoursApart ?? 1) * 3600;
  const codes: Record<string, Outcome> = { P: 'pass', F: 'fail', R: 'flaky' };
  return [...outcomes].map((c, i) => ({
    t: end - (outcomes.length - 1 - i) * gap,
    seq: `test_${String(i).padStart(4, '0')}`,
    outcome: codes[c]!,
    branch: opts.branch ?? 'main',
    commit: opts.commits?.[i] ?? `c${i}`,
    runId: `run_${opts.branch ?? 'main'}_${i}`,
  }));
}
const evaluate = (ex: Execution[]) => {
  const ev = evidenceOf(ex, AS_OF);
  return { ev, score: scoreOf(ev) };
};

describe('the Beta distribution', () => {
  it('matches closed forms and known values', () => {
    expect(betaCdf(0.3, 1, 1)).toBeCloseTo(0.3, 12);
    expect(betaCdf(0.25, 0.5, 0.5)).toBeCloseTo((2 / Math.PI) * Math.asin(0.5), 10);
    expect(betaCdf(0.2, 2, 5)).toBeCloseTo(0.34464, 5);
    expect(betaQuantile(0.5, 2, 2)).toBeCloseTo(0.5, 10);
    expect(betaQuantile(0.05, 1, 1)).toBeCloseTo(0.05, 10);
  });
  it('inverts its distribution function, down to the tiny quantiles of a < 1', () => {
    for (const [a, b, p] of [[0.1, 30, 0.05], [3.2, 40.5, 0.95], [0.6, 2, 0.05], [50, 3, 0.5]] as const) {
      const q = betaQuantile(p, a, b);
      expect(betaCdf(q, a, b)).toBeCloseTo(p, 9);
    }
    expect(betaQuantile(0.05, 0.1, 30)).toBeLessThan(1e-10);
  });
});

describe('flakiness evidence and score (version 1)', () => {
  it('carries its version', () => {
    expect(scoreOf(passOnlyEvidence({ executions: 0, weightedExecutions: 0 })).version).toBe(SCORING_VERSION);
  });

  it('calls a test that always passes stable, with a small score inside its interval', () => {
    const { ev, score } = evaluate(history('P'.repeat(30)));
    expect(score.classification).toBe('stable');
    expect(ev).toMatchObject({ executions: 30, flakyExecutions: 0, flips: 0, failures: 0, broken: false });
    expect(score.score).toBeLessThan(0.01);
    expect(score.interval.lower).toBeLessThan(score.score);
    expect(score.interval.upper).toBeGreaterThan(score.score);
  });

  it('needs only the count and weight of the executions of a test that never failed', () => {
    const ex = [...history('PPPP', { endDay: AS_OF - 3 }), ...history('PP')];
    const weightedExecutions = 4 * decayWeight(3, DEFAULT_PARAMS.halfLifeDays) + 2;
    expect(passOnlyEvidence({ executions: 6, weightedExecutions })).toEqual(evidenceOf(ex, AS_OF));
  });

  it('needs a minimum number of executions before it classifies', () => {
    expect(evaluate(history('PRPPP')).score.classification).toBe('insufficient_data');
    expect(evaluate(history('FFFFF')).score.classification).toBe('insufficient_data');
  });

  it('takes a failed attempt that passed on retry as proof of flakiness', () => {
    const { ev, score } = evaluate(history(`${'P'.repeat(20)}R${'P'.repeat(9)}`));
    expect(score.classification).toBe('flaky');
    expect(ev).toMatchObject({ retryFlakes: 1, flakyExecutions: 1, flips: 0 });
    expect(ev.examples).toEqual([{ runId: 'run_main_20', commit: 'c20', at: (AS_OF + 1) * DAY - 60 - 9 * 3600, kind: 'retry' }]);
  });

  it('takes a commit that both passed and failed as flakiness', () => {
    const commits = Array.from({ length: 30 }, (_, i) => `c${i}`);
    commits[11] = 'c10'; // the failure is a re-run of the commit that passed
    const { ev, score } = evaluate(history(`${'P'.repeat(11)}F${'P'.repeat(18)}`, { commits }));
    expect(score.classification).toBe('flaky');
    expect(ev).toMatchObject({ sameCommitFlakes: 1, flakyCommits: 1, transientFailures: 0, flips: 2 });
    expect(ev.firstFlaky).toMatchObject({ commit: 'c10', kind: 'same_commit' });
  });

  it('takes a lone failure between passes on a branch as a flip', () => {
    const { ev, score } = evaluate(history(`${'P'.repeat(10)}F${'P'.repeat(10)}FF${'P'.repeat(7)}`));
    expect(score.classification).toBe('flaky');
    expect(ev).toMatchObject({ transientFailures: 3, flips: 4, failures: 3 });
  });

  it('calls a test broken when it fails consistently on its latest commits, and not flaky', () => {
    const { ev, score } = evaluate(history(`${'P'.repeat(25)}FFFF`));
    expect(score.classification).toBe('broken');
    expect(ev).toMatchObject({ broken: true, brokenFailures: 4, flakyExecutions: 0, currentFailureStreak: 4 });
    expect(score.score).toBeLessThan(0.01);
  });

  it('waits for a third failure before it calls a newly failing test broken', () => {
    expect(evaluate(history(`${'P'.repeat(25)}FF`)).score.classification).toBe('stable');
  });

  it('calls a test that was broken and is fixed stable: a long failure episode is not flakiness', () => {
    expect(evaluate(history(`${'P'.repeat(10)}FFFFF${'P'.repeat(15)}`)).ev).toMatchObject({ brokenFailures: 5, flakyExecutions: 0 });
    expect(evaluate(history(`${'P'.repeat(10)}FFFFF${'P'.repeat(15)}`)).score.classification).toBe('stable');
    expect(evaluate(history(`FF${'P'.repeat(28)}`)).score.classification).toBe('stable');
  });

  it('keeps a very flaky test flaky when its last runs fail, because its history makes that streak plausible', () => {
    const { ev, score } = evaluate(history('PFPPFFPFPPFPFFPPFPFPPFFPFPPFFF'));
    expect(score.classification).toBe('flaky');
    expect(ev.broken).toBe(false);
    expect(score.score).toBeGreaterThan(0.2);
    expect(score.interval.lower).toBeGreaterThan(0.1);
  });

  it('looks at flips along each branch, not across branches', () => {
    // main passes, a feature branch fails consistently: interleaved in time, but no flip on either
    const main = history('P'.repeat(15), { hoursApart: 2 });
    const feature = history('FFFFFF', { branch: 'feature/x', hoursApart: 5 }).map((e) => ({ ...e, t: e.t - 3600, commit: `f${e.commit}` }));
    const { ev } = evaluate([...main, ...feature]);
    expect(ev).toMatchObject({ flips: 0, transientFailures: 0, flakyExecutions: 0 });
  });

  it('sees one broken episode in a breakage seen partly on main and partly on a feature branch', () => {
    // main: P×10 F F P×10, a feature branch failing once in between: three failures in a row overall
    const main = history(`${'P'.repeat(10)}FF${'P'.repeat(10)}`, { hoursApart: 2 });
    const feature = history('PFP', { branch: 'feature/y', hoursApart: 2, endDay: AS_OF }).map((e, i) => ({
      ...e, commit: `f${i}`, t: main[9 + i]!.t + 60,
    }));
    const { ev, score } = evaluate([...main, ...feature]);
    expect(ev).toMatchObject({ flakyExecutions: 0, brokenFailures: 3 });
    expect(score.classification).toBe('stable');
  });

  it('calls a test broken when any branch that ran lately ends in a broken streak, even if the latest run was elsewhere', () => {
    const main = history(`${'P'.repeat(20)}FFFF`, { hoursApart: 2 });
    const feature = history('PP', { branch: 'feature/z', hoursApart: 1 }).map((e, i) => ({ ...e, commit: `z${i}`, t: main.at(-1)!.t + 60 * (i + 1) }));
    expect(evaluate([...main, ...feature]).score.classification).toBe('broken');
  });

  it('keeps a failure of a commit that also passed as flakiness, even inside a failure streak', () => {
    const commits = Array.from({ length: 30 }, (_, i) => `c${i}`);
    commits[20] = 'c19';
    const { ev } = evaluate(history(`${'P'.repeat(20)}FF${'P'.repeat(8)}`, { commits }));
    expect(ev).toMatchObject({ sameCommitFlakes: 1, brokenFailures: 1 });
  });

  it('judges a streak by how surprising it is anywhere in the history: two failures in a row are a flip for a test that flakes', () => {
    expect(evaluate(history(`${'P'.repeat(10)}F${'P'.repeat(10)}FF${'P'.repeat(7)}`)).ev).toMatchObject({ transientFailures: 3, brokenFailures: 0 });
    expect(evaluate(history(`${'P'.repeat(20)}FF${'P'.repeat(8)}`)).ev).toMatchObject({ transientFailures: 0, brokenFailures: 2 });
  });

  it('lets old evidence fade with its half-life', () => {
    const recent = evaluate(history(`${'P'.repeat(20)}R${'P'.repeat(9)}`, { hoursApart: 2 }));
    const old = evaluate(history(`${'P'.repeat(20)}R${'P'.repeat(9)}`, { hoursApart: 2, endDay: AS_OF - 21 }));
    const older = evaluate(history(`${'P'.repeat(20)}R${'P'.repeat(9)}`, { hoursApart: 2, endDay: AS_OF - 35 }));
    expect(decayWeight(7, 7)).toBeCloseTo(0.5, 12);
    expect(old.ev.flakeWeight).toBeCloseTo(recent.ev.flakeWeight / 8, 2);
    // evidence that aged says less: the posterior widens back towards the prior
    expect(old.score.interval.upper - old.score.interval.lower).toBeGreaterThan(recent.score.interval.upper - recent.score.interval.lower);
    // the flake still classifies within four half-lives, and no longer after
    expect([recent.score.classification, old.score.classification, older.score.classification]).toEqual(['flaky', 'flaky', 'stable']);
  });

  it('moves the score with the share of flaky executions and narrows the interval with more data', () => {
    const few = evaluate(history('PPRPPPPRPP')).score;
    const many = evaluate(history('PPRPPPPRPP'.repeat(6))).score;
    expect(few.score).toBeGreaterThan(0.1);
    expect(many.score).toBeCloseTo(0.2, 1);
    expect(many.interval.upper - many.interval.lower).toBeLessThan(few.interval.upper - few.interval.lower);
    expect(classify(evaluate(history('PPRPPPPRPP')).ev, { ...DEFAULT_PARAMS, minRuns: 20 })).toBe('insufficient_data');
  });
});

// What ClickHouse sends is a sparse subset of each history (sparseHistory): it
// must give the very evidence the whole history gives, for every kind of history.
describe('the sparse history', () => {
  // A seeded generator, so a failure names a history that can be replayed.
  const rng = (seed: number) => () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  function randomHistory(seed: number): Execution[] {
    const r = rng(seed);
    const n = 1 + Math.floor(r() * 120);
    const failRate = [0.005, 0.05, 0.3, 0.8][Math.floor(r() * 4)]!;
    const branches = ['main', 'feature-a', 'feature-b'].slice(0, 1 + Math.floor(r() * 3));
    const out: Execution[] = [];
    let t = (AS_OF - 27) * DAY;
    let commit = 0;
    for (let i = 0; i < n; i++) {
      t += Math.floor(r() * 20_000);
      if (r() < 0.4) commit++;
      const x = r();
      // a broken stretch now and then: failures in a row
      const outcome: Outcome = x < failRate ? 'fail' : x < failRate + 0.03 ? 'flaky' : 'pass';
      out.push({ t, seq: `s${String(i).padStart(4, '0')}`, outcome, branch: branches[Math.floor(r() * branches.length)]!, commit: r() < 0.05 ? '' : `c${commit}`, runId: `run_${i}` });
      if (r() < 0.02) for (let k = 0; k < 6 && i < n - 1; k++) out.push({ t: (t += 600), seq: `s${String(++i).padStart(4, '0')}`, outcome: 'fail', branch: out.at(-1)!.branch, commit: `c${++commit}`, runId: `run_${i}` });
    }
    return out.sort(() => r() - 0.5); // the order given must not matter
  }

  it('gives the same evidence as the whole history, over 2,000 random histories', () => {
    let sparser = 0;
    for (let seed = 1; seed <= 2000; seed++) {
      const ex = randomHistory(seed);
      const full = evidenceOf(ex, AS_OF);
      const { executions, whole } = sparseHistory(ex);
      if (executions.length < ex.length) sparser++;
      const sparse = evidenceOf(executions, AS_OF, DEFAULT_PARAMS, { ...whole, weightedExecutions: full.weightedExecutions });
      expect(sparse, `seed ${seed}`).toEqual(full);
    }
    expect(sparser).toBeGreaterThan(1000); // the subset is smaller for most
  });
});

describe('ranking test cases by score', () => {
  const scored = (testCaseId: string, score: number) => ({ testCaseId, score: { ...scoreOf(passOnlyEvidence({ executions: 10, weightedExecutions: 10 }), DEFAULT_PARAMS), score } });
  it('ranks equal shown scores by id, whatever their last bits (stored and live scores sum in other orders)', () => {
    const live = [scored('tc_B', 0.0082 + 1e-15), scored('tc_A', 0.0082), scored('tc_C', 0.01)];
    const stored = [scored('tc_A', 0.0082 + 1e-15), scored('tc_B', 0.0082), scored('tc_C', 0.01)];
    expect(live.sort(byScore).map((c) => c.testCaseId)).toEqual(['tc_C', 'tc_A', 'tc_B']);
    expect(stored.sort(byScore).map((c) => c.testCaseId)).toEqual(['tc_C', 'tc_A', 'tc_B']);
  });
});
