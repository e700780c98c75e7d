import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { createTenant } from '../support/tenants.ts';
import { client } from '../support/http.ts';
import { runBody, testBody } from '../support/fixtures.ts';
import { createLogger } from '../../lib/logger.ts';
import { PostgresProjection } from '../../projections/postgres/projector.ts';
import { ClickHouseProjection } from '../../projections/clickhouse/projector.ts';
import type { ClickHouse } from '../../lib/clickhouse.ts';
import { waitForMutations } from '../../projections/reset.ts';
import { CLICKHOUSE_DERIVED_TABLES, DERIVED_SNAPSHOTS } from '../../projections/clickhouse/tables/derived.ts';
import type { DeadLetter, PositionedEvent } from '../../projections/kafka/consumer.ts';
import { EVENT_TYPES, type EventType } from '../../schemas/events.ts';
import { EXAMPLE_EVENTS } from '../../schemas/examples.ts';
import { POSTGRES_READ_MODELS } from '../../projections/postgres/read-models.ts';

const ORDER: EventType[] = ['run.created', 'suite.reported', 'test.reported', 'artifact.uploaded', 'run.updated', 'test.quarantine_changed', 'run.deleted', 'project.deleted'];
const BEFORE_DELETIONS = ORDER.slice(0, -2);
const logger = createLogger('contract', 'silent');
const positioned = (type: EventType, offset: number): PositionedEvent => {
  const event = EXAMPLE_EVENTS[type];
  return { partition: 0, offset, event, message: { key: null, value: Buffer.from(JSON.stringify(event)), headers: {} } };
};
// An example event moved to a project and run of its own, at a position of its own.
const ofRun = (projectId: string, runId: string, type: 'run.created' | 'test.reported' | 'run.deleted', partition: number, offset: number): PositionedEvent => {
  const e = structuredClone(EXAMPLE_EVENTS[type]) as any;
  Object.assign(e, { projectId, id: `${e.id}_${runId}_${offset}` });
  if (type === 'test.reported') Object.assign(e.data, { runId, id: `t_${runId}_${offset}` });
  else e.data.id = runId;
  return { partition, offset, event: e, message: { key: null, value: Buffer.from(JSON.stringify(e)), headers: {} } };
};
// `ch` whose first insert into `table` fails as a dropped connection would,
// after its rows landed (the answer lost) or before.
const failingOnce = (ch: ClickHouse, table: string, rowsLand: boolean): ClickHouse => {
  let failed = false;
  return Object.create(ch, {
    insert: { value: async (t: string, rows: object[]) => {
      const fail = t === table && !failed;
      if (!fail || rowsLand) await ch.insert(t, rows);
      if (fail) {
        failed = true;
        throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      }
    } },
  });
};

