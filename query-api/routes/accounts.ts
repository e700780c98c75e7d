import Router from '@koa/router';
import type { Context } from 'koa';
import { AppError } from '../../lib/errors.ts';
import { newId } from '../../lib/ids.ts';
import { parse } from '../../lib/http/errors.ts';
import { authorize, authorizeTeam, principalOf } from '../../lib/http/auth.ts';
import type { AppDeps } from '../../lib/http/app.ts';
import { ApiKeyCreateBody, ProjectCreateBody, TeamCreateBody } from '../../schemas/api.ts';
import { teams, teamView } from '../pg/teams.ts';
import { projects, projectView } from '../pg/projects.ts';
import { apiKeys, generateApiKey } from '../pg/api-keys.ts';

// Teams, projects and API keys: enough to start ingesting. Written to Postgres
// directly (they need read-after-write); the full access model grows from here.
export function accountsRouter({ pool }: AppDeps): Router {
  const router = new Router();

  const requireUser = (ctx: Context) => {
    const p = principalOf(ctx);
    if (p.kind !== 'user') throw new AppError('insufficient_scope', 'API keys cannot manage teams, projects or keys');
    return p;
  };

  router.post('/api/teams', async (ctx) => {
    const user = requireUser(ctx);
    const body = parse(TeamCreateBody, ctx.request.body);
    const team = await teams.insertWithOwner(pool, { id: newId('team'), name: body.name, ownerId: user.userId, memberId: newId('member') });
    ctx.status = 201;
    ctx.body = teamView(team);
  });

  router.post('/api/projects', async (ctx) => {
    const user = requireUser(ctx);
    const body = parse(ProjectCreateBody, ctx.request.body);
    await authorizeTeam(pool, user, body.teamId, 'manage');
    const project = await projects.insert(pool, { id: newId('project'), teamId: body.teamId, name: body.name });
    ctx.status = 201;
    ctx.body = projectView(project);
  });

  router.post('/api/api-keys', async (ctx) => {
    const user = requireUser(ctx);
    const body = parse(ApiKeyCreateBody, ctx.request.body);
    await authorize(pool, user, body.projectId, 'manage');
    const key = generateApiKey();
    const row = await apiKeys.insert(pool, { id: newId('apiKey'), projectId: body.projectId, name: body.name, key, scope: body.scope, expiresAt: body.expiresAt, createdBy: user.userId });
    ctx.status = 201;
    // The only time the key is ever shown.
    ctx.body = {
      id: row.id, name: row.name, projectId: row.project_id, key, scope: row.scope, isActive: row.is_active,
      expiresAt: row.expires_at?.toISOString() ?? null, createdAt: row.created_at.toISOString(),
    };
  });

  return router;
}
