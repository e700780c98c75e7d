import type { Context } from 'koa';
import { derivedId, newId, testCaseIdOf } from '../schemas/ids.ts';
import { AppError, notFound } from '../lib/errors.ts';
import type { Pool } from '../lib/pg.ts';
import { authorize, principalOf, type Asked } from '../domain/accounts/auth.ts';
import type { Principal } from '../lib/http/principal.ts';
import type { RunCreateBody, RunPatchBody, SuiteCreateBody, TestCreateBody } from '../schemas/api.ts';
import type { Event } from '../schemas/events.ts';
import { actorOf, makeEvent } from '../domain/events.ts';
import { runContext, runRegistry, type RegisteredRun, suiteRegistry } from './run-registry.ts';

// The write commands behind both the single routes and the batch endpoint:
// validate against the write-side state, build the events, and say how to undo
// the write-side state if the events never reach the log. Nothing here appends.

export type Planned = {
  events: Event[];
  // The answer: what the single route responds, and the batch's per-item result.
  result: Record<string, unknown>;
  undo?: () => Promise<void>;
};

const TERMINAL = new Set(['passed', 'failed', 'cancelled']);

// One request's view of the write side: who calls, when, and what it already
// looked up (a batch touches the same project and runs many times).
export class WriteScope {
  readonly now = new Date().toISOString();
  readonly principal: Principal;
  private projects = new Set<string>();
  private runs = new Map<string, RegisteredRun>();
  private contexts = new Map<string, ReturnType<typeof runContext>>();
  // per run, the suites this request found or reported
  private suites = new Map<string, Set<string>>();
  private actor: ReturnType<typeof actorOf>;
  private correlationId: string | null;

  constructor(readonly pool: Pool, ctx: Context) {
    this.principal = principalOf(ctx);
    this.actor = actorOf(this.principal);
    this.correlationId = (ctx.state.requestId as string) ?? null;
  }

  // `asked` is what the caller named: another project's resource answers 404
  // worded exactly like an unknown id of that kind.
  async authorizeProject(projectId: string, asked?: Asked): Promise<void> {
    if (this.projects.has(projectId)) return;
    await authorize(this.pool, this.principal, projectId, 'ingest', asked);
    this.projects.add(projectId);
  }

  // A run the caller may write to: exists, same project, not deleted.
  async writableRun(runId: string, projectId?: string): Promise<RegisteredRun> {
    let run = this.runs.get(runId);
    if (!run) {
      run = await runRegistry.find(this.pool, runId);
      if (run) this.runs.set(runId, run);
    }
    if (!run || (projectId && run.project_id !== projectId)) throw notFound('run', runId);
    await this.authorizeProject(run.project_id, { kind: 'run', id: runId });
    if (run.deleted_at) throw notFound('run', runId);
    return run;
  }

  // The run, when this request already found it writable for the caller (a
  // batch's many results for one run take this path, without a round trip).
  knownWritableRun(runId: string, projectId?: string): RegisteredRun | null {
    const run = this.runs.get(runId);
    if (!run || run.deleted_at || !this.projects.has(run.project_id) || (projectId && run.project_id !== projectId)) return null;
    return run;
  }

  remember(run: RegisteredRun): void {
    this.runs.set(run.id, run);
  }

  forgetRun(runId: string): void {
    this.runs.delete(runId);
  }

  // A suite a test or a child suite names must be one reported for the same
  // run (earlier, or earlier in this batch): 400 naming the field otherwise,
  // worded alike for an unknown suite and another run's or project's.
  knownSuite(runId: string, suiteId: string): boolean {
    return this.suites.get(runId)?.has(suiteId) ?? false;
  }

  async requireSuite(runId: string, suiteId: string, field: string): Promise<void> {
    if (this.knownSuite(runId, suiteId) || (await suiteRegistry.has(this.pool, runId, suiteId))) return this.rememberSuite(runId, suiteId);
    throw new AppError('validation_error', `'${field}' does not name a suite of run ${runId}; report the suite first`, {
      field, issues: [{ path: field, message: 'unknown suite for this run' }],
    });
  }

  rememberSuite(runId: string, suiteId: string): void {
    let set = this.suites.get(runId);
    if (!set) this.suites.set(runId, (set = new Set()));
    set.add(suiteId);
  }

