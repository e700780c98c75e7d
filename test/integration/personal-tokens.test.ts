import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { adminToken, createTenant, type Tenant } from '../support/tenants.ts';
import { client, request } from '../support/http.ts';
import { createUser, joinTeam, type Person } from '../support/people.ts';
import { startInstance, type Instance } from '../support/instances.ts';
import { runBody } from '../support/fixtures.ts';
import { sha256Hex } from '../../lib/tokens.ts';
import { PersonalToken, PersonalTokenCreated } from '../../schemas/personal-tokens.ts';

// Personal API tokens (docs/access.md): shown once, SHA-256 at rest, acting as
// their user within the user's current roles and narrowed by their scope,
// revoked for the next request on every instance. The isolation matrix covers
// every route with tokens; this file covers the token routes themselves.
let stack: TestStack;
let second: Instance;
let t: Tenant;
let alice: Person; // an admin of t's team
let aliceMemberId: string;

beforeAll(async () => {
  stack = await startTestStack();
  second = await startInstance(stack);
  t = await createTenant(stack.url, 'tokens');
  const root = await adminToken(stack.url);
  alice = await createUser(stack.url, root, `alice.${Date.now()}@example.com`);
  aliceMemberId = await joinTeam(stack.url, t.token, t.teamId, alice, 'admin');
}, 120_000);

