// Time from POST /api/tests acknowledgement to the result being visible in
// GET /api/tests/:id, over 1,000 results. The projectors run as their own
// processes (as ops/up runs them); the API serves from this process.
import { startTestStack } from '../test/support/stack.ts';
import { createTenant } from '../test/support/tenants.ts';
import { client } from '../test/support/http.ts';
import { runBody, testBody } from '../test/support/fixtures.ts';
import { killHard, spawnProjector } from '../test/support/processes.ts';

export async function measureVisibility(results = 1000) {
  const stack = await startTestStack();
  const projectors = [spawnProjector('postgres', stack.env), spawnProjector('clickhouse', stack.env)];
  try {
    const tenant = await createTenant(stack.url);
    const api = client(stack.url, { key: tenant.apiKey });
    const run = (await api.post('/api/runs', runBody(tenant.projectId))).body;
    // Warm up: the projector processes joining their groups is not what we measure.
    const warm = (await api.post('/api/tests', testBody(tenant.projectId, run.id, 0))).body;
    while ((await api.get(`/api/tests/${warm.id}`)).status !== 200) await sleep(20);

    const latencies: number[] = [];
    for (let i = 1; i <= results; i++) {
      const posted = await api.post('/api/tests', testBody(tenant.projectId, run.id, i));
      if (posted.status !== 201) throw new Error(`POST failed: ${posted.status} ${posted.text}`);
      const acked = performance.now();
      for (;;) {
        if ((await api.get(`/api/tests/${posted.body.id}`)).status === 200) break;
        await sleep(2);
      }
      latencies.push(performance.now() - acked);
    }
    latencies.sort((a, b) => a - b);
    const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!;
    return { results, medianMs: round(pct(50)), p95Ms: round(pct(95)), p99Ms: round(pct(99)), maxMs: round(latencies.at(-1)!) };
  } finally {
    await Promise.all(projectors.map(killHard));
    await stack.stop();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (n: number) => Math.round(n * 10) / 10;
