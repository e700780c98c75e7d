import { randomBytes } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { signUserToken } from '../../domain/accounts/auth.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { adminToken } from '../support/tenants.ts';
import { client, request, type Res } from '../support/http.ts';
import { runBody, testBody } from '../support/fixtures.ts';
import { createUser, joinAsOwner, joinTeam, type Person } from '../support/people.ts';
import {
  ROUTE_FIXTURES, type Call, type Cred, type Outcome, type ProjectRefs, type Requirement, type RouteFixture, type TeamRefs, type World,
} from '../support/route-fixtures.ts';
import { mountedRoutes, type MountedRoute } from '../../lib/http/routes.ts';
import { ErrorBody } from '../../schemas/api.ts';
import { ERROR_CODES } from '../../lib/errors.ts';

// Isolation: two teams, two projects each, an API key of every scope on every
// project and a user of every role in every team (plus a user in no team and
// the instance administrator). Every route the app serves, enumerated from its
// mounted routers, is called with every credential against every project (or
// team) it may not see, and against its own with too low a role or scope:
//   - another project's or team's resources: 404 not_found (never 403, which would confirm the id);
//   - too low a role or scope: 403 insufficient_scope;
//   - enough: 2xx;
//   - and no response ever contains a marker or an id of data the credential may not see.

const ROLES = ['owner', 'admin', 'member', 'viewer'] as const;
const SCOPES = ['full', 'ingest', 'read'] as const;
type Role = (typeof ROLES)[number];
type Scope = (typeof SCOPES)[number];

// The spec (issue 4, docs/access.md): viewer reads; member also ingests; admin
// also manages keys, webhooks, settings and members; owner also deletes. Keys:
// full > ingest > read; no key manages keys, people or teams, or deletes.
const NEEDS: Record<Requirement, { role: Role; scope: Scope | null }> = {
  read: { role: 'viewer', scope: 'read' },
  ingest: { role: 'member', scope: 'ingest' },
  manage: { role: 'admin', scope: 'full' },
  manage_keys: { role: 'admin', scope: null },
  own: { role: 'owner', scope: null },
};
const ROLE_RANK: Record<Role, number> = { viewer: 1, member: 2, admin: 3, owner: 4 };
const SCOPE_RANK: Record<Scope, number> = { read: 1, ingest: 2, full: 3 };

type Credential = { label: string; cred: Cred; headers: Record<string, string>; visible: Set<string> };

let stack: TestStack;
let routes: MountedRoute[];
const credentials: Credential[] = [];
const projectRefs: ProjectRefs[] = [];
const teamRefs: TeamRefs[] = [];
// Every marker and id of the fixtures: what some credential must not see.
const universe = new Set<string>();
let world: World;
let calls = 0;

const mark = (what: string) => `${what}${randomBytes(5).toString('hex')}`;

