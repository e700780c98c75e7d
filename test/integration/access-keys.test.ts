import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { createTenant, type Tenant } from '../support/tenants.ts';
import { client, request } from '../support/http.ts';
import { runBody } from '../support/fixtures.ts';
import { startInstance, type Instance } from '../support/instances.ts';
import { ApiKey } from '../../schemas/accounts.ts';

// Project API keys: shown once, stored as SHA-256, masked in lists, scoped
// (full > ingest > read), unable to manage keys, and refused by the very next
// request on every instance once deactivated, expired or deleted.
let stack: TestStack;
let second: Instance;
let t: Tenant;
let admin: ReturnType<typeof client>;

const newKey = async (scope: 'full' | 'ingest' | 'read' = 'full', extra: Record<string, unknown> = {}) => {
  const res = await admin.post('/api/api-keys', { projectId: t.projectId, name: `${scope} key`, scope, ...extra });
  expect(res.status, res.text).toBe(201);
  return res.body as { id: string; key: string; scope: string };
};
const runsWith = (base: string, key: string) => request(base, 'GET', `/api/runs?projectId=${t.projectId}`, { key });

beforeAll(async () => {
  stack = await startTestStack();
  second = await startInstance(stack);
  t = await createTenant(stack.url, 'keys');
  admin = client(stack.url, { token: t.token });
});

afterAll(async () => {
  await second?.close();
  await stack?.stop();
});

describe('creating and listing keys', () => {
  it('shows the full key once, stores only its SHA-256, and lists it masked', async () => {
    const created = await newKey('ingest');
    expect(created.key).toMatch(/^rl_[0-9A-Za-z]{40}$/);
    const row = (await stack.pool.query('SELECT * FROM api_keys WHERE id = $1', [created.id])).rows[0];
    expect(row.key_hash).toBe(createHash('sha256').update(created.key).digest('hex'));
    expect(JSON.stringify(row)).not.toContain(created.key.slice(3));
    const list = await admin.get(`/api/api-keys?projectId=${t.projectId}`);
    expect(list.status).toBe(200);
    expect(list.text).not.toContain(created.key.slice(3, 20));
    const item = list.body.data.find((k: { id: string }) => k.id === created.id);
    expect(ApiKey.parse(item)).toMatchObject({ maskedKey: `rl_****...****${created.key.slice(-4)}`, scope: 'ingest', isActive: true, lastUsedAt: null });
    expect(list.body).toMatchObject({ total: list.body.data.length, limit: 50, offset: 0 });
  });

  it('accepts the key as X-API-Key, Authorization: ApiKey and Authorization: Bearer rl_…', async () => {
    const { key } = await newKey('read');
    const forms: Array<Record<string, string>> = [{ 'x-api-key': key }, { authorization: `ApiKey ${key}` }, { authorization: `Bearer ${key}` }];
    for (const headers of forms) {
      const res = await request(stack.url, 'GET', '/api/runs', { headers });
      expect(res.status, JSON.stringify(headers)).toBe(200);
    }
  });

  it('lets no key manage keys, whatever its scope', async () => {
    const { key, id } = await newKey('full');
    const api = client(stack.url, { key });
    for (const res of [
      await api.get(`/api/api-keys?projectId=${t.projectId}`),
      await api.post('/api/api-keys', { projectId: t.projectId, name: 'minted by a key' }),
      await api.patch(`/api/api-keys/${id}`, { isActive: false }),
      await api.del(`/api/api-keys/${id}`),
    ]) {
      expect(res.status, res.text).toBe(403);
      expect(res.body.error).toMatchObject({ code: 'insufficient_scope', details: { required: 'user' } });
    }
    expect((await runsWith(stack.url, key)).status).toBe(200);
  });
});

describe('scopes are hierarchical: full > ingest > read', () => {
  it('read reads; ingest also writes runs; full also changes settings; none deletes the project', async () => {
    const keys = { read: (await newKey('read')).key, ingest: (await newKey('ingest')).key, full: (await newKey('full')).key };
    const can = async (key: string) => ({
      read: (await runsWith(stack.url, key)).status,
      ingest: (await client(stack.url, { key }).post('/api/runs', runBody(t.projectId))).status,
      manage: (await client(stack.url, { key }).patch(`/api/projects/${t.projectId}/settings`, { autoQuarantineEnabled: false })).status,
      own: (await client(stack.url, { key }).del(`/api/projects/${t.projectId}`)).status,
    });
    expect(await can(keys.read)).toEqual({ read: 200, ingest: 403, manage: 403, own: 403 });
    expect(await can(keys.ingest)).toEqual({ read: 200, ingest: 201, manage: 403, own: 403 });
    expect(await can(keys.full)).toEqual({ read: 200, ingest: 201, manage: 200, own: 403 });
    const refused = await client(stack.url, { key: keys.read }).post('/api/runs', runBody(t.projectId));
    expect(refused.body.error).toMatchObject({ code: 'insufficient_scope', details: { required: 'ingest' } });
  });
});

