import Router from '@koa/router';
import { AppError, notFound } from '../../lib/errors.ts';
import { parse } from '../../lib/http/errors.ts';
import { authorize, principalOf, readableProject } from '../../domain/accounts/auth.ts';
import type { AppDeps } from '../../domain/app-deps.ts';
import { RunsQuery } from '../../schemas/api.ts';
import { id } from '../../schemas/common.ts';
import { runListView, runView, runsRepo } from '../../domain/pg/runs.ts';
import { RunStreamQuery, RunWaitQuery } from '../../schemas/webhooks.ts';
import { pollRun, verdictOf, waitForRun } from '../services/live-runs.ts';

export function runsRouter({ pool, logger }: AppDeps): Router {
  const router = new Router();

  router.get('/api/runs', async (ctx) => {
    const q = parse(RunsQuery, ctx.query);
    const projectId = await readableProject(pool, principalOf(ctx), q.projectId);
    const { rows, total } = await runsRepo.list(pool, { ...q, projectId });
    ctx.body = { data: rows.map(runListView), total, limit: q.limit, offset: q.offset };
  });

  router.get('/api/runs/:id', async (ctx) => {
    const runId = parse(id('run'), ctx.params.id);
    const q = parse(RunWaitQuery, ctx.query);
    const run = await runsRepo.byId(pool, runId);
    if (!run) throw notFound('run', runId);
    await authorize(pool, principalOf(ctx), run.project_id, 'read', { kind: 'run', id: runId });
    if (!q.wait) {
      ctx.body = runView(run);
      return;
    }
    // Long poll (CI gates): until the run is finished or `timeout` seconds passed.
    const waited = await waitForRun(pool, runId, q.timeout * 1000, () => ctx.req.destroyed);
    if (!waited.run) throw notFound('run', runId);
    ctx.body = { ...runView(waited.run), timedOut: waited.timedOut, verdict: await verdictOf(pool, waited.run, q.ignoreQuarantined) };
  });

  // Server-Sent Events of a run's progress: `test` (each result as the
  // Postgres projector commits it, `id:` its sequence), `counters`, `status`,
  // then `end` (the run) once it is finished and every result was sent.
  // Resume with Last-Event-ID (or ?after=): results after that sequence.
  // Polls the read model every 250 ms; a comment line every `heartbeat` s.
  router.get('/api/runs/:id/stream', async (ctx) => {
    const runId = parse(id('run'), ctx.params.id);
    const q = parse(RunStreamQuery, ctx.query);
    const lastId = ctx.get('last-event-id');
    if (lastId && !/^\d{1,18}$/.test(lastId)) throw new AppError('validation_error', "'Last-Event-ID' must be a result sequence number", { field: 'Last-Event-ID' });
    const run = await runsRepo.byId(pool, runId);
    if (!run) throw notFound('run', runId);
    await authorize(pool, principalOf(ctx), run.project_id, 'read', { kind: 'run', id: runId });

    // Written to the socket directly (ctx.respond = false): a client that goes
    // away is the normal end of a stream, not an error of a piped body.
    ctx.status = 200;
    ctx.respond = false;
    const res = ctx.res;
    ctx.req.socket.setTimeout(0);
    ctx.req.socket.setNoDelay(true);
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no',
      'x-request-id': String(ctx.state.requestId ?? ''),
    });
    let closed = false;
    res.on('close', () => {
      closed = true;
    });
    const write = (s: string) => {
      if (!closed) res.write(s);
    };
    // -2: from the start (offsets start at 0; rows projected before the seq column have -1)
    let after = lastId ? Number(lastId) : (q.after ?? -2);
    let last: { status: string; counts: string } | null = null;
    let quietSince = Date.now();
    write('retry: 1000\n\n');
    try {
      while (!closed) {
        const r = await pollRun(pool, runId, after, last);
        after = r.afterSeq;
        last = r.last;
        for (const e of r.events) write(`${e.id !== undefined ? `id: ${e.id}\n` : ''}event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`);
        if (r.events.length) quietSince = Date.now();
        if (r.done) break;
        if (Date.now() - quietSince >= q.heartbeat * 1000) {
          write(': heartbeat\n\n');
          quietSince = Date.now();
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    } catch (err) {
      write(`event: error\ndata: ${JSON.stringify({ message: 'stream failed; reconnect with Last-Event-ID' })}\n\n`);
      logger.warn({ err, runId }, 'run stream failed');
    }
    res.end();
  });

  return router;
}
