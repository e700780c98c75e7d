import type { Queryable } from '../../lib/pg.ts';

export type UserRow = { id: string; email: string; name: string | null; role: 'admin' | 'user'; password_hash: string; created_at: Date };

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
  // Creates the user only while the table is empty: the first-run bootstrap.
  async insertFirst(db: Queryable, u: { id: string; email: string; passwordHash: string }): Promise<UserRow | undefined> {
    const r = await db.query(
      `INSERT INTO users (id, email, password_hash, role)
       SELECT $1, $2, $3, 'admin' WHERE NOT EXISTS (SELECT 1 FROM users) RETURNING *`,
      [u.id, u.email, u.passwordHash],
    );
    return r.rows[0];
  },
};

export function userView(u: UserRow) {
  return { id: u.id, email: u.email, name: u.name, role: u.role, createdAt: u.created_at.toISOString() };
}
