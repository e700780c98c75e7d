import Router from '@koa/router';
import { AppError } from '../../lib/errors.ts';
import { newId } from '../../lib/ids.ts';
import { parse } from '../../lib/http/errors.ts';
import { signUserToken } from '../../lib/http/auth.ts';
import { hashPassword, verifyPassword } from '../../lib/passwords.ts';
import type { AppDeps } from '../../lib/http/app.ts';
import { LoginBody, SetupBody } from '../../schemas/api.ts';
import { users, userView } from '../pg/users.ts';

// First-run bootstrap and login (Tripwire reference, shared/seeds/003). These
// routes are open: no credential exists before the first admin does.
export function authRouter({ pool, config }: AppDeps): Router {
  const router = new Router();
  const token = (userId: string) => signUserToken(userId, config.jwtSecret, config.jwtTtlSeconds);

  router.get('/api/auth/setup', async (ctx) => {
    ctx.body = { needsSetup: (await users.count(pool)) === 0 };
  });

  router.post('/api/auth/setup', async (ctx) => {
    const body = parse(SetupBody, ctx.request.body);
    const user = await users.insertFirst(pool, { id: newId('user'), email: body.email, passwordHash: await hashPassword(body.password) });
    if (!user) throw new AppError('setup_complete', 'setup is already complete; log in instead');
    ctx.status = 201;
    ctx.body = { token: token(user.id), user: userView(user) };
  });

  router.post('/api/auth/login', async (ctx) => {
    const body = parse(LoginBody, ctx.request.body);
    const user = await users.byEmail(pool, body.email);
    // Same answer for an unknown email and a wrong password.
    if (!user || !(await verifyPassword(body.password, user.password_hash))) {
      throw new AppError('invalid_auth', 'invalid email or password');
    }
    ctx.body = { token: token(user.id), user: userView(user) };
  });

  return router;
}
