import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import jwt from 'jsonwebtoken';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { adminToken, createTenant } from '../support/tenants.ts';
import { client, request } from '../support/http.ts';
import { createUser, PASSWORD, type Person } from '../support/people.ts';
import { loadConfig } from '../../lib/config.ts';
import { newId } from '../../schemas/ids.ts';
import { signUserToken } from '../../domain/accounts/auth.ts';
import { Me } from '../../schemas/accounts.ts';

// People: who am I, the instance's users, passwords, sessions, and the login
// rate limit (Fusillade: auth endpoints 10 per 60 s per IP, then 429).
let stack: TestStack;
let root: string;
let n = 0;
const person = () => createUser(stack.url, root, `user.${n++}.${Date.now()}@example.com`);
const as = (p: Person | string) => client(stack.url, { token: typeof p === 'string' ? p : p.token });

beforeAll(async () => {
  stack = await startTestStack();
  root = await adminToken(stack.url);
});

afterAll(async () => {
  await stack?.stop();
});

describe('GET /api/auth/me', () => {
  it('tells who the caller is and their teams with roles; keys are not people', async () => {
    const tenant = await createTenant(stack.url, 'me');
    const me = await as(root).get('/api/auth/me');
    expect(me.status).toBe(200);
    expect(Me.parse(me.body)).toMatchObject({ email: 'admin@example.com', role: 'admin' });
    expect(me.body.teams).toContainEqual({ id: tenant.teamId, name: 'me team', role: 'owner' });
    const byKey = await client(stack.url, { key: tenant.apiKey }).get('/api/auth/me');
    expect(byKey.status).toBe(403);
    expect(byKey.body.error).toMatchObject({ code: 'insufficient_scope', details: { required: 'user' } });
  });
});

describe('the instance\'s users', () => {
  it('are listed and created by instance administrators only', async () => {
    const someone = await person();
    expect((await as(someone).get('/api/auth/users')).body.error).toMatchObject({ code: 'insufficient_scope', details: { required: 'instance_admin' } });
    expect((await as(someone).post('/api/auth/users', { email: 'x@example.com', password: PASSWORD })).status).toBe(403);
    const list = await as(root).get('/api/auth/users?limit=500');
    expect(list.status).toBe(200);
    expect(list.body.data.map((u: { id: string }) => u.id)).toContain(someone.id);
    expect(list.text).not.toMatch(/scrypt|password/i);
  });

  it('have unique emails, whatever the case', async () => {
    const someone = await person();
    const again = await as(root).post('/api/auth/users', { email: someone.email.toUpperCase(), password: PASSWORD });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('conflict');
  });

  it('may be made instance administrators', async () => {
    const made = await as(root).post('/api/auth/users', { email: `second.admin.${Date.now()}@example.com`, password: PASSWORD, role: 'admin', name: 'Second Admin' });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ role: 'admin', name: 'Second Admin' });
  });
});

describe('passwords', () => {
  it.each([
    ['empty', ''], ['short', 'abc12'], ['one repeated character', 'xxxxxxxxxxxxxxx'], ['four distinct characters', 'abcdabcdabcd'],
    ['a common one with digits', 'Password123!'], ['a keyboard walk', 'qwertyuiop'], ['a common one in capitals', 'LETMEIN2024'],
  ])('refuses a weak one (%s) wherever one is set', async (_, weak) => {
    const someone = await person();
    const made = await as(root).post('/api/auth/users', { email: `weak.${n++}@example.com`, password: weak });
    expect(made.status).toBe(400);
    expect(made.body.error.details.field).toBe('password');
    const changed = await as(someone).post('/api/auth/change-password', { currentPassword: PASSWORD, newPassword: weak });
    expect(changed.status).toBe(400);
    expect(changed.body.error.details.field).toBe('newPassword');
  });

  it('is changed with the current one, which ends every earlier session', async () => {
    const someone = await person();
    const otherSession = (await request(stack.url, 'POST', '/api/auth/login', { body: { email: someone.email, password: PASSWORD } })).body.token;
    const wrong = await as(someone).post('/api/auth/change-password', { currentPassword: 'not my password at all', newPassword: 'my brand new passphrase' });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error.details.field).toBe('currentPassword');
    const same = await as(someone).post('/api/auth/change-password', { currentPassword: PASSWORD, newPassword: PASSWORD });
    expect(same.status).toBe(400);

    const ok = await as(someone).post('/api/auth/change-password', { currentPassword: PASSWORD, newPassword: 'my brand new passphrase' });
    expect(ok.status).toBe(200);
    for (const old of [someone.token, otherSession]) {
      const res = await as(old).get('/api/auth/me');
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('invalid_auth');
    }
    expect((await as(ok.body.token).get('/api/auth/me')).body.id).toBe(someone.id);
    const login = (password: string) => request(stack.url, 'POST', '/api/auth/login', { body: { email: someone.email, password } });
    expect((await login(PASSWORD)).status).toBe(401);
    expect((await login('my brand new passphrase')).status).toBe(200);
  });
});

