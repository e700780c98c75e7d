import type { ApiKeyScope } from '../../schemas/api.ts';
import type { PersonalTokenScope } from '../../schemas/personal-tokens.ts';

// Who is calling: a project API key (machines) or a user with a JWT (people).
// Authentication sets it on ctx.state.principal (domain/accounts/auth.ts); the
// rate limits and idempotency keys below the routers are per principal.
export type Principal =
  | { kind: 'api_key'; keyId: string; projectId: string; teamId: string; scope: ApiKeyScope }
  // token: a personal API token (rlp_…) acting as its user, narrowed by its scope
  | { kind: 'user'; userId: string; isAdmin: boolean; token?: TokenGrant };

// A personal API token's grant (domain/accounts/personal-tokens.ts): which token, and its scope.
export type TokenGrant = { id: string; scope: PersonalTokenScope };
