import Router from '@koa/router';
import type { Context } from 'koa';
import { notFound } from '../../lib/errors.ts';
import { newId } from '../../schemas/ids.ts';
import { withTransaction, type Queryable } from '../../lib/pg.ts';
import { parse } from '../../lib/http/errors.ts';
import { authorize, principalOf } from '../../domain/accounts/auth.ts';
import type { AppDeps } from '../../domain/app-deps.ts';
import { actorOf } from '../../domain/events.ts';
import { ApiKeyCreateBody } from '../../schemas/api.ts';
import { ApiKeyPatchBody, ApiKeysQuery } from '../../schemas/accounts.ts';
import { id } from '../../schemas/common.ts';
import { apiKeys, apiKeyView, generateApiKey, type ApiKeyRow } from '../../domain/pg/api-keys.ts';
import { projects } from '../../domain/pg/projects.ts';
import { audit } from '../../domain/pg/audit.ts';
import { listBody, requestIdOf } from './support.ts';

// Project API keys (Euriqa: /api/api-keys): managed by the team's admins, never
// by keys. The key is shown once, at creation; lists show it masked. A key that
// is deactivated, expired or deleted is refused by the very next request.
export function apiKeysRouter({ pool, keyUsage }: AppDeps): Router {
  const router = new Router();
  const view = (k: ApiKeyRow) => apiKeyView(k, keyUsage.lastUsedAt(k.id, k.last_used_at));
  const teamOf = async (db: Queryable, projectId: string) => {
    const project = await projects.byId(db, projectId);
    if (!project) throw notFound('project', projectId);
    return project.team_id;
  };

  router.get('/api/api-keys', async (ctx) => {
    const q = parse(ApiKeysQuery, ctx.query);
    await authorize(pool, principalOf(ctx), q.projectId, 'manage_keys');
    ctx.body = listBody(await apiKeys.list(pool, q), view, q);
  });

  router.post('/api/api-keys', async (ctx) => {
    const body = parse(ApiKeyCreateBody, ctx.request.body);
    const principal = principalOf(ctx);
    await authorize(pool, principal, body.projectId, 'manage_keys');
    const key = generateApiKey();
    const row = await withTransaction(pool, async (tx) => {
      const teamId = await teamOf(tx, body.projectId);
      const k = await apiKeys.insert(tx, { id: newId('apiKey'), projectId: body.projectId, name: body.name, key, scope: body.scope, expiresAt: body.expiresAt, createdBy: principal.kind === 'user' ? principal.userId : null });
      await audit.record(tx, { teamId, projectId: k.project_id, actor: actorOf(principal), action: 'api_key.created', target: { type: 'api_key', id: k.id }, after: view(k), requestId: requestIdOf(ctx) });
      return k;
    });
    ctx.status = 201;
    // The only time the key is ever shown.
    ctx.body = { ...view(row), key };
  });

  // The key behind :id, if the caller may manage the keys of its project.
  async function manageableKey(ctx: Context): Promise<ApiKeyRow> {
    const keyId = parse(id('apiKey'), ctx.params.id);
    const key = await apiKeys.byId(pool, keyId);
    if (!key) throw notFound('api key', keyId);
    await authorize(pool, principalOf(ctx), key.project_id, 'manage_keys', { kind: 'api key', id: keyId });
    return key;
  }

  router.patch('/api/api-keys/:id', async (ctx) => {
    const body = parse(ApiKeyPatchBody, ctx.request.body);
    const before = await manageableKey(ctx);
    const after = await withTransaction(pool, async (tx) => {
      const k = await apiKeys.update(tx, before.id, body);
      if (!k) throw notFound('api key', before.id);
      await audit.record(tx, { teamId: await teamOf(tx, k.project_id), projectId: k.project_id, actor: actorOf(principalOf(ctx)), action: 'api_key.updated', target: { type: 'api_key', id: k.id }, before: view(before), after: view(k), requestId: requestIdOf(ctx) });
      return k;
    });
    ctx.body = view(after);
  });

  router.delete('/api/api-keys/:id', async (ctx) => {
    const key = await manageableKey(ctx);
    await withTransaction(pool, async (tx) => {
      await apiKeys.delete(tx, key.id);
      await audit.record(tx, { teamId: await teamOf(tx, key.project_id), projectId: key.project_id, actor: actorOf(principalOf(ctx)), action: 'api_key.deleted', target: { type: 'api_key', id: key.id }, before: view(key), requestId: requestIdOf(ctx) });
    });
    ctx.body = { success: true, message: 'API key deleted successfully' };
  });

  return router;
}
