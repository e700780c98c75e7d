import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { createTenant, type Tenant } from '../support/tenants.ts';
import { request, type Res } from '../support/http.ts';
import { countingPool, startInstance, type Instance } from '../support/instances.ts';
import { newId } from '../../schemas/ids.ts';
import { ErrorBody } from '../../schemas/api.ts';

// Bad input on the accounts and access routes: 400 with the error shape and the
// offending field, before any database work beyond authentication. Other teams'
// and projects' credentials on these routes: test/integration/isolation-matrix.test.ts.

let stack: TestStack;
let counted: Instance;
let statements: () => number;
let t: Tenant;
let ids: { member: string; invitation: string; key: string };

beforeAll(async () => {
  stack = await startTestStack();
  const c = countingPool(stack.pool);
  statements = c.count;
  counted = await startInstance(stack, {}, c.pool);
  t = await createTenant(stack.url, 'bad');
  const as = { token: t.token };
  const members = await request(stack.url, 'GET', `/api/team-members?teamId=${t.teamId}`, as);
  const inv = await request(stack.url, 'POST', '/api/team-members', { ...as, body: { teamId: t.teamId, email: 'pending@example.com', role: 'viewer' } });
  const keys = await request(stack.url, 'GET', `/api/api-keys?projectId=${t.projectId}`, as);
  ids = { member: members.body.data[0].id, invitation: inv.body.id, key: keys.body.data[0].id };
});

afterAll(async () => {
  await counted?.close();
  await stack?.stop();
});

function expectError(res: Res, status: number, code: string, field?: string) {
  const seen = `${res.status} ${res.text.slice(0, 300)}`;
  expect(res.status, seen).toBe(status);
  expect(ErrorBody.safeParse(res.body).success, seen).toBe(true);
  expect(res.body.error.code, seen).toBe(code);
  if (field !== undefined) expect(res.body.error.details.field, seen).toBe(field);
}

// Ids that are not ours, for each :id route.
const MALFORMED: Array<[string, (valid: string) => string]> = [
  ['a free-form word', () => 'latest'],
  ["Euriqa's sample format", (v) => `${v.split('_')[0]}_abc123`],
  ['an id of another kind', () => newId('run')],
  ['a lower-cased id', (v) => v.toLowerCase()],
  ['a SQL injection string', () => "'; DROP TABLE teams; --"],
  ['an id with a NUL', (v) => `${v}\u0000`],
  ['a 5,000-character id', (v) => `${v}${'A'.repeat(5000)}`],
];
const ID_ROUTES: Array<[string, string, () => string, unknown?]> = [
  ['GET', '/api/teams/:id', () => t.teamId],
  ['PATCH', '/api/teams/:id', () => t.teamId, { name: 'x' }],
  ['DELETE', '/api/teams/:id', () => t.teamId],
  ['PATCH', '/api/team-members/:id', () => ids.member, { role: 'viewer' }],
  ['DELETE', '/api/team-members/:id', () => ids.member],
  ['DELETE', '/api/team-invitations/:id', () => ids.invitation],
  ['GET', '/api/projects/:id', () => t.projectId],
  ['PATCH', '/api/projects/:id', () => t.projectId, { name: 'x' }],
  ['DELETE', '/api/projects/:id', () => t.projectId],
  ['GET', '/api/projects/:id/settings', () => t.projectId],
  ['PATCH', '/api/projects/:id/settings', () => t.projectId, { dataRetentionDays: 30 }],
  ['PATCH', '/api/api-keys/:id', () => ids.key, { isActive: true }],
  ['DELETE', '/api/api-keys/:id', () => ids.key],
];

describe.each(ID_ROUTES)('%s %s', (method, path, valid, body) => {
  it.each(MALFORMED)('answers 400 for %s as the id, touching no table but to authenticate', async (_, make) => {
    const before = statements();
    const res = await request(counted.url, method, path.replace(':id', encodeURIComponent(make(valid()))), { token: t.token, body });
    expectError(res, 400, 'validation_error');
    expect(statements() - before, 'statements beyond authentication').toBe(1);
  });

  it('answers 404 for a well-formed id that does not exist', async () => {
    const kind = valid().split('_')[0]!;
    const unknown = `${kind}_${'0'.repeat(26)}`;
    const res = await request(stack.url, method, path.replace(':id', unknown), { token: t.token, body });
    expectError(res, 404, 'not_found');
  });
});

