import { z } from 'zod';
import { id, isoDate } from './common.ts';
import { ApiKeyScope, AuthResponse, Name, Pagination, Password, Project, Team, User } from './api.ts';

// Management bodies are strict objects: an unknown field is a 400 naming it
// (docs/errors.md), so a misspelt or foreign field never silently does less.
//
// Accounts and access (issue 4): teams, members and invitations, projects,
// project settings, API keys, users and the audit log. Paths, field names and
// shapes follow the Euriqa reference (shared/seeds/001).

const nonEmpty = (b: object) => Object.keys(b).length > 0;
const atLeastOne = 'at least one field is required';
const future = isoDate.refine((d) => Date.parse(d) > Date.now(), 'must be in the future');
export const Email = z.email().max(320);
export const PersonName = z.string().trim().min(1).max(200);

// ---- roles
export const TeamRole = z.enum(['owner', 'admin', 'member', 'viewer']);
export type TeamRole = z.infer<typeof TeamRole>;
export const InvitableRole = z.enum(['admin', 'member', 'viewer']);

// ---- teams
export const TeamPatchBody = z.strictObject({ name: Name });
export const TeamWithRole = Team.extend({ role: TeamRole.nullable() });
export const TeamQuery = z.object({ teamId: id('team') });
// GET /api/teams: not paged (no limit, offset); role null for an API key.
export const TeamList = z.object({ data: z.array(TeamWithRole), total: z.number().int() });
// PATCH /api/teams/:id
export const TeamUpdated = Team.extend({ updatedAt: isoDate });

// ---- members and invitations
export const MembersQuery = Pagination.extend({ teamId: id('team') });
export const Member = z.object({
  id: z.string(), userId: z.string(), teamId: z.string(), role: TeamRole, name: z.string().nullable(),
  email: z.string(), avatarUrl: z.string().nullable(), joinedAt: isoDate,
});
export const InvitationCreateBody = z.strictObject({ teamId: id('team'), email: Email, role: InvitableRole });
export const Invitation = z.object({
  id: z.string(), teamId: z.string(), email: z.string(), role: InvitableRole,
  status: z.enum(['pending', 'accepted', 'revoked', 'expired']), expiresAt: isoDate, createdAt: isoDate,
});
// The token is in the creation response only; only its SHA-256 is stored.
export const InvitationCreated = Invitation.extend({ token: z.string() });
export const InvitationToken = z.string().regex(/^rlinv_[0-9A-Za-z]{40}$/, 'must be an invitation token');
export const InvitationAcceptBody = z.strictObject({ token: InvitationToken });
// For someone without an account yet: accepting creates it for the invited email.
export const InvitationSignupBody = z.strictObject({ token: InvitationToken, password: Password, name: PersonName.optional() });
export const MemberPatchBody = z.strictObject({ role: TeamRole });
// POST /api/auth/accept-invitation: a session for the new account, and its membership.
export const InvitationSignupResponse = AuthResponse.extend({ member: Member });

// ---- projects
export const ProjectsQuery = Pagination.extend({ teamId: id('team').optional() });
export const ProjectPatchBody = z.strictObject({ name: Name.optional() }).refine(nonEmpty, atLeastOne);

// ---- project settings: a column per known setting; `settings` (jsonb) leaves
// room for more without a migration, each one validated here.
export const SETTINGS_DEFAULTS = { dataRetentionDays: 90, flakinessThreshold: 0.3, autoQuarantineEnabled: false } as const;
export const ProjectSettingsPatchBody = z.strictObject({
  dataRetentionDays: z.number().int().min(1).max(3650),
  flakinessThreshold: z.number().min(0).max(1),
  autoQuarantineEnabled: z.boolean(),
}).partial().refine(nonEmpty, atLeastOne);
export type ProjectSettingsPatchBody = z.infer<typeof ProjectSettingsPatchBody>;
export const ProjectSettings = z.object({
  projectId: z.string(), dataRetentionDays: z.number().int(), flakinessThreshold: z.number(),
  autoQuarantineEnabled: z.boolean(), updatedAt: isoDate,
});

// ---- API keys
export const ApiKeysQuery = Pagination.extend({ projectId: id('project') });
export const ApiKeyPatchBody = z.strictObject({
  isActive: z.boolean().optional(),
  name: Name.optional(),
  expiresAt: future.nullable().optional(),
}).refine(nonEmpty, atLeastOne);
export const ApiKey = z.object({
  id: z.string(), name: z.string(), projectId: z.string(), maskedKey: z.string(), scope: ApiKeyScope,
  isActive: z.boolean(), expiresAt: isoDate.nullable(), lastUsedAt: isoDate.nullable(), createdAt: isoDate, updatedAt: isoDate,
});

// ---- users
export const UsersQuery = Pagination;
export const UserCreateBody = z.strictObject({
  email: Email, password: Password, name: PersonName.optional(), role: z.enum(['admin', 'user']).default('user'),
});
export const PasswordChangeBody = z.strictObject({ currentPassword: z.string().min(1).max(200), newPassword: Password })
  .refine((b) => b.currentPassword !== b.newPassword, { message: 'must differ from the current password', path: ['newPassword'] });
export const Me = User.extend({
  teams: z.array(z.object({ id: z.string(), name: z.string(), role: TeamRole })),
  // only when the caller is signed in by the dashboard's session cookie: the value for X-CSRF-Token
  csrfToken: z.string().optional(),
});
// GET /api/auth/session: the session cookie's user, or null when signed out
// (then whether the instance still needs its first administrator).
export const SessionStatus = z.object({ user: Me.nullable(), needsSetup: z.boolean() });
// A profile change (Fusillade: name and avatar); null clears.
export const MePatchBody = z.object({
  name: Name.nullable().optional(),
  avatarUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(2000).nullable().optional(),
}).strict().refine(nonEmpty, atLeastOne);
export const LogoutResponse = z.object({ ended: z.enum(['session', 'token']) });

// ---- audit
export const AuditQuery = Pagination.extend({
  teamId: id('team').optional(),
  projectId: id('project').optional(),
  action: z.string().regex(/^[a-z_]+\.[a-z_]+$/, 'must be an action like project.deleted').max(100).optional(),
});
export const AuditEntry = z.object({
  id: z.string(), teamId: z.string().nullable(), projectId: z.string().nullable(),
  actor: z.object({ type: z.enum(['user', 'api_key', 'system']), id: z.string() }),
  action: z.string(), targetType: z.string(), targetId: z.string(),
  before: z.record(z.string(), z.unknown()).nullable(), after: z.record(z.string(), z.unknown()).nullable(),
  requestId: z.string().nullable(), createdAt: isoDate,
});

export const Deleted = z.object({ success: z.literal(true), message: z.string() });
export { Project, Team };
