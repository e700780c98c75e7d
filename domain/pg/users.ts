import type { Queryable } from '../../lib/pg.ts';
import { page } from './page.ts';

export type UserRow = {
  id: string; email: string; name: string | null; role: 'admin' | 'user'; password_hash: string;
  session_version: number; avatar_url: string | null; created_at: Date; updated_at: Date;
};

export const users = {
  async count(db: Queryable): Promise<number> {
    return (await db.query('SELECT count(*)::int AS n FROM users')).rows[0].n;
  },
  async byEmail(db: Queryable, email: string): Promise<UserRow | undefined> {
    return (await db.query('SELECT * FROM users WHERE lower(email) = lower($1)', [email])).rows[0];
  },
  async byId(db: Queryable, id: string): Promise<UserRow | undefined> {
    return (await db.query('SELECT * FROM users WHERE id = $1', [id])).rows[0];
  },
  // A JWT's user, and whether that token was logged out (revoked_jwts): one
  // statement, as every authenticated request pays it.
  async byIdForToken(db: Queryable, id: string, revocationKey: string): Promise<(UserRow & { token_revoked: boolean }) | undefined> {
    return (await db.query(
      'SELECT u.*, EXISTS (SELECT 1 FROM revoked_jwts r WHERE r.jti = $2) AS token_revoked FROM users u WHERE u.id = $1',
      [id, revocationKey],
    )).rows[0];
  },
  // Creates the user only while the table is empty: the first-run bootstrap.
  async insertFirst(db: Queryable, u: { id: string; email: string; passwordHash: string }): Promise<UserRow | undefined> {
    const r = await db.query(
      `INSERT INTO users (id, email, password_hash, role)
       SELECT $1, $2, $3, 'admin' WHERE NOT EXISTS (SELECT 1 FROM users) RETURNING *`,
      [u.id, u.email, u.passwordHash],
    );
    return r.rows[0];
  },
  // undefined when the email is taken (case-insensitively).
  async insert(db: Queryable, u: { id: string; email: string; name: string | null; passwordHash: string; role: 'admin' | 'user' }): Promise<UserRow | undefined> {
    const r = await db.query(
      `INSERT INTO users (id, email, name, password_hash, role) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (lower(email)) DO NOTHING RETURNING *`,
      [u.id, u.email, u.name, u.passwordHash, u.role],
    );
    return r.rows[0];
  },
  list(db: Queryable, q: { limit: number; offset: number }) {
    return page<UserRow>(db, { ...q, from: 'users', where: 'true', args: [], orderBy: 'created_at, id' });
  },
  async setProfile(db: Queryable, id: string, p: { name?: string | null; avatarUrl?: string | null }): Promise<UserRow> {
    const r = await db.query(
      `UPDATE users SET name = CASE WHEN $2 THEN $3 ELSE name END, avatar_url = CASE WHEN $4 THEN $5 ELSE avatar_url END, updated_at = now()
        WHERE id = $1 RETURNING *`,
      [id, p.name !== undefined, p.name ?? null, p.avatarUrl !== undefined, p.avatarUrl ?? null],
    );
    return r.rows[0];
  },
  // A new password ends every session issued before it.
  async setPassword(db: Queryable, id: string, passwordHash: string): Promise<UserRow> {
    const r = await db.query(
      `UPDATE users SET password_hash = $2, session_version = session_version + 1, updated_at = now() WHERE id = $1 RETURNING *`,
      [id, passwordHash],
    );
    return r.rows[0];
  },
};

export function userView(u: UserRow) {
  return { id: u.id, email: u.email, name: u.name, avatarUrl: u.avatar_url ?? null, role: u.role, createdAt: u.created_at.toISOString() };
}