beforeAll(async () => {
  stack = await startTestStack({ projections: ['postgres', 'clickhouse'] });
  routes = mountedRoutes(stack.app);
  const base = stack.url;
  const root = await adminToken(base);
  const rootId = (await client(base, { token: root }).get('/api/auth/me')).body.id as string;
  const as = (token: string) => client(base, { token });
  let n = 0;
  const unique = () => `${Date.now().toString(36)}${(n++).toString(36)}`;

  const people: Array<{ person: Person; teamIndex: number | null; role: Role | null; label: string }> = [];
  // What a member of a team may see: everything of the team and of its projects.
  const teamVisible: Array<Set<string>> = [];
  for (const [ti, teamLabel] of ['A', 'B'].entries()) {
    const tv = new Set<string>();
    teamVisible.push(tv);
    const add = (...xs: string[]) => xs.forEach((x) => (universe.add(x), tv.add(x)));
    const teamMarker = mark(`tmk${teamLabel}`);
    const userMarker = mark(`umk${teamLabel}`); // in the names and emails of the team's people
    const mk = (role: string) => createUser(base, root, `${role}.${userMarker}@example.com`, `${role} ${userMarker}`);
    const owner = await mk('owner');
    const team = await as(owner.token).post('/api/teams', { name: `team ${teamMarker}` });
    expect(team.status).toBe(201);
    const teamId = team.body.id as string;
    add(teamMarker, userMarker, teamId, owner.id);
    people.push({ person: owner, teamIndex: ti, role: 'owner', label: `owner of ${teamLabel}` });
    for (const role of ['admin', 'member', 'viewer'] as const) {
      const p = await mk(role);
      add(p.id, await joinTeam(base, owner.token, teamId, p, role));
      people.push({ person: p, teamIndex: ti, role, label: `${role} of ${teamLabel}` });
    }
    // a second owner (not a credential), and a bystander: the target of the member routes
    const coOwner = await mk('coowner');
    add(coOwner.id, await joinAsOwner(base, owner.token, teamId, coOwner));
    const bystander = await mk('bystander');
    const bystanderMember = await joinTeam(base, owner.token, teamId, bystander, 'viewer');
    const pending = await as(owner.token).post('/api/team-members', { teamId, email: `pending.${userMarker}@example.com`, role: 'member' });
    expect(pending.status).toBe(201);
    add(bystander.id, bystanderMember, pending.body.id);

    const projectIds: string[] = [];
    for (const pi of [1, 2]) {
      const marker = mark(`pmk${teamLabel}${pi}`);
      const project = await as(owner.token).post('/api/projects', { teamId, name: `project ${marker}` });
      expect(project.status).toBe(201);
      const projectId = project.body.id as string;
      projectIds.push(projectId);
      const keys = {} as Record<Scope, { id: string; key: string }>;
      for (const scope of SCOPES) {
        const k = await as(owner.token).post('/api/api-keys', { projectId, name: `${scope} ${marker}`, scope });
        expect(k.status).toBe(201);
        keys[scope] = { id: k.body.id, key: k.body.key };
      }
      const api = client(base, { key: keys.full.key });
      const baseline = await api.post('/api/runs', runBody(projectId, { commitMessage: `${marker} baseline` }));
      const run = await api.post('/api/runs', runBody(projectId, { commitMessage: marker }));
      const suite = await api.post('/api/test-suites', { runId: run.body.id, projectId, title: marker, filePath: 'x.spec.ts' });
      const test = await api.post('/api/tests', testBody(projectId, run.body.id, 1, { title: marker, suiteId: suite.body.id }));
      expect([baseline.status, run.status, suite.status, test.status]).toEqual([201, 201, 201, 201]);
      // a finished run: its live stream ends by itself
      expect((await api.patch(`/api/runs/${baseline.body.id}`, { status: 'passed' })).status).toBe(200);
      const webhook = await api.post('/api/webhooks', { projectId, url: `http://127.0.0.1:9/${marker}`, isActive: false });
      expect(webhook.status).toBe(201);
      const schedule = await api.post('/api/schedules', { projectId, name: marker, cron: '0 0 1 1 *' });
      expect(schedule.status).toBe(201);
      const form = new FormData();
      for (const [k, v] of [['type', 'screenshot'], ['runId', run.body.id], ['projectId', projectId]]) form.append(k!, v!);
      form.append('file', new Blob([new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0])]), `${marker}.png`);
      const artifact = await fetch(`${base}/api/upload`, { method: 'POST', body: form, headers: { 'x-api-key': keys.full.key } });
      expect(artifact.status).toBe(201);
      const refs: ProjectRefs = {
        projectId, teamId, runId: run.body.id, baselineRunId: baseline.body.id, testId: test.body.id, testCaseId: test.body.testCaseId, suiteId: suite.body.id,
        keyId: keys.read.id, artifactId: (await artifact.json()).id, webhookId: webhook.body.id, scheduleId: schedule.body.id, marker,
      };
      projectRefs.push(refs);
      const own = [marker, projectId, refs.runId, refs.baselineRunId, refs.testId, refs.testCaseId, refs.suiteId, refs.artifactId, refs.webhookId, refs.scheduleId, ...SCOPES.map((sc) => keys[sc].id)];
      add(...own);
      for (const scope of SCOPES) {
        credentials.push({
          label: `${scope} key of ${teamLabel}${pi}`,
          cred: { kind: 'key', projectId, teamId, scope },
          headers: { 'x-api-key': keys[scope].key },
          // its project, the name and id of its team (GET /api/teams), and the ids (not
          // names or emails) of the team's people, who appear as actors (quarantine history)
          visible: new Set([...own, teamMarker, teamId, ...[...tv].filter((x) => x.startsWith('user_'))]),
        });
      }
    }
    teamRefs.push({
      teamId, teamName: `team ${teamMarker}`, memberId: bystanderMember, invitationId: pending.body.id, invitationToken: pending.body.token,
      projectId: projectIds[0]!, ownerToken: owner.token,
    });
  }
  const outsider = await createUser(base, root, `outsider.${mark('umkO')}@example.com`);
  universe.add(outsider.id);
  people.push({ person: outsider, teamIndex: null, role: null, label: 'user in no team' });
  for (const p of people) {
    const roles: Record<string, Role> = p.teamIndex === null ? {} : { [teamRefs[p.teamIndex]!.teamId]: p.role! };
    const visible = new Set<string>([p.person.id, p.person.email, ...(p.teamIndex === null ? [] : teamVisible[p.teamIndex]!)]);
    credentials.push({ label: p.label, cred: { kind: 'user', roles, instanceAdmin: false }, headers: { authorization: `Bearer ${p.person.token}` }, visible });
  }
  // Personal API tokens act as their user, narrowed by their scope: a few of them.
  for (const [label, scope] of [['owner of A', 'full'], ['admin of A', 'read'], ['member of B', 'full'], ['user in no team', 'read']] as const) {
    const p = people.find((x) => x.label === label)!;
    const made = await as(p.person.token).post('/api/auth/tokens', { name: `matrix ${scope}`, scope });
    expect(made.status).toBe(201);
    const person = credentials.find((c) => c.label === label)!;
    credentials.push({
      label: `${scope} personal token of the ${label}`, cred: { ...(person.cred as Extract<Cred, { kind: 'user' }>), token: scope },
      headers: { authorization: `Bearer ${made.body.token}` }, visible: person.visible,
    });
  }
  // The instance administrator sees every user (GET /api/auth/users), and no team.
  const userThings = [...universe].filter((x) => x.startsWith('user_') || x.startsWith('umk'));
  credentials.push({
    label: 'instance administrator (in no team)', cred: { kind: 'user', roles: {}, instanceAdmin: true },
    headers: { authorization: `Bearer ${root}` }, visible: new Set([rootId, ...userThings]),
  });

  world = {
    unique,
    fresh: {
      run: async (projectId) => {
        const owner = teamRefs.find((t) => t.teamId === projectRefs.find((p) => p.projectId === projectId)!.teamId)!.ownerToken;
        return (await as(owner).post('/api/runs', runBody(projectId))).body.id;
      },
      project: async (teamId) => {
        const owner = teamRefs.find((t) => t.teamId === teamId)!.ownerToken;
        return (await as(owner).post('/api/projects', { teamId, name: `doomed ${unique()}` })).body.id;
      },
      key: async (projectId) => {
        const owner = teamRefs.find((t) => t.teamId === projectRefs.find((p) => p.projectId === projectId)!.teamId)!.ownerToken;
        return (await as(owner).post('/api/api-keys', { projectId, name: `doomed ${unique()}` })).body.id;
      },
      member: async (teamId) => {
        const owner = teamRefs.find((t) => t.teamId === teamId)!.ownerToken;
        const p = await createUser(base, root, `doomed.${unique()}@example.com`);
        return joinTeam(base, owner, teamId, p, 'viewer');
      },
      invitation: async (teamId) => {
        const owner = teamRefs.find((t) => t.teamId === teamId)!.ownerToken;
        return (await as(owner).post('/api/team-members', { teamId, email: `doomed.${unique()}@example.com`, role: 'viewer' })).body.id;
      },
      team: async (ownerToken) => (await as(ownerToken).post('/api/teams', { name: `doomed ${unique()}` })).body.id,
      webhook: async (projectId) => {
        const owner = teamRefs.find((t) => t.teamId === projectRefs.find((p) => p.projectId === projectId)!.teamId)!.ownerToken;
        return (await as(owner).post('/api/webhooks', { projectId, url: 'http://127.0.0.1:9/doomed', isActive: false })).body.id;
      },
      schedule: async (projectId) => {
        const owner = teamRefs.find((t) => t.teamId === projectRefs.find((p) => p.projectId === projectId)!.teamId)!.ownerToken;
        return (await as(owner).post('/api/schedules', { projectId, cron: '0 0 1 1 *' })).body.id;
      },
    },
  };
  await stack.waitForProjections();
}, 300_000);

