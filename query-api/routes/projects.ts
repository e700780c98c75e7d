import Router from '@koa/router';
import { notFound } from '../../lib/errors.ts';
import { newId } from '../../schemas/ids.ts';
import { withTransaction } from '../../lib/pg.ts';
import { parse } from '../../lib/http/errors.ts';
import { authorize, authorizeTeam, principalOf } from '../../domain/accounts/auth.ts';
import type { AppDeps } from '../../domain/app-deps.ts';
import { actorOf } from '../../domain/events.ts';
import { ProjectCreateBody } from '../../schemas/api.ts';
import { ProjectPatchBody, ProjectsQuery } from '../../schemas/accounts.ts';
import { id } from '../../schemas/common.ts';
import { projects, projectView } from '../../domain/pg/projects.ts';
import { audit } from '../../domain/pg/audit.ts';
import { deleteProjectsThroughLog } from '../services/project-deletion.ts';
import { listBody, requestIdOf } from './support.ts';

// Projects (Euriqa: /api/projects). A team's admins create and rename them, its
// owners delete them; an API key sees its own project only.
export function projectsRouter({ pool, eventLog }: AppDeps): Router {
  const router = new Router();

  router.get('/api/projects', async (ctx) => {
    const q = parse(ProjectsQuery, ctx.query);
    const principal = principalOf(ctx);
    if (principal.kind === 'api_key') {
      if (q.teamId && q.teamId !== principal.teamId) throw notFound('team', q.teamId);
      ctx.body = listBody(await projects.list(pool, { ...q, teamId: principal.teamId, only: principal.projectId }), projectView, q);
      return;
    }
    if (!q.teamId) parse(ProjectsQuery.required({ teamId: true }), ctx.query);
    await authorizeTeam(pool, principal, q.teamId!, 'read');
    ctx.body = listBody(await projects.list(pool, { ...q, teamId: q.teamId! }), projectView, q);
  });

  router.post('/api/projects', async (ctx) => {
    const body = parse(ProjectCreateBody, ctx.request.body);
    const principal = principalOf(ctx);
    await authorizeTeam(pool, principal, body.teamId, 'manage');
    const project = await withTransaction(pool, async (tx) => {
      const p = await projects.insert(tx, { id: newId('project'), teamId: body.teamId, name: body.name });
      await audit.record(tx, { teamId: p.team_id, projectId: p.id, actor: actorOf(principal), action: 'project.created', target: { type: 'project', id: p.id }, after: projectView(p), requestId: requestIdOf(ctx) });
      return p;
    });
    ctx.status = 201;
    ctx.body = projectView(project);
  });

  router.get('/api/projects/:id', async (ctx) => {
    const projectId = parse(id('project'), ctx.params.id);
    await authorize(pool, principalOf(ctx), projectId, 'read');
    const project = await projects.byId(pool, projectId);
    if (!project) throw notFound('project', projectId);
    ctx.body = projectView(project);
  });

  router.patch('/api/projects/:id', async (ctx) => {
    const projectId = parse(id('project'), ctx.params.id);
    const body = parse(ProjectPatchBody, ctx.request.body);
    const principal = principalOf(ctx);
    await authorize(pool, principal, projectId, 'manage');
    const project = await withTransaction(pool, async (tx) => {
      const before = await projects.byId(tx, projectId);
      if (!before) throw notFound('project', projectId);
      const after = body.name === undefined ? before : await projects.rename(tx, projectId, body.name);
      await audit.record(tx, { teamId: after.team_id, projectId, actor: actorOf(principal), action: 'project.updated', target: { type: 'project', id: projectId }, before: projectView(before), after: projectView(after), requestId: requestIdOf(ctx) });
      return after;
    });
    ctx.body = projectView(project);
  });

  // The project's rows go now; its data (runs, results, facts, blobs) through
  // the log (project.deleted), so every projection stays consistent.
  router.delete('/api/projects/:id', async (ctx) => {
    const projectId = parse(id('project'), ctx.params.id);
    const principal = principalOf(ctx);
    await authorize(pool, principal, projectId, 'own');
    await withTransaction(pool, async (tx) => {
      const project = await projects.byId(tx, projectId);
      if (!project) throw notFound('project', projectId);
      await audit.record(tx, { teamId: project.team_id, projectId, actor: actorOf(principal), action: 'project.deleted', target: { type: 'project', id: projectId }, before: projectView(project), requestId: requestIdOf(ctx) });
      await deleteProjectsThroughLog(tx, eventLog, [projectId], { actor: actorOf(principal), requestId: requestIdOf(ctx) });
    });
    ctx.body = { success: true, message: 'Project deleted successfully' };
  });

  return router;
}
