import type { Context, Next } from 'koa';
import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { AppError, notFound } from '../../lib/errors.ts';
import type { Pool, Queryable } from '../../lib/pg.ts';
import { API_KEY_PREFIX, apiKeys } from '../pg/api-keys.ts';
import { projects } from '../pg/projects.ts';
import { teams, type TeamRole } from '../pg/teams.ts';
import { users } from '../pg/users.ts';
import type { ApiKeyScope } from '../../schemas/api.ts';
import type { KeyUsage } from './key-usage.ts';
import type { Principal } from '../../lib/http/principal.ts';
import { checkTokenMethod, checkTokenScope, personalTokenUser } from './personal-tokens.ts';
import { isPersonalToken } from '../pg/personal-tokens.ts';
import { jwtRevocationKey, type CookieSessions } from '../../lib/http/session.ts';

// Who is calling (lib/http/principal.ts) goes through `authorize` (a project) or
// `authorizeTeam` (a team) below: the one place that decides access.
// docs/access.md has the table in prose.

export type Permission = 'read' | 'ingest' | 'manage' | 'manage_keys' | 'own';

// What each permission needs: a team role for people, a key scope for machines
// (null: no key may, whatever its scope). Roles and scopes are hierarchical:
// owner > admin > member > viewer, full > ingest > read.
export const PERMISSIONS: Record<Permission, { role: TeamRole; scope: ApiKeyScope | null }> = {
  read: { role: 'viewer', scope: 'read' },          // runs, tests, history, project, settings
  ingest: { role: 'member', scope: 'ingest' },      // runs, results, suites, quarantine
  manage: { role: 'admin', scope: 'full' },         // project name, settings, webhooks; team name, members, invitations, audit
  manage_keys: { role: 'admin', scope: null },      // API keys: keys cannot manage keys
  own: { role: 'owner', scope: null },              // deleting a project or a team
};
export const SCOPE_RANK: Record<ApiKeyScope, number> = { read: 1, ingest: 2, full: 3 };
export const ROLE_RANK: Record<TeamRole, number> = { viewer: 1, member: 2, admin: 3, owner: 4 };

export function signUserToken(userId: string, secret: string, ttlSeconds: number, sessionVersion = 0): string {
  return jwt.sign({ sv: sessionVersion }, secret, { algorithm: 'HS256', subject: userId, expiresIn: ttlSeconds, jwtid: randomUUID() });
}

const STREAM_PATH = /^\/api\/runs\/[^/]+\/stream$/;

// X-API-Key: …, Authorization: ApiKey …, or Authorization: Bearer rl_… (a key);
// Bearer rlp_… is a personal token; any other Bearer token is a JWT.
function credentialFrom(ctx: Context): { type: 'key' | 'jwt' | 'token'; value: string } | null {
  const header = ctx.get('x-api-key');
  if (header) return { type: 'key', value: header.trim() };
  const auth = ctx.get('authorization');
  const m = /^(ApiKey|Bearer)\s+(\S+)\s*$/i.exec(auth);
  if (m) {
    const value = m[2]!;
    if (m[1]!.toLowerCase() === 'bearer' && isPersonalToken(value)) return { type: 'token', value };
    if (m[1]!.toLowerCase() === 'apikey' || value.startsWith(API_KEY_PREFIX)) return { type: 'key', value };
    return { type: 'jwt', value };
  }
  if (auth) throw new AppError('invalid_auth', 'unsupported Authorization scheme');
  // EventSource cannot send headers: the live stream of a run takes ?token= (a key, a personal token or a JWT).
  const token = ctx.method === 'GET' && STREAM_PATH.test(ctx.path) ? ctx.query.token : undefined;
  if (typeof token === 'string' && token) return { type: isPersonalToken(token) ? 'token' : token.startsWith(API_KEY_PREFIX) ? 'key' : 'jwt', value: token };
  return null;
}

export function authenticate(pool: Pool, jwtSecret: string, keyUsage?: KeyUsage, sessions?: CookieSessions) {
  return async (ctx: Context, next: Next) => {
    const cred = credentialFrom(ctx);
    if (!cred) {
      // No header credential: the dashboard's session cookie (lib/http/session.ts).
      const user = await sessions?.authenticate(ctx);
      if (!user) throw new AppError('invalid_auth', 'authentication required: send X-API-Key or Authorization');
      ctx.state.principal = { kind: 'user', ...user } satisfies Principal;
      return next();
    }
    if (cred.type === 'key') {
      if (cred.value.length > 200) throw new AppError('invalid_auth', 'invalid API key');
      const key = await apiKeys.findUsable(pool, cred.value);
      if (!key) throw new AppError('invalid_auth', 'invalid, inactive or expired API key');
      keyUsage?.touch(key.id);
      ctx.state.principal = { kind: 'api_key', keyId: key.id, projectId: key.project_id, teamId: key.team_id, scope: key.scope } satisfies Principal;
    } else if (cred.type === 'token') {
      ctx.state.principal = { kind: 'user', ...(await personalTokenUser(pool, cred.value)) } satisfies Principal;
    } else {
      let userId: string;
      let sessionVersion: unknown;
      let payload: string | jwt.JwtPayload = '';
      try {
        payload = jwt.verify(cred.value, jwtSecret, { algorithms: ['HS256'] });
        userId = typeof payload === 'object' && typeof payload.sub === 'string' ? payload.sub : '';
        sessionVersion = typeof payload === 'object' ? (payload.sv ?? 0) : undefined;
      } catch {
        throw new AppError('invalid_auth', 'invalid or expired token');
      }
      const user = userId ? await users.byIdForToken(pool, userId, jwtRevocationKey(cred.value, payload)) : undefined;
      // A password change ends the sessions issued before it; a logout ends its own token.
      if (!user || sessionVersion !== user.session_version || user.token_revoked) throw new AppError('invalid_auth', 'invalid or expired token');
      ctx.state.principal = { kind: 'user', userId: user.id, isAdmin: user.role === 'admin' } satisfies Principal;
    }
    await next();
  };
}

