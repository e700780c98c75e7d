import type { Context, Next } from 'koa';
import jwt from 'jsonwebtoken';
import { AppError, notFound } from '../errors.ts';
import type { Pool } from '../pg.ts';
import { API_KEY_PREFIX, apiKeys } from '../../query-api/pg/api-keys.ts';
import { projects } from '../../query-api/pg/projects.ts';
import { teams, type TeamRole } from '../../query-api/pg/teams.ts';
import { users } from '../../query-api/pg/users.ts';
import type { ApiKeyScope } from '../../schemas/api.ts';

// Who is calling: a project API key (machines) or a user with a JWT (people).
// Both go through `authorize` below: the one place that decides access.
export type Principal =
  | { kind: 'api_key'; keyId: string; projectId: string; scope: ApiKeyScope }
  | { kind: 'user'; userId: string; isAdmin: boolean };

export type Permission = 'read' | 'ingest' | 'manage' | 'own';

const SCOPE_RANK: Record<ApiKeyScope, number> = { read: 1, ingest: 2, full: 3 };
const PERMISSION_SCOPE: Record<Permission, ApiKeyScope | null> = { read: 'read', ingest: 'ingest', manage: null, own: null };
const ROLE_RANK: Record<TeamRole, number> = { viewer: 1, member: 2, admin: 3, owner: 4 };
const PERMISSION_ROLE: Record<Permission, TeamRole> = { read: 'viewer', ingest: 'member', manage: 'admin', own: 'owner' };

export function signUserToken(userId: string, secret: string, ttlSeconds: number): string {
  return jwt.sign({}, secret, { algorithm: 'HS256', subject: userId, expiresIn: ttlSeconds });
}

function credentialFrom(ctx: Context): { type: 'key' | 'jwt'; value: string } | null {
  const header = ctx.get('x-api-key');
  if (header) return { type: 'key', value: header.trim() };
  const auth = ctx.get('authorization');
  const m = /^(ApiKey|Bearer)\s+(\S+)\s*$/i.exec(auth);
  if (m) {
    const value = m[2]!;
    if (m[1]!.toLowerCase() === 'apikey' || value.startsWith(API_KEY_PREFIX)) return { type: 'key', value };
    return { type: 'jwt', value };
  }
  if (auth) throw new AppError('invalid_auth', 'unsupported Authorization scheme');
  return null;
}

export function authenticate(pool: Pool, jwtSecret: string) {
  return async (ctx: Context, next: Next) => {
    const cred = credentialFrom(ctx);
    if (!cred) throw new AppError('invalid_auth', 'authentication required: send X-API-Key or Authorization');
    if (cred.type === 'key') {
      if (cred.value.length > 200) throw new AppError('invalid_auth', 'invalid API key');
      const key = await apiKeys.findUsable(pool, cred.value);
      if (!key) throw new AppError('invalid_auth', 'invalid, inactive or expired API key');
      ctx.state.principal = { kind: 'api_key', keyId: key.id, projectId: key.project_id, scope: key.scope } satisfies Principal;
    } else {
      let userId: string;
      try {
        const payload = jwt.verify(cred.value, jwtSecret, { algorithms: ['HS256'] });
        userId = typeof payload === 'object' && typeof payload.sub === 'string' ? payload.sub : '';
      } catch {
        throw new AppError('invalid_auth', 'invalid or expired token');
      }
      const user = userId ? await users.byId(pool, userId) : undefined;
      if (!user) throw new AppError('invalid_auth', 'invalid or expired token');
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

// Another project's resources answer 404, never 403, so ids are not confirmed;
// a known project with too low a scope or role answers 403 insufficient_scope.
export async function authorize(pool: Pool, principal: Principal, projectId: string, permission: Permission): Promise<void> {
  if (principal.kind === 'api_key') {
    if (principal.projectId !== projectId) throw notFound('project', projectId);
    const needed = PERMISSION_SCOPE[permission];
    if (!needed || SCOPE_RANK[principal.scope] < SCOPE_RANK[needed]) {
      throw new AppError('insufficient_scope', `this API key cannot ${permission} this project`, { required: needed ?? 'user' });
    }
    return;
  }
  const role = await projects.roleOf(pool, projectId, principal.userId);
  if (!role) throw notFound('project', projectId);
  if (ROLE_RANK[role] < ROLE_RANK[PERMISSION_ROLE[permission]]) {
    throw new AppError('insufficient_scope', `role ${role} cannot ${permission} this project`, { required: PERMISSION_ROLE[permission] });
  }
}

export async function authorizeTeam(pool: Pool, principal: Principal, teamId: string, permission: Permission): Promise<void> {
  if (principal.kind !== 'user') throw new AppError('insufficient_scope', 'API keys cannot manage teams');
  const role = await teams.roleOf(pool, teamId, principal.userId);
  if (!role) throw notFound('team', teamId);
  if (ROLE_RANK[role] < ROLE_RANK[PERMISSION_ROLE[permission]]) {
    throw new AppError('insufficient_scope', `role ${role} cannot ${permission} this team`, { required: PERMISSION_ROLE[permission] });
  }
}

// The project a request is about: given explicitly, or the key's own project.
export function projectIdFor(principal: Principal, given: string | undefined): string {
  if (given) return given;
  if (principal.kind === 'api_key') return principal.projectId;
  throw new AppError('validation_error', "'projectId' is required", { field: 'projectId' });
}
