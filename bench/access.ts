// What access control costs. `auth`: latency of the same read with no
// credential check (/health), with an API key (one indexed lookup by hash, no
// cache), and with a JWT (signature check plus a user lookup), sequential
// requests against the real app. `deletion-guard`: what the Postgres
// projector's project tombstone guard adds to a batch, against applying the batch.
import { startTestStack } from '../test/support/stack.ts';
import { createTenant } from '../test/support/tenants.ts';
import { request } from '../test/support/http.ts';
import { runEvents } from '../test/support/events.ts';
import { createLogger } from '../lib/logger.ts';
import { withTransaction } from '../lib/pg.ts';
import { PostgresProjection } from '../projections/postgres/projector.ts';
import { guardDeletedProjects } from '../projections/postgres/handlers/projects.ts';
import type { PositionedEvent } from '../projections/kafka/consumer.ts';

const round = (n: number) => Math.round(n * 100) / 100;
function summary(samples: number[]) {
  const s = [...samples].sort((a, b) => a - b);
  const pct = (p: number) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
  return { medianMs: round(pct(50)), p95Ms: round(pct(95)) };
}

export async function measureAuth(requests = 1000) {
  const stack = await startTestStack();
  try {
    const t = await createTenant(stack.url, 'bench');
    const kinds: Record<string, { path: string; headers: Record<string, string> }> = {
      none: { path: '/health', headers: {} },
      apiKey: { path: `/api/projects/${t.projectId}`, headers: { 'x-api-key': t.apiKey } },
      jwt: { path: `/api/projects/${t.projectId}`, headers: { authorization: `Bearer ${t.token}` } },
    };
    const samples: Record<string, number[]> = { none: [], apiKey: [], jwt: [] };
    // interleaved, so that drift in the machine's load hits every kind alike
    for (let i = 0; i < requests + 50; i++) {
      for (const [kind, r] of Object.entries(kinds)) {
        const started = performance.now();
        const res = await request(stack.url, 'GET', r.path, { headers: r.headers });
        if (res.status !== 200) throw new Error(`${kind}: ${res.status}`);
        if (i >= 50) samples[kind]!.push(performance.now() - started);
      }
    }
    return { requests, ...Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, summary(v)])) };
  } finally {
    await stack.stop();
  }
}

export async function measureDeletionGuard(batches = 200, eventsPerBatch = 100) {
  const stack = await startTestStack();
  try {
    const projection = new PostgresProjection(stack.pool, createLogger('bench', 'silent'));
    const projectId = 'proj_01JBENCH00000000000000000A';
    const guard: number[] = [];
    const apply: number[] = [];
    let offset = 0;
    for (let b = 0; b < batches; b++) {
      const events: PositionedEvent[] = runEvents(projectId, { tests: eventsPerBatch - 2 }).events.map((event) => ({
        partition: 0, offset: offset++, event, message: { key: null, value: null, headers: {} },
      }));
      let started = performance.now();
      await withTransaction(stack.pool, (tx) => guardDeletedProjects(tx, new Set([projectId]), new Set()));
      guard.push(performance.now() - started);
      started = performance.now();
      await projection.apply({ topic: stack.config.topic, partition: 0, events, lastOffset: offset - 1 }, async () => undefined);
      apply.push(performance.now() - started);
    }
    const g = summary(guard);
    const a = summary(apply);
    return { batches, eventsPerBatch, guard: g, batchApply: a, guardShareOfBatch: round(g.medianMs / a.medianMs) };
  } finally {
    await stack.stop();
  }
}
