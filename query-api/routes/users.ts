import Router from '@koa/router';
import { AppError } from '../../lib/errors.ts';
import { newId } from '../../schemas/ids.ts';
import { withTransaction } from '../../lib/pg.ts';
import { parse } from '../../lib/http/errors.ts';
import { requireInstanceAdmin, requireUser, signUserToken } from '../../domain/accounts/auth.ts';
import { hashPassword, verifyPassword } from '../../lib/passwords.ts';
import type { AppDeps } from '../../domain/app-deps.ts';
import { actorOf } from '../../domain/events.ts';
import { PasswordChangeBody, UserCreateBody, UsersQuery, MePatchBody } from '../../schemas/accounts.ts';
import { users, userView } from '../../domain/pg/users.ts';
import { audit } from '../../domain/pg/audit.ts';
import { cookieSessionOf, revokeJwt } from '../../lib/http/session.ts';
import { listBody, requestIdOf } from './support.ts';
import { meOf } from '../../domain/accounts/me.ts';

// People: who am I, the instance's users (its administrators create them), and
// changing one's password, which ends every other session.
export function usersRouter({ pool, config, limits, sessions }: AppDeps): Router {
  const router = new Router();

  router.get('/api/auth/me', async (ctx) => {
    const principal = requireUser(ctx);
    const me = await meOf(pool, principal.userId, cookieSessionOf(ctx));
    if (!me) throw new AppError('invalid_auth', 'invalid or expired token');
    ctx.body = me;
  });

  router.patch('/api/auth/me', async (ctx) => {
    const body = parse(MePatchBody, ctx.request.body);
    const principal = requireUser(ctx);
    const updated = await withTransaction(pool, async (tx) => {
      const before = await users.byId(tx, principal.userId);
      if (!before) throw new AppError('invalid_auth', 'invalid or expired token');
      const u = await users.setProfile(tx, principal.userId, body);
      await audit.record(tx, { teamId: null, actor: actorOf(principal), action: 'user.updated', target: { type: 'user', id: u.id }, before: userView(before), after: userView(u), requestId: requestIdOf(ctx) });
      return u;
    });
    ctx.body = userView(updated);
  });

  // Ends what the request was authenticated with: the cookie session (its row
  // and cookies), or that one JWT (revoked by jti until it expires). API keys
  // are deactivated through /api/api-keys instead.
  router.post('/api/auth/logout', async (ctx) => {
    const user = requireUser(ctx);
    // A personal token is revoked by its id, like an API key is deactivated.
    if (user.token) throw new AppError('insufficient_scope', 'a personal token does not log out: revoke it with DELETE /api/auth/tokens/:id', { required: 'session' });
    const cookie = cookieSessionOf(ctx);
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(ctx.get('authorization'))?.[1];
    if (bearer) {
      await revokeJwt(pool, bearer);
      ctx.body = { ended: 'token' };
    } else if (cookie) {
      await sessions.end(ctx, cookie);
      ctx.body = { ended: 'session' };
    } else {
      throw new AppError('invalid_auth', 'nothing to log out of');
    }
  });

  router.get('/api/auth/users', async (ctx) => {
    const q = parse(UsersQuery, ctx.query);
    requireInstanceAdmin(ctx);
    ctx.body = listBody(await users.list(pool, q), userView, q);
  });

  router.post('/api/auth/users', async (ctx) => {
    const body = parse(UserCreateBody, ctx.request.body);
    const admin = requireInstanceAdmin(ctx);
    const passwordHash = await hashPassword(body.password);
    const user = await withTransaction(pool, async (tx) => {
      const u = await users.insert(tx, { id: newId('user'), email: body.email, name: body.name ?? null, passwordHash, role: body.role });
      if (!u) throw new AppError('conflict', 'a user with this email exists already', { field: 'email' });
      await audit.record(tx, { teamId: null, actor: actorOf(admin), action: 'user.created', target: { type: 'user', id: u.id }, after: userView(u), requestId: requestIdOf(ctx) });
      return u;
    });
    ctx.status = 201;
    ctx.body = userView(user);
  });

  // Rate-limited like login: a wrong current password is a guess.
  router.post('/api/auth/change-password', limits.auth, async (ctx) => {
    const body = parse(PasswordChangeBody, ctx.request.body);
    const principal = requireUser(ctx);
    const user = await users.byId(pool, principal.userId);
    if (!user) throw new AppError('invalid_auth', 'invalid or expired token');
    if (!(await verifyPassword(body.currentPassword, user.password_hash))) {
      throw new AppError('validation_error', "'currentPassword' is not your current password", { field: 'currentPassword', issues: [{ path: 'currentPassword', message: 'is not your current password' }] });
    }
    const passwordHash = await hashPassword(body.newPassword);
    const updated = await withTransaction(pool, async (tx) => {
      const u = await users.setPassword(tx, user.id, passwordHash);
      await audit.record(tx, { teamId: null, actor: actorOf(principal), action: 'user.password_changed', target: { type: 'user', id: u.id }, requestId: requestIdOf(ctx) });
      return u;
    });
    // Every earlier token and session of this user stops working; here is a new
    // one, and a new cookie session when the change came through one.
    if (cookieSessionOf(ctx)) await sessions.start(ctx, updated);
    ctx.body = { token: signUserToken(updated.id, config.jwtSecret, config.jwtTtlSeconds, updated.session_version), user: userView(updated) };
  });

  return router;
}
