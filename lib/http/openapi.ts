import { z } from 'zod';
import { ERROR_CODES, type ErrorCode } from '../errors.ts';
import type { MountedRoute } from './routes.ts';
import { EVENT_BODIES, exampleOf, fittedExample } from './openapi-examples.ts';
import { id } from '../../schemas/common.ts';
import * as api from '../../schemas/api.ts';
import * as acc from '../../schemas/accounts.ts';
import * as fl from '../../schemas/flakiness.ts';
import * as an from '../../schemas/analytics.ts';
import * as wh from '../../schemas/webhooks.ts';
import { BatchItem, BatchResponse } from '../../schemas/batch.ts';
import * as pt from '../../schemas/personal-tokens.ts';
import { Artifact, ArtifactsQuery, UploadFields } from '../../schemas/upload.ts';
import { Overview, OverviewQuery, Transitions, TransitionsQuery } from '../../schemas/overview.ts';

// The OpenAPI 3.1 document of the API (GET /openapi.json, rendered by GET /docs).
// Request bodies, queries and path ids are the very zod schemas the routes
// parse with (z.toJSONSchema, input side); responses name their zod schema where
// the route has one, else a plain object. The route list is the app's mounted
// routers (lib/http/routes.ts): a route with no entry in ROUTE_DOCS is left out
// of the document and reported by `undocumented` (test/integration/openapi.test.ts
// fails on it). Error responses are derived from what a route does (credential,
// input, body, append to the log) plus its own `errors`, with the codes of
// docs/errors.md.

type Access = 'open' | 'signed-url' | 'credential';
export type RouteDoc = {
  summary: string;
  tag: string;
  access?: Access; // default 'credential'
  // the permission of docs/access.md, or who may call it
  permission?: 'read' | 'ingest' | 'manage' | 'manage_keys' | 'own' | 'user' | 'instance_admin' | 'any';
  params?: Record<string, z.ZodType>;
  query?: z.ZodObject<z.ZodRawShape>;
  body?: z.ZodType;
  bodyType?: 'json' | 'multipart' | 'batch';
  // the answer; `schema` null: its shape is described in the summary only
  ok: { status: number; schema?: z.ZodType | null; contentType?: string; name?: string };
  // appends to the event log: 503 unavailable when Kafka cannot be reached
  appends?: boolean;
  errors?: ErrorCode[];
  // when the schema alone cannot give a valid example (lib/http/openapi-examples.ts)
  examples?: { request?: unknown; response?: unknown };
};

const runId = { id: id('run') };
const testOrCase = { id: fl.TestOrCaseId };
const R = (name: string, schema: z.ZodType) => ({ name, schema });
const list = (item: z.ZodType) => api.listOf(item);

const webhookId = { id: id('webhook') };
const scheduleId = { id: id('schedule') };