// Every example event of schemas/ through every projector (DESIGN §2).
describe('example events through each projector', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('covers every event type', () => {
    expect([...ORDER].sort()).toEqual([...EVENT_TYPES].sort());
  });

  it('postgres applies each example without a dead letter, and re-applying changes nothing', async () => {
    const projection = new PostgresProjection(stack.pool, logger);
    const dead: DeadLetter[] = [];
    const publish = async (l: DeadLetter[]) => void dead.push(...l);
    const apply = (type: EventType, offset: number) =>
      projection.apply({ topic: stack.config.topic, partition: 0, events: [positioned(type, offset)], lastOffset: offset }, publish);
    for (const [i, type] of BEFORE_DELETIONS.entries()) await apply(type, i);
    const count = async (table: string) => (await stack.pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n;
    const run = (await stack.pool.query('SELECT status, flaky_tests, total_tests FROM runs')).rows;
    expect(run).toEqual([{ status: 'passed', flaky_tests: 1, total_tests: 1 }]);
    for (const table of ['suites', 'tests', 'test_steps', 'test_cases', 'artifacts', 'quarantines', 'quarantine_history']) expect(await count(table), table).toBeGreaterThan(0);
    // the same batch again (a redelivery): skipped by position
    await apply('test.reported', 2);
    expect((await stack.pool.query('SELECT total_tests FROM runs')).rows[0].total_tests).toBe(1);
    await apply('run.deleted', ORDER.length - 2);
    for (const table of ['runs', 'suites', 'tests', 'test_steps', 'artifacts']) expect(await count(table), table).toBe(0);
    // project.deleted empties every read model of the project, whatever a new one is.
    await apply('project.deleted', ORDER.length - 1);
    for (const table of POSTGRES_READ_MODELS.filter((t) => t !== 'project_tombstones')) expect(await count(table), table).toBe(0);
    expect(await count('project_tombstones')).toBe(1);
    // and its late events (another partition, a replay) leave nothing behind
    for (const [i, type] of BEFORE_DELETIONS.entries()) {
      await projection.apply({ topic: stack.config.topic, partition: 1, events: [{ ...positioned(type, i), partition: 1 }], lastOffset: i }, publish);
    }
    for (const table of POSTGRES_READ_MODELS.filter((t) => t !== 'project_tombstones')) expect(await count(table), table).toBe(0);
    expect(dead).toEqual([]);
  });

  it('postgres writes a test case\'s row once, from the first result stored, even when a batch that stored it first rolled back', async () => {
    const projectId = 'project_01JCASEROW0000000000000000';
    const projection = new PostgresProjection(stack.pool, logger);
    const fine = async (l: DeadLetter[]) => expect(l).toEqual([]);
    // Positions past the ones the test before applied on these partitions.
    const at = (offset: number) => 1000 + offset;
    const result = (runId: string, partition: number, offset: number, fullTitle: string) => {
      const pe = ofRun(projectId, runId, 'test.reported', partition, at(offset));
      Object.assign(pe.event.data, { testCaseId: `testCase_${fullTitle}`, fullTitle: `Suite > ${fullTitle}`, title: fullTitle });
      return pe;
    };
    const apply = (p: PostgresProjection, partition: number, events: PositionedEvent[], publish = fine) =>
      p.apply({ topic: stack.config.topic, partition, events, lastOffset: events.at(-1)!.offset }, publish);
    const rows = async () => (await stack.pool.query(
      'SELECT id, title, full_title FROM test_cases WHERE project_id = $1 ORDER BY id', [projectId],
    )).rows;
    await apply(projection, 0, [ofRun(projectId, 'run_A', 'run.created', 0, at(0))]);
    await apply(projection, 1, [ofRun(projectId, 'run_B', 'run.created', 1, at(0))]);

    // A batch that fails before it commits (here its dead-letter step) leaves no row, and its retry writes them.
    const first = [result('run_A', 0, 1, 'logs in'), result('run_A', 0, 2, 'logs in'), result('run_A', 0, 3, 'logs out')];
    await expect(apply(projection, 0, first, async () => { throw new Error('the DLQ is down'); })).rejects.toThrow('the DLQ is down');
    expect(await rows()).toEqual([]);
    await apply(projection, 0, first);
    const expected = [
      { id: 'testCase_logs in', title: 'logs in', full_title: 'Suite > logs in' },
      { id: 'testCase_logs out', title: 'logs out', full_title: 'Suite > logs out' },
    ];
    expect(await rows()).toEqual(expected);
    expect((await stack.pool.query('SELECT total_tests FROM runs WHERE id = $1', ['run_A'])).rows).toEqual([{ total_tests: 3 }]);
    // Later results of the same cases, on another partition, from this process and from a new one: the rows stay as they are.
    await apply(projection, 1, [result('run_B', 1, 1, 'logs in')]);
    await apply(new PostgresProjection(stack.pool, logger), 1, [result('run_B', 1, 2, 'logs out'), result('run_B', 1, 3, 'signs up')]);
    expect(await rows()).toEqual([...expected, { id: 'testCase_signs up', title: 'signs up', full_title: 'Suite > signs up' }]);
  });

  it('clickhouse applies each example, and skips a replayed batch', async () => {
    const projection = new ClickHouseProjection(stack.ch, stack.config.topic, logger);
    const apply = (type: EventType, offset: number) =>
      projection.apply({ topic: stack.config.topic, partition: 0, events: [positioned(type, offset)], lastOffset: offset });
    for (const [i, type] of BEFORE_DELETIONS.entries()) await apply(type, i);
    const count = async (table: string) => Number((await stack.ch.select<{ n: string }>(`SELECT toString(count()) AS n FROM ${table}`))[0]!.n);
    const derived = async () => Object.fromEntries(await Promise.all(CLICKHOUSE_DERIVED_TABLES.map(async (t) => [t, await stack.ch.select(DERIVED_SNAPSHOTS[t])])));
    expect(await count('test_results_v1')).toBe(1);
    expect(await count('runs_v1')).toBe(2);
    expect(await count('test_errors_v1')).toBe(1); // the flaky example's failed attempt
    const before = await derived();
    expect(before.run_stats_v1).toMatchObject([{ results: '1', flaky: '1', branch: 'main' }]);
    expect(before.test_case_daily_v1).toMatchObject([{ executions: '1', flaky: '1', duration_q: [8320, 8320] }]);
    expect(before.project_daily_v1).toMatchObject([{ executions: '1', tests: '1', runs: '1' }]);
    expect(before.run_results_v1).toHaveLength(1);
    // a fresh projector (as after a restart) resumes from what ClickHouse holds
    const restarted = new ClickHouseProjection(stack.ch, stack.config.topic, logger);
    await restarted.apply({ topic: stack.config.topic, partition: 0, events: [positioned('test.reported', 2)], lastOffset: 2 });
    expect(await count('test_results_v1')).toBe(1);
    expect(await count('test_errors_v1')).toBe(1);
    expect(await derived()).toEqual(before);
    await restarted.apply({ topic: stack.config.topic, partition: 0, events: [positioned('run.deleted', 6)], lastOffset: 6 });
    await waitForMutations(stack.ch);
    for (const table of ['test_results_v1', 'runs_v1', 'test_errors_v1']) expect(await count(table), table).toBe(0);
    for (const [table, rows] of Object.entries(await derived())) expect(rows, table).toEqual([]);
  });

  it('clickhouse deletes a project, and the rows of its events applied later', async () => {
    const projection = new ClickHouseProjection(stack.ch, stack.config.topic, logger);
    const onPartition = (p: number, type: EventType, offset: number) =>
      projection.apply({ topic: stack.config.topic, partition: p, events: [{ ...positioned(type, offset), partition: p }], lastOffset: offset });
    const count = async (table: string) => Number((await stack.ch.select<{ n: string }>(`SELECT toString(count()) AS n FROM ${table}`))[0]!.n);
    await onPartition(2, 'run.created', 0);
    await onPartition(2, 'test.reported', 1);
    expect(await count('test_results_v1')).toBe(1);
    await onPartition(3, 'project.deleted', 0);
    await waitForMutations(stack.ch);
    expect([await count('test_results_v1'), await count('runs_v1')]).toEqual([0, 0]);
    // a late event of the project, on another partition, by a projector that
    // has not seen the deletion itself (as after a restart)
    const other = new ClickHouseProjection(stack.ch, stack.config.topic, logger);
    await other.apply({ topic: stack.config.topic, partition: 4, events: [{ ...positioned('test.reported', 0), partition: 4 }], lastOffset: 0 });
    await waitForMutations(stack.ch);
    expect(await count('test_results_v1')).toBe(0);
    expect(await count('deleted_projects_v1')).toBe(1);
  });

  it('clickhouse writes the batches of several partitions as one group, and a run deleted among them leaves the others counted once', async () => {
    const projection = new ClickHouseProjection(stack.ch, stack.config.topic, logger);
    // A project of its own (the one of the examples was deleted above), two runs on one day and branch.
    const projectId = 'proj_group_commit';
    const of = (type: 'run.created' | 'test.reported' | 'run.deleted', runId: string, partition: number, offset: number) =>
      ofRun(projectId, runId, type, partition, offset);
    const batch = (partition: number, events: PositionedEvent[]) =>
      ({ topic: stack.config.topic, partition, events, lastOffset: events.at(-1)!.offset });
    await projection.apply(batch(5, [of('run.created', 'run_gone', 5, 0), of('test.reported', 'run_gone', 5, 1), of('test.reported', 'run_gone', 5, 2)]));
    // As the consumer hands them over: concurrently, one batch per partition.
    await Promise.all([
      projection.apply(batch(5, [of('run.deleted', 'run_gone', 5, 3)])),
      projection.apply(batch(6, [of('run.created', 'run_kept', 6, 0), ...[1, 2, 3].map((o) => of('test.reported', 'run_kept', 6, o))])),
      projection.apply(batch(7, [of('run.created', 'run_also', 7, 0), of('test.reported', 'run_also', 7, 1)])),
    ]);
    await waitForMutations(stack.ch);
    const daily = await stack.ch.select<{ executions: string }>(
      `SELECT toString(countMerge(executions)) AS executions FROM project_daily_v1 WHERE project_id = '${projectId}'`,
    );
    const facts = await stack.ch.select<{ n: string }>(`SELECT toString(count()) AS n FROM test_results_v1 WHERE project_id = '${projectId}'`);
    expect(facts[0]!.n).toBe('4');
    expect(daily[0]!.executions).toBe('4');
    const positions = await stack.ch.select<{ partition: number; offset: string }>(
      `SELECT partition, toString(max(offset)) AS offset FROM projection_offsets_v1 WHERE partition IN (5, 6, 7) GROUP BY partition ORDER BY partition`,
    );
    expect(positions).toEqual([{ partition: 5, offset: '3' }, { partition: 6, offset: '3' }, { partition: 7, offset: '1' }]);
  });

  it('clickhouse inserts nothing twice when an insert was applied but its answer was lost', async () => {
    const projectId = 'proj_lost_answer';
    const of = (type: 'run.created' | 'test.reported', offset: number) => ofRun(projectId, 'run_lost', type, 8, offset);
    // The results' insert lands, then the request fails as a dropped connection would.
    const projection = new ClickHouseProjection(failingOnce(stack.ch, 'test_results_v1', true), stack.config.topic, logger);
    const batch = { topic: stack.config.topic, partition: 8, events: [of('run.created', 0), of('test.reported', 1), of('test.reported', 2)], lastOffset: 2 };
    await expect(projection.apply(batch)).rejects.toThrow('socket hang up');
    await projection.apply(batch); // the consumer's retry
    const [facts] = await stack.ch.select<{ n: string }>(`SELECT toString(count()) AS n FROM test_results_v1 WHERE project_id = '${projectId}'`);
    const [daily] = await stack.ch.select<{ n: string }>(`SELECT toString(countMerge(executions)) AS n FROM project_daily_v1 WHERE project_id = '${projectId}'`);
    expect([facts!.n, daily!.n]).toEqual(['2', '2']);
  });

  it('clickhouse inserts nothing twice when a failed batch comes again shorter', async () => {
    // As the ClickHouse-outage fault test saw it: a batch's results landed, a
    // later step failed (the group's coordinator forgot the member), and the
    // consumer fetched the partition again as a shorter batch, then the rest.
    const projectId = 'proj_shorter_retry';
    const of = (type: 'run.created' | 'test.reported', offset: number, partition = 9) =>
      ofRun(projectId, `run_short_${partition}`, type, partition, offset);
    const projection = new ClickHouseProjection(failingOnce(stack.ch, 'runs_v1', false), stack.config.topic, logger);
    const events = [of('run.created', 0), ...[1, 2, 3, 4, 5].map((o) => of('test.reported', o))];
    const topic = stack.config.topic;
    await expect(projection.apply({ topic, partition: 9, events, lastOffset: 5 })).rejects.toThrow('socket hang up');
    // The short batch comes with another partition's: that one's results are
    // inserted in the same group.
    const other = [of('run.created', 0, 10), of('test.reported', 1, 10)];
    await Promise.all([
      projection.apply({ topic, partition: 9, events: events.slice(0, 3), lastOffset: 2 }),
      projection.apply({ topic, partition: 10, events: other, lastOffset: 1 }),
    ]);
    await projection.apply({ topic, partition: 9, events: events.slice(3), lastOffset: 5 });
    const [facts] = await stack.ch.select<{ n: string }>(`SELECT toString(count()) AS n FROM test_results_v1 WHERE project_id = '${projectId}'`);
    const [runs] = await stack.ch.select<{ n: string }>(`SELECT toString(count()) AS n FROM runs_v1 WHERE project_id = '${projectId}'`);
    expect([facts!.n, runs!.n]).toEqual(['6', '2']);
  });

  it('clickhouse applies the result of a replayed dead letter once: after its original, beside it in one group, or alone', async () => {
    // `runledger dlq replay` appends a copy at a new position; ClickHouse had
    // applied the original (a table before the refusing one, or all of them in
    // a rebuild after the fix). Rows are keyed by position, so only the result
    // id tells the copy apart.
    const projectId = 'proj_replayed_copy';
    const of = (type: 'run.created' | 'test.reported', offset: number) => ofRun(projectId, 'run_copies', type, 11, offset);
    const copyOf = (original: PositionedEvent, offset: number): PositionedEvent =>
      ({ ...original, offset, message: { ...original.message, headers: { 'replayed-from': `dlq:0:${offset}`, 'replayed-for': 'clickhouse' } } });
    const projection = new ClickHouseProjection(stack.ch, stack.config.topic, logger);
    const topic = stack.config.topic;
    const [created, a, b, c] = [of('run.created', 0), of('test.reported', 1), of('test.reported', 2), of('test.reported', 4)];
    const neverApplied = of('test.reported', 6);
    await projection.apply({ topic, partition: 11, events: [created!, a!, b!], lastOffset: 2 });
    await projection.apply({ topic, partition: 11, events: [copyOf(a!, 3), c!, copyOf(c!, 5), copyOf(neverApplied, 6)], lastOffset: 6 });
    const count = async (query: string) => (await stack.ch.select<{ n: string }>(query))[0]!.n;
    expect(await count(`SELECT toString(count()) AS n FROM test_results_v1 WHERE project_id = '${projectId}'`)).toBe('4');
    expect(await count(`SELECT toString(count()) AS n FROM test_errors_v1 WHERE project_id = '${projectId}'`)).toBe('4');
    expect(await count(`SELECT toString(countMerge(executions)) AS n FROM project_daily_v1 WHERE project_id = '${projectId}'`)).toBe('4');
    expect(await count(`SELECT toString(countMerge(results)) AS n FROM run_stats_v1 WHERE run_id = 'run_copies'`)).toBe('4');
  });
});

