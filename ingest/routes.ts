import Router from '@koa/router';
import type { Context } from 'koa';
import { parse } from '../lib/http/errors.ts';
import type { AppDeps } from '../domain/app-deps.ts';
import { STALE_HEADER } from '../lib/http/read-your-writes.ts';
import { RunCreateBody, RunPatchBody, SuiteCreateBody, TestCreateBody } from '../schemas/api.ts';
import { id } from '../schemas/common.ts';
import { runCounts, runsRepo } from '../domain/pg/runs.ts';
import { formatPosition, type Position } from '../lib/event-log.ts';
import { createRun, deleteRun, reportSuite, reportTest, updateRun, WriteScope, type Planned } from './commands.ts';

// The write side: validate, authorize, append to the log, answer once Kafka
// acknowledged. Nothing here writes a read model.
export function ingestRouter(services: AppDeps): Router {
  const { pool, eventLog, logger, watcher, config } = services;
  const router = new Router();

  // Appends what the commands planned, all or nothing; undoes their write-side
  // state when the log refused. Sets the read-your-writes token.
  async function commit(ctx: Context, planned: Planned[]): Promise<Position[]> {
    let positions: Position[];
    try {
      positions = await eventLog.append(planned.flatMap((p) => p.events));
    } catch (err) {
      for (const p of planned.reverse()) await p.undo?.().catch((e) => logger.error({ err: e }, 'could not undo a write'));
      throw err;
    }
    ctx.set('X-Runledger-Position', formatPosition(positions));
    return positions;
  }

  router.post('/api/runs', async (ctx) => {
    const body = parse(RunCreateBody, ctx.request.body);
    const planned = await createRun(new WriteScope(pool, ctx), body);
    await commit(ctx, [planned]);
    ctx.status = 201;
    ctx.body = planned.result;
  });

  router.patch('/api/runs/:id', async (ctx) => {
    const runId = parse(id('run'), ctx.params.id);
    const body = parse(RunPatchBody, ctx.request.body);
    const planned = await updateRun(new WriteScope(pool, ctx), runId, body);
    const positions = await commit(ctx, [planned]);
    ctx.body = planned.result;
    if (planned.finishedWithoutStats) {
      // Finished without stats: the counts are those of the run's tests, as the
      // projection counted them once it applied this finish (bounded wait).
      const caughtUp = await watcher.waitFor(new Map(positions.map((p) => [p.partition, p.offset])), ['postgres'], config.readYourWritesTimeoutMs);
      if (!caughtUp) ctx.set(STALE_HEADER, 'true');
      const row = await runsRepo.byId(pool, runId);
      if (row) {
        const { passRate, duration, ...counts } = runCounts(row);
        void passRate;
        ctx.body = { ...planned.result, ...counts, duration: planned.result.duration ?? duration };
      }
    }
  });

  router.delete('/api/runs/:id', async (ctx) => {
    const runId = parse(id('run'), ctx.params.id);
    const planned = await deleteRun(new WriteScope(pool, ctx), runId);
    await commit(ctx, [planned]);
    ctx.body = planned.result;
  });

  router.post('/api/tests', async (ctx) => {
    const body = parse(TestCreateBody, ctx.request.body);
    const planned = await reportTest(new WriteScope(pool, ctx), body);
    await commit(ctx, [planned]);
    ctx.status = 201;
    ctx.body = planned.result;
  });

  router.post('/api/test-suites', async (ctx) => {
    const body = parse(SuiteCreateBody, ctx.request.body);
    const planned = await reportSuite(new WriteScope(pool, ctx), body);
    await commit(ctx, [planned]);
    ctx.status = 201;
    ctx.body = planned.result;
  });

  return router;
}