describe('revocation', () => {
  it('refuses a deactivated key on the very next request, on this instance and on another one', async () => {
    const { id, key } = await newKey();
    expect((await runsWith(stack.url, key)).status).toBe(200);
    expect((await runsWith(second.url, key)).status).toBe(200);
    const off = await admin.patch(`/api/api-keys/${id}`, { isActive: false });
    expect(off.status).toBe(200);
    expect(off.body).toMatchObject({ id, isActive: false });
    for (const base of [second.url, stack.url]) {
      const res = await runsWith(base, key);
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('invalid_auth');
    }
    expect((await admin.patch(`/api/api-keys/${id}`, { isActive: true })).status).toBe(200);
    expect((await runsWith(second.url, key)).status).toBe(200);
  });

  it('refuses an expired key on the next request (its expiry moved into the past, as time would)', async () => {
    const { id, key } = await newKey('read', { expiresAt: new Date(Date.now() + 3600_000).toISOString() });
    expect((await runsWith(second.url, key)).status).toBe(200);
    await stack.pool.query(`UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1`, [id]);
    expect((await runsWith(second.url, key)).status).toBe(401);
    expect((await runsWith(stack.url, key)).status).toBe(401);
    const listed = (await admin.get(`/api/api-keys?projectId=${t.projectId}`)).body.data.find((k: { id: string }) => k.id === id);
    expect(listed.isActive).toBe(true); // inactive by expiry, not by switch
  });

  it('extends or clears an expiry with PATCH, and refuses one in the past', async () => {
    const { id, key } = await newKey('read', { expiresAt: new Date(Date.now() + 3600_000).toISOString() });
    const later = new Date(Date.now() + 86_400_000).toISOString();
    expect((await admin.patch(`/api/api-keys/${id}`, { expiresAt: later })).body.expiresAt).toBe(later);
    expect((await admin.patch(`/api/api-keys/${id}`, { expiresAt: null })).body.expiresAt).toBe(null);
    const past = await admin.patch(`/api/api-keys/${id}`, { expiresAt: '2001-01-01T00:00:00Z' });
    expect(past.status).toBe(400);
    expect(past.body.error.details.field).toBe('expiresAt');
    expect((await runsWith(stack.url, key)).status).toBe(200);
  });

  it('refuses a deleted key on the very next request, and forgets it', async () => {
    const { id, key } = await newKey();
    expect((await runsWith(second.url, key)).status).toBe(200);
    const del = await admin.del(`/api/api-keys/${id}`);
    expect(del.status).toBe(200);
    expect(del.body).toEqual({ success: true, message: 'API key deleted successfully' });
    expect((await runsWith(second.url, key)).status).toBe(401);
    expect((await admin.patch(`/api/api-keys/${id}`, { isActive: true })).status).toBe(404);
  });
});

describe('lastUsedAt', () => {
  // Counts the UPDATE statements that touch api_keys, whatever issues them.
  beforeAll(async () => {
    await stack.pool.query(`CREATE TABLE api_key_writes (n int NOT NULL)`);
    await stack.pool.query(`CREATE FUNCTION count_api_key_write() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO api_key_writes VALUES (1); RETURN NULL; END $$`);
    await stack.pool.query(`CREATE TRIGGER api_key_writes AFTER UPDATE ON api_keys FOR EACH STATEMENT EXECUTE FUNCTION count_api_key_write()`);
  });
  const writes = async () => (await stack.pool.query('SELECT count(*)::int AS n FROM api_key_writes')).rows[0].n as number;

  it('is recorded without a write per request: one statement per flush, for every key used', async () => {
    await stack.app.keyUsage.flush();
    const a = await newKey('read');
    const b = await newKey('read');
    const before = await writes();
    const started = Date.now();
    for (let i = 0; i < 25; i++) {
      expect((await runsWith(stack.url, a.key)).status).toBe(200);
      expect((await runsWith(stack.url, b.key)).status).toBe(200);
    }
    expect(await writes()).toBe(before);
    // the list already shows the use this instance has not written yet
    const listed = (await admin.get(`/api/api-keys?projectId=${t.projectId}`)).body.data;
    const shown = listed.find((k: { id: string }) => k.id === a.id).lastUsedAt;
    expect(Date.parse(shown)).toBeGreaterThanOrEqual(started - 5);
    const stored = async (id: string) => (await stack.pool.query('SELECT last_used_at FROM api_keys WHERE id = $1', [id])).rows[0].last_used_at;
    expect(await stored(a.id)).toBe(null);

    await stack.app.keyUsage.flush(); // what the minute timer does
    expect(await writes()).toBe(before + 1);
    expect((await stored(a.id)).toISOString()).toBe(shown);
    expect(await stored(b.id)).not.toBe(null);
  });

  it('never moves backwards when instances flush out of order', async () => {
    const k = await newKey('read');
    expect((await runsWith(stack.url, k.key)).status).toBe(200);
    expect((await runsWith(second.url, k.key)).status).toBe(200); // later
    await second.app.keyUsage.flush();
    const latest = (await stack.pool.query('SELECT last_used_at FROM api_keys WHERE id = $1', [k.id])).rows[0].last_used_at;
    await stack.app.keyUsage.flush(); // an earlier use, written last
    const after = (await stack.pool.query('SELECT last_used_at FROM api_keys WHERE id = $1', [k.id])).rows[0].last_used_at;
    expect(after.getTime()).toBe(latest.getTime());
  });
});
