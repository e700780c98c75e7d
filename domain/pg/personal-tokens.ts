import type { Queryable } from '../../lib/pg.ts';
import { randomToken, sha256Hex } from '../../lib/tokens.ts';
import type { PersonalTokenScope } from '../../schemas/personal-tokens.ts';

export type PersonalTokenRow = {
  id: string; user_id: string; name: string; token_hash: string; token_last4: string; scope: PersonalTokenScope;
  expires_at: Date | null; last_used_at: Date | null; revoked_at: Date | null; created_at: Date;
};

export const PERSONAL_TOKEN_PREFIX = 'rlp_';
export const generatePersonalToken = () => randomToken(PERSONAL_TOKEN_PREFIX);
export const isPersonalToken = (value: string) => value.startsWith(PERSONAL_TOKEN_PREFIX);

export const personalTokens = {
  async insert(db: Queryable, t: { id: string; userId: string; name: string; token: string; scope: PersonalTokenScope; expiresAt: string | null }): Promise<PersonalTokenRow> {
    return (await db.query(
      `INSERT INTO personal_tokens (id, user_id, name, token_hash, token_last4, scope, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
      [t.id, t.userId, t.name, sha256Hex(t.token), t.token.slice(-4), t.scope, t.expiresAt],
    )).rows[0];
  },
  // A usable token (not revoked, not expired) with its user, read on every
  // request and never cached: a revoked token is refused by the next request on
  // every instance. lastUsedAt is written at most once a minute per token (an
  // UPDATE per request would write a row version per request).
  async findUsable(db: Queryable, token: string): Promise<(PersonalTokenRow & { user_role: string }) | undefined> {
    const t = (await db.query(
      `SELECT t.*, u.role AS user_role FROM personal_tokens t JOIN users u ON u.id = t.user_id
       WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())`,
      [sha256Hex(token)],
    )).rows[0];
    if (t && (!t.last_used_at || Date.now() - t.last_used_at.getTime() > 60_000)) {
      await db.query(`UPDATE personal_tokens SET last_used_at = now() WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`, [t.id]);
    }
    return t;
  },
  async listOfUser(db: Queryable, userId: string): Promise<PersonalTokenRow[]> {
    return (await db.query('SELECT * FROM personal_tokens WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at, id', [userId])).rows;
  },
  async revoke(db: Queryable, userId: string, id: string): Promise<PersonalTokenRow | undefined> {
    return (await db.query(
      'UPDATE personal_tokens SET revoked_at = now() WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL RETURNING *', [id, userId],
    )).rows[0];
  },
};

export function personalTokenView(t: PersonalTokenRow) {
  return {
    id: t.id, name: t.name, scope: t.scope, maskedToken: `${PERSONAL_TOKEN_PREFIX}****...****${t.token_last4}`,
    expiresAt: t.expires_at?.toISOString() ?? null, lastUsedAt: t.last_used_at?.toISOString() ?? null, createdAt: t.created_at.toISOString(),
  };
}
