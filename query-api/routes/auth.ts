import Router from '@koa/router';
import type { Context } from 'koa';
import { AppError } from '../../lib/errors.ts';
import { newId } from '../../schemas/ids.ts';
import { withTransaction } from '../../lib/pg.ts';
import { parse } from '../../lib/http/errors.ts';
import { signUserToken } from '../../domain/accounts/auth.ts';
import { hashPassword, verifyPassword } from '../../lib/passwords.ts';
import type { AppDeps } from '../../domain/app-deps.ts';
import { LoginBody, SetupBody } from '../../schemas/api.ts';
import { InvitationSignupBody } from '../../schemas/accounts.ts';
import { memberView } from '../../domain/pg/team-members.ts';
import { invitations } from '../../domain/pg/invitations.ts';
import { users, userView, type UserRow } from '../../domain/pg/users.ts';
import { acceptInvitation } from '../services/invitations.ts';
import { requestIdOf } from './support.ts';
import { meOf } from '../../domain/accounts/me.ts';
import { cookieSessionOf } from '../../lib/http/session.ts';

// First-run bootstrap, login, and joining by invitation (Tripwire reference,
// shared/seeds/003). These routes are open: no credential exists before the
// first admin does. All of them are rate-limited per client IP (Fusillade:
// auth endpoints 10 per 60 s).
export function authRouter({ pool, config, limits, sessions }: AppDeps): Router {
  const router = new Router();
  // A JWT for API clients in the body, and the dashboard's session cookie
  // (HttpOnly) with its readable CSRF cookie: a browser uses the cookie only.
  const session = async (ctx: Context, user: UserRow) => {
    await sessions.start(ctx, user);
    return {
      token: signUserToken(user.id, config.jwtSecret, config.jwtTtlSeconds, user.session_version),
      user: userView(user),
    };
  };

  router.get('/api/auth/setup', async (ctx) => {
    ctx.body = { needsSetup: (await users.count(pool)) === 0 };
  });

  // What the dashboard asks first: who the session cookie belongs to, if anyone.
  // Open, and 200 either way: signed out (no cookie, or one whose session ended)
  // is an answer here, not an error, so a first visit logs no failed request.
  router.get('/api/auth/session', async (ctx) => {
    let user = null;
    try {
      const signedIn = await sessions.authenticate(ctx);
      if (signedIn) user = await meOf(pool, signedIn.userId, cookieSessionOf(ctx));
    } catch (e) {
      if (!(e instanceof AppError && e.code === 'invalid_auth')) throw e;
    }
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { user, needsSetup: user ? false : (await users.count(pool)) === 0 };
  });

  router.post('/api/auth/setup', limits.auth, async (ctx) => {
    const body = parse(SetupBody, ctx.request.body);
    const user = await users.insertFirst(pool, { id: newId('user'), email: body.email, passwordHash: await hashPassword(body.password) });
    if (!user) throw new AppError('setup_complete', 'setup is already complete; log in instead');
    ctx.status = 201;
    ctx.body = await session(ctx, user);
  });

  router.post('/api/auth/login', limits.auth, async (ctx) => {
    const body = parse(LoginBody, ctx.request.body);
    const user = await users.byEmail(pool, body.email);
    // Same answer for an unknown email and a wrong password.
    if (!user || !(await verifyPassword(body.password, user.password_hash))) {
      throw new AppError('invalid_auth', 'invalid email or password');
    }
    ctx.body = await session(ctx, user);
  });

  // Someone without an account joins by invitation: the account is created for
  // the invited address. With an account, sign in and POST /api/team-members/accept.
  router.post('/api/auth/accept-invitation', limits.auth, async (ctx) => {
    const body = parse(InvitationSignupBody, ctx.request.body);
    const passwordHash = await hashPassword(body.password);
    const { user, member } = await withTransaction(pool, async (tx) => {
      const inv = await invitations.byTokenForUpdate(tx, body.token);
      if (!inv || inv.status !== 'pending') throw new AppError('not_found', 'invitation not found, or already used or revoked');
      const u = await users.insert(tx, { id: newId('user'), email: inv.email, name: body.name ?? null, passwordHash, role: 'user' });
      if (!u) throw new AppError('conflict', 'an account with this email exists; sign in and accept with POST /api/team-members/accept', { reason: 'account_exists' });
      return { user: u, member: await acceptInvitation(tx, body.token, u, requestIdOf(ctx)) };
    });
    ctx.status = 201;
    ctx.body = { ...(await session(ctx, user)), member: memberView(member) };
  });

  return router;
}