export function principalOf(ctx: Context): Principal {
  const p = ctx.state.principal as Principal | undefined;
  if (!p) throw new AppError('invalid_auth', 'authentication required');
  return p;
}

const tooLow = (what: string, required: string) =>
  new AppError('insufficient_scope', what, { required });

// What the caller asked for, when it is not the project (or team) itself: the
// 404 for another project's resource must read exactly like the 404 for an
// unknown one, naming only what the caller sent, never the project it belongs to.
export type Asked = { kind: string; id: string };

// Another project's resources answer 404, never 403, so ids are not confirmed;
// a known project with too low a scope or role answers 403 insufficient_scope.
// For an API key "another project" includes the other projects of its team.
export async function authorize(pool: Queryable, principal: Principal, projectId: string, permission: Permission, asked?: Asked): Promise<void> {
  const needed = PERMISSIONS[permission];
  const hidden = () => (asked ? notFound(asked.kind, asked.id) : notFound('project', projectId));
  if (principal.kind === 'api_key') {
    if (principal.projectId !== projectId) throw hidden();
    if (!needed.scope) throw tooLow(`API keys cannot ${describe(permission)}; sign in as a team ${needed.role}`, 'user');
    if (SCOPE_RANK[principal.scope] < SCOPE_RANK[needed.scope]) {
      throw tooLow(`this API key's scope (${principal.scope}) cannot ${describe(permission)}`, needed.scope);
    }
    return;
  }
  const role = await projects.roleOf(pool, projectId, principal.userId);
  if (!role) throw hidden();
  if (ROLE_RANK[role] < ROLE_RANK[needed.role]) throw tooLow(`role ${role} cannot ${describe(permission)}`, needed.role);
  checkTokenScope(principal.token, permission, needed.scope);
}

// Team-level actions are for people: an API key of one of the team's projects
// gets 403, any other key 404 (its team is the only one it may know of).
export async function authorizeTeam(pool: Queryable, principal: Principal, teamId: string, permission: Permission, asked?: Asked): Promise<TeamRole> {
  const needed = PERMISSIONS[permission];
  const hidden = () => (asked ? notFound(asked.kind, asked.id) : notFound('team', teamId));
  if (principal.kind === 'api_key') {
    if (principal.teamId !== teamId) throw hidden();
    throw tooLow('API keys cannot act on teams; sign in as a team member', 'user');
  }
  const role = await teams.roleOf(pool, teamId, principal.userId);
  if (!role) throw hidden();
  if (ROLE_RANK[role] < ROLE_RANK[needed.role]) throw tooLow(`role ${role} cannot ${describe(permission)} this team`, needed.role);
  checkTokenScope(principal.token, permission, needed.scope);
  return role;
}

const describe = (p: Permission) =>
  ({ read: 'read', ingest: 'ingest into', manage: 'manage', manage_keys: 'manage the API keys of', own: 'delete' })[p];

// People only: API keys may not act on accounts.
export function requireUser(ctx: Context): Extract<Principal, { kind: 'user' }> {
  const p = principalOf(ctx);
  if (p.kind !== 'user') throw tooLow('API keys cannot do this; sign in as a user', 'user');
  checkTokenMethod(p.token, ctx.method);
  return p;
}

// The instance administrators (the first user, and users they make admins).
export function requireInstanceAdmin(ctx: Context): Extract<Principal, { kind: 'user' }> {
  const p = requireUser(ctx);
  if (!p.isAdmin) throw tooLow('only an instance administrator can do this', 'instance_admin');
  return p;
}

// The project a request is about: given explicitly, or the key's own project.
export function projectIdFor(principal: Principal, given: string | undefined): string {
  if (given) return given;
  if (principal.kind === 'api_key') return principal.projectId;
  throw new AppError('validation_error', "'projectId' is required", { field: 'projectId' });
}

// The project a read is about (projectIdFor), once the caller may read it.
export async function readableProject(pool: Queryable, principal: Principal, given: string | undefined): Promise<string> {
  const projectId = projectIdFor(principal, given);
  await authorize(pool, principal, projectId, 'read');
  return projectId;
}
