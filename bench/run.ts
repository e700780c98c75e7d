// `npm run bench` (through ops/bench, which starts the services): prints each
// benchmark's figures as one JSON line.
import { measureVisibility } from './visibility.ts';
import { measureAuth, measureDeletionGuard } from './access.ts';

const benches: Record<string, () => Promise<unknown>> = {
  'ack-to-visibility': () => measureVisibility(Number(process.env.BENCH_RESULTS ?? 1000)),
  auth: () => measureAuth(Number(process.env.BENCH_REQUESTS ?? 1000)),
  'deletion-guard': () => measureDeletionGuard(),
};

const only = process.argv.slice(2);
for (const [name, run] of Object.entries(benches)) {
  if (only.length && !only.includes(name)) continue;
  const started = Date.now();
  const result = await run();
  console.log(JSON.stringify({ bench: name, ...(result as object), wallSeconds: Math.round((Date.now() - started) / 100) / 10 }));
}
process.exit(0);
