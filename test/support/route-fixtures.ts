import { runBody, testBody } from './fixtures.ts';

// How to call each route of the API for the isolation matrix
// (test/integration/isolation-matrix.test.ts): which project or team a call is
// about, the permission it needs, and its path parameters, query and body.
// The matrix walks the routes mounted on the app and fails for a route that has
// no entry here: a new route cannot be forgotten. Add yours; see docs/access.md.

// The permissions of docs/access.md, restated here as the test's own spec.
export type Requirement = 'read' | 'ingest' | 'manage' | 'manage_keys' | 'own';

export type ProjectRefs = {
  projectId: string; teamId: string; runId: string; baselineRunId: string; testId: string; testCaseId: string; suiteId: string;
  keyId: string; artifactId: string; webhookId: string; scheduleId: string; marker: string;
};
export type TeamRefs = { teamId: string; teamName: string; memberId: string; invitationId: string; invitationToken: string; projectId: string; ownerToken: string };

// Makers of throwaway resources, so that calls that are allowed to destroy
// something destroy a copy and leave the fixtures for the other calls.
export type Fresh = {
  project(teamId: string): Promise<string>;
  key(projectId: string): Promise<string>;
  member(teamId: string): Promise<string>;
  invitation(teamId: string): Promise<string>;
  team(ownerToken: string): Promise<string>;
  run(projectId: string): Promise<string>;
  webhook(projectId: string): Promise<string>;
  schedule(projectId: string): Promise<string>;
};
export type World = { fresh: Fresh; unique(): string };

// `form` sends multipart/form-data instead of a JSON body.
export type Call = { params?: Record<string, string>; query?: string; body?: unknown; form?: Record<string, string | Blob> };
export type Cred = { kind: 'key'; projectId: string; teamId: string; scope: 'full' | 'ingest' | 'read' }
  // token: a personal API token of that user (its scope), instead of a session
  | { kind: 'user'; roles: Record<string, 'owner' | 'admin' | 'member' | 'viewer'>; instanceAdmin: boolean; token?: 'read' | 'full' };
export type Outcome = 'allow' | { status: number; code: string };

export type RouteFixture =
  | { target: 'open'; call(): Call; expect: { status: number; code?: string } }
  | {
    target: 'project'; requires: Requirement;
    // a batch answers 200 with a result per item: its one item's result is judged
    perItem?: boolean;
    call(t: ProjectRefs, w: World): Call;
    // an answer that does not depend on the target project, so confirms nothing about it
    expect?(c: Cred, t: ProjectRefs): Outcome | undefined;
    // for allowed calls that destroy their target: refs of a throwaway one
    fresh?(t: ProjectRefs, w: World): Promise<Partial<ProjectRefs>>;
  }
  | {
    target: 'team'; requires: Requirement;
    // an API key of one of the team's projects is allowed (a list scoped to its project)
    keysMayList?: boolean;
    call(t: TeamRefs, w: World): Call;
    fresh?(t: TeamRefs, w: World): Promise<Partial<TeamRefs>>;
    expect?(c: Cred, t: TeamRefs): Outcome | undefined;
  }
  | {
    target: 'self'; requires: 'any' | 'user' | 'instance_admin'; call(w: World): Call; expect?(c: Cred): Outcome | undefined;
    // the call ends the credential it is made with (logout): made with a twin of it, so the matrix's own one lives on
    endsCredential?: boolean;
  };

const id = (value: string) => ({ params: { id: value } });
const email = (w: World, what: string) => `${what}.${w.unique()}@example.com`;

