import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { createTenant } from '../support/tenants.ts';
import { sleep, startIngestLoad, type IngestLoad } from '../support/faults.ts';
import { kafkaCluster, killKafka, stopKafka, type KafkaNode } from '../support/services.ts';

// A three-node KRaft cluster (replication 3, min.insync.replicas 2): the leader
// of a partition is SIGKILLed while clients ingest. Acknowledged means every
// in-sync replica has it (acks=all), so a new leader has it too: nothing
// acknowledged is lost, and ingest goes on with the two nodes left.
describe('the leader of a partition killed in a three-broker cluster', () => {
  let dir: string;
  let nodes: KafkaNode[] = [];
  let stack: TestStack;
  let load: IngestLoad;
  let killed: KafkaNode;
  let acksAfterKill = 0;
  let replicas = 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rl-fault-cluster-'));
    nodes = await kafkaCluster(join(dir, 'kafka'), 3);
    stack = await startTestStack({ services: { RUNLEDGER_KAFKA_BROKERS: nodes.map((n) => `127.0.0.1:${n.port}`).join(',') }, projections: ['postgres'] });
    const admin = stack.kafka.admin();
    await admin.connect();
    const meta = async () => (await admin.fetchTopicMetadata({ topics: [stack.config.topic] })).topics[0]!.partitions;
    replicas = (await meta())[0]!.replicas.length;
    const tenant = await createTenant(stack.url, 'failover');
    load = startIngestLoad(stack.url, tenant, { testsPerBatch: 40, pauseMs: 50 });
    while (load.acknowledged.size < 400) await sleep(100);

    const leader = (await meta()).find((p) => p.partitionId === 0)!.leader;
    killed = nodes.find((n) => n.nodeId === leader)!;
    killKafka(killed);
    await admin.disconnect();
    const acksAtKill = load.acknowledged.size;
    await sleep(15_000);
    acksAfterKill = load.acknowledged.size - acksAtKill;
    await load.stop();
    await stack.waitForProjections(['postgres'], 180_000);
  }, 600_000);

  afterAll(async () => {
    await load?.stop();
    await stack?.stop();
    for (const n of nodes) await stopKafka(n).catch(() => undefined);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('replicated the topic to all three nodes', () => {
    expect(replicas).toBe(3);
  });

  it('went on acknowledging with the two nodes left', () => {
    expect(acksAfterKill).toBeGreaterThan(0);
    // a failover may refuse a few requests (503, retry later); nothing else
    for (const f of load.failures) expect(f, JSON.stringify(f)).toMatchObject({ status: 503, code: 'unavailable' });
  });

  it('lost no acknowledged result: every one is in the log and in the read model', async () => {
    const { tests: inLog, runs: runsInLog } = await idsInLog(stack);
    expect([...load.runIds].filter((id) => !runsInLog.has(id)), 'run created, acknowledged, but not in the log').toEqual([]);
    const stored = new Set((await stack.pool.query<{ id: string }>('SELECT id FROM tests')).rows.map((r) => r.id));
    expect([...load.acknowledged].filter((id) => !inLog.has(id)), 'acknowledged but not in the log').toEqual([]);
    expect([...load.acknowledged].filter((id) => !stored.has(id)), 'in the log but not projected').toEqual([]);
    expect(load.acknowledged.size).toBeGreaterThan(400);
  });
});

// Every test id and created run id in the topic, read from the beginning by a consumer of its own.
async function idsInLog(stack: TestStack): Promise<{ tests: Set<string>; runs: Set<string> }> {
  const ids = new Set<string>();
  const runs = new Set<string>();
  const consumer = stack.kafka.consumer({ groupId: `${stack.config.consumerGroupPrefix}.audit` });
  await consumer.connect();
  await consumer.subscribe({ topic: stack.config.topic, fromBeginning: true });
  let seen = 0;
  await consumer.run({
    eachMessage: async ({ message }) => {
      seen++;
      const e = JSON.parse(message.value!.toString()) as { type: string; data: { id?: string } };
      if (e.type === 'test.reported' && e.data.id) ids.add(e.data.id);
      if (e.type === 'run.created' && e.data.id) runs.add(e.data.id);
    },
  });
  const end = await stack.topicEnd();
  const deadline = Date.now() + 60_000;
  while (seen < end && Date.now() < deadline) await sleep(200);
  await consumer.disconnect();
  return { tests: ids, runs };
}
