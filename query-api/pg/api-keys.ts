import { createHash, randomBytes } from 'node:crypto';
import type { Queryable } from '../../lib/pg.ts';
import type { ApiKeyScope } from '../../schemas/api.ts';

export type ApiKeyRow = {
  id: string; project_id: string; name: string; key_hash: string; key_last4: string; scope: ApiKeyScope;
  is_active: boolean; expires_at: Date | null; last_used_at: Date | null; created_at: Date;
};

export const API_KEY_PREFIX = 'rl_';
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

// 40 base62 characters ≈ 238 bits; only the SHA-256 of the key is stored.
export function generateApiKey(): string {
  const bytes = randomBytes(40);
  let s = '';
  for (const b of bytes) s += BASE62[b % 62];
  return API_KEY_PREFIX + s;
}
export const hashApiKey = (key: string) => createHash('sha256').update(key).digest('hex');

export const apiKeys = {
  async insert(db: Queryable, k: { id: string; projectId: string; name: string; key: string; scope: ApiKeyScope; expiresAt: string | null; createdBy: string | null }): Promise<ApiKeyRow> {
    const r = await db.query(
      `INSERT INTO api_keys (id, project_id, name, key_hash, key_last4, scope, expires_at, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
      [k.id, k.projectId, k.name, hashApiKey(k.key), k.key.slice(-4), k.scope, k.expiresAt, k.createdBy],
    );
    return r.rows[0];
  },
  // A usable key: active and not expired, checked on every request.
  async findUsable(db: Queryable, key: string): Promise<ApiKeyRow | undefined> {
    const r = await db.query(
      `SELECT * FROM api_keys WHERE key_hash = $1 AND is_active AND (expires_at IS NULL OR expires_at > now())`,
      [hashApiKey(key)],
    );
    return r.rows[0];
  },
};
