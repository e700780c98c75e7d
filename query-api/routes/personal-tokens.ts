import Router from '@koa/router';
import { AppError, notFound } from '../../lib/errors.ts';
import { newId } from '../../schemas/ids.ts';
import { withTransaction } from '../../lib/pg.ts';
import { parse } from '../../lib/http/errors.ts';
import { principalOf, requireUser } from '../../domain/accounts/auth.ts';
import { actorOf } from '../../domain/events.ts';
import { id } from '../../schemas/common.ts';
import { PersonalTokenCreateBody } from '../../schemas/personal-tokens.ts';
import { generatePersonalToken, personalTokens, personalTokenView } from '../../domain/pg/personal-tokens.ts';
import { audit } from '../../domain/pg/audit.ts';
import { requestIdOf } from './support.ts';
import type { AppDeps } from '../../domain/app-deps.ts';

// Personal API tokens (docs/access.md): a signed-in user's own `rlp_…` tokens.
// Creating one takes a session (a JWT): a token cannot create tokens. The token
// is in the creation answer only; its SHA-256 is stored. Audit entries are
// instance-level (no team), like the other account changes.
export function personalTokensRouter({ pool }: AppDeps): Router {
  const router = new Router();

  router.post('/api/auth/tokens', async (ctx) => {
    const user = requireUser(ctx);
    if (user.token) throw new AppError('insufficient_scope', 'a personal token cannot create tokens; sign in', { required: 'session' });
    const body = parse(PersonalTokenCreateBody, ctx.request.body);
    const token = generatePersonalToken();
    const row = await withTransaction(pool, async (tx) => {
      const t = await personalTokens.insert(tx, { id: newId('personalToken'), userId: user.userId, name: body.name, token, scope: body.scope, expiresAt: body.expiresAt ?? null });
      await audit.record(tx, { teamId: null, actor: actorOf(user), action: 'personal_token.created', target: { type: 'personal_token', id: t.id }, after: personalTokenView(t), requestId: requestIdOf(ctx) });
      return t;
    });
    ctx.status = 201;
    ctx.body = { ...personalTokenView(row), token };
  });

  router.get('/api/auth/tokens', async (ctx) => {
    const user = requireUser(ctx);
    const rows = await personalTokens.listOfUser(pool, user.userId);
    ctx.body = { data: rows.map(personalTokenView), total: rows.length, limit: rows.length, offset: 0 };
  });

  // Another user's token answers 404, as an unknown one.
  router.delete('/api/auth/tokens/:id', async (ctx) => {
    const user = requireUser(ctx);
    const tokenId = parse(id('personalToken'), ctx.params.id);
    await withTransaction(pool, async (tx) => {
      const t = await personalTokens.revoke(tx, user.userId, tokenId);
      if (!t) throw notFound('personal token', tokenId);
      await audit.record(tx, { teamId: null, actor: actorOf(principalOf(ctx)), action: 'personal_token.revoked', target: { type: 'personal_token', id: t.id }, before: personalTokenView(t), requestId: requestIdOf(ctx) });
    });
    ctx.body = { success: true, message: 'token revoked' };
  });

  return router;
}
