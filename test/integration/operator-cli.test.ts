import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { createTenant, type Tenant } from '../support/tenants.ts';
import { client } from '../support/http.ts';
import { runBody, testBody } from '../support/fixtures.ts';
import { runEvents } from '../support/events.ts';
import { snapshotPostgres } from '../support/snapshot.ts';
import { killHard, runToEnd, spawnProcess } from '../support/processes.ts';
import { EventLog } from '../../lib/event-log.ts';
import { EXAMPLE_EVENTS } from '../../schemas/examples.ts';
import type { Event } from '../../schemas/events.ts';
import { newId } from '../../schemas/ids.ts';
import { POSTGRES_READ_MODELS } from '../../projections/postgres/read-models.ts';

const cli = (stack: TestStack, ...args: string[]) => runToEnd(['ops/cli.ts', ...args], { ...stack.env, RUNLEDGER_LOG_LEVEL: 'warn' });

// Runs `rebuild postgres`, stopping the in-process projector when it asks and
// starting it again after the switch; returns the command's output.
async function rebuildWithStop(stack: TestStack, ...flags: string[]): Promise<string> {
  const child = spawnProcess(['ops/cli.ts', 'rebuild', 'postgres', ...flags], stack.env, 'warn');
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 150_000;
  while (!child.output().includes('stop the postgres projector') && Date.now() < deadline) {
    child.assertAlive();
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(child.output()).toContain('stop the postgres projector');
  await stack.stopProjection('postgres');
  expect(await exited).toBe(0);
  await killHard(child);
  await stack.startProjection('postgres');
  return child.output();
}

describe('runledger rebuild postgres', () => {
  let stack: TestStack;
  let tenant: Tenant;
  let log: EventLog;

  beforeAll(async () => {
    stack = await startTestStack({ projections: ['postgres'] });
    tenant = await createTenant(stack.url);
    const api = client(stack.url, { key: tenant.apiKey });
    const run = (await api.post('/api/runs', runBody(tenant.projectId))).body;
    const suite = (await api.post('/api/test-suites', { runId: run.id, projectId: tenant.projectId, title: 'S', filePath: 'a.spec.ts' })).body;
    for (const [i, status] of ['passed', 'failed', 'flaky', 'skipped'].entries()) {
      expect((await api.post('/api/tests', testBody(tenant.projectId, run.id, i, { status, suiteId: suite.id }))).status).toBe(201);
    }
    await api.patch(`/api/runs/${run.id}`, { status: 'failed', totalTests: 4, duration: 99 });
    log = new EventLog(stack.kafka, stack.config.topic, 10_000);
    await log.append(runEvents(tenant.projectId, { tests: 200 }).events);
    await log.append(Object.values(EXAMPLE_EVENTS).filter((e) => e.type !== 'run.deleted' && e.type !== 'project.deleted'));
    // A deleted project of its own, so the tombstones table has a row to rebuild.
    const gone = newId('project');
    await log.append([{ ...EXAMPLE_EVENTS['project.deleted'], id: newId('event'), projectId: gone, data: { id: gone, deletedAt: new Date().toISOString() } } as Event]);
    // Generous bounds: on a loaded 2-core machine a projector takes its time.
    await stack.waitForProjections(undefined, 150_000);
  }, 200_000);

  afterAll(async () => {
    await log?.close();
    await stack?.stop();
  });

  it('builds fresh read models beside the live ones and switches to them: equal row for row, old ones kept on request', { timeout: 180_000 }, async () => {
    const before = await snapshotPostgres(stack);
    for (const [table, rows] of Object.entries(before)) expect(rows.length, table).toBeGreaterThan(0);
    const out = await rebuildWithStop(stack, '--keep-old');
    const old = /schema (rebuild_\w+_old)/.exec(out)?.[1];
    expect(old, out).toBeDefined();
    expect(await snapshotPostgres(stack)).toEqual(before);
    // The tables that served until the switch are the ones moved aside.
    const moved = await stack.pool.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1`, [old]);
    expect(moved.rows.map((x) => x.table_name)).toEqual([...POSTGRES_READ_MODELS].sort());
    await stack.pool.query(`DROP SCHEMA ${old} CASCADE`);
  });

  it('loses and doubles nothing written while it rebuilds, and leaves no shadow schema behind', { timeout: 300_000 }, async () => {
    const running = rebuildWithStop(stack);
    // Writes go on, through the live projector, during the rebuild and its switch.
    const during = [];
    for (let i = 0; i < 10; i++) {
      const run = runEvents(tenant.projectId, { tests: 50 });
      during.push(run);
      await log.append(run.events);
    }
    await running;
    const more = runEvents(tenant.projectId, { tests: 30 });
    await log.append(more.events);
    await stack.waitForProjections(undefined, 150_000);
    const q = async (sql: string, params: unknown[] = []) => (await stack.pool.query(sql, params)).rows[0].n;
    for (const run of [...during, more]) {
      const tests = run.events.filter((e) => e.type === 'test.reported').length;
      expect(await q('SELECT count(*)::int AS n FROM tests WHERE run_id = $1', [run.runId])).toBe(tests);
      expect(await q('SELECT total_tests AS n FROM runs WHERE id = $1', [run.runId])).toBe(tests);
    }
    expect(await q(`SELECT count(*)::int AS n FROM information_schema.schemata WHERE schema_name LIKE 'rebuild\\_%'`)).toBe(0);
  });

  it('rejects an unknown store or command with its usage and exit code 2', async () => {
    for (const args of [['rebuild', 'mysql'], ['rebuild'], ['frobnicate'], []]) {
      const r = await cli(stack, ...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain('usage: runledger');
    }
  });
});

describe('runledger dlq list and replay', () => {
  let stack: TestStack;
  let tenant: Tenant;
  let log: EventLog;

  beforeAll(async () => {
    stack = await startTestStack({ projections: ['postgres', 'clickhouse'] });
    tenant = await createTenant(stack.url);
    log = new EventLog(stack.kafka, stack.config.topic, 10_000);
  }, 120_000);

  afterAll(async () => {
    await log?.close();
    await stack?.stop();
  });

  it('lists nothing when nothing was dead-lettered', async () => {
    const r = await cli(stack, 'dlq', 'list');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('0 dead letter(s)');
  });

  it('lists a dead letter with its reason and origin, and replays it onto the log once the cause is fixed', async () => {
    // A constraint too strict for real data: the projector dead-letters what violates it.
    await stack.pool.query('ALTER TABLE tests ADD CONSTRAINT tests_duration_sane CHECK (duration < 100000)');
    const run = runEvents(tenant.projectId, { tests: 3 });
    const long = run.events.find((e) => e.type === 'test.reported')!;
    if (long.type !== 'test.reported') throw new Error('unreachable');
    long.data.duration = 500_000;
    long.correlationId = 'req-slow-test';
    // One run, one partition: append answers with the run's last offset there.
    const [last] = await log.append(run.events);
    const position = { partition: last!.partition, offset: last!.offset - (run.events.length - 1 - run.events.indexOf(long)) };
    await stack.waitForProjections();
    const count = async () => (await stack.pool.query('SELECT count(*)::int AS n FROM tests WHERE id = $1', [long.data.id])).rows[0].n;
    expect(await count()).toBe(0);

    const listed = await cli(stack, 'dlq', 'list', '--json');
    expect(listed.code, listed.stderr).toBe(0);
    const entries = JSON.parse(listed.stdout);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      dlqOffset: 0, step: 'postgres.apply', projection: 'postgres', eventId: long.id, eventType: 'test.reported',
      correlationId: 'req-slow-test', origin: { topic: stack.config.topic, partition: position!.partition, offset: position!.offset },
    });
    expect(entries[0].reason).toContain('tests_duration_sane');
    const table = await cli(stack, 'dlq', 'list');
    expect(table.stdout).toContain(`${stack.config.topic}:${position!.partition}:${position!.offset}`);

    // The fix: the constraint goes. Replay appends the original event again.
    await stack.pool.query('ALTER TABLE tests DROP CONSTRAINT tests_duration_sane');
    const replayed = await cli(stack, 'dlq', 'replay', '--offset', '0');
    expect(replayed.code, replayed.stderr).toBe(0);
    expect(replayed.stdout).toContain('1 event(s) appended');
    expect(replayed.stdout).toMatch(/replayed .*\tfor postgres\n/);
    await stack.waitForProjections();
    expect(await count()).toBe(1);
    const row = (await stack.pool.query('SELECT duration, run_id FROM tests WHERE id = $1', [long.data.id])).rows[0];
    expect(row).toEqual({ duration: 500_000, run_id: run.runId });
    // The copy says where it came from and which projections are to apply it.
    const consumer = stack.kafka.consumer({ groupId: `${stack.config.consumerGroupPrefix}.copy-reader` });
    await consumer.connect();
    await consumer.subscribe({ topic: stack.config.topic, fromBeginning: true });
    const copies: Array<{ id: unknown; from: string; for: string }> = [];
    await consumer.run({ eachMessage: async ({ message: m }) => {
      if (m.headers?.['replayed-from']) copies.push({ id: JSON.parse(String(m.value)).id, from: String(m.headers['replayed-from']), for: String(m.headers['replayed-for']) });
    } });
    for (const deadline = Date.now() + 20_000; copies.length === 0 && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 100));
    await consumer.disconnect();
    expect(copies).toEqual([{ id: long.id, from: `${stack.config.dlqTopic}:0:0`, for: 'postgres' }]);
    // ClickHouse had applied the event the first time: the copy adds nothing
    // there, to the facts or to the aggregates the views feed from them.
    const facts = await stack.ch.select<{ n: string }>(`SELECT toString(count()) AS n FROM test_results_v1 WHERE run_id = '${run.runId}'`);
    expect(facts[0]!.n).toBe('3');
    const stats = await stack.ch.select<{ n: string }>(`SELECT toString(countMerge(results)) AS n FROM run_stats_v1 WHERE run_id = '${run.runId}'`);
    expect(stats[0]!.n).toBe('3');
    const daily = await stack.ch.select<{ n: string }>(`SELECT toString(countMerge(executions)) AS n FROM project_daily_v1 WHERE project_id = '${tenant.projectId}'`);
    expect(daily[0]!.n).toBe('3');
  });

  it('replays nothing for a selection that matches no dead letter', async () => {
    const r = await cli(stack, 'dlq', 'replay', '--offset', '999');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('0 event(s) appended');
  });

  it('refuses a replay without a selection, or with an offset that is not a number, with exit code 2', async () => {
    for (const args of [['dlq', 'replay'], ['dlq', 'replay', '--offset', 'abc'], ['dlq', 'replay', '--offset'], ['dlq', 'frob']]) {
      const r = await cli(stack, ...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain('usage: runledger');
    }
  });
});
