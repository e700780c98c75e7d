import type { ProjectionBatch } from './consumer.ts';

// For a consumer that reads another projection's read model: waits until that
// projection applied `offset` of the batch's partition, heartbeating so the
// consumer keeps its place in the group. Throws at the deadline: the batch is
// then retried later, with nothing done for it yet.
export async function waitForProjection(
  batch: Pick<ProjectionBatch, 'topic' | 'partition' | 'heartbeat'>, position: () => Promise<number>, offset: number, what: string, opts: { timeoutMs: number; pollMs: number },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  while ((await position()) < offset) {
    if (Date.now() > deadline) throw new Error(`${what} has not applied ${batch.topic}/${batch.partition}@${offset} yet`);
    await batch.heartbeat?.();
    await new Promise((r) => setTimeout(r, opts.pollMs));
  }
}
