import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { createTenant, type Tenant } from '../support/tenants.ts';
import { runEvents } from '../support/events.ts';
import { runToEnd } from '../support/processes.ts';
import { EventLog } from '../../ingest/event-log.ts';
import type { EventOf } from '../../schemas/events.ts';
import { ClickHouseProjection } from '../../projections/clickhouse/projector.ts';
import { createLogger } from '../../lib/logger.ts';
import type { DeadLetter, PositionedEvent } from '../../projections/kafka/consumer.ts';

const cli = (stack: TestStack, ...args: string[]) => runToEnd(['ops/cli.ts', ...args], { ...stack.env, RUNLEDGER_LOG_LEVEL: 'warn' });

// Issue 14 §2: an event a store refuses is dead-lettered, and the events after
// it on its partition are applied, by every projection. Written straight to
// the log, as a producer bypassing ingest's checks would.
describe('events a store refuses', () => {
  let stack: TestStack;
  let tenant: Tenant;
  let log: EventLog;

  beforeAll(async () => {
    stack = await startTestStack({ projections: ['postgres', 'clickhouse'] });
    tenant = await createTenant(stack.url, 'poison');
    log = new EventLog(stack.kafka, stack.config.topic, 10_000);
  }, 120_000);

  afterAll(async () => {
    await log?.close();
    await stack?.stop();
  });

  it('dead-letters them with the store error and applies the events after them everywhere', { timeout: 120_000 }, async () => {
    const run = runEvents(tenant.projectId, { tests: 6 });
    const tests = run.events.filter((e): e is EventOf<'test.reported'> => e.type === 'test.reported');
    // NUL is not allowed in a Postgres jsonb value; ClickHouse takes it.
    const pgPoison = tests[1]!;
    pgPoison.data.error = { message: 'nul \u0000 inside' };
    // A lone surrogate: JSON.stringify keeps it as the escape \ud800, which ClickHouse cannot parse;
    // Postgres stores text as UTF-8 (node writes U+FFFD for it).
    const chPoison = tests[3]!;
    chPoison.data.title = 'lone \ud800 surrogate';
    const after = tests[5]!;
    // One run, one partition: the poisoned events come before the others' end.
    const [last] = await log.append(run.events);
    await stack.waitForProjections(['postgres', 'clickhouse'], 60_000);

    const pgIds = (await stack.pool.query('SELECT id FROM tests WHERE run_id = $1', [run.runId])).rows.map((r) => r.id);
    expect(pgIds).toContain(after.data.id);
    expect(pgIds).toContain(chPoison.data.id);
    expect(pgIds).not.toContain(pgPoison.data.id);
    expect(pgIds).toHaveLength(5);
    const runRow = (await stack.pool.query('SELECT total_tests, status FROM runs WHERE id = $1', [run.runId])).rows[0];
    expect(runRow).toEqual({ total_tests: 5, status: 'failed' });

    const chIds = (await stack.ch.select<{ id: string }>(`SELECT test_id AS id FROM test_results_v1 WHERE run_id = '${run.runId}'`)).map((r) => r.id);
    expect(chIds).toContain(after.data.id);
    expect(chIds).toContain(pgPoison.data.id);
    expect(chIds).not.toContain(chPoison.data.id);
    expect(chIds).toHaveLength(5);
    expect((await stack.ch.select<{ n: string }>(`SELECT toString(count()) AS n FROM runs_v1 WHERE run_id = '${run.runId}'`))[0]!.n).toBe('2');

    const listed = await cli(stack, 'dlq', 'list', '--json');
    expect(listed.code, listed.stderr).toBe(0);
    const entries = JSON.parse(listed.stdout) as Array<{ eventId: string; projection: string; step: string; reason: string; origin: { partition: number } }>;
    expect(entries).toHaveLength(2);
    const byEvent = new Map(entries.map((e) => [e.eventId, e]));
    expect(byEvent.get(pgPoison.id)).toMatchObject({ projection: 'postgres', step: 'postgres.apply', origin: { partition: last!.partition } });
    expect(byEvent.get(pgPoison.id)!.reason).toMatch(/postgres rejected the event \(code 22\w{3}\)/);
    expect(byEvent.get(chPoison.id)).toMatchObject({ projection: 'clickhouse', step: 'clickhouse.insert', origin: { partition: last!.partition } });
    expect(byEvent.get(chPoison.id)!.reason).toMatch(/clickhouse \(test_results_v1\) rejected the event \(code 25\)/);
    const table = await cli(stack, 'dlq', 'list');
    expect(table.stdout).toContain('2 dead letter(s)');

    // A replay after a crash (a fresh projector, the same batch) adds no row
    // and dead-letters nothing again: the watermarks are past the refused event.
    const firstOffset = last!.offset - (run.events.length - 1);
    const batch: PositionedEvent[] = run.events.map((event, i) => ({
      partition: last!.partition, offset: firstOffset + i, event, message: { key: null, value: null, headers: {} },
    }));
    const dead: DeadLetter[] = [];
    const restarted = new ClickHouseProjection(stack.ch, stack.config.topic, createLogger('test', 'silent'));
    await restarted.apply({ topic: stack.config.topic, partition: last!.partition, events: batch, lastOffset: last!.offset }, async (l) => {
      dead.push(...l);
    });
    expect(dead).toEqual([]);
    const count = await stack.ch.select<{ n: string }>(`SELECT toString(count()) AS n FROM test_results_v1 WHERE run_id = '${run.runId}'`);
    expect(count[0]!.n).toBe('5');
  });
});