export const ROUTE_FIXTURES: Record<string, RouteFixture> = {
  // ---- open: no credential involved (checked once, without one)
  'GET /health': { target: 'open', call: () => ({}), expect: { status: 200 } },
  'GET /health/ready': { target: 'open', call: () => ({}), expect: { status: 200 } },
  // the matrix's stack runs no blobs projector, so that group has lag and no heartbeat: stalled
  'GET /health/deep': { target: 'open', call: () => ({}), expect: { status: 503 } },
  'GET /metrics': { target: 'open', call: () => ({}), expect: { status: 200 } },
  'GET /openapi.json': { target: 'open', call: () => ({}), expect: { status: 200 } },
  'GET /docs': { target: 'open', call: () => ({}), expect: { status: 200 } },
  'GET /docs/assets/:file': { target: 'open', call: () => ({ params: { file: 'init.js' } }), expect: { status: 200 } },
  'GET /api/auth/setup': { target: 'open', call: () => ({}), expect: { status: 200 } },
  // signed out (no cookie): 200 with user null
  'GET /api/auth/session': { target: 'open', call: () => ({}), expect: { status: 200 } },
  'POST /api/auth/setup': { target: 'open', call: () => ({ body: { email: 'late@example.com', password: 'another long passphrase' } }), expect: { status: 409, code: 'setup_complete' } },
  'POST /api/auth/login': { target: 'open', call: () => ({ body: { email: 'nobody@example.com', password: 'not the password' } }), expect: { status: 401, code: 'invalid_auth' } },
  'POST /api/auth/accept-invitation': {
    target: 'open', call: () => ({ body: { token: `rlinv_${'x'.repeat(40)}`, password: 'a brand new passphrase' } }), expect: { status: 404, code: 'not_found' },
  },

  // ---- ingest
  'POST /api/runs': { target: 'project', requires: 'ingest', call: (t) => ({ body: runBody(t.projectId, { runTitle: t.marker }) }) },
  'DELETE /api/runs/:id': {
    target: 'project', requires: 'manage', call: (t) => id(t.runId),
    fresh: async (t, w) => ({ runId: await w.fresh.run(t.projectId) }),
  },
  'POST /api/ingest/batch': {
    target: 'project', requires: 'ingest', perItem: true,
    // a read key can ingest into no project: the whole batch is refused up front
    expect: (c) => (c.kind === 'key' && c.scope === 'read' ? { status: 403, code: 'insufficient_scope' } : undefined),
    call: (t) => ({ body: [{ type: 'test', ...testBody(t.projectId, t.runId, 2, { title: t.marker }) }] }),
  },
  'POST /api/upload': {
    target: 'project', requires: 'ingest',
    call: (t) => ({ form: { type: 'screenshot', runId: t.runId, projectId: t.projectId, file: new Blob([new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0])]) } }),
  },
  'GET /api/artifacts': { target: 'project', requires: 'read', call: (t) => ({ query: `runId=${t.runId}` }) },
  'GET /api/artifacts/:id': { target: 'project', requires: 'read', call: (t) => id(t.artifactId) },
  'GET /artifacts/:projectId/:runId/:file': {
    target: 'open', expect: { status: 403, code: 'forbidden' },
    call: () => ({ params: { projectId: 'proj_x', runId: 'run_x', file: 'a.png' }, query: 'expires=1&token=forged' }),
  },
  'PATCH /api/runs/:id': { target: 'project', requires: 'ingest', call: (t) => ({ ...id(t.runId), body: { totalTests: 1 } }) },
  'POST /api/tests': { target: 'project', requires: 'ingest', call: (t) => ({ body: testBody(t.projectId, t.runId, 1, { title: t.marker }) }) },
  'POST /api/test-suites': { target: 'project', requires: 'ingest', call: (t) => ({ body: { runId: t.runId, projectId: t.projectId, title: t.marker, filePath: 'a.spec.ts' } }) },

  // ---- reads of test data
  'GET /api/runs': { target: 'project', requires: 'read', call: (t) => ({ query: `projectId=${t.projectId}` }) },
  'GET /api/runs/:id': { target: 'project', requires: 'read', call: (t) => id(t.runId) },
  'GET /api/tests': { target: 'project', requires: 'read', call: (t) => ({ query: `projectId=${t.projectId}&runId=${t.runId}` }) },
  'GET /api/tests/:id': { target: 'project', requires: 'read', call: (t) => id(t.testId) },
  'GET /api/tests/:id/steps': { target: 'project', requires: 'read', call: (t) => id(t.testId) },
  'GET /api/tests/:id/history': { target: 'project', requires: 'read', call: (t) => id(t.testCaseId) },
  'GET /api/test-suites': { target: 'project', requires: 'read', call: (t) => ({ query: `runId=${t.runId}` }) },

  // ---- flakiness and quarantine
  'GET /api/flakiness': { target: 'project', requires: 'read', call: (t) => ({ query: `projectId=${t.projectId}` }) },
  'POST /api/flakiness': {
    target: 'project', requires: 'ingest',
    call: (t) => ({ body: { projectId: t.projectId, testId: t.testCaseId, isQuarantined: true, reason: t.marker } }),
  },
  'GET /api/quarantine': { target: 'project', requires: 'read', call: (t) => ({ query: `projectId=${t.projectId}` }) },
  'GET /api/tests/:id/flakiness': { target: 'project', requires: 'read', call: (t) => id(t.testCaseId) },
  'GET /api/tests/:id/quarantine-history': { target: 'project', requires: 'read', call: (t) => id(t.testCaseId) },

  // ---- analytics
  'GET /api/analytics/trends': { target: 'project', requires: 'read', call: (t) => ({ query: `projectId=${t.projectId}&metric=pass_rate` }) },
  'GET /api/analytics/leaderboards': { target: 'project', requires: 'read', call: (t) => ({ query: `projectId=${t.projectId}&type=failing` }) },
  'GET /api/analytics/errors': { target: 'project', requires: 'read', call: (t) => ({ query: `projectId=${t.projectId}` }) },
  'GET /api/runs/:id/compare/:baselineId': { target: 'project', requires: 'read', call: (t) => ({ params: { id: t.runId, baselineId: t.baselineRunId } }) },
  'GET /api/analytics/compare': { target: 'project', requires: 'read', call: (t) => ({ query: `runIds=${t.runId},${t.baselineRunId}` }) },

  // ---- live runs (the baseline run is finished, so its stream ends)
  'GET /api/runs/:id/stream': { target: 'project', requires: 'read', call: (t) => id(t.baselineRunId) },

  // ---- webhooks (the fixtures' hooks are inactive and point at a closed loopback port)
  'GET /api/webhooks': { target: 'project', requires: 'read', call: (t) => ({ query: `projectId=${t.projectId}` }) },
  'POST /api/webhooks': { target: 'project', requires: 'manage', call: (t) => ({ body: { projectId: t.projectId, url: `http://127.0.0.1:9/${t.marker}`, isActive: false } }) },
  'GET /api/webhooks/:id': { target: 'project', requires: 'read', call: (t) => id(t.webhookId) },
  'PATCH /api/webhooks/:id': { target: 'project', requires: 'manage', call: (t) => ({ ...id(t.webhookId), body: { isActive: false } }) },
  'DELETE /api/webhooks/:id': {
    target: 'project', requires: 'manage', call: (t) => id(t.webhookId),
    fresh: async (t, w) => ({ webhookId: await w.fresh.webhook(t.projectId) }),
  },
  'GET /api/webhooks/:id/deliveries': { target: 'project', requires: 'read', call: (t) => id(t.webhookId) },
  'POST /api/webhooks/:id/test': { target: 'project', requires: 'manage', call: (t) => id(t.webhookId) },

  // ---- scheduled digests (the fixtures' schedules run once a year)
  'GET /api/schedules': { target: 'project', requires: 'read', call: (t) => ({ query: `projectId=${t.projectId}` }) },
  'POST /api/schedules': { target: 'project', requires: 'manage', call: (t) => ({ body: { projectId: t.projectId, name: t.marker, cron: '0 0 1 1 *' } }) },
  'GET /api/schedules/:id': { target: 'project', requires: 'read', call: (t) => id(t.scheduleId) },
  'PATCH /api/schedules/:id': { target: 'project', requires: 'manage', call: (t) => ({ ...id(t.scheduleId), body: { name: t.marker } }) },
  'DELETE /api/schedules/:id': {
    target: 'project', requires: 'manage', call: (t) => id(t.scheduleId),
    fresh: async (t, w) => ({ scheduleId: await w.fresh.schedule(t.projectId) }),
  },
  'POST /api/schedules/:id/pause': { target: 'project', requires: 'manage', call: (t) => id(t.scheduleId) },
  'POST /api/schedules/:id/resume': { target: 'project', requires: 'manage', call: (t) => id(t.scheduleId) },
  'POST /api/schedules/:id/trigger': { target: 'project', requires: 'manage', call: (t) => id(t.scheduleId) },

  // ---- projects and settings
  'GET /api/projects': { target: 'team', requires: 'read', keysMayList: true, call: (t) => ({ query: `teamId=${t.teamId}` }) },
  'POST /api/projects': { target: 'team', requires: 'manage', call: (t, w) => ({ body: { teamId: t.teamId, name: `created ${w.unique()}` } }) },
  'GET /api/projects/:id': { target: 'project', requires: 'read', call: (t) => id(t.projectId) },
  'PATCH /api/projects/:id': { target: 'project', requires: 'manage', call: (t) => ({ ...id(t.projectId), body: { name: `${t.marker} project` } }) },
  'DELETE /api/projects/:id': {
    target: 'project', requires: 'own', call: (t) => id(t.projectId),
    fresh: async (t, w) => ({ projectId: await w.fresh.project(t.teamId) }),
  },
  'GET /api/projects/:id/settings': { target: 'project', requires: 'read', call: (t) => id(t.projectId) },
  'PATCH /api/projects/:id/settings': { target: 'project', requires: 'manage', call: (t) => ({ ...id(t.projectId), body: { flakinessThreshold: 0.3 } }) },

  // ---- API keys
  'GET /api/api-keys': { target: 'project', requires: 'manage_keys', call: (t) => ({ query: `projectId=${t.projectId}` }) },
  'POST /api/api-keys': { target: 'project', requires: 'manage_keys', call: (t) => ({ body: { projectId: t.projectId, name: `${t.marker} key`, scope: 'read' } }) },
  'PATCH /api/api-keys/:id': { target: 'project', requires: 'manage_keys', call: (t) => ({ ...id(t.keyId), body: { isActive: true } }) },
  'DELETE /api/api-keys/:id': {
    target: 'project', requires: 'manage_keys', call: (t) => id(t.keyId),
    fresh: async (t, w) => ({ keyId: await w.fresh.key(t.projectId) }),
  },

  // ---- teams
  'GET /api/teams': { target: 'self', requires: 'any', call: () => ({}) },
  'POST /api/teams': { target: 'self', requires: 'user', call: (w) => ({ body: { name: `team ${w.unique()}` } }) },
  'GET /api/teams/:id': { target: 'team', requires: 'read', call: (t) => id(t.teamId) },
  'PATCH /api/teams/:id': { target: 'team', requires: 'manage', call: (t) => ({ ...id(t.teamId), body: { name: t.teamName } }) },
  'DELETE /api/teams/:id': {
    target: 'team', requires: 'own', call: (t) => id(t.teamId),
    fresh: async (t, w) => ({ teamId: await w.fresh.team(t.ownerToken) }),
  },

  // ---- members and invitations
  'GET /api/team-members': { target: 'team', requires: 'read', call: (t) => ({ query: `teamId=${t.teamId}` }) },
  'POST /api/team-members': { target: 'team', requires: 'manage', call: (t, w) => ({ body: { teamId: t.teamId, email: email(w, 'invitee'), role: 'viewer' } }) },
  'PATCH /api/team-members/:id': { target: 'team', requires: 'manage', call: (t) => ({ ...id(t.memberId), body: { role: 'viewer' } }) },
  'DELETE /api/team-members/:id': {
    target: 'team', requires: 'manage', call: (t) => id(t.memberId),
    fresh: async (t, w) => ({ memberId: await w.fresh.member(t.teamId) }),
  },
  // The token is the credential: anyone but the invited person is refused.
  'POST /api/team-members/accept': {
    target: 'team', requires: 'read', call: (t) => ({ body: { token: t.invitationToken } }),
    // a read personal token may not accept for its user
    expect: (c) => (c.kind === 'key' || c.token === 'read' ? { status: 403, code: 'insufficient_scope' } : { status: 403, code: 'forbidden' }),
  },
  'GET /api/team-invitations': { target: 'team', requires: 'manage', call: (t) => ({ query: `teamId=${t.teamId}` }) },
  'DELETE /api/team-invitations/:id': {
    target: 'team', requires: 'manage', call: (t) => id(t.invitationId),
    fresh: async (t, w) => ({ invitationId: await w.fresh.invitation(t.teamId) }),
  },
  'GET /api/audit': { target: 'team', requires: 'manage', call: (t) => ({ query: `teamId=${t.teamId}` }) },

  // ---- people
  'GET /api/auth/me': { target: 'self', requires: 'user', call: () => ({}) },
  'GET /api/auth/users': { target: 'self', requires: 'instance_admin', call: () => ({}) },
  'POST /api/auth/users': { target: 'self', requires: 'instance_admin', call: (w) => ({ body: { email: email(w, 'made'), password: 'a long and private passphrase' } }) },
  // Changing one's password for real would end the session the matrix uses:
  // a wrong current password shows the route is reachable, and by whom.
  'POST /api/auth/change-password': {
    target: 'self', requires: 'user', call: () => ({ body: { currentPassword: 'not the current one', newPassword: 'a new and private passphrase' } }),
    expect: (c) => (c.kind === 'user' ? (c.token === 'read' ? { status: 403, code: 'insufficient_scope' } : { status: 400, code: 'validation_error' }) : undefined),
  },
  // personal API tokens: a session creates them, a token cannot
  'POST /api/auth/tokens': {
    target: 'self', requires: 'user', call: (w) => ({ body: { name: `matrix ${w.unique()}`, scope: 'read' } }),
    expect: (c) => (c.kind === 'user' && c.token ? { status: 403, code: 'insufficient_scope' } : undefined),
  },
  'GET /api/auth/tokens': { target: 'self', requires: 'user', call: () => ({}) },
  // someone else's (or no one's) token: 404 for every user
  'DELETE /api/auth/tokens/:id': {
    target: 'self', requires: 'user', call: () => id('pat_01JAAAAAAAAAAAAAAAAAAAAAAA'),
    expect: (c) => (c.kind !== 'user' ? undefined : c.token === 'read' ? { status: 403, code: 'insufficient_scope' } : { status: 404, code: 'not_found' }),
  },
  'GET /api/flakiness/transitions': { target: 'project', requires: 'read', call: (t) => ({ query: `projectId=${t.projectId}` }) },
  'GET /api/overview': { target: 'team', requires: 'read', call: (t) => ({ query: `teamId=${t.teamId}` }) },
  'PATCH /api/auth/me': { target: 'self', requires: 'user', call: () => ({ body: { name: 'Matrix Person' } }) },
  // a personal token is revoked by its id, not logged out of
  'POST /api/auth/logout': {
    target: 'self', requires: 'user', endsCredential: true, call: () => ({}),
    expect: (c) => (c.kind === 'user' && c.token ? { status: 403, code: 'insufficient_scope' } : undefined),
  },
};