type Case = [name: string, method: string, path: () => string, body: unknown, field: string];
const long = (n: number) => 'n'.repeat(n);
const BODY_CASES: Case[] = [
  // teams
  ['a team rename without a name', 'PATCH', () => `/api/teams/${t.teamId}`, {}, 'name'],
  ['a blank team name', 'PATCH', () => `/api/teams/${t.teamId}`, { name: '   ' }, 'name'],
  ['a team name over 200 characters', 'PATCH', () => `/api/teams/${t.teamId}`, { name: long(201) }, 'name'],
  ['a team name that is a number', 'PATCH', () => `/api/teams/${t.teamId}`, { name: 7 }, 'name'],
  // invitations and members
  ['an invitation without teamId', 'POST', () => '/api/team-members', { email: 'a@example.com', role: 'member' }, 'teamId'],
  ['an invitation with a malformed teamId', 'POST', () => '/api/team-members', { teamId: 'team_abc123', email: 'a@example.com', role: 'member' }, 'teamId'],
  ['an invitation without email', 'POST', () => '/api/team-members', { teamId: '$team', role: 'member' }, 'email'],
  ['an invitation to something that is not an email', 'POST', () => '/api/team-members', { teamId: '$team', email: 'not-an-email', role: 'member' }, 'email'],
  ['an invitation to a 321-character email', 'POST', () => '/api/team-members', { teamId: '$team', email: `${'a'.repeat(64)}@${'d'.repeat(252)}.com`, role: 'member' }, 'email'],
  ['an invitation as owner', 'POST', () => '/api/team-members', { teamId: '$team', email: 'a@example.com', role: 'owner' }, 'role'],
  ['an invitation with an unknown role', 'POST', () => '/api/team-members', { teamId: '$team', email: 'a@example.com', role: 'superuser' }, 'role'],
  ['a role change to an unknown role', 'PATCH', () => `/api/team-members/${ids.member}`, { role: 'god' }, 'role'],
  ['a role change without a role', 'PATCH', () => `/api/team-members/${ids.member}`, {}, 'role'],
  ['an acceptance without a token', 'POST', () => '/api/team-members/accept', {}, 'token'],
  ['an acceptance with a malformed token', 'POST', () => '/api/team-members/accept', { token: 'rlinv_short' }, 'token'],
  ['an acceptance with an API key as token', 'POST', () => '/api/team-members/accept', { token: `rl_${'a'.repeat(40)}` }, 'token'],
  // projects
  ['a project without teamId', 'POST', () => '/api/projects', { name: 'p' }, 'teamId'],
  ['a project name over 200 characters', 'POST', () => '/api/projects', { teamId: '$team', name: long(201) }, 'name'],
  ['a project rename with nothing to change', 'PATCH', () => `/api/projects/${t.projectId}`, {}, ''],
  ['a project rename to an empty name', 'PATCH', () => `/api/projects/${t.projectId}`, { name: '' }, 'name'],
  ['a project rename over 200 characters', 'PATCH', () => `/api/projects/${t.projectId}`, { name: long(201) }, 'name'],
  // settings
  ['settings with nothing to change', 'PATCH', () => `/api/projects/${t.projectId}/settings`, {}, ''],
  ['a retention of 0 days', 'PATCH', () => `/api/projects/${t.projectId}/settings`, { dataRetentionDays: 0 }, 'dataRetentionDays'],
  ['a retention of 3,651 days', 'PATCH', () => `/api/projects/${t.projectId}/settings`, { dataRetentionDays: 3651 }, 'dataRetentionDays'],
  ['a fractional retention', 'PATCH', () => `/api/projects/${t.projectId}/settings`, { dataRetentionDays: 1.5 }, 'dataRetentionDays'],
  ['a retention as a string', 'PATCH', () => `/api/projects/${t.projectId}/settings`, { dataRetentionDays: '90' }, 'dataRetentionDays'],
  ['a negative flakiness threshold', 'PATCH', () => `/api/projects/${t.projectId}/settings`, { flakinessThreshold: -0.01 }, 'flakinessThreshold'],
  ['a flakiness threshold over 1', 'PATCH', () => `/api/projects/${t.projectId}/settings`, { flakinessThreshold: 1.01 }, 'flakinessThreshold'],
  ['a null flakiness threshold', 'PATCH', () => `/api/projects/${t.projectId}/settings`, { flakinessThreshold: null }, 'flakinessThreshold'],
  ['auto-quarantine as a string', 'PATCH', () => `/api/projects/${t.projectId}/settings`, { autoQuarantineEnabled: 'yes' }, 'autoQuarantineEnabled'],
  ['an unknown setting', 'PATCH', () => `/api/projects/${t.projectId}/settings`, { autoQuarantine: true }, 'autoQuarantine'],
  // API keys
  ['a key name over 200 characters', 'POST', () => '/api/api-keys', { projectId: '$project', name: long(201) }, 'name'],
  ['a key with an unknown scope', 'POST', () => '/api/api-keys', { projectId: '$project', name: 'k', scope: 'admin' }, 'scope'],
  ['a key change with nothing to change', 'PATCH', () => `/api/api-keys/${ids.key}`, {}, ''],
  ['isActive as a string', 'PATCH', () => `/api/api-keys/${ids.key}`, { isActive: 'false' }, 'isActive'],
  ['an expiry that is not a date', 'PATCH', () => `/api/api-keys/${ids.key}`, { expiresAt: 'tomorrow' }, 'expiresAt'],
  ['an expiry in the past', 'PATCH', () => `/api/api-keys/${ids.key}`, { expiresAt: '2020-01-01T00:00:00Z' }, 'expiresAt'],
  // users
  ['a user without a password', 'POST', () => '/api/auth/users', { email: 'u@example.com' }, 'password'],
  ['a user with an empty password', 'POST', () => '/api/auth/users', { email: 'u@example.com', password: '' }, 'password'],
  ['a user with a weak password', 'POST', () => '/api/auth/users', { email: 'u@example.com', password: 'password1234' }, 'password'],
  ['a user with an unknown role', 'POST', () => '/api/auth/users', { email: 'u@example.com', password: 'a long and private passphrase', role: 'root' }, 'role'],
  ['a user name over 200 characters', 'POST', () => '/api/auth/users', { email: 'u@example.com', password: 'a long and private passphrase', name: long(201) }, 'name'],
  ['a password change without the current password', 'POST', () => '/api/auth/change-password', { newPassword: 'a new and private passphrase' }, 'currentPassword'],
  ['a password change to an empty one', 'POST', () => '/api/auth/change-password', { currentPassword: 'x', newPassword: '' }, 'newPassword'],
];

