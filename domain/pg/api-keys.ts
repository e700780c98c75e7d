import type { Queryable } from '../../lib/pg.ts';
import { page } from './page.ts';
import { randomToken, sha256Hex } from '../../lib/tokens.ts';
import type { ApiKeyScope } from '../../schemas/api.ts';

export type ApiKeyRow = {
  id: string; project_id: string; name: string; key_hash: string; key_last4: string; scope: ApiKeyScope;
  is_active: boolean; expires_at: Date | null; last_used_at: Date | null; created_by: string | null;
  created_at: Date; updated_at: Date;
};

export const API_KEY_PREFIX = 'rl_';

// Only the SHA-256 of a key is stored; the key is shown once, at creation.
export const generateApiKey = () => randomToken(API_KEY_PREFIX);
export const hashApiKey = sha256Hex;

export const apiKeys = {
  async insert(db: Queryable, k: { id: string; projectId: string; name: string; key: string; scope: ApiKeyScope; expiresAt: string | null; createdBy: string | null }): Promise<ApiKeyRow> {
    const r = await db.query(
      `INSERT INTO api_keys (id, project_id, name, key_hash, key_last4, scope, expires_at, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
      [k.id, k.projectId, k.name, hashApiKey(k.key), k.key.slice(-4), k.scope, k.expiresAt, k.createdBy],
    );
    return r.rows[0];
  },
  // A usable key: active and not expired, checked on every request. Not cached,
  // so a deactivated, expired or deleted key is refused by the very next request
  // on every instance.
  async findUsable(db: Queryable, key: string): Promise<(ApiKeyRow & { team_id: string }) | undefined> {
    const r = await db.query(
      `SELECT k.*, p.team_id FROM api_keys k JOIN projects p ON p.id = k.project_id
       WHERE k.key_hash = $1 AND k.is_active AND (k.expires_at IS NULL OR k.expires_at > now())`,
      [hashApiKey(key)],
    );
    return r.rows[0];
  },
  async byId(db: Queryable, id: string): Promise<ApiKeyRow | undefined> {
    return (await db.query('SELECT * FROM api_keys WHERE id = $1', [id])).rows[0];
  },
  list(db: Queryable, q: { projectId: string; limit: number; offset: number }) {
    return page<ApiKeyRow>(db, { ...q, from: 'api_keys', where: 'project_id = $1', args: [q.projectId], orderBy: 'created_at, id' });
  },
  async update(db: Queryable, id: string, p: { isActive?: boolean; name?: string; expiresAt?: string | null }): Promise<ApiKeyRow> {
    const r = await db.query(
      `UPDATE api_keys SET
         is_active = coalesce($2, is_active),
         name = coalesce($3, name),
         expires_at = CASE WHEN $4 THEN $5::timestamptz ELSE expires_at END,
         updated_at = now()
       WHERE id = $1 RETURNING *`,
      [id, p.isActive ?? null, p.name ?? null, p.expiresAt !== undefined, p.expiresAt ?? null],
    );
    return r.rows[0];
  },
  async delete(db: Queryable, id: string): Promise<void> {
    await db.query('DELETE FROM api_keys WHERE id = $1', [id]);
  },
  // Batched lastUsedAt (domain/accounts/key-usage.ts): one statement for many keys, and
  // never moving a value backwards.
  async recordUse(db: Queryable, uses: Array<{ id: string; at: Date }>): Promise<void> {
    if (uses.length === 0) return;
    await db.query(
      `UPDATE api_keys k SET last_used_at = greatest(k.last_used_at, u.at)
       FROM unnest($1::text[], $2::timestamptz[]) AS u(id, at) WHERE k.id = u.id`,
      [uses.map((u) => u.id), uses.map((u) => u.at)],
    );
  },
};

export const maskedKey = (k: Pick<ApiKeyRow, 'key_last4'>) => `${API_KEY_PREFIX}****...****${k.key_last4}`;

export function apiKeyView(k: ApiKeyRow, lastUsedAt: Date | null = k.last_used_at) {
  return {
    id: k.id, name: k.name, projectId: k.project_id, maskedKey: maskedKey(k), scope: k.scope, isActive: k.is_active,
    expiresAt: k.expires_at?.toISOString() ?? null, lastUsedAt: lastUsedAt?.toISOString() ?? null,
    createdAt: k.created_at.toISOString(), updatedAt: k.updated_at.toISOString(),
  };
}
