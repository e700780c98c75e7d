import { AppError } from '../../lib/errors.ts';
import type { Queryable } from '../../lib/pg.ts';
import type { TokenGrant } from '../../lib/http/principal.ts';
import { personalTokens } from '../pg/personal-tokens.ts';

// Personal API tokens in authentication (docs/access.md). A token acts as its
// user: authorize() still asks the user's current team role on every request,
// so a lost role narrows the token at once; the token's scope narrows further.
//   read: what a team viewer may do (permission `read`), and GETs of the user's own account
//   full: whatever the user's roles allow, except managing API keys or creating tokens

// The token's user, or invalid_auth. Read from Postgres on every request (no
// cache), so a revoked token is refused by the next request on every instance.
export async function personalTokenUser(db: Queryable, value: string): Promise<{ userId: string; isAdmin: boolean; token: TokenGrant }> {
  if (value.length > 200) throw new AppError('invalid_auth', 'invalid personal token');
  const t = await personalTokens.findUsable(db, value);
  if (!t) throw new AppError('invalid_auth', 'invalid, revoked or expired personal token');
  return { userId: t.user_id, isAdmin: t.user_role === 'admin' && t.scope === 'full', token: { id: t.id, scope: t.scope } };
}

// Throws when the token's scope does not cover a permission its user has.
export function checkTokenScope(token: TokenGrant | undefined, permission: string, neededScope: string | null): void {
  if (!token) return;
  if (permission === 'manage_keys') throw new AppError('insufficient_scope', 'personal tokens cannot manage API keys; sign in', { required: 'session' });
  if (token.scope === 'read' && neededScope !== 'read') {
    throw new AppError('insufficient_scope', `this personal token's scope (read) cannot do this`, { required: 'full' });
  }
}

// requireUser routes (the caller's own account): a read token may only read.
export function checkTokenMethod(token: TokenGrant | undefined, method: string): void {
  if (token?.scope === 'read' && method !== 'GET' && method !== 'HEAD') {
    throw new AppError('insufficient_scope', "this personal token's scope (read) can only read", { required: 'full' });
  }
}
