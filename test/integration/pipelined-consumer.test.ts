import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { createTenant } from '../support/tenants.ts';
import { runEvents } from '../support/events.ts';
import { EventLog } from '../../lib/event-log.ts';
import { committedOffsets } from '../../lib/kafka.ts';
import { createLogger } from '../../lib/logger.ts';
import { runProjection, type Projection, type ProjectionBatch } from '../../projections/kafka/consumer.ts';

// A pipelined consumer (projections/kafka/consumer.ts) applies a partition's
// batch while kafkajs fetches the next. What must still hold, on the real
// broker: batches are applied in offset order, one at a time, none skipped; a
// batch that fails is applied again before any later one; an offset is
// committed only once its batch was applied, including the batch under way
// when the consumer stops.
describe('a pipelined consumer', () => {
  let stack: TestStack;
  let log: EventLog;
  let projectId: string;

  beforeAll(async () => {
    stack = await startTestStack();
    projectId = (await createTenant(stack.url, 'pipelined')).projectId;
    log = new EventLog(stack.kafka, stack.config.topic, 10_000);
  }, 120_000);

  afterAll(async () => {
    await log?.close();
    await stack?.stop();
  });

  it('applies every batch once in order, retries a failed one before the next, and commits only what it applied', { timeout: 90_000 }, async () => {
    // One run: one partition. Appended in twenty record batches, fetched a few at a time: many batches.
    const run = runEvents(projectId, { tests: 299 });
    const ends = []; // each append's last position
    for (let i = 0; i < run.events.length; i += 15) ends.push(...await log.append(run.events.slice(i, i + 15)));
    const partition = ends[0]!.partition;
    const first = ends[0]!.offset - 14;
    const last = ends.at(-1)!.offset;

    type Applied = { first: number; last: number; ok: boolean };
    const applied: Applied[] = [];
    let failOnce = true;
    let concurrent = 0;
    let maxConcurrent = 0;
    let committedWhileApplying = -1;
    const groupId = `${stack.config.consumerGroupPrefix}.pipelined-test`;
    const admin = stack.kafka.admin();
    await admin.connect();
    const projection: Projection = {
      name: 'pipelined-test',
      async apply(batch: ProjectionBatch) {
        if (batch.partition !== partition || batch.events.length === 0) return;
        concurrent++;
        maxConcurrent = Math.max(maxConcurrent, concurrent);
        try {
          // Slow enough that the next fetch arrives while this batch is applied.
          await new Promise((r) => setTimeout(r, 50));
          const range = { first: batch.events[0]!.offset, last: batch.lastOffset };
          // An infrastructure failure once, on a batch in the middle of the run.
          if (failOnce && range.first > first + 100) {
            failOnce = false;
            committedWhileApplying = (await committedOffsets(admin, groupId, stack.config.topic)).get(partition) ?? -1;
            applied.push({ ...range, ok: false });
            throw new Error('store unavailable');
          }
          applied.push({ ...range, ok: true });
        } finally {
          concurrent--;
        }
      },
    };
    const consumer = await runProjection({
      kafka: stack.kafka, topic: stack.config.topic, dlqTopic: stack.config.dlqTopic, groupId, projection,
      logger: createLogger('test', 'silent'), maxBytesPerPartition: 16 * 1024, maxBytes: 64 * 1024,
      partitionsConsumedConcurrently: 3, pipelined: true,
    });
    try {
      const deadline = Date.now() + 60_000;
      while ((applied.filter((a) => a.ok).at(-1)?.last ?? -1) < last && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    } finally {
      await consumer.stop();
    }

    const ok = applied.filter((a) => a.ok);
    const failed = applied.find((a) => !a.ok)!;
    expect(failed).toBeDefined();
    expect(ok.length).toBeGreaterThan(3);
    // In order, contiguous, none twice: the batches fetched after the failed
    // one were dropped and fetched again after its retry.
    expect(ok[0]!.first).toBe(first);
    for (let i = 1; i < ok.length; i++) expect(ok[i]!.first).toBe(ok[i - 1]!.last + 1);
    expect(ok.at(-1)!.last).toBe(last);
    // The failed batch's retry is the next batch applied after it, starting where it started.
    const retried = applied[applied.indexOf(failed) + 1]!;
    expect(retried).toMatchObject({ first: failed.first, ok: true });
    expect(maxConcurrent).toBe(1);
    // Nothing past the failed batch was committed while it was applied.
    expect(committedWhileApplying).toBeLessThanOrEqual(failed.first);
    // The last batch, applied as the consumer stopped, is committed.
    expect((await committedOffsets(admin, groupId, stack.config.topic)).get(partition)).toBe(last + 1);
    await admin.disconnect();
  });
});