afterAll(async () => {
  await stack?.stop();
});

// ---- expectations, from the spec above and who the credential is
// A personal token: what its user may, narrowed: never API keys; a read token
// only what needs `read` (and, on the user's own account, only GETs).
function expected(key: string, f: RouteFixture, c: Cred, target: ProjectRefs | TeamRefs | null): Outcome {
  const outcome = expectedOfCredential(f, c, target);
  if (outcome !== 'allow' || c.kind !== 'user' || !c.token) return outcome;
  const narrowed = { status: 403, code: 'insufficient_scope' };
  if (f.target === 'project' || f.target === 'team') {
    if (f.requires === 'manage_keys') return narrowed;
    return c.token === 'read' && NEEDS[f.requires].scope !== 'read' ? narrowed : 'allow';
  }
  return f.target === 'self' && c.token === 'read' && !key.startsWith('GET ') ? narrowed : 'allow';
}

function expectedOfCredential(f: RouteFixture, c: Cred, target: ProjectRefs | TeamRefs | null): Outcome {
  const denied = (status: number) => ({ status, code: status === 404 ? 'not_found' : 'insufficient_scope' });
  const byRole = (role: Role | undefined, req: Requirement) =>
    (!role ? denied(404) : ROLE_RANK[role] >= ROLE_RANK[NEEDS[req].role] ? 'allow' : denied(403));
  switch (f.target) {
    case 'open':
      return 'allow';
    case 'project': {
      const t = target as ProjectRefs;
      const override = f.expect?.(c, t);
      if (override) return override;
      if (c.kind === 'key') {
        if (c.projectId !== t.projectId) return denied(404);
        const need = NEEDS[f.requires].scope;
        return need && SCOPE_RANK[c.scope] >= SCOPE_RANK[need] ? 'allow' : denied(403);
      }
      return byRole(c.roles[t.teamId], f.requires);
    }
    case 'team': {
      const t = target as TeamRefs;
      const override = f.expect?.(c, t);
      if (override) return override;
      if (c.kind === 'key') return c.teamId !== t.teamId ? denied(404) : f.keysMayList ? 'allow' : denied(403);
      return byRole(c.roles[t.teamId], f.requires);
    }
    case 'self': {
      const override = f.expect?.(c);
      if (override) return override;
      if (f.requires === 'any') return 'allow';
      if (c.kind === 'key') return denied(403);
      return f.requires === 'user' || c.instanceAdmin ? 'allow' : denied(403);
    }
  }
}