  forgetSuite(runId: string, suiteId: string): void {
    this.suites.get(runId)?.delete(suiteId);
  }

  runContext(run: RegisteredRun): ReturnType<typeof runContext> {
    let c = this.contexts.get(run.id);
    if (!c) this.contexts.set(run.id, (c = runContext(run)));
    return c;
  }

  event<T extends Event['type']>(type: T, projectId: string, runId: string, data: Extract<Event, { type: T }>['data']): Event {
    return makeEvent(type, { projectId, runId, now: this.now, actor: this.actor, correlationId: this.correlationId, data } as never);
  }
}

export async function createRun(scope: WriteScope, body: RunCreateBody): Promise<Planned> {
  await scope.authorizeProject(body.projectId);
  const { projectId, ...fields } = body;
  const fresh = { id: newId('run'), projectId, branch: body.branch, commitSha: body.commitSha, createdAt: scope.now };
  let run: RegisteredRun;
  let undo: () => Promise<void>;
  if (body.ciBuildId && body.shardTotal && body.shardTotal > 1) {
    // Shards of one build merge into one run (docs/ingest.md).
    const joined = await runRegistry.registerShard(scope.pool, { ...fresh, ciBuildId: body.ciBuildId, shardTotal: body.shardTotal, shardCurrent: body.shardCurrent });
    run = joined.run;
    if (run.deleted_at) {
      throw new AppError('conflict', 'the run of this CI build was deleted; report the shards under a new ciBuildId', { runId: run.id, ciBuildId: body.ciBuildId });
    }
    undo = () => runRegistry.forget(scope.pool, run.id, joined.shard);
  } else {
    run = await runRegistry.register(scope.pool, fresh);
    undo = () => runRegistry.forget(scope.pool, run.id);
  }
  scope.remember(run);
  // Every shard appends run.created for the one run id (with its own shard
  // fields); projections keep the first. Whichever reaches the log creates it.
  const createdAt = run.created_at.toISOString();
  const event = scope.event('run.created', projectId, run.id, { id: run.id, ...fields, createdAt });
  return {
    events: [event],
    result: { id: run.id, projectId, ...fields, createdAt, updatedAt: scope.now },
    undo: async () => {
      scope.forgetRun(run.id);
      await undo();
    },
  };
}

export type PatchPlanned = Planned & { finishedWithoutStats: boolean };

export async function updateRun(scope: WriteScope, runId: string, body: RunPatchBody): Promise<PatchPlanned> {
  const run = await scope.writableRun(runId);
  const { status, duration, shardCurrent, ...given } = body;
  const stats = Object.keys(given).length ? given : null;
  let data = { id: runId, status: status ?? null, stats, duration: duration ?? null, updatedAt: scope.now, run: runContext(run) } as Extract<Event, { type: 'run.updated' }>['data'];
  let shard: Record<string, unknown> | undefined;
  // A shard of a merged run reports for itself: its status and stats count
  // towards the run's only once every shard finished.
  if (run.shard_total && (status || stats || duration !== undefined)) {
    const outcome = await runRegistry.reportShard(scope.pool, run, { shard: shardCurrent, status: status ?? null, stats, duration: duration ?? null, at: scope.now });
    data = { ...data, status: outcome.status, stats: outcome.stats, duration: outcome.duration, shard: outcome.shard };
    shard = { ...outcome.shard, finished: outcome.finished };
  }
  const effective = data.status ?? (shard ? 'running' : null);
  const s = data.stats ?? {};
  return {
    events: [scope.event('run.updated', run.project_id, runId, data)],
    result: {
      id: runId, status: effective,
      totalTests: s.totalTests ?? null, passedTests: s.passedTests ?? null, failedTests: s.failedTests ?? null,
      skippedTests: s.skippedTests ?? null, flakyTests: s.flakyTests ?? null,
      duration: data.duration, updatedAt: scope.now, ...(shard ? { shard } : {}),
    },
    finishedWithoutStats: !!data.status && TERMINAL.has(data.status) && !data.stats,
  };
}