afterAll(async () => {
  await second?.close();
  await stack?.stop();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
async function mint(scope: 'read' | 'full', extra: Record<string, unknown> = {}) {
  const res = await client(stack.url, { token: alice.token }).post('/api/auth/tokens', { name: `alice ${scope}`, scope, ...extra });
  expect(res.status, res.text).toBe(201);
  expect(PersonalTokenCreated.strict().safeParse(res.body).success, res.text).toBe(true); // the documented answer
  return res.body as { id: string; token: string; maskedToken: string };
}

describe('personal API tokens', () => {
  it('answers the rlp_ token once, stores only its SHA-256, lists it masked with last use, and audits create and revoke', async () => {
    const made = await mint('full', { expiresAt: '2099-01-01T00:00:00Z' });
    expect(made.token).toMatch(/^rlp_[0-9A-Za-z]{40}$/);
    const row = (await stack.pool.query('SELECT * FROM personal_tokens WHERE id = $1', [made.id])).rows[0];
    expect(row.token_hash).toBe(sha256Hex(made.token));
    expect(JSON.stringify(row)).not.toContain(made.token);
    expect((await request(stack.url, 'GET', `/api/projects/${t.projectId}`, { headers: bearer(made.token) })).status).toBe(200);
    const list = await client(stack.url, { token: alice.token }).get('/api/auth/tokens');
    const listed = list.body.data.find((x: { id: string }) => x.id === made.id);
    expect(listed).toMatchObject({ scope: 'full', maskedToken: `rlp_****...****${made.token.slice(-4)}`, expiresAt: '2099-01-01T00:00:00.000Z' });
    expect(listed.lastUsedAt).not.toBeNull();
    expect(list.body.data.every((x: unknown) => PersonalToken.strict().safeParse(x).success)).toBe(true);
    expect(list.text).not.toContain(made.token);
    expect((await client(stack.url, { token: alice.token }).del(`/api/auth/tokens/${made.id}`)).status).toBe(200);
    const audit = (await stack.pool.query(`SELECT action, actor_id FROM audit_log WHERE target_id = $1 ORDER BY created_at`, [made.id])).rows;
    expect(audit).toEqual([{ action: 'personal_token.created', actor_id: alice.id }, { action: 'personal_token.revoked', actor_id: alice.id }]);
  });

  it('a revoked token is refused by the very next request, on every instance', async () => {
    const made = await mint('read');
    for (const base of [stack.url, second.url]) expect((await request(base, 'GET', '/api/teams', { headers: bearer(made.token) })).status).toBe(200);
    expect((await request(second.url, 'DELETE', `/api/auth/tokens/${made.id}`, { token: alice.token })).status).toBe(200);
    for (const base of [stack.url, second.url]) {
      const res = await request(base, 'GET', '/api/teams', { headers: bearer(made.token) });
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('invalid_auth');
    }
    // revoked twice, or someone else's: 404
    expect((await client(stack.url, { token: alice.token }).del(`/api/auth/tokens/${made.id}`)).status).toBe(404);
    const others = await client(stack.url, { token: t.token }).post('/api/auth/tokens', { name: 'root', scope: 'read' });
    expect((await client(stack.url, { token: alice.token }).del(`/api/auth/tokens/${others.body.id}`)).status).toBe(404);
    expect((await client(stack.url, { token: alice.token }).get('/api/auth/tokens')).text).not.toContain(others.body.id);
  });

  it('an expired token is refused', async () => {
    const made = await mint('read');
    await stack.pool.query(`UPDATE personal_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, [made.id]);
    expect((await request(stack.url, 'GET', '/api/teams', { headers: bearer(made.token) })).status).toBe(401);
  });

  it('is narrowed by its scope, cannot create tokens or API keys, and loses a role the moment its user does', async () => {
    const read = await mint('read');
    const full = await mint('full');
    const as = (token: string) => client(stack.url, { token });
    // read: reads only
    expect((await as(read.token).get(`/api/runs?projectId=${t.projectId}`)).status).toBe(200);
    const ingest = await as(read.token).post('/api/runs', runBody(t.projectId));
    expect([ingest.status, ingest.body.error.code]).toEqual([403, 'insufficient_scope']);
    // full: the user's admin role (webhooks need manage)
    expect((await as(full.token).get(`/api/webhooks?projectId=${t.projectId}`)).status).toBe(200);
    expect((await as(full.token).post('/api/webhooks', { projectId: t.projectId, url: 'http://127.0.0.1:9/x', isActive: false })).status).toBe(201);
    // never tokens or keys
    for (const token of [read.token, full.token]) {
      expect((await as(token).post('/api/auth/tokens', { name: 'again', scope: 'read' })).status).toBe(403);
      expect((await as(token).post('/api/api-keys', { projectId: t.projectId, name: 'k' })).status).toBe(403);
    }
    // the user is demoted to viewer: the full token can no longer manage
    expect((await client(stack.url, { token: t.token }).patch(`/api/team-members/${aliceMemberId}`, { role: 'viewer' })).status).toBe(200);
    const denied = await as(full.token).post('/api/webhooks', { projectId: t.projectId, url: 'http://127.0.0.1:9/x', isActive: false });
    expect([denied.status, denied.body.error.code]).toEqual([403, 'insufficient_scope']);
    // removed from the team: the project is as unknown as any other
    expect((await client(stack.url, { token: t.token }).del(`/api/team-members/${aliceMemberId}`)).status).toBe(200);
    expect((await as(full.token).get(`/api/projects/${t.projectId}`)).status).toBe(404);
  });

  it('answers bad input with 400 and the error shape, and keys and anonymous callers are refused', async () => {
    const as = client(stack.url, { token: alice.token });
    for (const body of [{}, { name: 'x' }, { name: 'x', scope: 'write' }, { name: '', scope: 'read' }, { name: 'x', scope: 'read', expiresAt: '2001-01-01T00:00:00Z' }, { name: 'x', scope: 'read', extra: 1 }]) {
      const res = await as.post('/api/auth/tokens', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(Object.keys(res.body.error).sort()).toEqual(['code', 'details', 'message']);
    }
    expect((await as.del('/api/auth/tokens/not-an-id')).status).toBe(400);
    expect((await request(stack.url, 'GET', '/api/teams', { headers: bearer(`rlp_${'x'.repeat(40)}`) })).status).toBe(401);
    expect((await request(stack.url, 'GET', '/api/auth/tokens', { key: t.apiKey })).status).toBe(403);
    expect((await request(stack.url, 'POST', '/api/auth/tokens', { body: { name: 'x', scope: 'read' } })).status).toBe(401);
  });
});
