// `runledger rebuild postgres|clickhouse` replays the whole log into fresh
// read models: a catch-up from nothing, which should drain as fast as the live
// projector catching up on the same log (issue 15: catch-up ≥ 2× ingest).
// On one realistic backlog (runs of results with 4 steps, tags, ~3 % errors,
// written to the log as ingest writes them), each projection in turn:
//   - live: the projector as `ops/up` runs it, started on the whole backlog;
//   - rebuild: the command's rebuild into a shadow schema/database, with no
//     live projector running (so it switches at once).
// Events/s of each, and rebuild ÷ live (goal ≈ 1). In this process, against
// the services `ops/bench` starts. BENCH_RESULTS (default 60,000) sets the size.
import { startTestStack } from '../test/support/stack.ts';
import { createTenant } from '../test/support/tenants.ts';
import { EventLog } from '../lib/event-log.ts';
import { createLogger } from '../lib/logger.ts';
import { rebuildPostgres } from '../ops/cli/rebuild.ts';
import { rebuildClickHouse } from '../ops/cli/rebuild-clickhouse.ts';
import { projectorLoad } from './projectors/events.ts';

export async function measureRebuild(results = Number(process.env.BENCH_RESULTS ?? 60_000)) {
  const stack = await startTestStack({ projections: [] });
  try {
    const tenant = await createTenant(stack.url, 'bench-rebuild');
    const load = projectorLoad(tenant.projectId, 12, Math.ceil(results / 12));
    const log = new EventLog(stack.kafka, stack.config.topic, 60_000);
    await log.append(load.runs);
    for (const batch of load.batches.slice(1)) await log.append(batch.map((pe) => pe.event));
    await log.close();
    const events = await stack.topicEnd();
    const logger = createLogger('bench', 'warn');
    const rate = (seconds: number) => Math.round(events / seconds);

    const out: Record<string, { liveEventsPerSec: number; rebuildEventsPerSec: number; rebuildVsLive: number }> = {};
    for (const name of ['postgres', 'clickhouse'] as const) {
      const t0 = performance.now();
      await stack.startProjection(name);
      await stack.waitForProjections([name], 600_000);
      const live = rate((performance.now() - t0) / 1000);
      await stack.stopProjection(name);
      const t1 = performance.now();
      if (name === 'postgres') await rebuildPostgres(stack.config, logger);
      else await rebuildClickHouse(stack.config, logger);
      const rebuild = rate((performance.now() - t1) / 1000);
      out[name] = { liveEventsPerSec: live, rebuildEventsPerSec: rebuild, rebuildVsLive: Math.round((rebuild / live) * 100) / 100 };
    }
    return { events, ...out };
  } finally {
    await stack.stop();
  }
}