export const ROUTE_DOCS: Record<string, RouteDoc> = {
  // ---- webhooks and schedules (docs/webhooks.md)
  'GET /api/webhooks': { tag: 'webhooks', permission: 'read', query: wh.WebhooksQuery, summary: 'The webhooks of a project (secrets and header values masked).', ok: { status: 200, ...R('WebhookList', list(wh.Webhook)) } },
  'POST /api/webhooks': {
    tag: 'webhooks', permission: 'manage', body: wh.WebhookCreateBody,
    summary: 'Create a webhook; the `whsec_…` secret (generated when not given) is in this answer only. Private or non-https targets are refused (400) unless the server allows them.',
    ok: { status: 201, ...R('WebhookCreated', wh.WebhookCreated) },
  },
  'GET /api/webhooks/:id': { tag: 'webhooks', permission: 'read', params: webhookId, summary: 'A webhook (secret masked).', ok: { status: 200, ...R('Webhook', wh.Webhook) } },
  'PATCH /api/webhooks/:id': { tag: 'webhooks', permission: 'manage', params: webhookId, body: wh.WebhookPatchBody, summary: 'Change a webhook (url, events, headers, secret, isActive, thresholds).', ok: { status: 200, ...R('Webhook', wh.Webhook) } },
  'DELETE /api/webhooks/:id': { tag: 'webhooks', permission: 'manage', params: webhookId, summary: 'Delete a webhook and its pending deliveries.', ok: { status: 200, ...R('Deleted', acc.Deleted) } },
  'GET /api/webhooks/:id/deliveries': {
    tag: 'webhooks', permission: 'read', params: webhookId, query: wh.DeliveriesQuery,
    summary: 'Recent deliveries: event, status code, attempts, next attempt, duration, response excerpt.', ok: { status: 200, ...R('DeliveryList', list(wh.WebhookDelivery)) },
  },
  'POST /api/webhooks/:id/test': { tag: 'webhooks', permission: 'manage', params: webhookId, summary: 'Send a signed test delivery now (event `webhook.test`) and answer with its outcome.', ok: { status: 200, ...R('WebhookDelivery', wh.WebhookDelivery) } },
  'GET /api/schedules': { tag: 'schedules', permission: 'read', query: wh.SchedulesQuery, summary: 'The digest schedules of a project.', ok: { status: 200, ...R('ScheduleList', list(wh.Schedule)) } },
  'POST /api/schedules': { tag: 'schedules', permission: 'manage', body: wh.ScheduleCreateBody, summary: 'Create a digest schedule (cron expression and time zone); each due time sends `digest.ready` to the project\'s webhooks.', ok: { status: 201, ...R('Schedule', wh.Schedule) } },
  'GET /api/schedules/:id': { tag: 'schedules', permission: 'read', params: scheduleId, summary: 'A schedule with its next due time.', ok: { status: 200, ...R('Schedule', wh.Schedule) } },
  'PATCH /api/schedules/:id': { tag: 'schedules', permission: 'manage', params: scheduleId, body: wh.SchedulePatchBody, summary: 'Change a schedule.', ok: { status: 200, ...R('Schedule', wh.Schedule) } },
  'DELETE /api/schedules/:id': { tag: 'schedules', permission: 'manage', params: scheduleId, summary: 'Delete a schedule.', ok: { status: 200, ...R('Deleted', acc.Deleted) } },
  'POST /api/schedules/:id/pause': { tag: 'schedules', permission: 'manage', params: scheduleId, summary: 'Pause a schedule.', ok: { status: 200, ...R('Schedule', wh.Schedule) } },
  'POST /api/schedules/:id/resume': { tag: 'schedules', permission: 'manage', params: scheduleId, summary: 'Resume a schedule (its next due time from now).', ok: { status: 200, ...R('Schedule', wh.Schedule) } },
  'POST /api/schedules/:id/trigger': { tag: 'schedules', permission: 'manage', params: scheduleId, summary: 'Send a digest now, outside the schedule.', ok: { status: 202, ...R('ScheduleTriggered', wh.ScheduleTriggered) } },

  // ---- health and metrics
  'GET /health': { tag: 'health', access: 'open', summary: 'Liveness: the process serves.', ok: { status: 200, schema: z.object({ status: z.literal('ok') }) } },
  'GET /health/ready': {
    tag: 'health', access: 'open', summary: 'Readiness: Kafka, Postgres and ClickHouse answer (503 with the failing checks otherwise).',
    ok: { status: 200, ...R('HealthReady', api.HealthReady) }, errors: [],
  },
  'GET /health/deep': {
    tag: 'health', access: 'open', summary: 'Each dependency with latency; each projection\'s consumer lag per partition, live instances, last batch and commit; 503 if a projection has lag and no live instance.',
    ok: { status: 200, ...R('HealthDeep', api.HealthDeep) },
  },
  'GET /metrics': { tag: 'health', access: 'open', summary: 'Prometheus metrics (text exposition format).', ok: { status: 200, schema: null, contentType: 'text/plain' } },
  'GET /openapi.json': { tag: 'docs', access: 'open', summary: 'This OpenAPI 3.1 document.', ok: { status: 200, schema: null } },
  'GET /docs': { tag: 'docs', access: 'open', summary: 'The interactive API explorer (Swagger UI, served locally) on /openapi.json: "Authorize" with an API key or a token, then "Try it out".', ok: { status: 200, schema: null, contentType: 'text/html' } },
  'GET /docs/assets/:file': {
    tag: 'docs', access: 'open', params: { file: z.enum(['swagger-ui.css', 'swagger-ui-bundle.js', 'favicon-32x32.png', 'init.js']) },
    summary: 'The files of the explorer (Swagger UI from swagger-ui-dist, and its start-up script).', ok: { status: 200, schema: null, contentType: 'application/octet-stream' }, errors: ['not_found'],
  },

  // ---- auth
  'GET /api/auth/setup': { tag: 'auth', access: 'open', summary: 'Whether the instance still needs its first administrator.', ok: { status: 200, schema: z.object({ needsSetup: z.boolean() }) } },
  'POST /api/auth/setup': {
    tag: 'auth', access: 'open', summary: 'Create the first user (an instance administrator); rate-limited per IP.', body: api.SetupBody,
    ok: { status: 201, ...R('AuthResponse', api.AuthResponse) }, errors: ['setup_complete', 'rate_limited'],
  },
  'POST /api/auth/login': {
    tag: 'auth', access: 'open', summary: 'Log in: a JWT in the answer, and the dashboard\'s `rl_session` (HttpOnly) and `rl_csrf` cookies; rate-limited per IP.', body: api.LoginBody,
    ok: { status: 200, ...R('AuthResponse', api.AuthResponse) }, errors: ['invalid_auth', 'rate_limited'],
  },
  'POST /api/auth/accept-invitation': {
    tag: 'auth', access: 'open', summary: 'Join a team by invitation token, creating the account for the invited address; rate-limited per IP.',
    body: acc.InvitationSignupBody, ok: { status: 201, ...R('InvitationSignupResponse', acc.InvitationSignupResponse) }, errors: ['not_found', 'conflict', 'rate_limited'],
  },
  'GET /api/auth/me': { tag: 'auth', permission: 'user', summary: 'Who am I, with my teams and roles; with the dashboard\'s session cookie also `csrfToken`, the value for `X-CSRF-Token`.', ok: { status: 200, ...R('Me', acc.Me) } },
  'GET /api/auth/session': {
    tag: 'auth', access: 'open',
    summary: 'The dashboard\'s first question: the user of the `rl_session` cookie (as `GET /api/auth/me` answers it, with `csrfToken`), or `user: null` when there is no cookie or its session ended, with `needsSetup`. Always 200; header credentials are not read here.',
    ok: { status: 200, ...R('SessionStatus', acc.SessionStatus) },
  },
  'GET /api/overview': {
    tag: 'analytics', permission: 'user', query: OverviewQuery,
    summary: 'The dashboard overview in one request: my teams (or `teamId`) and their projects, each with runs, pass rate, flaky and broken counts (last scoring), the last run, and a daily series over `days` (default 14): runs, pass rate, distinct flaky and failed test cases.',
    ok: { status: 200, ...R('Overview', Overview) },
  },
  'GET /api/flakiness/transitions': {
    tag: 'flakiness', permission: 'read', query: TransitionsQuery,
    summary: 'Test transitions over `period` by `interval` (default week): per bucket, test cases stable, flaky or broken by that bucket\'s outcomes, and how many moved between those states (`new`: first seen in the period).',
    ok: { status: 200, ...R('Transitions', Transitions) },
  },
  'PATCH /api/auth/me': { tag: 'auth', permission: 'user', body: acc.MePatchBody, summary: 'Change my profile: name and avatar URL (null clears).', ok: { status: 200, ...R('User', api.User) } },
  'POST /api/auth/logout': {
    tag: 'auth', permission: 'user',
    summary: 'End what this request is authenticated with: the session cookie (the session is deleted, its cookies cleared) or the bearer JWT (that token only is revoked until it expires).',
    ok: { status: 200, ...R('LogoutResponse', acc.LogoutResponse) },
  },
  'GET /api/auth/users': {
    tag: 'auth', permission: 'instance_admin', summary: 'The instance\'s users.', query: acc.UsersQuery,
    ok: { status: 200, ...R('UserList', list(api.User)) },
  },
  'POST /api/auth/users': {
    tag: 'auth', permission: 'instance_admin', summary: 'Create a user.', body: acc.UserCreateBody,
    ok: { status: 201, ...R('User', api.User) }, errors: ['conflict'],
  },
  'POST /api/auth/tokens': {
    tag: 'auth', permission: 'user', body: pt.PersonalTokenCreateBody,
    summary: 'Create a personal API token `rlp_…` (in this answer only) acting as me within my team roles, narrowed by its scope (`read` or `full`). Takes a session: a token cannot create tokens.',
    ok: { status: 201, ...R('PersonalTokenCreated', pt.PersonalTokenCreated) },
  },
  'GET /api/auth/tokens': { tag: 'auth', permission: 'user', summary: 'My personal tokens (masked), with last use and expiry.', ok: { status: 200, ...R('PersonalTokenList', list(pt.PersonalToken)) } },
  'DELETE /api/auth/tokens/:id': {
    tag: 'auth', permission: 'user', params: { id: id('personalToken') }, summary: 'Revoke one of my personal tokens: refused from the next request on.',
    ok: { status: 200, ...R('Deleted', acc.Deleted) },
  },
  'POST /api/auth/change-password': {
    tag: 'auth', permission: 'user', summary: 'Change my password: a new token; every earlier session ends. Rate-limited per IP.',
    body: acc.PasswordChangeBody, ok: { status: 200, ...R('AuthResponse', api.AuthResponse) },
  },

  // ---- ingest
  'POST /api/runs': {
    tag: 'ingest', permission: 'ingest', appends: true, summary: 'Create a run (shards of one ciBuildId merge into one run).', body: api.RunCreateBody,
    ok: { status: 201, ...R('RunCreated', api.RunCreated) }, errors: ['conflict'],
  },
  'PATCH /api/runs/:id': {
    tag: 'ingest', permission: 'ingest', appends: true, params: runId, body: api.RunPatchBody,
    summary: 'Update a run\'s status and stats (omitted on finish: counted from its tests).', ok: { status: 200, ...R('RunUpdated', api.RunUpdated) },
  },
  'DELETE /api/runs/:id': {
    tag: 'ingest', permission: 'manage', appends: true, params: runId,
    summary: 'Delete a run: its rows in every read model and its artifact files (a run.deleted event). Takes a full-scope key or a team admin.',
    ok: { status: 200, ...R('Deleted', acc.Deleted) },
  },
  'POST /api/tests': {
    tag: 'ingest', permission: 'ingest', appends: true, summary: 'Report a test result (steps, error, attempts, annotations, tags, output).', body: api.TestCreateBody,
    ok: { status: 201, ...R('TestReported', api.TestReported) },
  },
  'POST /api/test-suites': {
    tag: 'ingest', permission: 'ingest', appends: true, summary: 'Upsert a suite by title and file path within a run.', body: api.SuiteCreateBody,
    ok: { status: 201, ...R('SuiteReported', api.SuiteReported) },
  },
  'POST /api/ingest/batch': {
    tag: 'ingest', permission: 'ingest', appends: true, bodyType: 'batch', body: z.array(BatchItem),
    summary: 'Up to 10,000 run, suite, test and run-update items (JSON array or NDJSON, 16 MiB); a result per item.',
    ok: { status: 200, ...R('BatchResponse', BatchResponse) },
  },
  'POST /api/upload': {
    tag: 'ingest', permission: 'ingest', appends: true, bodyType: 'multipart', body: UploadFields,
    summary: 'Upload an artifact (multipart: `file` plus these fields) → a signed URL valid 1 h.', ok: { status: 201, ...R('Artifact', Artifact) },
  },

  // ---- artifacts
  'GET /api/artifacts': {
    tag: 'artifacts', permission: 'read', query: ArtifactsQuery as unknown as z.ZodObject<z.ZodRawShape>,
    summary: "A run's or a test's artifacts (`runId` or `testId`, optionally `type`), each with a fresh signed URL.",
    ok: { status: 200, ...R('ArtifactList', list(Artifact)) },
  },
  'GET /api/artifacts/:id': {
    tag: 'artifacts', permission: 'read', params: { id: id('artifact') }, summary: 'An artifact with a fresh signed URL.', ok: { status: 200, ...R('Artifact', Artifact) },
  },
  'GET /artifacts/:projectId/:runId/:file': {
    tag: 'artifacts', access: 'signed-url', summary: 'The artifact file behind a signed URL (403 when expired or altered).',
    query: z.object({ expires: z.string(), token: z.string() }), ok: { status: 200, schema: null, contentType: 'application/octet-stream' },
    errors: ['forbidden', 'not_found'],
  },

  // ---- runs, tests, suites
  'GET /api/runs': { tag: 'runs', permission: 'read', query: api.RunsQuery, summary: 'A project\'s runs, newest first; filtered by status, branch, tag and creation time (`from` inclusive, `to` exclusive, ISO 8601).', ok: { status: 200, ...R('RunList', list(api.RunListItem)) } },
  'GET /api/runs/:id': {
    tag: 'runs', permission: 'read', params: runId, query: wh.RunWaitQuery,
    summary: 'A run with counts, pass rate and duration. With `wait=true`, a long poll until it finishes (or `timeout`), with a CI verdict (`exitCode`).',
    ok: { status: 200, ...R('Run', api.Run) },
  },
  'GET /api/runs/:id/stream': {
    tag: 'runs', permission: 'read', params: runId, query: wh.RunStreamQuery,
    summary: 'Server-Sent Events of a run: `test` (each result as projected), `counters`, `status`, `end`; `Last-Event-ID` resumes; `?token=` for EventSource.',
    ok: { status: 200, schema: null, contentType: 'text/event-stream' },
  },
  'GET /api/tests': {
    tag: 'tests', permission: 'read', query: api.TestsQuery,
    summary: 'Test results of a run or project, oldest first. A run\'s (`runId`) need no `projectId`, even from a user, and come up to 5,000 a page (`limit` over 500 without `runId` is a 400 on `limit`); another project\'s run is a 404.',
    ok: { status: 200, ...R('TestList', list(api.TestListItem)) },
  },
  'GET /api/tests/:id': { tag: 'tests', permission: 'read', params: testOrCase, summary: 'A test result.', ok: { status: 200, ...R('TestResult', api.TestResult) } },
  'GET /api/tests/:id/steps': {
    tag: 'tests', permission: 'read', params: testOrCase, summary: 'The steps of a test result in reading order, with depth.',
    ok: { status: 200, ...R('StepList', z.object({ data: z.array(api.StepRow) })) },
  },
  'GET /api/tests/:id/history': {
    tag: 'tests', permission: 'read', params: testOrCase, query: api.HistoryQuery, summary: 'Last executions of the test case (from ClickHouse); `:id` may be a test id or a test case id.',
    ok: { status: 200, ...R('History', list(api.HistoryItem).extend({ testCaseId: z.string() })) },
  },
  'GET /api/test-suites': { tag: 'tests', permission: 'read', query: api.SuitesQuery, summary: 'The suite tree of a run.', ok: { status: 200, ...R('SuiteTree', api.SuiteTree) } },

  // ---- flakiness and quarantine
  'GET /api/flakiness': {
    tag: 'flakiness', permission: 'read', query: fl.FlakinessQuery, summary: 'Every test case\'s flakiness score with its 90 % interval, classification and evidence: the scores the flakiness projection stored when current (source: snapshot), else scored for the request (source: live).',
    ok: { status: 200, ...R('FlakinessResponse', fl.FlakinessResponse) },
  },
  'POST /api/flakiness': {
    tag: 'flakiness', permission: 'ingest', appends: true, body: fl.QuarantineBody, summary: 'Quarantine or release a test by hand (an event on the log).',
    ok: { status: 200, ...R('QuarantineChange', fl.QuarantineChange) },
  },
  'GET /api/quarantine': {
    tag: 'flakiness', permission: 'read', query: fl.QuarantineQuery, summary: 'The quarantined tests of a project.',
    ok: { status: 200, ...R('QuarantineList', list(fl.QuarantineEntry)) },
  },
  'GET /api/tests/:id/flakiness': {
    tag: 'flakiness', permission: 'read', params: testOrCase, query: fl.CaseFlakinessQuery,
    summary: 'One test case\'s flakiness: the item `GET /api/flakiness` lists for it (score, 90 % interval, classification, evidence, quarantined), read from the same scores, with `asOf` and `source` (`snapshot`: stored by the flakiness projection; `live`: scored for this request, always with `branch`). `:id` is a test case id or one of its results\' ids; a test case that did not run in the window is unscored (0 executions, `insufficient_data`).',
    ok: { status: 200, ...R('CaseFlakiness', fl.CaseFlakiness) },
  },
  'GET /api/tests/:id/quarantine-history': {
    tag: 'flakiness', permission: 'read', params: testOrCase, query: fl.QuarantineHistoryQuery, summary: 'Every quarantine change of the test case, with actor and reason.',
    ok: { status: 200, ...R('QuarantineHistory', list(fl.QuarantineHistoryEntry).extend({ testCaseId: z.string() })) },
  },

  // ---- analytics
  'GET /api/analytics/trends': { tag: 'analytics', permission: 'read', query: an.TrendsQuery, summary: 'A metric per day or week over a period.', ok: { status: 200, ...R('TrendsResponse', an.TrendsResponse) } },
  'GET /api/analytics/leaderboards': { tag: 'analytics', permission: 'read', query: an.LeaderboardQuery, summary: 'Slowest, most failing or flakiest tests.', ok: { status: 200, ...R('LeaderboardsResponse', an.LeaderboardsResponse) } },
  'GET /api/analytics/errors': { tag: 'analytics', permission: 'read', query: an.ErrorsQuery, summary: 'Error clusters by fingerprint.', ok: { status: 200, ...R('ErrorClustersResponse', an.ErrorClustersResponse) } },
  'GET /api/runs/:id/compare/:baselineId': {
    tag: 'analytics', permission: 'read', params: { id: id('run'), baselineId: id('run') },
    summary: 'A run against a baseline: new failures, fixed, still failing, new and removed tests, newly flaky, duration changes and a regression verdict.',
    ok: { status: 200, ...R('RunComparison', an.RunComparison) },
  },
  'GET /api/analytics/compare': { tag: 'analytics', permission: 'read', query: an.SideBySideQuery, summary: '2 to 10 runs side by side.', ok: { status: 200, ...R('SideBySideResponse', an.SideBySideResponse) } },

  // ---- projects, settings, keys
  'GET /api/projects': { tag: 'projects', permission: 'read', query: acc.ProjectsQuery, summary: 'A team\'s projects (a key: its own).', ok: { status: 200, ...R('ProjectList', list(api.Project)) } },
  'POST /api/projects': { tag: 'projects', permission: 'manage', body: api.ProjectCreateBody, summary: 'Create a project.', ok: { status: 201, ...R('Project', api.Project) } },
  'GET /api/projects/:id': { tag: 'projects', permission: 'read', params: { id: id('project') }, summary: 'A project.', ok: { status: 200, ...R('Project', api.Project) } },
  'PATCH /api/projects/:id': {
    tag: 'projects', permission: 'manage', params: { id: id('project') }, body: acc.ProjectPatchBody, summary: 'Rename a project.', ok: { status: 200, ...R('Project', api.Project) },
  },
  'DELETE /api/projects/:id': {
    tag: 'projects', permission: 'own', appends: true, params: { id: id('project') }, summary: 'Delete a project and all its data (through the log).',
    ok: { status: 200, ...R('Deleted', acc.Deleted) },
  },
  'GET /api/projects/:id/settings': {
    tag: 'projects', permission: 'read', params: { id: id('project') }, summary: 'A project\'s settings (dataRetentionDays, flakinessThreshold, autoQuarantineEnabled).',
    ok: { status: 200, ...R('ProjectSettings', acc.ProjectSettings) },
  },
  'PATCH /api/projects/:id/settings': {
    tag: 'projects', permission: 'manage', params: { id: id('project') }, body: acc.ProjectSettingsPatchBody, summary: 'Change a project\'s settings.',
    ok: { status: 200, ...R('ProjectSettings', acc.ProjectSettings) },
  },
  'GET /api/api-keys': { tag: 'keys', permission: 'manage_keys', query: acc.ApiKeysQuery, summary: 'A project\'s API keys, masked.', ok: { status: 200, ...R('ApiKeyList', list(acc.ApiKey)) } },
  'POST /api/api-keys': {
    tag: 'keys', permission: 'manage_keys', body: api.ApiKeyCreateBody, summary: 'Create an API key (the full key is in this response only).',
    ok: { status: 201, ...R('ApiKeyCreated', api.ApiKeyCreated) },
  },
  'PATCH /api/api-keys/:id': {
    tag: 'keys', permission: 'manage_keys', params: { id: id('apiKey') }, body: acc.ApiKeyPatchBody, summary: 'Activate, deactivate, rename an API key or change its expiry.',
    ok: { status: 200, ...R('ApiKey', acc.ApiKey) },
  },
  'DELETE /api/api-keys/:id': { tag: 'keys', permission: 'manage_keys', params: { id: id('apiKey') }, summary: 'Delete an API key.', ok: { status: 200, ...R('Deleted', acc.Deleted) } },

  // ---- teams, members, invitations, audit
  'GET /api/teams': { tag: 'teams', permission: 'any', summary: 'My teams with my role (a key: its team).', ok: { status: 200, ...R('TeamList', acc.TeamList) } },
  'POST /api/teams': { tag: 'teams', permission: 'user', body: api.TeamCreateBody, summary: 'Create a team (you become owner).', ok: { status: 201, ...R('Team', api.Team) } },
  'GET /api/teams/:id': { tag: 'teams', permission: 'read', params: { id: id('team') }, summary: 'A team, with my role.', ok: { status: 200, ...R('TeamWithRole', acc.TeamWithRole) } },
  'PATCH /api/teams/:id': { tag: 'teams', permission: 'manage', params: { id: id('team') }, body: acc.TeamPatchBody, summary: 'Rename a team.', ok: { status: 200, ...R('TeamUpdated', acc.TeamUpdated) } },
  'DELETE /api/teams/:id': {
    tag: 'teams', permission: 'own', appends: true, params: { id: id('team') }, summary: 'Delete a team with all its projects.', ok: { status: 200, ...R('Deleted', acc.Deleted) },
  },
  'GET /api/team-members': { tag: 'teams', permission: 'read', query: acc.MembersQuery, summary: 'A team\'s members.', ok: { status: 200, ...R('MemberList', list(acc.Member)) } },
  'POST /api/team-members': {
    tag: 'teams', permission: 'manage', body: acc.InvitationCreateBody, summary: 'Invite someone: pending 7 days; the token is in this response only.',
    ok: { status: 201, ...R('InvitationCreated', acc.InvitationCreated) }, errors: ['conflict'],
  },
  'POST /api/team-members/accept': {
    tag: 'teams', permission: 'user', body: acc.InvitationAcceptBody, summary: 'Accept an invitation sent to me.',
    ok: { status: 201, ...R('Member', acc.Member) }, errors: ['forbidden', 'conflict'],
  },
  'PATCH /api/team-members/:id': {
    tag: 'teams', permission: 'manage', params: { id: id('member') }, body: acc.MemberPatchBody, summary: 'Change a member\'s role (owners: by an owner; the last owner stays).',
    ok: { status: 200, ...R('Member', acc.Member) }, errors: ['conflict'],
  },
  'DELETE /api/team-members/:id': {
    tag: 'teams', permission: 'manage', params: { id: id('member') }, summary: 'Remove a member, or leave (the last owner stays).',
    ok: { status: 200, ...R('Deleted', acc.Deleted) }, errors: ['conflict'],
  },
  'GET /api/team-invitations': { tag: 'teams', permission: 'manage', query: acc.MembersQuery, summary: 'A team\'s invitations and their status.', ok: { status: 200, ...R('InvitationList', list(acc.Invitation)) } },
  'DELETE /api/team-invitations/:id': { tag: 'teams', permission: 'manage', params: { id: id('invitation') }, summary: 'Revoke an invitation.', ok: { status: 200, ...R('Deleted', acc.Deleted) } },
  'GET /api/audit': {
    tag: 'teams', permission: 'manage', query: acc.AuditQuery, summary: 'A team\'s management changes (without teamId: instance-level ones, for instance administrators).',
    ok: { status: 200, ...R('AuditList', list(acc.AuditEntry)) },
  },
};