function pathOf(route: MountedRoute, call: Call): string {
  const path = route.path.replace(/:(\w+)/g, (_, name: string) => {
    const v = call.params?.[name];
    if (v === undefined) throw new Error(`fixture of ${route.method} ${route.path} gives no :${name}`);
    return encodeURIComponent(v);
  });
  return call.query ? `${path}?${call.query}` : path;
}

// Another credential of the same caller (a user's second token; a key as it is),
// for calls that end the credential they are made with.
function twin(headers: Record<string, string>): Record<string, string> {
  const token = /^Bearer (?!rlp?_)(\S+)$/.exec(headers.authorization ?? '')?.[1];
  if (!token) return headers;
  const payload = jwt.decode(token) as { sub: string; sv: number };
  return { ...headers, authorization: `Bearer ${signUserToken(payload.sub, stack.config.jwtSecret, 600, payload.sv)}` };
}

async function send(route: MountedRoute, call: Call, headers: Record<string, string>): Promise<Res> {
  calls++;
  if (!call.form) return request(stack.url, route.method, pathOf(route, call), { body: call.body, headers });
  const form = new FormData();
  for (const [k, v] of Object.entries(call.form)) form.append(k, v);
  const res = await fetch(stack.url + pathOf(route, call), { method: route.method, body: form, headers });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: text ? JSON.parse(text) : undefined };
}

// A batch's one item, judged as if it had been its own request.
function asItem(res: Res): Res {
  const item = res.status === 200 ? res.body?.results?.[0] : undefined;
  if (!item || item.status === 'accepted') return res;
  return { ...res, status: ERROR_CODES[item.error.code as keyof typeof ERROR_CODES] ?? 500, body: { error: item.error } };
}

