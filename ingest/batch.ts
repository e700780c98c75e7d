import Router from '@koa/router';
import type { Context } from 'koa';
import { AppError } from '../lib/errors.ts';
import { parse, toAppError } from '../lib/http/errors.ts';
import { principalOf, projectIdFor } from '../domain/accounts/auth.ts';
import { parseJson } from '../lib/http/body.ts';
import type { AppDeps } from '../domain/app-deps.ts';
import { BatchItem } from '../schemas/batch.ts';
import type { Event } from '../schemas/events.ts';
import { formatPosition, type EventLog } from '../lib/event-log.ts';
import { createRun, reportSuite, reportTest, testReport, updateRun, WriteScope, type Planned } from './commands.ts';

export const BATCH_PATH = '/api/ingest/batch';

type Outcome =
  | { index: number; planned: Planned; type: BatchItem['type']; id: string; ref?: string }
  | { index: number; error: AppError };

// POST /api/ingest/batch (docs/ingest.md): any mix of run, suite, test and
// run-update items, each validated and authorized on its own; one bad item is
// rejected in its result and does not sink the rest. The accepted items' events
// are appended in item order (a run's items share a partition, so they keep
// their order in the log), in produce requests of bounded size.
export function batchRouter({ pool, eventLog, logger, config }: AppDeps): Router {
  const router = new Router();

  router.post(BATCH_PATH, async (ctx) => {
    const principal = principalOf(ctx);
    if (principal.kind === 'api_key' && principal.scope === 'read') {
      throw new AppError('insufficient_scope', 'this API key cannot ingest', { required: 'ingest' });
    }
    const t0 = performance.now();
    const raw = itemsOf(ctx);
    if (raw.length === 0) throw new AppError('validation_error', 'the batch has no items', { field: '', issues: [] });
    if (raw.length > config.batchMaxItems) {
      throw new AppError('payload_too_large', `a batch takes at most ${config.batchMaxItems} items; split it`, { maxItems: config.batchMaxItems, items: raw.length });
    }
    const scope = new WriteScope(pool, ctx);
    const refs = { runs: new Map<string, string>(), suites: new Map<string, string>() };
    const outcomes: Outcome[] = [];
    const undoAll = async (list: Outcome[]) => {
      for (const o of [...list].reverse()) if ('planned' in o) await o.planned.undo?.().catch((err) => logger.error({ err }, 'could not undo a write'));
    };
    const appender = new PipelinedAppend(eventLog);
    let slice: Event[] = [];
    let failure: unknown = null;
    for (const [index, item] of raw.entries()) {
      try {
        if (item instanceof AppError) throw item;
        const outcome: Outcome = { index, ...(await plan(scope, parse(BatchItem, item), refs)) };
        outcomes.push(outcome);
        slice.push(...outcome.planned.events);
      } catch (err) {
        const error = toAppError(err);
        if (!error) {
          failure = err; // a store failed: this item and the rest are not taken
          break;
        }
        outcomes.push({ index, error });
      }
      if (slice.length >= SLICE_EVENTS) {
        appender.push(slice);
        slice = [];
        await new Promise((r) => setImmediate(r)); // let the produce request go out
      }
    }
    appender.push(slice);
    const t1 = performance.now();
    await appender.done();
    // Where a batch's time went, for whoever tunes a reporter or the server.
    ctx.set('Server-Timing', `validate;dur=${(t1 - t0).toFixed(1)}, append-wait;dur=${(performance.now() - t1).toFixed(1)}`);

    const planned = outcomes.filter((o) => 'planned' in o);
    if (appender.appended === 0 && (failure || (appender.error && appender.sent > 0))) {
      await undoAll(planned);
      throw failure ?? appender.error; // nothing was stored: the request failed as a whole
    }
    if (failure) logger.error({ err: failure }, 'a batch stopped part-way');
    const notTaken = new AppError('unavailable', 'this item was not stored (a store failed part-way through the batch); send it again', {}, { 'Retry-After': '5' });
    // Appends are in order: the items whose events all made it are accepted.
    let seen = 0;
    const notStored: Outcome[] = [];
    const results = raw.map((_, index) => {
      const o = outcomes[index];
      if (!o) return rejected(index, notTaken);
      if ('planned' in o) {
        seen += o.planned.events.length;
        if (seen <= appender.appended) return { index, status: 'accepted', type: o.type, id: o.id, ...(o.ref ? { ref: o.ref } : {}) };
        notStored.push(o);
        return rejected(index, appender.error ?? notTaken);
      }
      return rejected(index, o.error);
    });
    await undoAll(notStored);
    if (appender.positions.size) ctx.set('X-Runledger-Position', formatPosition([...appender.positions].map(([partition, offset]) => ({ partition, offset }))));
    const accepted = results.filter((r) => r.status === 'accepted').length;
    ctx.body = { accepted, rejected: results.length - accepted, results };
  });

  return router;
}

// Events are sent in slices while the rest of the batch is still validated,
// so the produce round trips overlap the validation work.
const SLICE_EVENTS = 250;

