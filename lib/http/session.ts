import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context } from 'koa';
import jwt from 'jsonwebtoken';
import { AppError } from '../errors.ts';
import type { Queryable } from '../pg.ts';
import { browserSessions, revokedJwts, type SessionTimes } from './session-store.ts';

// The dashboard's sign-in: a server-side session named by an HttpOnly cookie
// (docs/access.md "Browser sessions"). The same cookie authenticates API calls
// from the browser; header credentials (API keys, JWTs) take precedence and
// need no CSRF token, since a browser never attaches them by itself.
export const SESSION_COOKIE = 'rl_session';
// Readable by the page's script, which echoes it in X-CSRF-Token (synchronizer
// token: the value is stored with the session, the cookie is only its carrier).
export const CSRF_COOKIE = 'rl_csrf';
export const CSRF_HEADER = 'x-csrf-token';

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export type CookieSession = { id: string; csrfToken: string };
type SessionUser = { id: string; session_version: number };

function setCookies(ctx: Context, token: string, csrfToken: string, expires: Date) {
  const common = { path: '/', sameSite: 'lax' as const, secure: ctx.secure, expires, overwrite: true };
  ctx.cookies.set(SESSION_COOKIE, token, { ...common, httpOnly: true });
  ctx.cookies.set(CSRF_COOKIE, csrfToken, { ...common, httpOnly: false });
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export class CookieSessions {
  constructor(private readonly db: Queryable, private readonly times: SessionTimes) {}

  // After a login, setup, invitation or password change: a new session and its cookies.
  async start(ctx: Context, user: SessionUser): Promise<CookieSession> {
    const s = await browserSessions.create(this.db, user.id, user.session_version, this.times);
    setCookies(ctx, s.token, s.csrfToken, s.expiresAt);
    ctx.state.session = { id: s.id, csrfToken: s.csrfToken } satisfies CookieSession;
    return ctx.state.session;
  }

  // The user of the request's session cookie, or null without one. An unknown,
  // idle or expired session is 401; an unsafe method without the session's CSRF
  // token is 403 csrf_failed. Rotates the cookie's token when due.
  async authenticate(ctx: Context): Promise<{ userId: string; isAdmin: boolean } | null> {
    const token = ctx.cookies.get(SESSION_COOKIE);
    if (!token) return null;
    const s = await browserSessions.find(this.db, token, this.times);
    if (!s) throw new AppError('invalid_auth', 'your session has ended; sign in again');
    if (UNSAFE.has(ctx.method) && !sameSecret(ctx.get(CSRF_HEADER), s.csrfToken)) {
      throw new AppError('csrf_failed', `a request authenticated by the session cookie must send the session's CSRF token in ${CSRF_HEADER} (the ${CSRF_COOKIE} cookie)`);
    }
    if (s.rotateDue) {
      const rotated = await browserSessions.rotate(this.db, s.id, this.times);
      if (rotated) setCookies(ctx, rotated, s.csrfToken, s.expiresAt);
    }
    ctx.state.session = { id: s.id, csrfToken: s.csrfToken } satisfies CookieSession;
    return { userId: s.userId, isAdmin: s.isAdmin };
  }

  // Logout of a cookie session: the row goes, the cookies are cleared.
  async end(ctx: Context, session: CookieSession): Promise<void> {
    await browserSessions.delete(this.db, session.id);
    const gone = { path: '/', sameSite: 'lax' as const, secure: ctx.secure, expires: new Date(0), overwrite: true };
    ctx.cookies.set(SESSION_COOKIE, '', { ...gone, httpOnly: true });
    ctx.cookies.set(CSRF_COOKIE, '', { ...gone, httpOnly: false });
  }
}

export const cookieSessionOf = (ctx: Context): CookieSession | undefined => ctx.state.session as CookieSession | undefined;

// A JWT's revocation key: its jti, or for tokens issued without one its hash.
export function jwtRevocationKey(token: string, payload: unknown): string {
  const jti = typeof payload === 'object' && payload && 'jti' in payload ? (payload as { jti?: unknown }).jti : undefined;
  return typeof jti === 'string' && jti ? jti : `sha256:${createHash('sha256').update(token).digest('hex')}`;
}

// Logout of a JWT: that token only stops working, until it would have expired anyway.
export async function revokeJwt(db: Queryable, token: string): Promise<void> {
  const payload = jwt.decode(token);
  const exp = typeof payload === 'object' && payload && typeof payload.exp === 'number' ? payload.exp : Date.now() / 1000 + 86_400 * 365;
  await revokedJwts.revoke(db, jwtRevocationKey(token, payload), new Date(exp * 1000));
}
