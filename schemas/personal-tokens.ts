import { z } from 'zod';
import { isoDate } from './common.ts';

// Personal API tokens (docs/access.md): `rlp_…`, a user's own credential.
export const PersonalTokenScope = z.enum(['read', 'full']);
export type PersonalTokenScope = z.infer<typeof PersonalTokenScope>;
export const PersonalTokenCreateBody = z.object({
  name: z.string().trim().min(1).max(200),
  expiresAt: z.iso.datetime({ offset: true }).refine((d) => Date.parse(d) > Date.now(), 'must be in the future').optional(),
  scope: PersonalTokenScope,
}).strict();
export const PersonalToken = z.object({
  id: z.string(), name: z.string(), scope: PersonalTokenScope,
  // rlp_****…****abcd
  maskedToken: z.string(),
  expiresAt: isoDate.nullable(), lastUsedAt: isoDate.nullable(), createdAt: isoDate,
});
// the token itself: in the creation answer only
export const PersonalTokenCreated = PersonalToken.extend({ token: z.string() });
