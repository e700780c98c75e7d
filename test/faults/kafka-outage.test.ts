import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { createTenant } from '../support/tenants.ts';
import { sleep, startIngestLoad, type IngestLoad } from '../support/faults.ts';
import { freePort, killKafka, startKafka, stopKafka, type KafkaNode } from '../support/services.ts';

const OUTAGE_MS = 15_000;
const KAFKA_TIMEOUT_MS = 3000;

// The only broker SIGKILLed while clients ingest: ingest answers 503 with
// Retry-After within a bounded time (the produce timeout, then the open
// circuit), stores no part of a batch out of order, and once the broker is
// back ingest and projections resume, with every acknowledged result stored.
describe('the Kafka broker killed during ingest, then restarted', () => {
  let dir: string;
  let broker: KafkaNode;
  let stack: TestStack;
  let load: IngestLoad;
  let failuresDuringOutage: IngestLoad['failures'] = [];
  let acksAfterRestart = 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rl-fault-kafka-'));
    broker = { dir: join(dir, 'kafka'), port: await freePort(), controllerPort: await freePort(), nodeId: 1, env: {} };
    await startKafka(broker);
    stack = await startTestStack({
      services: { RUNLEDGER_KAFKA_BROKERS: `127.0.0.1:${broker.port}` },
      overrides: { kafkaTimeoutMs: KAFKA_TIMEOUT_MS },
      projections: ['postgres'],
    });
    const tenant = await createTenant(stack.url, 'kafka-outage');
    load = startIngestLoad(stack.url, tenant, { testsPerBatch: 40, pauseMs: 100 });
    while (load.acknowledged.size < 200) await sleep(100);

    killKafka(broker);
    const failuresBefore = load.failures.length;
    await sleep(OUTAGE_MS);
    failuresDuringOutage = load.failures.slice(failuresBefore);

    await startKafka(broker);
    const acksAtRestart = load.acknowledged.size;
    const deadline = Date.now() + 120_000;
    while (load.acknowledged.size === acksAtRestart && Date.now() < deadline) await sleep(200);
    await sleep(2000);
    acksAfterRestart = load.acknowledged.size - acksAtRestart;
    await load.stop();
    await stack.waitForProjections(['postgres'], 180_000);
  }, 600_000);

  afterAll(async () => {
    await load?.stop();
    await stack?.stop();
    if (broker) await stopKafka(broker).catch(() => undefined);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('answered 503 unavailable with Retry-After while the broker was gone, each within the produce timeout and a margin', () => {
    expect(failuresDuringOutage.length).toBeGreaterThan(0);
    for (const f of failuresDuringOutage) {
      expect(f, JSON.stringify(f)).toMatchObject({ status: 503, code: 'unavailable' });
      expect(Number(f.retryAfter)).toBeGreaterThan(0);
      // a liveness bound, not a speed goal: no request hangs on a dead broker
      expect(f.ms, JSON.stringify(f)).toBeLessThan(KAFKA_TIMEOUT_MS + 10_000);
    }
  });

  it('accepted writes again once the broker was back', () => {
    expect(acksAfterRestart).toBeGreaterThan(0);
  });

  it('lost no acknowledged result, and stored of each refused batch at most a prefix', async () => {
    const rows = (await stack.pool.query<{ id: string; run_id: string; title: string }>('SELECT id, run_id, title FROM tests')).rows;
    const stored = new Set(rows.map((r) => r.id));
    const lost = [...load.acknowledged].filter((id) => !stored.has(id));
    expect(lost).toEqual([]);
    expect(rows.length).toBe(stored.size);
    // the load's tests are titled `case <index in the batch>`: a run's stored tests are 0..k-1
    const byRun = new Map<string, number[]>();
    for (const r of rows) byRun.set(r.run_id, [...(byRun.get(r.run_id) ?? []), Number(r.title.replace('case ', ''))]);
    for (const [run, indices] of byRun) expect(indices.sort((a, b) => a - b), run).toEqual(indices.map((_, i) => i));
  });
});
