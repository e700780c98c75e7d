import { randomBytes, randomUUID } from 'node:crypto';
import type { Queryable } from '../pg.ts';
import { randomToken, sha256Hex } from '../tokens.ts';

// Browser sessions in Postgres (browser_sessions, migration 015): the cookie
// holds a random token, the table only its SHA-256. Lives in lib/ beside the
// authentication that reads it; it touches only its own tables and `users`.
export const SESSION_TOKEN_PREFIX = 'rls_';

export type SessionTimes = { idleSeconds: number; absoluteSeconds: number; rotateSeconds: number; rotateGraceSeconds: number };

export type LiveSession = {
  id: string; userId: string; isAdmin: boolean; csrfToken: string; expiresAt: Date;
  // due for a new token (rotated_at older than rotateSeconds), and presented with the current one
  rotateDue: boolean;
};

// The previous token of a rotation keeps working for the grace period only.
const LOOKUP = `
  SELECT s.id, s.user_id, s.csrf_token, s.expires_at, u.role,
         (s.token_hash = $1 AND s.rotated_at < now() - make_interval(secs => $3)) AS rotate_due,
         (s.last_seen_at < now() - interval '60 seconds') AS touch_due
    FROM browser_sessions s JOIN users u ON u.id = s.user_id
   WHERE (s.token_hash = $1 OR (s.previous_hash = $1 AND s.previous_until > now()))
     AND s.expires_at > now()
     AND s.last_seen_at > now() - make_interval(secs => $2)
     AND s.session_version = u.session_version`;

export const browserSessions = {
  async create(db: Queryable, userId: string, sessionVersion: number, t: SessionTimes): Promise<{ id: string; token: string; csrfToken: string; expiresAt: Date }> {
    const token = randomToken(SESSION_TOKEN_PREFIX);
    const csrfToken = randomBytes(32).toString('base64url');
    const id = randomUUID();
    const r = await db.query(
      `INSERT INTO browser_sessions (id, token_hash, user_id, session_version, csrf_token, expires_at)
       VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6)) RETURNING expires_at`,
      [id, sha256Hex(token), userId, sessionVersion, csrfToken, t.absoluteSeconds],
    );
    // Sessions nobody will present again; cheap with the expiry index, and keeps the table small.
    await db.query(
      `DELETE FROM browser_sessions WHERE expires_at < now() OR last_seen_at < now() - make_interval(secs => $1)`,
      [t.idleSeconds],
    );
    return { id, token, csrfToken, expiresAt: r.rows[0].expires_at };
  },

  // The live session of a token, its idle clock restarted (written at most once a minute).
  async find(db: Queryable, token: string, t: SessionTimes): Promise<LiveSession | undefined> {
    if (!token.startsWith(SESSION_TOKEN_PREFIX) || token.length > 100) return undefined;
    const row = (await db.query(LOOKUP, [sha256Hex(token), t.idleSeconds, t.rotateSeconds])).rows[0];
    if (!row) return undefined;
    if (row.touch_due) await db.query('UPDATE browser_sessions SET last_seen_at = now() WHERE id = $1', [row.id]);
    return { id: row.id, userId: row.user_id, isAdmin: row.role === 'admin', csrfToken: row.csrf_token, expiresAt: row.expires_at, rotateDue: row.rotate_due };
  },

  // A new token for the session; the old one stays valid for the grace period.
  // undefined when another request rotated it first (that one set the cookie).
  async rotate(db: Queryable, id: string, t: SessionTimes): Promise<string | undefined> {
    const token = randomToken(SESSION_TOKEN_PREFIX);
    const r = await db.query(
      `UPDATE browser_sessions
          SET previous_hash = token_hash, previous_until = now() + make_interval(secs => $3), token_hash = $2, rotated_at = now()
        WHERE id = $1 AND rotated_at < now() - make_interval(secs => $4)`,
      [id, sha256Hex(token), t.rotateGraceSeconds, t.rotateSeconds],
    );
    return r.rowCount ? token : undefined;
  },

  async delete(db: Queryable, id: string): Promise<void> {
    await db.query('DELETE FROM browser_sessions WHERE id = $1', [id]);
  },
};

// JWTs ended by logout, by jti (or the token's hash for tokens issued without one).
export const revokedJwts = {
  async revoke(db: Queryable, jti: string, expiresAt: Date): Promise<void> {
    await db.query('INSERT INTO revoked_jwts (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING', [jti, expiresAt]);
    await db.query('DELETE FROM revoked_jwts WHERE expires_at < now()');
  },
};