// Deleting data takes a full-scope key or an admin of the project's team.
export async function deleteRun(scope: WriteScope, runId: string): Promise<Planned> {
  const run = await scope.writableRun(runId);
  const p = scope.principal;
  if (p.kind === 'api_key' && p.scope !== 'full') {
    throw new AppError('insufficient_scope', 'deleting a run takes an API key of scope full', { required: 'full' });
  }
  if (p.kind === 'user') await authorize(scope.pool, p, run.project_id, 'manage', { kind: 'run', id: runId });
  if (!(await runRegistry.markDeleted(scope.pool, runId, scope.now))) throw notFound('run', runId);
  scope.forgetRun(runId);
  return {
    events: [scope.event('run.deleted', run.project_id, runId, { id: runId, deletedAt: scope.now })],
    result: { success: true, message: 'Run deleted successfully' },
    undo: () => runRegistry.unmarkDeleted(scope.pool, runId),
  };
}

export async function reportTest(scope: WriteScope, body: TestCreateBody): Promise<Planned> {
  await scope.authorizeProject(body.projectId);
  const run = await scope.writableRun(body.runId, body.projectId);
  if (body.suiteId) await scope.requireSuite(run.id, body.suiteId, 'suiteId');
  return testReport(scope, body, run);
}

// For a run already known writable, and a suiteId already known to be of it
// (scope.requireSuite): no await in between.
export function testReport(scope: WriteScope, body: TestCreateBody, run: RegisteredRun): Planned {
  const testId = newId('test');
  // `flaky` and isFlaky say the same thing: passed after a failed attempt.
  const isFlaky = body.isFlaky || body.status === 'flaky';
  const status = isFlaky && body.status === 'passed' ? 'flaky' : body.status;
  const { projectId, runId } = body;
  const testCaseId = testCaseIdOf(projectId, body.filePath, body.fullTitle, body.variant);
  // Field by field rather than spread: one object shape for every result, which
  // a batch of thousands builds and serializes markedly faster.
  const event = scope.event('test.reported', projectId, runId, {
    id: testId, runId, testCaseId, suiteId: body.suiteId, title: body.title, fullTitle: body.fullTitle, filePath: body.filePath,
    lineNumber: body.lineNumber, variant: body.variant, status, duration: body.duration, retries: body.retries, attempt: body.attempt,
    isFlaky, tags: body.tags, annotations: body.annotations, error: body.error, steps: body.steps, attempts: body.attempts,
    stdout: body.stdout, stderr: body.stderr, startedAt: body.startedAt ?? scope.now, createdAt: scope.now, run: scope.runContext(run),
  });
  return {
    events: [event],
    result: {
      id: testId, runId, projectId, testCaseId, title: body.title, fullTitle: body.fullTitle,
      status, duration: body.duration, isFlaky, createdAt: scope.now,
    },
  };
}

// Upsert by title + file path within the run: the same pair is the same suite.
export const suiteIdOf = (runId: string, filePath: string | null, title: string) => derivedId('suite', runId, filePath ?? '', title);

export async function reportSuite(scope: WriteScope, body: SuiteCreateBody): Promise<Planned> {
  await scope.authorizeProject(body.projectId);
  await scope.writableRun(body.runId, body.projectId);
  const suiteId = suiteIdOf(body.runId, body.filePath, body.title);
  if (body.parentSuiteId) {
    if (body.parentSuiteId === suiteId) {
      throw new AppError('validation_error', "'parentSuiteId' names the suite itself", { field: 'parentSuiteId', issues: [{ path: 'parentSuiteId', message: 'a suite cannot be its own parent' }] });
    }
    await scope.requireSuite(body.runId, body.parentSuiteId, 'parentSuiteId');
  }
  const fresh = await suiteRegistry.register(scope.pool, body.runId, suiteId);
  scope.rememberSuite(body.runId, suiteId);
  const event = scope.event('suite.reported', body.projectId, body.runId, {
    id: suiteId, runId: body.runId, title: body.title, filePath: body.filePath, parentSuiteId: body.parentSuiteId, reportedAt: scope.now,
  });
  return {
    events: [event],
    result: {
      id: suiteId, runId: body.runId, projectId: body.projectId, title: body.title, filePath: body.filePath,
      parentSuiteId: body.parentSuiteId, createdAt: scope.now,
    },
    undo: async () => {
      if (!fresh) return;
      scope.forgetSuite(body.runId, suiteId);
      await suiteRegistry.forget(scope.pool, body.runId, suiteId);
    },
  };
}
