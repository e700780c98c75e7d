import Router from '@koa/router';
import { notFound } from '../../lib/errors.ts';
import { withTransaction } from '../../lib/pg.ts';
import { parse } from '../../lib/http/errors.ts';
import { authorize, principalOf } from '../../domain/accounts/auth.ts';
import type { AppDeps } from '../../domain/app-deps.ts';
import { actorOf } from '../../domain/events.ts';
import { ProjectSettingsPatchBody } from '../../schemas/accounts.ts';
import { id } from '../../schemas/common.ts';
import { projects } from '../../domain/pg/projects.ts';
import { projectSettings, projectSettingsView } from '../../domain/pg/project-settings.ts';
import { audit } from '../../domain/pg/audit.ts';
import { requestIdOf } from './support.ts';

// Project settings (Euriqa: /api/projects/:id/settings): anyone who reads the
// project reads them; admins (and full keys) change them, field by field.
export function settingsRouter({ pool }: AppDeps): Router {
  const router = new Router();

  router.get('/api/projects/:id/settings', async (ctx) => {
    const projectId = parse(id('project'), ctx.params.id);
    await authorize(pool, principalOf(ctx), projectId, 'read');
    const project = await projects.byId(pool, projectId);
    if (!project) throw notFound('project', projectId);
    ctx.body = projectSettingsView(projectId, await projectSettings.get(pool, projectId), project.created_at);
  });

  router.patch('/api/projects/:id/settings', async (ctx) => {
    const projectId = parse(id('project'), ctx.params.id);
    const body = parse(ProjectSettingsPatchBody, ctx.request.body);
    const principal = principalOf(ctx);
    await authorize(pool, principal, projectId, 'manage');
    ctx.body = await withTransaction(pool, async (tx) => {
      const project = await projects.byId(tx, projectId);
      if (!project) throw notFound('project', projectId);
      const before = projectSettingsView(projectId, await projectSettings.get(tx, projectId), project.created_at);
      const after = projectSettingsView(projectId, await projectSettings.update(tx, projectId, body), project.created_at);
      await audit.record(tx, { teamId: project.team_id, projectId, actor: actorOf(principal), action: 'settings.updated', target: { type: 'project', id: projectId }, before, after, requestId: requestIdOf(ctx) });
      return after;
    });
  });

  return router;
}
