// Results per second accepted by POST /api/ingest/batch (the API in its own
// process, as ops/up runs it; this process is the HTTP client), divided by
// results per second of a bare kafkajs producer sending the same events to the
// same broker with the same batch size, acks and producer settings. Both runs
// have the same number of batches in flight.
import http from 'node:http';
import { spawn, type ChildProcess } from 'node:child_process';
import { startTestStack } from '../test/support/stack.ts';
import { createTenant } from '../test/support/tenants.ts';
import { client } from '../test/support/http.ts';
import { runBody, testBody } from '../test/support/fixtures.ts';
import { ROOT } from '../test/support/processes.ts';
import { cpuSecondsOf, ownCpuSeconds } from './cpu.ts';
import { createKafka } from '../lib/kafka.ts';
import { testReport, WriteScope } from '../ingest/commands.ts';
import type { RegisteredRun } from '../ingest/run-registry.ts';
import { TestCreateBody } from '../schemas/api.ts';
import { partitionKey, type Event } from '../schemas/events.ts';

const PORT = 41702;

// A realistic result of 1–2 KB: steps, annotations, some output, an error now and then.
function result(projectId: string, runId: string, i: number) {
  const failed = i % 10 === 0;
  return testBody(projectId, runId, i, {
    status: failed ? 'failed' : 'passed',
    stdout: `[worker ${i % 4}] ${'navigated, clicked, asserted; '.repeat(5 + (i % 25))}\n`,
    ...(failed ? { error: { message: `expect(received).toBe(expected) at case ${i}`, stack: `Error: expected 200, got 500\n    at tests/area-${i % 7}.spec.ts:${10 + i}:5` } } : {}),
  });
}

// The events ingest makes of those results (its own code builds them), for the
// bare producer.
function eventsOf(items: ReturnType<typeof result>[], run: RegisteredRun): Event[] {
  const ctx = { state: { principal: { kind: 'api_key', keyId: 'key_01JEXAMP1E0000000000000000', projectId: run.project_id, scope: 'full' }, requestId: 'bench' } };
  const scope = new WriteScope(null as never, ctx as never);
  return items.map((b) => testReport(scope, TestCreateBody.parse(b), run).events[0]!);
}

async function runPool<T>(tasks: T[], concurrency: number, work: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < tasks.length) await work(tasks[next++]!);
  }));
}

function post(agent: http.Agent, path: string, key: string, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: PORT, path, method: 'POST', agent, headers: { 'content-type': 'application/json', 'x-api-key': key, 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (process.env.BENCH_DEBUG) console.error(res.headers['server-timing']);
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function startApi(env: Record<string, string>): Promise<ChildProcess> {
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  // As ops/up starts the API (NODE_FLAGS there).
  const nodeFlags = (process.env.BENCH_API_NODE_FLAGS ?? '--max-semi-space-size=32 --enable-source-maps').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...profile, ...nodeFlags, 'dist/api.js'], {
    cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...env, RUNLEDGER_PORT: String(PORT), RUNLEDGER_LOG_LEVEL: 'warn', RUNLEDGER_RATE_LIMIT_BATCH: '1000000000', RUNLEDGER_RATE_LIMIT_RUNS_WRITE: '1000000000' },
  });
  for (let i = 0; i < 200; i++) {
    const ok = await fetch(`http://127.0.0.1:${PORT}/health`).then((r) => r.ok, () => false);
    if (ok) return child;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the API did not start');
}

