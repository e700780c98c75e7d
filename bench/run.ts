// `npm run bench` (through ops/bench, which starts the services): prints each
// benchmark's figures as one JSON line.
import { measureVisibility } from './visibility.ts';
import { measureAuth, measureDeletionGuard } from './access.ts';
import { measureBatchThroughput } from './batch-throughput.ts';
import { measureKoaOverhead } from './koa-overhead.ts';
import { measureFlakinessAccuracy } from './flakiness/accuracy.ts';
import { measureAnalytics10M } from './analytics-10m.ts';
import { measurePipeline, pipelineTable } from './pipeline.ts';
import { measureProjectors } from './projectors/bench.ts';
import { measureReactorDecode } from './reactor-decode.ts';
import { measureKafkaConsume } from './kafka-consume.ts';
import { measureDashboard } from './dashboard.ts';
import { measureClients } from './clients.ts';
import { measureRebuild } from './rebuild.ts';

const benches: Record<string, () => Promise<unknown>> = {
  'ack-to-visibility': () => measureVisibility(Number(process.env.BENCH_RESULTS ?? 1000)),
  auth: () => measureAuth(Number(process.env.BENCH_REQUESTS ?? 1000)),
  'deletion-guard': () => measureDeletionGuard(),
  // batch endpoint results/s ÷ bare kafkajs producer results/s (goal ≥ 0.5)
  'batch-vs-producer': () => measureBatchThroughput(),
  // plain Koa JSON route requests/s ÷ bare node:http (goal ≥ 0.65)
  'koa-vs-node-http': () => measureKoaOverhead(),
  'flakiness-accuracy': () => measureFlakinessAccuracy(),
  'analytics-10m': () => measureAnalytics10M(),
  // the whole pipeline as ops/up runs it (issue 15): steady, catch-up, baselines;
  // it also prints a table on stderr
  pipeline: async () => {
    const r = await measurePipeline();
    console.error(pipelineTable(r));
    return r;
  },
  // Postgres projection ÷ COPY, ClickHouse projector ÷ JSONEachRow, same rows (goals ≥ 0.5)
  projectors: () => measureProjectors(),
  // a reactor's decoding: every event validated vs only the types it handles
  'reactor-decode': async () => measureReactorDecode(),
  // reading the log: @platformatic/kafka ÷ kafkajs, events/s and CPU per event (issue 15, "a faster Kafka client")
  'kafka-consume': () => measureKafkaConsume(),
  // initial JS (goal ≤ 250 KB gzip), run page with 5,000 tests interactive (≤ 1.5 s), trends drawn after data (≤ 1 s)
  dashboard: () => measureDashboard(),
  // runledger rebuild postgres|clickhouse ÷ the live projector catching up on the same log (goal ≈ 1)
  rebuild: () => measureRebuild(),
  // runledger --version / 1-file dry run ÷ node -e '' (goal ≤ 2); a 25-test Playwright run with the reporter ÷ without, − 1 (goal ≤ 0.05)
  clients: () => measureClients(),
};

const only = process.argv.slice(2);
for (const [name, run] of Object.entries(benches)) {
  if (only.length && !only.includes(name)) continue;
  const started = Date.now();
  const result = await run();
  console.log(JSON.stringify({ bench: name, ...(result as object), wallSeconds: Math.round((Date.now() - started) / 100) / 10 }));
}
process.exit(0);
