import Router from '@koa/router';
import { AppError } from '../../lib/errors.ts';
import { parse } from '../../lib/http/errors.ts';
import { authorizeTeam, principalOf, requireInstanceAdmin } from '../../domain/accounts/auth.ts';
import type { AppDeps } from '../../domain/app-deps.ts';
import { AuditQuery } from '../../schemas/accounts.ts';
import { audit, auditView } from '../../domain/pg/audit.ts';
import { listBody } from './support.ts';

// The audit log: a team's management changes for its admins (?teamId); the
// instance-level ones (users) for instance administrators (no teamId).
export function auditRouter({ pool }: AppDeps): Router {
  const router = new Router();

  router.get('/api/audit', async (ctx) => {
    const q = parse(AuditQuery, ctx.query);
    if (q.teamId) await authorizeTeam(pool, principalOf(ctx), q.teamId, 'manage');
    else if (q.projectId) throw new AppError('validation_error', "'teamId' is required with 'projectId'", { field: 'teamId' });
    else requireInstanceAdmin(ctx);
    ctx.body = listBody(await audit.list(pool, { ...q, teamId: q.teamId ?? null }), auditView, q);
  });

  return router;
}
