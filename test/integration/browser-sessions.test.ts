import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { adminToken, createTenant, type Tenant } from '../support/tenants.ts';
import { client, request } from '../support/http.ts';
import { createUser, joinTeam, PASSWORD, type Person } from '../support/people.ts';
import { Browser, parseSetCookies } from '../support/browser.ts';
import { runBody } from '../support/fixtures.ts';
import { createApp } from '../../app/api.ts';
import { createLogger } from '../../lib/logger.ts';
import { EventLog } from '../../lib/event-log.ts';
import { sha256Hex } from '../../lib/tokens.ts';
import { Me, SessionStatus } from '../../schemas/accounts.ts';

// The dashboard's browser sessions (docs/access.md "Browser sessions"): the
// HttpOnly cookie, CSRF for unsafe methods, idle and absolute expiry, rotation,
// logout, and authorization through the cookie exactly as through a JWT.
let stack: TestStack;
let root: string;
let setupBrowser: Browser;
let t: Tenant;
let other: Tenant;
let n = 0;
const person = () => createUser(stack.url, root, `browser.${n++}.${Date.now()}@example.com`);
async function signedIn(p: Person, base = stack.url, headers?: Record<string, string>) {
  const b = new Browser(base, headers);
  await b.login(p.email, PASSWORD);
  return b;
}
const sessionRow = async (b: Browser) =>
  (await stack.pool.query('SELECT * FROM browser_sessions WHERE token_hash = $1 OR previous_hash = $1', [sha256Hex(b.session!)])).rows[0];

beforeAll(async () => {
  stack = await startTestStack({ projections: ['postgres'] });
  // The first-run setup, as the dashboard's setup page makes it.
  setupBrowser = new Browser(stack.url);
  const setup = await setupBrowser.post('/api/auth/setup', { email: 'admin@example.com', password: 'correct horse battery staple' });
  expect(setup.status, setup.text).toBe(201);
  root = await adminToken(stack.url);
  t = await createTenant(stack.url, 'browser');
  other = await createTenant(stack.url, 'elsewhere');
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe('signing in', () => {
  it('answers the JWT as before and sets an HttpOnly, SameSite=Lax session cookie and a readable CSRF cookie', async () => {
    const p = await person();
    const login = await request(stack.url, 'POST', '/api/auth/login', { body: { email: p.email, password: PASSWORD } });
    expect(login.status).toBe(200);
    expect(login.body).toMatchObject({ token: expect.any(String), user: { id: p.id, email: p.email } });
    const cookies = Object.fromEntries(parseSetCookies(login).map((c) => [c.name, c]));
    expect(cookies.rl_session!.attrs).toMatchObject({ path: '/', httponly: true, samesite: 'lax' });
    expect(cookies.rl_session!.attrs.secure).toBeUndefined();
    expect(Date.parse(cookies.rl_session!.attrs.expires as string)).toBeGreaterThan(Date.now() + 6 * 24 * 3600_000);
    expect(cookies.rl_csrf!.attrs).toMatchObject({ path: '/', samesite: 'lax' });
    expect(cookies.rl_csrf!.attrs.httponly).toBeUndefined();
    expect(cookies.rl_session!.value).not.toBe(login.body.token);
    // Only the token's hash is stored.
    const rows = (await stack.pool.query('SELECT * FROM browser_sessions WHERE user_id = $1', [p.id])).rows;
    const row = rows.find((r) => r.token_hash === sha256Hex(cookies.rl_session!.value));
    expect(row).toBeDefined();
    expect(JSON.stringify(row)).not.toContain(cookies.rl_session!.value);
    expect(row.csrf_token).toBe(cookies.rl_csrf!.value);
  });

  it('sets the cookies on joining by invitation too', async () => {
    const inv = await client(stack.url, { token: t.token }).post('/api/team-members', { teamId: t.teamId, email: `invited.${Date.now()}@example.com`, role: 'viewer' });
    expect(inv.status, inv.text).toBe(201);
    const b = new Browser(stack.url);
    const joined = await b.post('/api/auth/accept-invitation', { token: inv.body.token, password: PASSWORD, name: 'Invited' });
    expect(joined.status, joined.text).toBe(201);
    expect(joined.body.token).toBeTruthy();
    expect((await b.get(`/api/projects/${t.projectId}`)).status).toBe(200);
  });

  it('sets the cookies on first-run setup (done through a browser in beforeAll)', async () => {
    expect(setupBrowser.session).toBeTruthy();
    const me = await setupBrowser.get('/api/auth/me');
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ email: 'admin@example.com', role: 'admin', csrfToken: setupBrowser.csrf });
  });
});