// What each error code means, for the ErrorCode schema (docs/errors.md has the details).
const CODE_NOTES: Record<ErrorCode, string> = {
  validation_error: 'a body, query parameter, path id or form field does not match its schema',
  invalid_json: 'the body is not valid JSON, not UTF-8, or not a JSON object/array',
  unsupported_media_type: 'a body of another content type, or an unknown Content-Encoding',
  invalid_auth: 'no credential, or an unknown, inactive, expired or malformed one',
  insufficient_scope: 'the key\'s scope or the user\'s role is too low (details.required)',
  forbidden: 'an invitation for someone else; an expired or altered artifact URL',
  csrf_failed: 'an unsafe method by session cookie without the session\'s X-CSRF-Token',
  not_found: 'unknown id, or a resource of another project or team (never 403)',
  method_not_allowed: 'the path exists but not with this method (Allow header); any path',
  conflict: 'a duplicate or a state that forbids the change (details.reason)',
  setup_complete: 'POST /api/auth/setup after the first user exists',
  idempotency_error: '400: a malformed Idempotency-Key; 409: reused with another request, or still in progress',
  payload_too_large: 'the body or an upload is over its limit',
  rate_limited: 'over the caller\'s limit (Retry-After, X-RateLimit-*)',
  unavailable: 'Kafka or another dependency cannot be reached; nothing was stored (Retry-After)',
  internal_error: 'a bug; details.requestId finds the log line',
};