export async function measureBatchThroughput(opts = {
  requests: Number(process.env.BENCH_REQUESTS ?? 48), perRequest: 1000,
  concurrency: Number(process.env.BENCH_CONCURRENCY ?? 2), rounds: Number(process.env.BENCH_ROUNDS ?? 6),
}) {
  const stack = await startTestStack();
  const api = await startApi(stack.env);
  const kafka = createKafka(stack.config, 'bench-bare-producer');
  // The producer settings of lib/event-log.ts.
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.concurrency });
  try {
    const tenant = await createTenant(stack.url, 'bench');
    const remote = client(`http://127.0.0.1:${PORT}`, { key: tenant.apiKey });
    // One run per request, as many reporters would send; both sides get the same runs.
    const runs: string[] = [];
    for (let r = 0; r < 8; r++) runs.push((await remote.post('/api/runs', runBody(tenant.projectId))).body.id);
    const batches = Array.from({ length: opts.requests }, (_, r) => {
      const runId = runs[r % runs.length]!;
      const items = Array.from({ length: opts.perRequest }, (_, i) => result(tenant.projectId, runId, r * opts.perRequest + i));
      return { runId, items, body: JSON.stringify(items.map((b) => ({ type: 'test', ...b }))) };
    });
    const events = batches.map((b) => eventsOf(b.items, {
      id: b.runId, project_id: tenant.projectId, branch: 'main', commit_sha: 'a1b2c3d4e5f6', created_at: new Date(), deleted_at: null, ci_build_id: null, shard_total: null,
    }));
    const eventBytes = events.flat().reduce((n, e) => n + JSON.stringify(e).length, 0) / (opts.requests * opts.perRequest);

    // Besides results per second: results per CPU second of the process doing
    // the work (the API; the bench process for the bare producer), which the
    // other tenants of a shared machine disturb far less.
    const cpu = { http: 0, producer: 0, httpResults: 0, producerResults: 0 };
    const viaHttp = async (subset: typeof batches) => {
      const started = performance.now();
      const cpuBefore = cpuSecondsOf(api.pid!);
      await runPool(subset, opts.concurrency, async (b) => {
        const res = await post(agent, '/api/ingest/batch', tenant.apiKey, b.body);
        if (res.status !== 200 || !res.text.includes(`"accepted":${opts.perRequest},`)) throw new Error(`batch failed: ${res.status} ${res.text.slice(0, 300)}`);
      });
      cpu.http += cpuSecondsOf(api.pid!) - cpuBefore;
      cpu.httpResults += subset.length * opts.perRequest;
      return (subset.length * opts.perRequest) / ((performance.now() - started) / 1000);
    };
    const viaProducer = async (subset: Event[][]) => {
      const started = performance.now();
      const cpuBefore = ownCpuSeconds();
      await runPool(subset, opts.concurrency, async (evs) => {
        await producer.send({
          topic: stack.config.topic, acks: -1,
          messages: evs.map((e) => ({ key: partitionKey(e), value: JSON.stringify(e), headers: { 'event-type': e.type, 'event-id': e.id } })),
        });
      });
      cpu.producer += ownCpuSeconds() - cpuBefore;
      cpu.producerResults += subset.length * opts.perRequest;
      return (subset.length * opts.perRequest) / ((performance.now() - started) / 1000);
    };

    // Warm both paths up, then interleaved rounds over slices of the data. The
    // machine is shared (a broker, this client, the API): the best round of each
    // side is the least disturbed, so the ratio of bests is the headline; the
    // ratio of medians is reported beside it.
    await viaHttp(batches.slice(0, 2));
    await viaProducer(events.slice(0, 2));
    Object.assign(cpu, { http: 0, producer: 0, httpResults: 0, producerResults: 0 });
    const per = Math.max(1, Math.floor(opts.requests / opts.rounds));
    const rounds = { http: [] as number[], producer: [] as number[] };
    for (let r = 0; r < opts.rounds; r++) {
      const [from, to] = [r * per, (r + 1) * per];
      rounds.producer.push(await viaProducer(events.slice(from, to)));
      rounds.http.push(await viaHttp(batches.slice(from, to)));
    }
    const best = (xs: number[]) => Math.max(...xs);
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const round3 = (n: number) => Math.round(n * 1000) / 1000;
    return {
      results: opts.requests * opts.perRequest, perRequest: opts.perRequest, inFlight: opts.concurrency, rounds: opts.rounds,
      avgEventBytes: Math.round(eventBytes), avgItemBytes: Math.round(batches.reduce((n, b) => n + b.body.length, 0) / (opts.requests * opts.perRequest)),
      batchResultsPerSec: Math.round(best(rounds.http)), bareProducerResultsPerSec: Math.round(best(rounds.producer)),
      ratio: round3(best(rounds.http) / best(rounds.producer)),
      medianRatio: round3(median(rounds.http) / median(rounds.producer)),
      goal: 0.5,
      batchResultsPerCpuSec: Math.round(cpu.httpResults / cpu.http), bareProducerResultsPerCpuSec: Math.round(cpu.producerResults / cpu.producer),
      cpuRatio: round3((cpu.httpResults / cpu.http) / (cpu.producerResults / cpu.producer)),
    };
  } finally {
    agent.destroy();
    await producer.disconnect();
    api.kill('SIGTERM');
    await new Promise((r) => api.once('exit', r));
    await stack.stop();
  }
}