describe('user tokens', () => {
  const now = () => Math.floor(Date.now() / 1000);
  const b64url = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  let someone: Person;
  beforeAll(async () => {
    someone = await person();
  });

  it.each([
    ['signed with another secret', () => jwt.sign({ sv: 0 }, 'another-secret-that-is-long-enough', { algorithm: 'HS256', subject: someone.id, expiresIn: 600 })],
    ['with alg none', () => `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ sub: someone.id, sv: 0, iat: now(), exp: now() + 600 })}.`],
    ['that expired', () => jwt.sign({ sub: someone.id, sv: 0, iat: now() - 7200, exp: now() - 1 }, stack.config.jwtSecret, { algorithm: 'HS256' })],
    ['of an earlier session version', () => signUserToken(someone.id, stack.config.jwtSecret, 600, 7)],
    ['for a user that does not exist', () => signUserToken(newId('user'), stack.config.jwtSecret, 600)],
    ['with a session version that is not a number', () => jwt.sign({ sv: '0' }, stack.config.jwtSecret, { algorithm: 'HS256', subject: someone.id, expiresIn: 600 })],
  ])('refuses one %s → 401 invalid_auth', async (_, make) => {
    const token = make();
    for (const path of ['/api/auth/me', '/api/teams', '/api/auth/users']) {
      const res = await request(stack.url, 'GET', path, { token });
      expect(res.status, path).toBe(401);
      expect(res.body.error.code).toBe('invalid_auth');
    }
    expect((await as(someone).get('/api/auth/me')).status).toBe(200);
  });
});

describe('the login rate limit', () => {
  // A stack with the production setting: every request here comes from 127.0.0.1.
  let limited: TestStack;
  const defaults = loadConfig({});
  beforeAll(async () => {
    limited = await startTestStack({ overrides: { authRateLimit: defaults.authRateLimit, authRateWindowMs: defaults.authRateWindowMs } });
    await adminToken(limited.url); // setup: one of the ten
  });
  afterAll(async () => {
    await limited?.stop();
  });

  it('is 10 per 60 s per IP by default', () => {
    expect([defaults.authRateLimit, defaults.authRateWindowMs]).toEqual([10, 60_000]);
  });

  it('counts down in X-RateLimit-* headers, then answers 429 rate_limited with Retry-After, even to the right password', async () => {
    const login = (password: string) => request(limited.url, 'POST', '/api/auth/login', { body: { email: 'admin@example.com', password } });
    const remaining: number[] = [];
    for (let i = 0; i < 9; i++) {
      const res = await login(i === 8 ? 'correct horse battery staple' : 'a wrong guess here');
      expect(res.status).toBe(i === 8 ? 200 : 401);
      expect(res.headers.get('x-ratelimit-limit')).toBe('10');
      remaining.push(Number(res.headers.get('x-ratelimit-remaining')));
    }
    // the setup call was the first of ten; these are the other nine
    expect(remaining).toEqual([8, 7, 6, 5, 4, 3, 2, 1, 0]);
    const refused = await login('correct horse battery staple');
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({ code: 'rate_limited', details: { group: 'auth', limit: 10, windowMs: 60_000 } });
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(Number(refused.headers.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1000);
    // the limit is on the auth endpoints, not on the API
    expect((await request(limited.url, 'GET', '/health')).status).toBe(200);
    expect((await request(limited.url, 'POST', '/api/auth/setup', { body: { email: 'a@example.com', password: 'whatever it is here' } })).status).toBe(429);
  });
});