export type OpenApiDocument = Record<string, unknown> & { paths: Record<string, Record<string, any>>; components: { schemas: Record<string, unknown>; securitySchemes?: Record<string, unknown> } };

// The error codes a route may answer, by status.
export function errorCodesOf(doc: RouteDoc, method: string): Map<number, ErrorCode[]> {
  const codes = new Set<ErrorCode>(['internal_error', ...(doc.errors ?? [])]);
  const access = doc.access ?? 'credential';
  if (access === 'credential') ['invalid_auth', 'insufficient_scope', 'rate_limited'].forEach((c) => codes.add(c as ErrorCode));
  if (doc.params || doc.query || doc.body) codes.add('validation_error');
  if (doc.params || (access === 'credential' && doc.permission !== 'any' && doc.permission !== 'user' && doc.permission !== 'instance_admin')) codes.add('not_found');
  if (doc.body) ['payload_too_large', 'unsupported_media_type'].forEach((c) => codes.add(c as ErrorCode));
  if (doc.body && doc.bodyType !== 'multipart') codes.add('invalid_json');
  if (access === 'credential' && method === 'POST') codes.add('idempotency_error');
  // a cookie session without its X-CSRF-Token (lib/http/session.ts)
  if (access === 'credential' && ['POST', 'PUT', 'PATCH', 'DELETE'].includes(method)) codes.add('csrf_failed');
  if (doc.appends) codes.add('unavailable');
  const byStatus = new Map<number, ErrorCode[]>();
  const add = (status: number, code: ErrorCode) => byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  for (const code of [...codes].sort()) {
    add(ERROR_CODES[code], code);
    if (code === 'idempotency_error') add(409, code);
  }
  return byStatus;
}

