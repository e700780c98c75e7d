import Router from '@koa/router';
import { parse } from '../../lib/http/errors.ts';
import { authorizeTeam, principalOf, requireUser } from '../../lib/http/auth.ts';
import type { AppDeps } from '../../lib/http/app.ts';
import { OverviewQuery } from '../../schemas/overview.ts';
import { teams } from '../pg/teams.ts';
import { overviewRepo } from '../pg/overview.ts';
import { runCounts } from '../pg/runs.ts';
import { dailyTestOutcomes } from '../ch/overview.ts';

const DAY_MS = 86_400_000;
const isoDay = (dayNumber: number) => new Date(dayNumber * DAY_MS).toISOString().slice(0, 10);
const percent = (passed: number, total: number) => (total ? Math.round((passed / total) * 10000) / 100 : null);

// The dashboard's overview (Trunk's repository overview): every team of the
// caller with its projects, each with runs per day, pass rate, flaky and broken
// counts and 14-day (?days) daily series, and its last run: one request.
// People only: a key has one project, which GET /api/analytics/trends covers.
export function overviewRouter({ pool, ch }: AppDeps): Router {
  const router = new Router();

  router.get('/api/overview', async (ctx) => {
    const q = parse(OverviewQuery, ctx.query);
    // Another team's id is 404, as everywhere; then keys are refused (403).
    if (q.teamId) await authorizeTeam(pool, principalOf(ctx), q.teamId, 'read');
    const principal = requireUser(ctx);
    const memberships = (await teams.ofUser(pool, principal.userId)).filter((t) => !q.teamId || t.id === q.teamId);
    const today = Math.floor(Date.now() / DAY_MS);
    const fromDay = today - q.days + 1;
    const projects = memberships.length ? await overviewRepo.projectsOf(pool, memberships.map((t) => t.id)) : [];
    const ids = projects.map((p) => p.id);
    const [daily, last, classes, outcomes] = ids.length
      ? await Promise.all([
        overviewRepo.dailyRuns(pool, ids, isoDay(fromDay)),
        overviewRepo.lastRuns(pool, ids),
        overviewRepo.classifications(pool, ids),
        dailyTestOutcomes(ch, ids, fromDay),
      ])
      : [[], [], [], []];

    const days = Array.from({ length: q.days }, (_, i) => isoDay(fromDay + i));
    const projectView = (p: { id: string; name: string }) => {
      const runsOf = new Map(daily.filter((d) => d.project_id === p.id).map((d) => [d.day, d]));
      const testsOf = new Map(outcomes.filter((o) => o.projectId === p.id).map((o) => [isoDay(o.day), o]));
      const series = days.map((day) => {
        const r = runsOf.get(day);
        const t = testsOf.get(day);
        return { day, runs: r?.runs ?? 0, passRate: r ? percent(r.passed, r.total) : null, flakyTests: t?.flaky ?? 0, failedTests: t?.failed ?? 0 };
      });
      const window = [...runsOf.values()].reduce((a, r) => ({ runs: a.runs + r.runs, passed: a.passed + r.passed, total: a.total + r.total }), { runs: 0, passed: 0, total: 0 });
      const lastRun = last.find((r) => r.project_id === p.id);
      const count = (c: string) => classes.find((x) => x.project_id === p.id && x.classification === c)?.n ?? 0;
      return {
        id: p.id, name: p.name,
        lastRun: lastRun ? { id: lastRun.id, status: lastRun.status, branch: lastRun.branch, passRate: runCounts(lastRun).passRate, createdAt: lastRun.created_at.toISOString() } : null,
        runs: window.runs, passRate: percent(window.passed, window.total),
        flaky: count('flaky'), broken: count('broken'),
        daily: series,
      };
    };
    ctx.body = {
      from: days[0], to: days[days.length - 1], days: q.days,
      teams: memberships.map((t) => ({ id: t.id, name: t.name, role: t.role, projects: projects.filter((p) => p.team_id === t.id).map(projectView) })),
    };
  });

  return router;
}
