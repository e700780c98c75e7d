import Router from '@koa/router';
import { parse } from '../../lib/http/errors.ts';
import { principalOf, readableProject } from '../../lib/http/auth.ts';
import type { AppDeps } from '../../lib/http/app.ts';
import { TransitionsQuery } from '../../schemas/overview.ts';
import { caseStates, type TestState } from '../ch/transitions.ts';

const PERIOD_DAYS = { '7d': 7, '30d': 30, '90d': 90, '365d': 365 } as const;
const DAY_MS = 86_400_000;
const mondayOf = (day: number) => day - ((day + 3) % 7); // day 0, 1970-01-01, was a Thursday
const isoDay = (day: number) => new Date(day * DAY_MS).toISOString().slice(0, 10);

// Test transitions (Trunk's chart): per day or week, how many test cases were
// stable, flaky or broken, and how many moved between those states since their
// previous bucket with executions. The states are each bucket's outcomes
// (ch/transitions.ts), not the flakiness score's classification, which needs
// a window of history and is kept only as of now (GET /api/flakiness).
export function transitionsRouter({ pool, ch }: AppDeps): Router {
  const router = new Router();

  router.get('/api/flakiness/transitions', async (ctx) => {
    const q = parse(TransitionsQuery, ctx.query);
    const projectId = await readableProject(pool, principalOf(ctx), q.projectId);
    const week = q.interval === 'week';
    const today = Math.floor(Date.now() / DAY_MS);
    let fromDay = today - PERIOD_DAYS[q.period] + 1;
    if (week) fromDay = mondayOf(fromDay);
    const keys: number[] = [];
    for (let d = fromDay; d <= today; d += week ? 7 : 1) keys.push(d);
    const buckets = new Map(keys.map((k) => [k, { stable: 0, flaky: 0, broken: 0, moves: new Map<string, number>() }]));
    for (const c of await caseStates(ch, { projectId, fromDay, week, branch: q.branch })) {
      let before: TestState | 'new' = 'new';
      c.buckets.forEach((b, i) => {
        const state = c.states[i]!;
        const bucket = buckets.get(b);
        if (!bucket) return;
        bucket[state]++;
        if (before !== state) bucket.moves.set(`${before}>${state}`, (bucket.moves.get(`${before}>${state}`) ?? 0) + 1);
        before = state;
      });
    }
    ctx.body = {
      projectId, period: q.period, interval: q.interval, branch: q.branch ?? null,
      buckets: keys.map((k) => {
        const b = buckets.get(k)!;
        return {
          start: isoDay(k), stable: b.stable, flaky: b.flaky, broken: b.broken,
          transitions: [...b.moves].map(([key, count]) => {
            const [from, to] = key.split('>') as [TestState | 'new', TestState];
            return { from, to, count };
          }).sort((x, y) => y.count - x.count || `${x.from}${x.to}`.localeCompare(`${y.from}${y.to}`)),
        };
      }),
    };
  });

  return router;
}