const openApiPath = (koaPath: string) => koaPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
const pathParams = (koaPath: string) => [...koaPath.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]!);

// A recursive schema (the suite tree) comes with `$defs` and `#/$defs/…` refs,
// which in the document would resolve against its root: they go to `defs`
// (components.schemas) under their `.meta({ id })`, and the refs point there.
function jsonSchema(schema: z.ZodType, io: 'input' | 'output', defs?: Record<string, unknown>): Record<string, unknown> {
  const { $schema: _drop, $defs, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as Record<string, unknown>;
  if (!$defs) return rest;
  if (!defs) throw new Error('a schema with $defs where the document has no components for them');
  const rewrite = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(rewrite);
    if (!v || typeof v !== 'object') return v;
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, k === '$ref' && typeof x === 'string' && x.startsWith('#/$defs/') ? `#/components/schemas/${x.slice(8)}` : rewrite(x)]));
  };
  for (const [name, def] of Object.entries($defs as Record<string, unknown>)) {
    if (name.startsWith('__')) throw new Error(`a recursive schema needs .meta({ id }) to be named in the document (${name})`);
    defs[name] ??= rewrite(def);
  }
  return rewrite(rest) as Record<string, unknown>;
}

// The document for the routes an app serves. Routes without a ROUTE_DOCS entry
// are left out and listed in `undocumented`.
export function buildOpenApi(routes: MountedRoute[], opts: { version?: string; serverUrl?: string } = {}): { document: OpenApiDocument; undocumented: string[] } {
  const schemas: Record<string, unknown> = {};
  const named = (name: string, schema: z.ZodType, io: 'input' | 'output') => {
    schemas[name] ??= jsonSchema(schema, io, schemas);
    return { $ref: `#/components/schemas/${name}` };
  };
  const codes = Object.keys(ERROR_CODES) as ErrorCode[];
  schemas.ErrorCode = { type: 'string', enum: codes, description: codes.map((c) => `\`${c}\` (${ERROR_CODES[c]}): ${CODE_NOTES[c]}`).join('; ') };
  schemas.Error = {
    type: 'object', required: ['error'], additionalProperties: false,
    properties: {
      error: {
        type: 'object', required: ['code', 'message', 'details'],
        properties: { code: { $ref: '#/components/schemas/ErrorCode' }, message: { type: 'string' }, details: { type: 'object' } },
      },
    },
  };

  const paths: Record<string, Record<string, unknown>> = {};
  const undocumented: string[] = [];
  const examplesLater: Array<{ op: Record<string, any>; doc: RouteDoc; key: string }> = [];
  for (const route of routes) {
    const key = `${route.method} ${route.path}`;
    const doc = ROUTE_DOCS[key];
    if (!doc) {
      undocumented.push(key);
      continue;
    }
    const access = doc.access ?? 'credential';
    const parameters: unknown[] = pathParams(route.path).map((name) => ({
      name, in: 'path', required: true, schema: doc.params?.[name] ? jsonSchema(doc.params[name]!, 'input') : { type: 'string' },
    }));
    if (doc.query) {
      const q = jsonSchema(doc.query, 'input') as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, schema] of Object.entries(q.properties ?? {})) {
        parameters.push({ name, in: 'query', required: (q.required ?? []).includes(name), schema });
      }
    }
    if (access === 'credential' && route.method === 'GET') {
      parameters.push({ name: 'X-Runledger-Position', in: 'header', required: false, description: 'read-your-writes: wait until the projections applied this write position', schema: { type: 'string' } });
    }
    if (access === 'credential' && route.method === 'POST') {
      parameters.push({ name: 'Idempotency-Key', in: 'header', required: false, description: 'the same key within the TTL replays the first answer', schema: { type: 'string', maxLength: 256 } });
    }
    const op: Record<string, unknown> = {
      operationId: `${route.method.toLowerCase()}${route.path.replace(/[:/{}.-]+(\w)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      summary: doc.summary,
      tags: [doc.tag],
      ...(parameters.length ? { parameters } : {}),
      ...(access === 'credential' ? {} : { security: [] }),
      ...(doc.permission ? { 'x-runledger-permission': doc.permission } : {}),
    };
    if (doc.body) {
      const bodyName = `${op.operationId as string}Body`;
      const content = doc.bodyType === 'multipart'
        ? { 'multipart/form-data': { schema: { allOf: [named(bodyName, doc.body, 'input')], properties: { file: { type: 'string', contentMediaType: 'application/octet-stream' } }, required: ['file'] } } }
        : doc.bodyType === 'batch'
          ? { 'application/json': { schema: named(bodyName, doc.body, 'input') }, 'application/x-ndjson': { schema: { type: 'string', description: 'one item per line' } } }
          : { 'application/json': { schema: named(bodyName, doc.body, 'input') } };
      op.requestBody = { required: true, content };
    }
    const okSchema = doc.ok.schema ? (doc.ok.name ? named(doc.ok.name, doc.ok.schema, 'output') : jsonSchema(doc.ok.schema, 'output', schemas)) : { type: 'object' };
    const responses: Record<string, unknown> = {
      [String(doc.ok.status)]: {
        description: doc.ok.status === 201 ? 'created' : 'ok',
        content: { [doc.ok.contentType ?? 'application/json']: { schema: doc.ok.contentType && doc.ok.contentType !== 'application/json' ? { type: 'string' } : okSchema } },
      },
    };
    for (const [status, list] of errorCodesOf(doc, route.method)) {
      responses[String(status)] = {
        description: list.map((c) => `\`${c}\``).join(', '),
        content: { 'application/json': { schema: { allOf: [{ $ref: '#/components/schemas/Error' }], properties: { error: { properties: { code: { enum: list } } } } } } },
      };
    }
    // the health body, of the same shape as with 200
    if (key === 'GET /health/ready' || key === 'GET /health/deep') responses['503'] = { description: 'a dependency is down or a projection stalled', content: { 'application/json': { schema: okSchema } } };
    op.responses = responses;
    (paths[openApiPath(route.path)] ??= {})[route.method.toLowerCase()] = op;
    examplesLater.push({ op, doc, key });
  }
  // Examples once every named schema is in components: the request body's, the
  // parameters', and the answer's (JSON answers).
  for (const { op, doc, key } of examplesLater) {
    // Only where a value is needed: the explorer pre-fills "Try it out" with
    // examples, and an example of an optional filter or header would narrow the call.
    for (const p of (op.parameters ?? []) as Array<Record<string, any>>) if (p.required) p.example ??= exampleOf(p.schema, schemas as Record<string, Record<string, unknown>>, p.name);
    const body = (op.requestBody as { content?: Record<string, { schema: unknown; example?: unknown }> } | undefined)?.content?.['application/json']
      ?? (op.requestBody as { content?: Record<string, { schema: unknown; example?: unknown }> } | undefined)?.content?.['multipart/form-data'];
    if (body) body.example = doc.examples?.request ?? (doc.body && fittedExample(doc.body, EVENT_BODIES[key])) ?? exampleOf(body.schema as Record<string, unknown>, schemas as Record<string, Record<string, unknown>>);
    const ok = (op.responses as Record<string, { content?: Record<string, { schema: unknown; example?: unknown }> }>)[String(doc.ok.status)]?.content?.['application/json'];
    if (ok && doc.ok.schema) ok.example = doc.examples?.response ?? exampleOf(ok.schema as Record<string, unknown>, schemas as Record<string, Record<string, unknown>>);
  }

  const document: OpenApiDocument = {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'Runledger API',
      version: opts.version ?? '1',
      description: 'Event-sourced test results, flakiness and CI gates. Errors are `{ "error": { "code", "message", "details" } }`; '
        + 'a method a path does not serve answers 405 `method_not_allowed` with `Allow`. See docs/errors.md and docs/access.md.',
    },
    ...(opts.serverUrl ? { servers: [{ url: opts.serverUrl }] } : {}),
    paths,
    components: {
      schemas,
      securitySchemes: {
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'a project API key (also `Authorization: ApiKey rl_…` or `Bearer rl_…`)' },
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'a user token from POST /api/auth/login, or a personal API token `rlp_…` (POST /api/auth/tokens)' },
        session: { type: 'apiKey', in: 'cookie', name: 'rl_session', description: 'the dashboard\'s session cookie, set by login, setup and accept-invitation; unsafe methods also need `X-CSRF-Token` (docs/access.md)' },
      },
    },
    security: [{ apiKey: [] }, { bearer: [] }, { session: [] }],
  };
  return { document, undocumented };
}
