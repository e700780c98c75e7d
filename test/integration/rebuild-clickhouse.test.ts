import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { createTenant } from '../support/tenants.ts';
import { runEvents } from '../support/events.ts';
import { snapshotClickHouse } from '../support/snapshot.ts';
import { killHard, spawnProcess } from '../support/processes.ts';
import { EventLog } from '../../lib/event-log.ts';
import { makeEvent } from '../../domain/events.ts';
import { waitForMutations } from '../../projections/reset.ts';
import { EXAMPLE_EVENTS } from '../../schemas/examples.ts';
import { REBUILT_TABLES } from '../../ops/cli/rebuild-clickhouse.ts';

describe('runledger rebuild clickhouse', () => {
  let stack: TestStack;
  let projectId: string;
  let log: EventLog;

  beforeAll(async () => {
    stack = await startTestStack({ projections: ['clickhouse'] });
    projectId = (await createTenant(stack.url)).projectId;
    log = new EventLog(stack.kafka, stack.config.topic, 10_000);
    const runs = [runEvents(projectId, { tests: 300 }), runEvents(projectId, { tests: 40 })];
    await log.append(runs.flatMap((r) => r.events));
    const at = new Date().toISOString();
    const doomed = runs[1]!.runId;
    await log.append([makeEvent('run.deleted', { projectId, runId: doomed, actor: { type: 'system', id: 't' }, correlationId: null, now: at, data: { id: doomed, deletedAt: at } })]);
    await log.append(Object.values(EXAMPLE_EVENTS).filter((e) => e.type !== 'run.deleted' && e.type !== 'project.deleted'));
    await stack.waitForProjections();
    await waitForMutations(stack.ch);
  }, 120_000);

  afterAll(async () => {
    await log?.close();
    await stack?.stop();
  });

  it('builds fresh fact tables while the live ones serve, switches once the projector stops, and they equal the live ones row for row', { timeout: 180_000 }, async () => {
    const before = await snapshotClickHouse(stack);
    for (const [table, rows] of Object.entries(before)) expect(rows.length, table).toBeGreaterThan(0);
    const cli = spawnProcess(['ops/cli.ts', 'rebuild', 'clickhouse', '--keep-old'], stack.env, 'info');
    const exited = new Promise<number | null>((resolve) => cli.once('exit', (code) => resolve(code)));
    // It asks for the projector to be stopped; until then the live tables answer as before.
    const deadline = Date.now() + 120_000;
    while (!cli.output().includes('stop the clickhouse projector') && Date.now() < deadline) {
      cli.assertAlive();
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(cli.output()).toContain('stop the clickhouse projector');
    expect(await snapshotClickHouse(stack)).toEqual(before);
    await stack.stopProjection('clickhouse');
    expect(await exited).toBe(0);
    expect(await snapshotClickHouse(stack)).toEqual(before);
    const old = /(rl_t_\w+_old_\w+)/.exec(cli.output())?.[1];
    expect(old, cli.output()).toBeDefined();
    const moved = await stack.ch.select<{ name: string }>(`SELECT name FROM system.tables WHERE database = '${old}' ORDER BY name`);
    expect(moved.map((t) => t.name)).toEqual([...REBUILT_TABLES].sort());
    await stack.ch.command(`DROP DATABASE ${old}`);
    await killHard(cli);
  });

  it('a projector started after the switch resumes from the rebuilt position: new events once, old ones not again', async () => {
    const before = await snapshotClickHouse(stack);
    await stack.startProjection('clickhouse');
    const more = runEvents(projectId, { tests: 25 });
    await log.append(more.events);
    await stack.waitForProjections();
    const after = await snapshotClickHouse(stack);
    expect(after.test_results_v1!.length).toBe(before.test_results_v1!.length + 25);
    expect(after.runs_v1!.length).toBe(before.runs_v1!.length + 2);
    // the views were created again over the switched-in tables: they follow too
    expect(after.run_results_v1!.length).toBe(before.run_results_v1!.length + 25);
    expect(after.run_stats_v1!.length).toBe(before.run_stats_v1!.length + 1);
    const [ids] = await stack.ch.select<{ n: string; u: string }>('SELECT toString(count()) AS n, toString(uniqExact(test_id)) AS u FROM test_results_v1');
    expect(ids!.n).toBe(ids!.u);
  });
});