// '$team' and '$project' in a body stand for the tenant's ids (made in beforeAll).
const resolve = (body: unknown): unknown =>
  JSON.parse(JSON.stringify(body).replaceAll('"$team"', JSON.stringify(t.teamId)).replaceAll('"$project"', JSON.stringify(t.projectId)));

describe('request bodies', () => {
  it.each(BODY_CASES)('rejects %s → 400 validation_error', async (_, method, path, body, field) => {
    expectError(await request(stack.url, method, path(), { token: t.token, body: resolve(body) }), 400, 'validation_error', field);
  });

  it('rejects malformed JSON and other media types on the new write routes', async () => {
    for (const path of ['/api/team-members', '/api/projects', '/api/auth/users']) {
      expectError(await request(stack.url, 'POST', path, { token: t.token, raw: '{"name":', headers: { 'content-type': 'application/json' } }), 400, 'invalid_json');
      expectError(await request(stack.url, 'POST', path, { token: t.token, raw: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415, 'unsupported_media_type');
    }
    expectError(await request(stack.url, 'PATCH', `/api/projects/${t.projectId}/settings`, { token: t.token, raw: '{"dataRetentionDays":1e400}', headers: { 'content-type': 'application/json' } }), 400, 'validation_error', 'dataRetentionDays');
  });

  it('rejects a signup by invitation with a bad token, a weak password or an oversized name', async () => {
    const signup = (body: unknown) => request(stack.url, 'POST', '/api/auth/accept-invitation', { body });
    expectError(await signup({ token: 'nope', password: 'a long and private passphrase' }), 400, 'validation_error', 'token');
    expectError(await signup({ token: `rlinv_${'a'.repeat(40)}`, password: 'short' }), 400, 'validation_error', 'password');
    expectError(await signup({ token: `rlinv_${'a'.repeat(40)}`, password: 'a long and private passphrase', name: long(201) }), 400, 'validation_error', 'name');
  });
});

type QueryCase = [name: string, path: () => string, field: string];
const QUERY_CASES: QueryCase[] = [
  ['members without teamId', () => '/api/team-members', 'teamId'],
  ['members with a malformed teamId', () => '/api/team-members?teamId=team_1', 'teamId'],
  ['members with limit=0', () => `/api/team-members?teamId=${t.teamId}&limit=0`, 'limit'],
  ['invitations with a project id as teamId', () => `/api/team-invitations?teamId=${t.projectId}`, 'teamId'],
  ['projects without teamId (for a user)', () => '/api/projects', 'teamId'],
  ['projects with limit=501', () => `/api/projects?teamId=${t.teamId}&limit=501`, 'limit'],
  ['keys without projectId', () => '/api/api-keys', 'projectId'],
  ['keys with an injection string as projectId', () => `/api/api-keys?projectId=${encodeURIComponent("proj_' OR 1=1 --")}`, 'projectId'],
  ['audit with a malformed teamId', () => '/api/audit?teamId=abc', 'teamId'],
  ['audit with a malformed action', () => `/api/audit?teamId=${t.teamId}&action=${encodeURIComponent('DROP TABLE')}`, 'action'],
  ['audit with a projectId but no teamId', () => `/api/audit?projectId=${t.projectId}`, 'teamId'],
  ['users with offset=-1', () => '/api/auth/users?offset=-1', 'offset'],
];

describe('query strings', () => {
  it.each(QUERY_CASES)('rejects %s → 400 validation_error', async (_, path, field) => {
    expectError(await request(stack.url, 'GET', path(), { token: t.token }), 400, 'validation_error', field);
  });
});
