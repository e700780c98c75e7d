import type { Queryable } from '../../lib/pg.ts';
import type { CookieSession } from '../../lib/http/session.ts';
import { users, userView } from '../pg/users.ts';
import { teams } from '../pg/teams.ts';

// Who am I (GET /api/auth/me, GET /api/auth/session): the user with their teams
// and roles, and, for a cookie session, its CSRF token. Null for a user that is gone.
export async function meOf(db: Queryable, userId: string, cookie: CookieSession | undefined) {
  const user = await users.byId(db, userId);
  if (!user) return null;
  const memberships = await teams.ofUser(db, user.id);
  return {
    ...userView(user),
    teams: memberships.map((t) => ({ id: t.id, name: t.name, role: t.role })),
    ...(cookie ? { csrfToken: cookie.csrfToken } : {}),
  };
}
