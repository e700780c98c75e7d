import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { createTenant, type Tenant } from '../support/tenants.ts';
import { client } from '../support/http.ts';
import { runBody, testBody } from '../support/fixtures.ts';
import { runToEnd } from '../support/processes.ts';
import { sleep } from '../support/faults.ts';
import { ensureTopics, topicIdOf, topicOffsets } from '../../lib/kafka.ts';
import { TopicRecreatedError } from '../../projections/kafka/topic-identity.ts';
import { resetProjection } from '../../ops/cli/reset.ts';

// Positions know their topic: a projector whose stored positions belong to a
// deleted and re-created topic refuses to start, telling the operator what to
// do, instead of skipping the new topic's first events in silence.
describe('a projector after its topic was re-created', () => {
  let stack: TestStack;
  let tenant: Tenant;
  let firstId: string;
  const api = () => client(stack.url, { key: tenant.apiKey });
  const ingestRun = async (tests: number) => {
    const run = await api().post('/api/runs', runBody(tenant.projectId));
    expect(run.status).toBe(201);
    for (let i = 0; i < tests; i++) expect((await api().post('/api/tests', testBody(tenant.projectId, run.body.id, i))).status).toBe(201);
    return run.body.id as string;
  };
  const recreateTopic = async () => {
    const admin = stack.kafka.admin();
    await admin.connect();
    try {
      await admin.deleteTopics({ topics: [stack.config.topic] });
      // Deletion completes in the background, and a creation that timed out
      // waiting for leaders (seen in CI under load) has still created the topic,
      // so that asking again says "exists": done once the topic has a new id and
      // every partition a leader, whichever attempt made it.
      const deadline = Date.now() + 60_000;
      for (;;) {
        await ensureTopics(admin, stack.config).catch(() => undefined);
        const id = await topicIdOf(stack.config, stack.config.topic).catch(() => firstId);
        if (id !== firstId && (await topicOffsets(admin, stack.config.topic).then(() => true, () => false))) break;
        if (Date.now() > deadline) throw new Error('the topic could not be created again');
        await sleep(250);
      }
    } finally {
      await admin.disconnect();
    }
  };

  beforeAll(async () => {
    stack = await startTestStack();
    tenant = await createTenant(stack.url, 'topic-identity');
    await ingestRun(3);
    await stack.startProjection('postgres');
    await stack.startProjection('clickhouse');
    await stack.waitForProjections(['postgres', 'clickhouse']);
    firstId = await topicIdOf(stack.config, stack.config.topic);
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('records the topic id beside the positions, in Postgres and in ClickHouse', async () => {
    const pg = await stack.pool.query('SELECT consumer, topic_id FROM topic_identities WHERE topic = $1 ORDER BY consumer', [stack.config.topic]);
    expect(pg.rows).toContainEqual({ consumer: 'postgres', topic_id: firstId });
    const ch = await stack.ch.select<{ id: string }>(`SELECT argMax(topic_id, recorded_ms) AS id FROM topic_identities_v1 WHERE consumer = 'clickhouse'`);
    expect(ch).toEqual([{ id: firstId }]);
  });

  it('refuses to start with what to do, skips nothing, and starts after `runledger reset`', async () => {
    await stack.stopProjection('postgres');
    await stack.stopProjection('clickhouse');
    await recreateTopic();
    const secondId = await topicIdOf(stack.config, stack.config.topic);
    expect(secondId).not.toBe(firstId);
    const newRun = await ingestRun(1);

    // The process refuses, with exit status 78 and the remedy on stderr.
    const refused = await runToEnd(['ops/run/projector.ts', 'postgres'], stack.env);
    expect(refused.code).toBe(78);
    expect(refused.stderr).toContain(`topic ${stack.config.topic} was re-created (its id was ${firstId} when the positions were stored, it is ${secondId} now)`);
    expect(refused.stderr).toContain('ops/runledger rebuild postgres');
    expect(refused.stderr).toContain('ops/runledger reset postgres');
    await expect(stack.startProjection('clickhouse')).rejects.toThrow(TopicRecreatedError);
    await expect(stack.startProjection('clickhouse')).rejects.toThrow(/ops\/runledger reset clickhouse/);
    // Positions stored before ids were recorded are still caught when they lie past the new log's end.
    await stack.pool.query(`DELETE FROM topic_identities WHERE consumer = 'postgres'`);
    await expect(stack.startProjection('postgres')).rejects.toThrow(/ends before the stored positions/);
    expect((await api().get(`/api/runs/${newRun}`)).status).toBe(404);

    const resets = await Promise.all(['postgres', 'clickhouse'].map((name) => runToEnd(['ops/cli.ts', 'reset', name], stack.env)));
    for (const [i, name] of ['postgres', 'clickhouse'].entries()) {
      expect(resets[i]!.code, resets[i]!.stderr).toBe(0);
      expect(resets[i]!.stdout).toContain(`the ${name} projection's read models and positions are empty`);
    }
    await stack.startProjection('postgres');
    await stack.startProjection('clickhouse');
    await stack.waitForProjections(['postgres', 'clickhouse']);
    expect((await api().get(`/api/runs/${newRun}`)).status).toBe(200);
    const pgTests = await stack.pool.query('SELECT count(*)::int AS n FROM tests');
    expect(pgTests.rows[0].n).toBe(1);
    const [facts] = await stack.ch.select<{ n: string }>('SELECT toString(count()) AS n FROM test_results_v1');
    expect(facts!.n).toBe('1');
    const pg = await stack.pool.query(`SELECT topic_id FROM topic_identities WHERE consumer = 'postgres'`);
    expect(pg.rows[0].topic_id).toBe(secondId);
  }, 120_000);

  it('the reset refuses while the projector runs', async () => {
    // The in-process projector (started above) beats into consumer_heartbeats like a process does.
    const count = async () => (await stack.pool.query('SELECT count(*)::int AS n FROM tests')).rows[0].n as number;
    const before = await count();
    expect(before).toBeGreaterThan(0);
    await expect(resetProjection(stack.config, 'postgres')).rejects.toThrow('the postgres projector is running (1 live instance(s)): stop it first');
    expect(await count()).toBe(before);
  });
});