describe('the cookie authenticates API calls', () => {
  it('GET /api/auth/me answers the user, teams with roles and the CSRF token', async () => {
    const p = await person();
    await joinTeam(stack.url, t.token, t.teamId, p, 'viewer');
    const b = await signedIn(p);
    const me = await b.get('/api/auth/me');
    expect(me.status).toBe(200);
    expect(Me.parse(me.body)).toMatchObject({ id: p.id, csrfToken: b.csrf, teams: [{ id: t.teamId, role: 'viewer' }] });
    // A JWT caller gets no CSRF token: it needs none.
    expect((await client(stack.url, { token: p.token }).get('/api/auth/me')).body.csrfToken).toBeUndefined();
  });

  it('refuses an unsafe method without the CSRF token or with a wrong one (403 csrf_failed), accepts it with the right one', async () => {
    const p = await person();
    const b = await signedIn(p);
    for (const csrf of [null, 'wrong', `${b.csrf}x`]) {
      const res = await b.post('/api/teams', { name: 'csrf team' }, { csrf });
      expect(res.status, String(csrf)).toBe(403);
      expect(res.body.error).toMatchObject({ code: 'csrf_failed' });
    }
    expect((await b.patch('/api/auth/me', { name: 'X' }, { csrf: null })).body.error.code).toBe('csrf_failed');
    expect((await b.del(`/api/projects/${t.projectId}`, { csrf: null })).body.error.code).toBe('csrf_failed');
    expect((await stack.pool.query("SELECT count(*)::int AS n FROM teams WHERE name = 'csrf team'")).rows[0].n).toBe(0);
    const ok = await b.post('/api/teams', { name: 'csrf team' });
    expect(ok.status, ok.text).toBe(201);
  });

  it('leaves header credentials as they were: no CSRF token needed, and they win over a cookie', async () => {
    const p = await person();
    const b = await signedIn(p);
    const byJwt = await request(stack.url, 'POST', '/api/teams', { token: p.token, body: { name: 'jwt team' }, headers: { cookie: `rl_session=${b.session}` } });
    expect(byJwt.status, byJwt.text).toBe(201);
    const byKey = await request(stack.url, 'GET', `/api/projects/${t.projectId}`, { key: t.apiKey, headers: { cookie: 'rl_session=rls_garbage' } });
    expect(byKey.status).toBe(200);
  });

  it('keeps every route\'s authorization: a viewer reads, an admin manages, another team\'s project is 404', async () => {
    const viewer = await person();
    const admin = await person();
    await joinTeam(stack.url, t.token, t.teamId, viewer, 'viewer');
    await joinTeam(stack.url, t.token, t.teamId, admin, 'admin');
    const v = await signedIn(viewer);
    const a = await signedIn(admin);
    expect((await v.get(`/api/projects/${t.projectId}`)).status).toBe(200);
    const denied = await v.patch(`/api/projects/${t.projectId}`, { name: 'renamed by viewer' });
    expect(denied.status).toBe(403);
    expect(denied.body.error).toMatchObject({ code: 'insufficient_scope', details: { required: 'admin' } });
    expect((await v.post('/api/api-keys', { projectId: t.projectId, name: 'nope' })).status).toBe(403);
    const renamed = await a.patch(`/api/projects/${t.projectId}`, { name: 'browser project' });
    expect(renamed.status, renamed.text).toBe(200);
    for (const path of [`/api/projects/${other.projectId}`, `/api/runs?projectId=${other.projectId}`]) {
      const res = await a.get(path);
      expect(res.status, path).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    }
    expect((await a.patch(`/api/projects/${other.projectId}`, { name: 'x' })).status).toBe(404);
  });

  it('opens the live stream of a run, and not another team\'s', async () => {
    const p = await person();
    await joinTeam(stack.url, t.token, t.teamId, p, 'viewer');
    const b = await signedIn(p);
    const keyed = client(stack.url, { key: t.apiKey });
    const runId = (await keyed.post('/api/runs', runBody(t.projectId))).body.id as string;
    const otherRun = (await client(stack.url, { key: other.apiKey }).post('/api/runs', runBody(other.projectId))).body.id as string;
    await stack.waitForProjections(['postgres']);
    const ac = new AbortController();
    const res = await fetch(`${stack.url}/api/runs/${runId}/stream`, { headers: { cookie: `rl_session=${b.session}` }, signal: ac.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    ac.abort();
    expect((await b.get(`/api/runs/${otherRun}/stream`)).status).toBe(404);
    expect((await request(stack.url, 'GET', `/api/runs/${runId}/stream`)).status).toBe(401);
  });
});

describe('GET /api/auth/session (the dashboard\'s first request)', () => {
  it('answers 200 with the cookie\'s user, as GET /api/auth/me does, or with user null when signed out', async () => {
    const p = await person();
    await joinTeam(stack.url, t.token, t.teamId, p, 'member');
    const b = await signedIn(p);
    const session = await b.get('/api/auth/session');
    expect(session.status).toBe(200);
    expect(SessionStatus.parse(session.body)).toEqual({ user: (await b.get('/api/auth/me')).body, needsSetup: false });
    expect(session.body.user).toMatchObject({ id: p.id, csrfToken: b.csrf, teams: [{ id: t.teamId, role: 'member' }] });
    expect(session.headers.get('cache-control')).toBe('no-store');

    // signed out in every way: no cookie, a made-up one, an ended, idle or expired session
    const signedOut = async (headers: Record<string, string>) => {
      const res = await request(stack.url, 'GET', '/api/auth/session', { headers });
      expect(res.status, res.text).toBe(200);
      expect(res.body).toEqual({ user: null, needsSetup: false });
    };
    await signedOut({});
    await signedOut({ cookie: `rl_session=${'x'.repeat(40)}` });
    // a header credential is not what this route reads (a JWT or key caller asks GET /api/auth/me)
    await signedOut({ authorization: `Bearer ${p.token}` });
    await signedOut({ 'x-api-key': t.apiKey });
    const idle = await signedIn(p);
    await stack.pool.query('UPDATE browser_sessions SET last_seen_at = now() - make_interval(secs => $2 + 1) WHERE id = $1', [(await sessionRow(idle)).id, stack.config.sessions.idleSeconds]);
    await signedOut({ cookie: `rl_session=${idle.session}` });
    const expired = await signedIn(p);
    await stack.pool.query("UPDATE browser_sessions SET expires_at = now() - interval '1 second' WHERE id = $1", [(await sessionRow(expired)).id]);
    await signedOut({ cookie: `rl_session=${expired.session}` });
    const ended = b.session!;
    expect((await b.post('/api/auth/logout')).status).toBe(200);
    await signedOut({ cookie: `rl_session=${ended}` });
  });
});

describe('expiry and rotation', () => {
  it('ends a session idle longer than the idle limit, and restarts the idle clock on use', async () => {
    const b = await signedIn(await person());
    await stack.pool.query("UPDATE browser_sessions SET last_seen_at = now() - interval '2 minutes' WHERE id = $1", [(await sessionRow(b)).id]);
    expect((await b.get('/api/auth/me')).status).toBe(200);
    expect(Date.now() - (await sessionRow(b)).last_seen_at.getTime()).toBeLessThan(30_000);
    await stack.pool.query('UPDATE browser_sessions SET last_seen_at = now() - make_interval(secs => $2 + 1) WHERE id = $1', [(await sessionRow(b)).id, stack.config.sessions.idleSeconds]);
    const res = await b.get('/api/auth/me');
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('invalid_auth');
  });

  it('ends a session at its absolute expiry, however active', async () => {
    const b = await signedIn(await person());
    await stack.pool.query("UPDATE browser_sessions SET expires_at = now() - interval '1 second' WHERE id = $1", [(await sessionRow(b)).id]);
    expect((await b.get('/api/auth/me')).status).toBe(401);
  });

  it('rotates the token when due; the old one works for the grace period only; the CSRF token stays', async () => {
    const b = await signedIn(await person());
    const first = b.session!;
    const csrf = b.csrf;
    const id = (await sessionRow(b)).id;
    expect(parseSetCookies(await b.get('/api/auth/me'))).toEqual([]);
    await stack.pool.query('UPDATE browser_sessions SET rotated_at = now() - make_interval(secs => $2 + 1) WHERE id = $1', [id, stack.config.sessions.rotateSeconds]);
    const rotated = await b.get('/api/auth/me');
    expect(rotated.status).toBe(200);
    const set = Object.fromEntries(parseSetCookies(rotated).map((c) => [c.name, c]));
    expect(set.rl_session!.attrs).toMatchObject({ httponly: true, samesite: 'lax', path: '/' });
    expect(b.session).not.toBe(first);
    expect(b.csrf).toBe(csrf);
    const row = (await stack.pool.query('SELECT * FROM browser_sessions WHERE id = $1', [id])).rows[0];
    expect(row.token_hash).toBe(sha256Hex(b.session!));
    expect(row.previous_hash).toBe(sha256Hex(first));
    // A request already in flight with the old cookie still succeeds...
    const old = await request(stack.url, 'GET', '/api/auth/me', { headers: { cookie: `rl_session=${first}` } });
    expect(old.status).toBe(200);
    // ...until the grace period ends.
    await stack.pool.query("UPDATE browser_sessions SET previous_until = now() - interval '1 second' WHERE id = $1", [id]);
    expect((await request(stack.url, 'GET', '/api/auth/me', { headers: { cookie: `rl_session=${first}` } })).status).toBe(401);
    expect((await b.get('/api/auth/me')).status).toBe(200);
  });

  it('ends on a password change, which answers a new session when made through one', async () => {
    const p = await person();
    const b = await signedIn(p);
    const elsewhere = await signedIn(p);
    const changed = await b.post('/api/auth/change-password', { currentPassword: PASSWORD, newPassword: 'another long private passphrase' });
    expect(changed.status, changed.text).toBe(200);
    expect((await b.get('/api/auth/me')).status).toBe(200);
    expect((await elsewhere.get('/api/auth/me')).status).toBe(401);
  });
});

describe('POST /api/auth/logout', () => {
  it('ends exactly the cookie session it is called with, and clears its cookies', async () => {
    const p = await person();
    const one = await signedIn(p);
    const two = await signedIn(p);
    const oneSession = one.session!;
    expect((await one.post('/api/auth/logout', undefined, { csrf: null })).body.error.code).toBe('csrf_failed');
    const out = await one.post('/api/auth/logout');
    expect(out.status, out.text).toBe(200);
    expect(out.body).toEqual({ ended: 'session' });
    const cleared = Object.fromEntries(parseSetCookies(out).map((c) => [c.name, c]));
    expect(cleared.rl_session!.value).toBe('');
    expect(cleared.rl_csrf!.value).toBe('');
    expect(one.session).toBeUndefined();
    expect((await request(stack.url, 'GET', '/api/auth/me', { headers: { cookie: `rl_session=${oneSession}` } })).status).toBe(401);
    expect((await two.get('/api/auth/me')).status).toBe(200);
    expect((await client(stack.url, { token: p.token }).get('/api/auth/me')).status).toBe(200);
  });

  it('revokes exactly the JWT it is called with', async () => {
    const p = await person();
    const second = (await request(stack.url, 'POST', '/api/auth/login', { body: { email: p.email, password: PASSWORD } })).body.token as string;
    const out = await client(stack.url, { token: p.token }).post('/api/auth/logout');
    expect(out.status, out.text).toBe(200);
    expect(out.body).toEqual({ ended: 'token' });
    const after = await client(stack.url, { token: p.token }).get('/api/auth/me');
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe('invalid_auth');
    expect((await client(stack.url, { token: second }).get('/api/auth/me')).status).toBe(200);
  });

  it('is for people: an API key gets 403, no credential 401', async () => {
    expect((await client(stack.url, { key: t.apiKey }).post('/api/auth/logout')).status).toBe(403);
    expect((await request(stack.url, 'POST', '/api/auth/logout')).status).toBe(401);
    expect((await request(stack.url, 'POST', '/api/auth/logout', { headers: { cookie: 'rl_session=rls_unknown' } })).status).toBe(401);
  });
});

describe('PATCH /api/auth/me', () => {
  it('changes my name and avatar URL, and null clears them', async () => {
    const p = await person();
    const me = client(stack.url, { token: p.token });
    const set = await me.patch('/api/auth/me', { name: 'Ada', avatarUrl: 'https://example.com/ada.png' });
    expect(set.status, set.text).toBe(200);
    expect(set.body).toMatchObject({ id: p.id, name: 'Ada', avatarUrl: 'https://example.com/ada.png' });
    expect((await me.get('/api/auth/me')).body).toMatchObject({ name: 'Ada', avatarUrl: 'https://example.com/ada.png' });
    const cleared = await me.patch('/api/auth/me', { avatarUrl: null });
    expect(cleared.body).toMatchObject({ name: 'Ada', avatarUrl: null });
  });

  it.each([
    ['no field', {}], ['a javascript: URL', { avatarUrl: 'javascript:alert(1)' }], ['not a URL', { avatarUrl: 'nope' }],
    ['an empty name', { name: '   ' }], ['a long name', { name: 'x'.repeat(201) }], ['a number', { name: 5 }],
  ])('refuses %s (400)', async (_, body) => {
    const p = await person();
    const res = await client(stack.url, { token: p.token }).patch('/api/auth/me', body);
    expect(res.status, res.text).toBe(400);
    expect(res.body.error.code).toBe('validation_error');
  });

  it('is for people: an API key gets 403', async () => {
    expect((await client(stack.url, { key: t.apiKey }).patch('/api/auth/me', { name: 'key' })).status).toBe(403);
  });
});

describe('behind a proxy', () => {
  it('marks the cookies Secure when the request was https, believing X-Forwarded-Proto only with RUNLEDGER_TRUST_PROXY', async () => {
    const p = await person();
    for (const trustProxy of [true, false]) {
      const logger = createLogger('test', 'silent');
      const app = createApp({ config: { ...stack.config, trustProxy }, pool: stack.pool, ch: stack.ch, kafka: stack.kafka, eventLog: new EventLog(stack.kafka, stack.config.topic, 1000), logger });
      const server: Server = await new Promise((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)); });
      try {
        const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        const login = await request(base, 'POST', '/api/auth/login', { body: { email: p.email, password: PASSWORD }, headers: { 'x-forwarded-proto': 'https' } });
        expect(login.status).toBe(200);
        for (const c of parseSetCookies(login)) expect(c.attrs.secure, `${c.name} trustProxy=${trustProxy}`).toBe(trustProxy ? true : undefined);
      } finally {
        await new Promise((r) => server.close(r));
        await app.close();
      }
    }
  });
});