// A finding for one call, or null.
function check(res: Res, want: Outcome, visible: Set<string>, sent: string): string | null {
  if (want === 'allow') {
    if (res.status < 200 || res.status > 299) return `expected 2xx, got ${res.status} ${res.text.slice(0, 200)}`;
  } else {
    if (res.status !== want.status) return `expected ${want.status} ${want.code}, got ${res.status} ${res.text.slice(0, 200)}`;
    if (!ErrorBody.safeParse(res.body).success || res.body.error.code !== want.code) return `expected code ${want.code}, got ${res.text.slice(0, 200)}`;
  }
  const leaked = [...universe].filter((x) => !visible.has(x) && !sent.includes(x) && res.text.includes(x));
  return leaked.length ? `response contains what the caller may not see: ${leaked.join(', ')}` : null;
}

describe('the route list', () => {
  it('is read from the routers mounted on the app', () => {
    expect(routes.length).toBeGreaterThan(40);
    expect(routes).toContainEqual({ method: 'GET', path: '/api/runs/:id' });
  });

  it('has a fixture for every mounted route (add yours to test/support/route-fixtures.ts)', () => {
    const missing = routes.map((r) => `${r.method} ${r.path}`).filter((k) => !ROUTE_FIXTURES[k]);
    expect(missing).toEqual([]);
  });

  it('has no fixture for a route that does not exist', () => {
    const mounted = new Set(routes.map((r) => `${r.method} ${r.path}`));
    expect(Object.keys(ROUTE_FIXTURES).filter((k) => !mounted.has(k))).toEqual([]);
  });
});

describe('every route, with every credential, against every project and team', () => {
  it('has the credentials and targets the matrix needs', () => {
    // 3 keys on each of 4 projects; 4 roles in each of 2 teams; a user in no team; the instance administrator; 4 personal tokens
    expect(credentials.length).toBe(3 * 4 + 4 * 2 + 2 + 4);
    expect([projectRefs.length, teamRefs.length]).toEqual([4, 2]);
  });

  // One test per route, so a failure names the route; every finding is listed.
  it.each(Object.keys(ROUTE_FIXTURES))('%s', async (key) => {
    const route = routes.find((r) => `${r.method} ${r.path}` === key);
    expect(route, `${key} is not mounted`).toBeDefined();
    const f = ROUTE_FIXTURES[key]!;
    const findings: string[] = [];
    if (f.target === 'open') {
      const call = f.call();
      const res = await send(route!, call, {});
      const sent = JSON.stringify(call);
      if (res.status !== f.expect.status || (f.expect.code && res.body?.error?.code !== f.expect.code)) {
        findings.push(`without a credential: expected ${f.expect.status}, got ${res.status} ${res.text.slice(0, 200)}`);
      }
      const leaked = [...universe].filter((x) => !sent.includes(x) && res.text.includes(x));
      if (leaked.length) findings.push(`leaks ${leaked.join(', ')}`);
      expect(findings).toEqual([]);
      return;
    }
    const targets: Array<ProjectRefs | TeamRefs | null> = f.target === 'project' ? projectRefs : f.target === 'team' ? teamRefs : [null];
    for (const c of credentials) {
      for (const t of targets) {
        const want = expected(key, f, c.cred, t);
        let call: Call;
        if (f.target === 'self') call = f.call(world);
        else if (f.target === 'project') {
          const refs = want === 'allow' && f.fresh ? { ...(t as ProjectRefs), ...(await f.fresh(t as ProjectRefs, world)) } : t as ProjectRefs;
          call = f.call(refs, world);
        } else {
          const refs = want === 'allow' && f.fresh ? { ...(t as TeamRefs), ...(await f.fresh(t as TeamRefs, world)) } : t as TeamRefs;
          call = f.call(refs, world);
        }
        const sent = await send(route!, call, f.target === 'self' && f.endsCredential ? twin(c.headers) : c.headers);
        const res = f.target === 'project' && f.perItem ? asItem(sent) : sent;
        const finding = check(res, want, c.visible, JSON.stringify(call));
        const on = t ? ('runId' in t ? `project ${projectRefs.indexOf(t)}` : `team ${teamRefs.indexOf(t)}`) : 'itself';
        if (finding) findings.push(`${c.label} → ${on}: ${finding}`);
      }
    }
    expect(findings).toEqual([]);
  });

  it('made every call it planned (routes × credentials × targets)', () => {
    // logged for the record: the size of the matrix
    console.log(`isolation matrix: ${routes.length} routes, ${credentials.length} credentials, ${calls} calls`);
    expect(calls).toBeGreaterThan(routes.length * credentials.length);
  });
});
