import type { ApiKeyScope } from '../../schemas/api.ts';

// Who is calling: a project API key (machines) or a user with a JWT (people).
// Authentication sets it on ctx.state.principal (domain/accounts/auth.ts); the
// rate limits and idempotency keys below the routers are per principal.
export type Principal =
  | { kind: 'api_key'; keyId: string; projectId: string; teamId: string; scope: ApiKeyScope }
  | { kind: 'user'; userId: string; isAdmin: boolean };