describe('a poison message on the log', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ projections: ['postgres', 'clickhouse'] });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('is dead-lettered with its origin, and the partition keeps flowing', async () => {
    const tenant = await createTenant(stack.url);
    const api = client(stack.url, { key: tenant.apiKey });
    const run = (await api.post('/api/runs', runBody(tenant.projectId))).body;
    const producer = stack.kafka.producer();
    await producer.connect();
    const valid = { ...EXAMPLE_EVENTS['run.updated'], projectId: tenant.projectId };
    // same key as the run, so the same partition as its later events
    await producer.send({ topic: stack.config.topic, messages: [
      { key: run.id, value: 'not json {' },
      { key: run.id, value: JSON.stringify({ ...valid, type: 'run.exploded' }) },
    ] });
    await producer.disconnect();
    expect((await api.post('/api/tests', testBody(tenant.projectId, run.id, 1))).status).toBe(201);
    await stack.waitForProjections();
    expect((await api.get(`/api/tests?runId=${run.id}`)).body.total).toBe(1);

    const consumer = stack.kafka.consumer({ groupId: `${stack.config.consumerGroupPrefix}.dlq-reader` });
    await consumer.connect();
    await consumer.subscribe({ topic: stack.config.dlqTopic, fromBeginning: true });
    const letters: { reason: string; projection: string; value: string; offset: string }[] = [];
    await consumer.run({ eachMessage: async ({ message }) => {
      letters.push({
        reason: String(message.headers?.['dlq-reason']), projection: String(message.headers?.['dlq-projection']),
        value: String(message.value), offset: String(message.headers?.['dlq-offset']),
      });
    } });
    const deadline = Date.now() + 20_000;
    while (letters.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await consumer.disconnect();
    // each projection dead-letters both messages, keeping the original bytes
    expect(letters.map((l) => l.projection).sort()).toEqual(['clickhouse', 'clickhouse', 'postgres', 'postgres']);
    expect(letters.filter((l) => l.value === 'not json {').length).toBe(2);
    expect(letters.every((l) => /^(not JSON|not a valid event)/.test(l.reason) && /^\d+$/.test(l.offset))).toBe(true);
  });
});