// Appends slices one produce request after another (the log keeps item order);
// after a failure nothing more is sent, so what is stored is always a prefix.
class PipelinedAppend {
  private chain: Promise<void> = Promise.resolve();
  sent = 0;
  appended = 0;
  error: AppError | null = null;
  readonly positions = new Map<number, number>();

  constructor(private log: EventLog) {}

  push(events: Event[]): void {
    if (events.length === 0) return;
    this.sent += events.length;
    this.chain = this.chain.then(async () => {
      if (this.error) return;
      const r = await this.log.appendInOrder(events);
      this.appended += r.appended;
      for (const p of r.positions) this.positions.set(p.partition, Math.max(p.offset, this.positions.get(p.partition) ?? -1));
      this.error = r.error;
    });
  }

  done(): Promise<void> {
    return this.chain;
  }
}

const rejected = (index: number, e: AppError) => ({ index, status: 'rejected', error: { code: e.code, message: e.message, details: e.details } });

// The items as sent: a JSON array, or one JSON value per NDJSON line (a line
// that is not JSON is a rejected item, not a failed request).
function itemsOf(ctx: Context): unknown[] {
  if (ctx.state.ndjson) {
    const lines = (ctx.request.rawBody ?? '').split('\n');
    const items: unknown[] = [];
    for (const line of lines) {
      if (!line.trim()) continue;
      try {
        items.push(parseJson(line));
      } catch (err) {
        items.push(err);
      }
    }
    return items;
  }
  const body = ctx.request.body;
  if (!Array.isArray(body)) {
    throw new AppError('validation_error', 'the body must be a JSON array of items (or NDJSON, one item per line)', { field: '', issues: [] });
  }
  return body;
}

type Refs = { runs: Map<string, string>; suites: Map<string, string> };

function resolveRef(map: Map<string, string>, ref: string, field: string, what: string): string {
  const found = map.get(ref);
  if (!found) {
    throw new AppError('validation_error', `'${field}' does not name an accepted ${what} item earlier in this batch`, {
      field, issues: [{ path: field, message: `unknown ${what} ref` }],
    });
  }
  return found;
}

function claimRef(map: Map<string, string>, ref: string | undefined, id: string) {
  if (ref === undefined) return;
  if (map.has(ref)) throw new AppError('validation_error', "'ref' is already used by an earlier item", { field: 'ref', issues: [{ path: 'ref', message: 'duplicate ref' }] });
  map.set(ref, id);
}

async function plan(scope: WriteScope, item: BatchItem, refs: Refs): Promise<Omit<Extract<Outcome, { planned: Planned }>, 'index'>> {
  const runOf = async (b: { runId?: string; runRef?: string; projectId?: string }) => {
    const runId = b.runRef !== undefined ? resolveRef(refs.runs, b.runRef, 'runRef', 'run') : b.runId!;
    // Without projectId the run's own project is meant.
    const projectId = b.projectId ?? (await scope.writableRun(runId)).project_id;
    return { runId, projectId };
  };
  switch (item.type) {
    case 'run': {
      const { type, ref, ...body } = item;
      if (ref !== undefined && refs.runs.has(ref)) claimRef(refs.runs, ref, '');
      const planned = await createRun(scope, { ...body, projectId: projectIdFor(scope.principal, body.projectId) });
      const id = planned.result.id as string;
      claimRef(refs.runs, ref, id);
      return { planned, type, id, ref };
    }
    case 'suite': {
      const { type, ref, parentSuiteRef, runRef, ...body } = item;
      if (ref !== undefined && refs.suites.has(ref)) claimRef(refs.suites, ref, '');
      const parentSuiteId = parentSuiteRef !== undefined ? resolveRef(refs.suites, parentSuiteRef, 'parentSuiteRef', 'suite') : body.parentSuiteId;
      const planned = await reportSuite(scope, { ...body, ...(await runOf({ ...body, runRef })), parentSuiteId });
      const id = planned.result.id as string;
      claimRef(refs.suites, ref, id);
      return { planned, type, id, ref };
    }
    case 'test': {
      const { type, suiteRef, runRef, ...body } = item;
      const suiteId = suiteRef !== undefined ? resolveRef(refs.suites, suiteRef, 'suiteRef', 'suite') : body.suiteId;
      const runId = runRef !== undefined ? resolveRef(refs.runs, runRef, 'runRef', 'run') : body.runId!;
      const known = scope.knownWritableRun(runId, body.projectId);
      if (known && suiteId && !scope.knownSuite(runId, suiteId)) await scope.requireSuite(runId, suiteId, suiteRef !== undefined ? 'suiteRef' : 'suiteId');
      const planned = known
        ? testReport(scope, { ...body, runId, projectId: known.project_id, suiteId }, known)
        : await reportTest(scope, { ...body, ...(await runOf({ ...body, runRef })), suiteId });
      return { planned, type, id: planned.result.id as string };
    }
    case 'run-update': {
      const { type, runRef, runId: _runId, projectId: _projectId, ...patch } = item;
      if (Object.keys(patch).length === 0) throw new AppError('validation_error', 'at least one field is required', { field: '', issues: [] });
      const { runId, projectId } = await runOf(item);
      await scope.writableRun(runId, projectId);
      const planned = await updateRun(scope, runId, patch);
      void runRef;
      return { planned, type, id: runId };
    }
  }
}
