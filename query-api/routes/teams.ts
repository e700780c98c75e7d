import Router from '@koa/router';
import { notFound } from '../../lib/errors.ts';
import { newId } from '../../schemas/ids.ts';
import { withTransaction } from '../../lib/pg.ts';
import { parse } from '../../lib/http/errors.ts';
import { authorizeTeam, principalOf, requireUser } from '../../domain/accounts/auth.ts';
import type { AppDeps } from '../../domain/app-deps.ts';
import { actorOf } from '../../domain/events.ts';
import { TeamCreateBody } from '../../schemas/api.ts';
import { TeamPatchBody } from '../../schemas/accounts.ts';
import { id } from '../../schemas/common.ts';
import { teams, teamView } from '../../domain/pg/teams.ts';
import { projects } from '../../domain/pg/projects.ts';
import { audit } from '../../domain/pg/audit.ts';
import { deleteProjectsThroughLog } from '../services/project-deletion.ts';
import { requestIdOf } from './support.ts';

// Teams (Euriqa: GET/POST /api/teams). The creator becomes the owner; admins
// rename; only an owner deletes, which deletes the team's projects too.
export function teamsRouter({ pool, eventLog }: AppDeps): Router {
  const router = new Router();

  // The caller's teams; an API key sees the team of its project.
  router.get('/api/teams', async (ctx) => {
    const p = principalOf(ctx);
    if (p.kind === 'api_key') {
      const team = await teams.byId(pool, p.teamId);
      const data = team ? [{ ...teamView(team), role: null }] : [];
      ctx.body = { data, total: data.length };
      return;
    }
    const rows = await teams.ofUser(pool, p.userId);
    ctx.body = { data: rows.map((t) => ({ ...teamView(t), role: t.role })), total: rows.length };
  });

  router.post('/api/teams', async (ctx) => {
    const user = requireUser(ctx);
    const body = parse(TeamCreateBody, ctx.request.body);
    const team = await withTransaction(pool, async (tx) => {
      const t = await teams.insertWithOwner(tx, { id: newId('team'), name: body.name, ownerId: user.userId, memberId: newId('member') });
      await audit.record(tx, { teamId: t.id, actor: actorOf(user), action: 'team.created', target: { type: 'team', id: t.id }, after: teamView(t), requestId: requestIdOf(ctx) });
      return t;
    });
    ctx.status = 201;
    ctx.body = teamView(team);
  });

  router.get('/api/teams/:id', async (ctx) => {
    const teamId = parse(id('team'), ctx.params.id);
    const role = await authorizeTeam(pool, principalOf(ctx), teamId, 'read');
    const team = await teams.byId(pool, teamId);
    if (!team) throw notFound('team', teamId);
    ctx.body = { ...teamView(team), role };
  });

  router.patch('/api/teams/:id', async (ctx) => {
    const teamId = parse(id('team'), ctx.params.id);
    const body = parse(TeamPatchBody, ctx.request.body);
    const principal = principalOf(ctx);
    await authorizeTeam(pool, principal, teamId, 'manage');
    const team = await withTransaction(pool, async (tx) => {
      const before = await teams.lock(tx, teamId);
      if (!before) throw notFound('team', teamId);
      const after = await teams.rename(tx, teamId, body.name);
      await audit.record(tx, { teamId, actor: actorOf(principal), action: 'team.updated', target: { type: 'team', id: teamId }, before: teamView(before), after: teamView(after), requestId: requestIdOf(ctx) });
      return after;
    });
    ctx.body = { ...teamView(team), updatedAt: team.updated_at.toISOString() };
  });

  router.delete('/api/teams/:id', async (ctx) => {
    const teamId = parse(id('team'), ctx.params.id);
    const principal = principalOf(ctx);
    await authorizeTeam(pool, principal, teamId, 'own');
    await withTransaction(pool, async (tx) => {
      const team = await teams.lock(tx, teamId);
      if (!team) throw notFound('team', teamId);
      const projectIds = await projects.idsOfTeam(tx, teamId);
      await audit.record(tx, { teamId, actor: actorOf(principal), action: 'team.deleted', target: { type: 'team', id: teamId }, before: { ...teamView(team), projectIds }, requestId: requestIdOf(ctx) });
      // Every row first (the projects cascade with the team), the log last.
      await teams.delete(tx, teamId);
      await deleteProjectsThroughLog(tx, eventLog, projectIds, { actor: actorOf(principal), requestId: requestIdOf(ctx) });
    });
    ctx.body = { success: true, message: 'Team deleted successfully' };
  });

  return router;
}
