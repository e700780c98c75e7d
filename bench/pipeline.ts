// The whole pipeline under load (issue 15 §4), every process as ops/up runs it:
// the API and each projector/reactor its own node process, against a private
// Kafka broker and ClickHouse server on free ports and a database of its own on
// the Postgres server. One run reports:
//   (a) steady: results through POST /api/ingest/batch from 2 clients: ingest
//       rate, each projection's drain rate, freshness ack → queryable in
//       Postgres and ClickHouse; then a paced load at half the measured capacity
//       for the freshness goal;
//   (b) catch-up: projections stopped, a backlog appended, then each projection
//       alone and all together: events/s;
//   (c) baselines on the same rows: Postgres COPY and ClickHouse JSONEachRow
//       inserts into tables of the same definition, each the best of three runs;
// with CPU-seconds per 100,000 results and peak RSS of each process. Sizes come
// from the environment (BENCH_RESULTS etc.) for a quick mode; BENCH_CPU_PROF=dir
// writes a --cpu-prof profile of every node process there, BENCH_LOG_DIR=dir their output.
import http from 'node:http';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Admin } from 'kafkajs';
import { startTestStack, type TestStack } from '../test/support/stack.ts';
import { createTenant } from '../test/support/tenants.ts';
import { runBody, testBody } from '../test/support/fixtures.ts';
import { ROOT } from '../test/support/processes.ts';
import { freePort, newClickHouse, startKafka, stopClickHouse, stopKafka, type ClickHouseServer, type KafkaNode } from '../test/support/services.ts';
import { cpuSecondsOf } from './cpu.ts';
import { committedOffsets, topicEnds } from '../lib/kafka.ts';
import { ClickHouse, sql } from '../lib/clickhouse.ts';
import { TestCreateBody } from '../schemas/api.ts';
import { testCaseIdOf } from '../schemas/ids.ts';
import { migrateClickHouse } from '../lib/migrate.ts';
import { groupIdOf, PROJECTION_NAMES, type ProjectionName } from '../lib/consumer-groups.ts';

const env = (name: string, dflt: number) => Number(process.env[name] ?? dflt);
export type PipelineOptions = {
  results: number; backlog: number; perRequest: number; clients: number; testsPerRun: number;
  pacedResults: number; pacedPerRequest: number; partitions: number; skipAlone: boolean;
};
export const pipelineOptions = (): PipelineOptions => ({
  results: env('BENCH_RESULTS', 200_000),
  backlog: env('BENCH_BACKLOG', Number(process.env.BENCH_RESULTS ?? 200_000)),
  perRequest: env('BENCH_PER_REQUEST', 1000),
  clients: env('BENCH_CLIENTS', 2),
  testsPerRun: env('BENCH_TESTS_PER_RUN', 5000),
  pacedResults: env('BENCH_PACED_RESULTS', Math.min(20_000, Math.max(2000, Math.floor(env('BENCH_RESULTS', 200_000) / 10)))),
  pacedPerRequest: env('BENCH_PACED_PER_REQUEST', 100),
  partitions: env('BENCH_PARTITIONS', 6),
  skipAlone: process.env.BENCH_SKIP_ALONE === '1',
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (n: number, d = 0) => Math.round(n * 10 ** d) / 10 ** d;
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
};

// A realistic result: 4 steps (one nested), tags, an error on ~3 %.
function result(projectId: string, runId: string, i: number) {
  const failed = i % 33 === 0;
  return {
    type: 'test',
    ...testBody(projectId, runId, i, {
      status: failed ? 'failed' : 'passed',
      tags: ['@smoke', `@area-${i % 7}`],
      stdout: `[worker ${i % 4}] navigated, clicked, asserted\n`,
      ...(failed ? { error: { message: `expect(received).toBe(expected) at case ${i}`, stack: `Error: expected 200, got 500\n    at tests/area-${i % 7}.spec.ts:${10 + i}:5` } } : {}),
    }),
  };
}

// ---- processes -------------------------------------------------------------

type Proc = { name: string; child: ChildProcess; stderr: () => string; stopping?: boolean };
function startNode(name: string, args: string[], procEnv: Record<string, string>, nodeFlags: string[] = []): Proc {
  const profDir = process.env.BENCH_CPU_PROF;
  const prof = profDir ? ['--cpu-prof', `--cpu-prof-dir=${join(profDir, name)}`] : [];
  if (profDir) mkdirSync(join(profDir, name), { recursive: true });
  const child = spawn(process.execPath, [...prof, ...nodeFlags, ...args], {
    cwd: ROOT, env: { ...procEnv, RUNLEDGER_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  // The tail of its output (JSON logs at warn, and stderr) says why it died;
  // BENCH_LOG_DIR=dir keeps all of it (with --trace-gc in BENCH_NODE_FLAGS, say).
  let err = '';
  const logDir = process.env.BENCH_LOG_DIR;
  if (logDir) mkdirSync(logDir, { recursive: true });
  const keep = (d: Buffer) => {
    err = (err + d.toString()).slice(-4000);
    if (logDir) appendFileSync(join(logDir, `${name}.log`), d);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return { name, child, stderr: () => err };
}
async function stopNode(p: Proc): Promise<void> {
  p.stopping = true;
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const exited = new Promise((r) => p.child.once('exit', r));
  p.child.kill('SIGTERM');
  await Promise.race([exited, sleep(20_000).then(() => p.child.kill('SIGKILL'))]);
  await exited;
}
function peakRssMb(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? round(Number(m[1]) / 1024) : NaN;
  } catch {
    return NaN;
  }
}
const cpuOf = (pid: number | undefined) => {
  try {
    return pid ? cpuSecondsOf(pid) : 0;
  } catch {
    return 0; // exited
  }
};

// CPU-seconds per named process over a phase; processes restarted within the
// phase are followed by name (their CPU is summed).
class CpuMeter {
  private seen = new Map<string, Map<number, { first: number; last: number }>>();
  constructor(private pids: () => Array<[string, number]>, private baseAtZero = new Set<number>()) {}
  sample(): void {
    for (const [name, pid] of this.pids()) {
      const now = cpuOf(pid);
      if (!now) continue;
      const byPid = this.seen.get(name) ?? new Map();
      this.seen.set(name, byPid);
      const entry = byPid.get(pid);
      if (entry) entry.last = now;
      else byPid.set(pid, { first: this.baseAtZero.has(pid) ? 0 : now, last: now });
    }
  }
  startsFromZero(pid: number) {
    this.baseAtZero.add(pid);
  }
  total(): Record<string, number> {
    return Object.fromEntries([...this.seen].map(([n, m]) => [n, [...m.values()].reduce((s, e) => s + e.last - e.first, 0)]));
  }
}

// ---- the run ---------------------------------------------------------------

export async function measurePipeline(opts: PipelineOptions = pipelineOptions()) {
  const dir = mkdtempSync(join(tmpdir(), 'rl-bench-pipeline-'));
  const kafkaNode: KafkaNode = { dir: join(dir, 'kafka'), port: await freePort(), controllerPort: await freePort(), nodeId: 1, env: {} };
  let chServer: ClickHouseServer | undefined;
  let stack: TestStack | undefined;
  const procs = new Map<string, Proc>();
  let admin: Admin | undefined;
  const log = (m: string) => process.stderr.write(`[pipeline ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
  try {
    await startKafka(kafkaNode);
    chServer = await newClickHouse(join(dir, 'clickhouse'));
    stack = await startTestStack({
      services: { RUNLEDGER_KAFKA_BROKERS: `127.0.0.1:${kafkaNode.port}`, RUNLEDGER_CLICKHOUSE_URL: chServer.url },
      overrides: { topicPartitions: opts.partitions },
    });
    const s = stack;
    const apiPort = await freePort();
    const procEnv: Record<string, string> = {
      ...s.env, RUNLEDGER_PORT: String(apiPort), RUNLEDGER_CONSUMER_SESSION_TIMEOUT_MS: '30000', RUNLEDGER_KAFKA_TIMEOUT_MS: '30000',
      ...Object.fromEntries(['BATCH', 'RUNS_WRITE', 'RUNS_READ', 'TESTS_READ', 'TESTS_WRITE', 'OTHER'].map((g) => [`RUNLEDGER_RATE_LIMIT_${g}`, '1000000000'])),
    };
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    // As ops/up starts them (NODE_FLAGS and PROJECTOR_NODE_FLAGS there);
    // BENCH_NODE_FLAGS and BENCH_PROJECTOR_NODE_FLAGS replace them to compare.
    const flags = (name: string, fallback: string) => (process.env[name] ?? fallback).split(' ').filter(Boolean);
    const nodeFlags = flags('BENCH_NODE_FLAGS', '--max-semi-space-size=32 --enable-source-maps');
    const projectorFlags = [...nodeFlags, ...flags('BENCH_PROJECTOR_NODE_FLAGS', '--heap-growing-percent=50')];
    // The server's build (dist/, ops/build-server.ts; ops/bench builds it), run with plain node as ops/up does.
    procs.set('api', startNode('api', ['dist/api.js'], procEnv, nodeFlags));
    const startProjector = (n: ProjectionName) => procs.set(n, startNode(n, ['dist/projector.js', n], procEnv, projectorFlags));
    for (const n of PROJECTION_NAMES) startProjector(n);
    for (let i = 0; ; i++) {
      if (await fetch(`${apiUrl}/health`).then((r) => r.ok, () => false)) break;
      if (i > 1800) throw new Error(`the API did not start: ${procs.get('api')!.stderr()}`);
      await sleep(100);
    }
    const assertAlive = () => {
      for (const p of procs.values()) {
        if (!p.stopping && p.child.exitCode !== null) throw new Error(`${p.name} exited (${p.child.exitCode}): ${p.stderr()}`);
      }
    };

    const tenant = await createTenant(s.url, 'bench');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const post = (path: string, body: string) => new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = http.request(`${apiUrl}${path}`, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'x-api-key': tenant.apiKey, 'content-length': Buffer.byteLength(body) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      });
      req.on('error', reject);
      req.end(body);
    });
    const newRun = async () => {
      let r = await post('/api/runs', JSON.stringify(runBody(tenant.projectId)));
      // The broker's first produce can outlast the timeout on a loaded machine.
      for (let i = 0; i < 5 && r.status === 503; i++) r = await sleep(2000).then(() => post('/api/runs', JSON.stringify(runBody(tenant.projectId))));
      if (r.status !== 201) throw new Error(`POST /api/runs: ${r.status} ${r.text}`);
      return JSON.parse(r.text).id as string;
    };
    // The batches of `results` results, testsPerRun per run; bodies built ahead
    // so the clients measure the server, not JSON.stringify.
    const openRuns: string[] = [];
    // Each with its last result's test case, which the freshness probe looks up by.
    type Batch = { body: string; lastCase: string };
    const makeBatches = async (results: number, perRequest: number) => {
      const batches: Batch[] = [];
      for (let done = 0; done < results;) {
        const runId = await newRun();
        openRuns.push(runId);
        for (let i = 0; i < opts.testsPerRun && done < results; i += perRequest) {
          const n = Math.min(perRequest, opts.testsPerRun - i, results - done);
          const items = Array.from({ length: n }, (_, k) => result(tenant.projectId, runId, i + k));
          const last = TestCreateBody.parse(items.at(-1));
          batches.push({ body: JSON.stringify(items), lastCase: testCaseIdOf(last.projectId, last.filePath, last.fullTitle, last.variant) });
          done += n;
        }
      }
      return batches;
    };
    type Probe = { id: string; testCaseId: string; ackedAt: number; pg?: number; ch?: number };
    const send = async ({ body, lastCase }: Batch, probes?: Probe[]) => {
      const r = await post('/api/ingest/batch', body);
      const ackedAt = performance.now();
      if (r.status !== 200) throw new Error(`batch failed: ${r.status} ${r.text.slice(0, 300)}`);
      const parsed = JSON.parse(r.text) as { accepted: number; rejected: number; results: Array<{ id?: string }> };
      if (parsed.rejected) throw new Error(`batch rejected ${parsed.rejected} items: ${r.text.slice(0, 300)}`);
      probes?.push({ id: parsed.results.at(-1)!.id!, testCaseId: lastCase, ackedAt });
      return parsed.accepted;
    };
    // Runs end as a reporter ends them (the quarantine reactor looks at finished runs).
    const finishRuns = async () => {
      for (const id of openRuns.splice(0)) {
        const r = await new Promise<number>((resolve, reject) => {
          const body = JSON.stringify({ status: 'failed', duration: 60_000 });
          const req = http.request(`${apiUrl}/api/runs/${id}`, { method: 'PATCH', agent, headers: { 'content-type': 'application/json', 'x-api-key': tenant.apiKey, 'content-length': Buffer.byteLength(body) } }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          });
          req.on('error', reject);
          req.end(body);
        });
        if (r !== 200) throw new Error(`PATCH /api/runs/${id}: ${r}`);
      }
    };
    const ingest = async (batches: Batch[], clients: number, probes?: Probe[]) => {
      let next = 0;
      const started = performance.now();
      let results = 0;
      await Promise.all(Array.from({ length: clients }, async () => {
        while (next < batches.length) {
          const accepted = await send(batches[next++]!, probes); // not `results += await`: it would read results before awaiting
          results += accepted;
        }
      }));
      await finishRuns();
      return { results, seconds: (performance.now() - started) / 1000 };
    };

    // Positions: events consumed per projection = Σ (position + 1) over partitions.
    admin = s.kafka.admin();
    await admin.connect();
    const adm = admin;
    // A fresh group's coordinator may not be known yet: a failed look-up is retried.
    const consumed = async (name: ProjectionName): Promise<number> => {
      for (let i = 0; ; i++) {
        try {
          return await consumedOnce(name);
        } catch (err) {
          if (i >= 20) throw err;
          await sleep(250);
        }
      }
    };
    const consumedOnce = async (name: ProjectionName): Promise<number> => {
      let positions: number[];
      if (name === 'postgres' || name === 'flakiness') {
        const r = await s.pool.query(`SELECT "offset" FROM projection_offsets WHERE projection = $1 AND topic = $2`, [name, s.config.topic]);
        positions = r.rows.map((x) => Number(x.offset));
      } else if (name === 'clickhouse') {
        const rows = await s.ch.select<{ o: string }>(`SELECT toString(max(offset)) AS o FROM projection_offsets_v1 WHERE projection = 'clickhouse' GROUP BY partition`);
        positions = rows.map((r) => Number(r.o));
      } else {
        positions = [...(await committedOffsets(adm, groupIdOf(s.config, name), s.config.topic)).values()].map((o) => o - 1);
      }
      return positions.filter((p) => p >= 0).reduce((a, p) => a + p + 1, 0);
    };
    const topicEnd = async () => [...(await topicEnds(adm, s.config.topic)).values()].reduce((a, b) => a + b, 0);

    // External processes whose CPU counts: the broker, the ClickHouse server,
    // and the Postgres backends serving this database.
    const kafkaPid = Number(readFileSync(join(kafkaNode.dir, 'kafka.pid'), 'utf8').trim());
    const chPid = Number(readFileSync(join(chServer.dir, 'clickhouse.pid'), 'utf8').trim());
    let pgBackends: number[] = [];
    const pgDb = new URL(s.config.pgUrl).pathname.slice(1);
    const refreshBackends = async () => {
      const r = await s.pool.query(`SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, [pgDb]);
      pgBackends = r.rows.map((x) => Number(x.pid));
    };
    const pidList = (): Array<[string, number]> => [
      ...[...procs.values()].map((p) => [p.name, p.child.pid!] as [string, number]),
      ['kafka', kafkaPid], ['clickhouse-server', chPid], ...pgBackends.map((p) => ['postgres-server', p] as [string, number]),
    ];
    const newMeter = () => {
      const m = new CpuMeter(pidList);
      m.sample();
      return m;
    };

    // Follows projections until each has consumed the topic to its end; a
    // projection's rate is taken from its first progress to its end.
    const drain = async (names: readonly ProjectionName[], meter: CpuMeter, timeoutMs = 3_600_000) => {
      const start = new Map<ProjectionName, { at: number; n: number }>();
      const initial = new Map(await Promise.all(names.map(async (n) => [n, await consumed(n)] as const)));
      const done = new Map<ProjectionName, { at: number; n: number }>();
      // CPU-seconds of every process at a projection's first progress: its
      // start-up (loading, joining the group) is not what it costs per event.
      const cpuAtStart = new Map<ProjectionName, Record<string, number>>();
      const deadline = Date.now() + timeoutMs;
      let tick = 0;
      while (done.size < names.length) {
        assertAlive();
        if (Date.now() > deadline) throw new Error(`projections ${names.filter((n) => !done.has(n)).join(', ')} did not drain`);
        const end = await topicEnd();
        for (const n of names) {
          if (done.has(n)) continue;
          const c = await consumed(n);
          const now = performance.now();
          if (!start.has(n) && c > initial.get(n)!) {
            start.set(n, { at: now, n: initial.get(n)! });
            meter.sample();
            cpuAtStart.set(n, meter.total());
          }
          if (c >= end) done.set(n, { at: now, n: c });
        }
        if (tick++ % 10 === 0) {
          await refreshBackends();
          meter.sample();
        }
        await sleep(100);
      }
      meter.sample();
      return Object.fromEntries(names.map((n) => {
        const a = start.get(n), b = done.get(n)!;
        const base = cpuAtStart.get(n) ?? {};
        const cpuSinceStart = Object.fromEntries(Object.entries(meter.total()).map(([p, c]) => [p, c - (base[p] ?? 0)]));
        return [n, { events: b.n - (a?.n ?? b.n), at: b.at, eventsPerSec: a ? round((b.n - a.n) / ((b.at - a.at) / 1000)) : NaN, cpuSinceStart }];
      })) as Record<ProjectionName, { events: number; at: number; eventsPerSec: number; cpuSinceStart: Record<string, number> }>;
    };

    // Alone means with the machine to itself: ClickHouse's merges and
    // Postgres' autovacuum of the previous phase's rows can take a core for
    // seconds. Waits for both to end (two minutes at most) before a
    // measurement, so they do not share the CPU with the one measured.
    const quiet = async () => {
      const until = Date.now() + 120_000;
      while (Date.now() < until) {
        const merges = Number((await s.ch.select<{ n: string }>('SELECT toString(count()) AS n FROM system.merges WHERE database = currentDatabase()'))[0]?.n ?? 0);
        const vacuums = Number((await s.pool.query(
          `SELECT count(*) AS n FROM pg_stat_activity WHERE backend_type = 'autovacuum worker' AND datname = $1`, [pgDb],
        )).rows[0].n);
        if (merges === 0 && vacuums === 0) return;
        await sleep(500);
      }
      log('still merging or vacuuming after 2 minutes: measuring anyway');
    };

    // Freshness probes: the last result of each request, polled until the
    // Postgres tests table and ClickHouse's test_results_v1 have it.
    const followProbes = (probes: Probe[]) => {
      let stop = false;
      const loop = (async () => {
        while (!stop || probes.some((p) => p.pg === undefined || p.ch === undefined)) {
          const pgPending = probes.filter((p) => p.pg === undefined);
          if (pgPending.length) {
            const r = await s.pool.query(`SELECT id FROM tests WHERE id = ANY($1)`, [pgPending.map((p) => p.id)]);
            const now = performance.now();
            const found = new Set(r.rows.map((x) => x.id as string));
            for (const p of pgPending) if (found.has(p.id)) p.pg = now - p.ackedAt;
          }
          const chPending = probes.filter((p) => p.ch === undefined);
          if (chPending.length) {
            // By the table's key (project, test case): a look-up by test_id
            // alone read the whole column (8–23 ms at 222,000 rows) every 25 ms,
            // a load on the ClickHouse server it measures.
            const rows = await s.ch.select<{ id: string }>(
              `SELECT test_id AS id FROM test_results_v1 WHERE project_id = ${sql.str(tenant.projectId)}
               AND ${sql.inList('test_case_id', chPending.map((p) => p.testCaseId))} AND ${sql.inList('test_id', chPending.map((p) => p.id))}`,
            );
            const now = performance.now();
            const found = new Set(rows.map((x) => x.id));
            for (const p of chPending) if (found.has(p.id)) p.ch = now - p.ackedAt;
          }
          await sleep(25);
        }
      })();
      // If the run fails meanwhile, its own error is the one to report.
      loop.catch(() => undefined);
      return async () => {
        stop = true;
        await loop;
        const f = (k: 'pg' | 'ch') => ({ p50Ms: round(pct(probes.map((p) => p[k]!), 50)), p95Ms: round(pct(probes.map((p) => p[k]!), 95)), samples: probes.length });
        return { postgres: f('pg'), clickhouse: f('ch') };
      };
    };
    const cpuPer100k = (cpu: Record<string, number>, results: number) =>
      Object.fromEntries(Object.entries(cpu).sort((a, b) => b[1] - a[1]).map(([n, c]) => [n, round((c / results) * 100_000, 1)]));

    // Warm-up: processes started, groups joined, code paths compiled.
    await ingest(await makeBatches(Math.min(2000, opts.perRequest * 2), opts.perRequest), 1);
    await drain(PROJECTION_NAMES, newMeter(), 300_000);
    log('warmed up');

    // (a) steady
    const steadyBatches = await makeBatches(opts.results, opts.perRequest);
    await refreshBackends();
    const steadyMeter = newMeter();
    const probes: Probe[] = [];
    const fresh = followProbes(probes);
    const steadyStart = performance.now();
    const sent = await ingest(steadyBatches, opts.clients, probes);
    steadyMeter.sample();
    const ingestRate = sent.results / sent.seconds;
    const drained = await drain(PROJECTION_NAMES, steadyMeter);
    const freshness = await fresh();
    const steadyDrain = Object.fromEntries(PROJECTION_NAMES.map((n) => [n, round(sent.results / ((drained[n].at - steadyStart) / 1000))]));
    const endToEnd = sent.results / ((Math.max(...PROJECTION_NAMES.map((n) => drained[n].at)) - steadyStart) / 1000);
    const steadyCpu = steadyMeter.total();
    log(`steady: ingest ${round(ingestRate)}/s, end to end ${round(endToEnd)}/s, drained ${JSON.stringify(steadyDrain)}`);

    // Paced at half the measured capacity (the slower of ingest and end to end),
    // once the merges and vacuums left by the full-speed phase have ended: a
    // steady load at half capacity does not also digest a burst twice its size.
    await quiet();
    const capacity = Math.min(ingestRate, endToEnd);
    const pacedRate = capacity / 2;
    const pacedBatches = await makeBatches(opts.pacedResults, opts.pacedPerRequest);
    const pacedProbes: Probe[] = [];
    const pacedFresh = followProbes(pacedProbes);
    const pacedStart = performance.now();
    let pacedSent = 0;
    const inflight: Promise<unknown>[] = [];
    for (const b of pacedBatches) {
      const due = pacedStart + (pacedSent / pacedRate) * 1000;
      if (due > performance.now()) await sleep(due - performance.now());
      inflight.push(send(b, pacedProbes));
      pacedSent += opts.pacedPerRequest;
    }
    await Promise.all(inflight);
    await finishRuns();
    await drain(PROJECTION_NAMES, newMeter());
    const pacedFreshness = await pacedFresh();
    log(`paced at ${round(pacedRate)}/s: p95 pg ${pacedFreshness.postgres.p95Ms} ms, ch ${pacedFreshness.clickhouse.p95Ms} ms`);

    // (b) catch-up: all together on one backlog, then each alone on another.
    const appendBacklog = async () => {
      for (const n of PROJECTION_NAMES) await stopNode(procs.get(n)!);
      const batches = await makeBatches(opts.backlog, opts.perRequest);
      const r = await ingest(batches, opts.clients);
      return r.results;
    };
    const backlogResults = await appendBacklog();
    const togetherMeter = newMeter();
    for (const n of PROJECTION_NAMES) {
      startProjector(n);
      togetherMeter.startsFromZero(procs.get(n)!.child.pid!);
    }
    const together = await drain(PROJECTION_NAMES, togetherMeter);
    const togetherCpu = togetherMeter.total();
    const togetherRss = Object.fromEntries(PROJECTION_NAMES.map((n) => [n, peakRssMb(procs.get(n)!.child.pid)]));
    log(`catch-up together: ${JSON.stringify(Object.fromEntries(PROJECTION_NAMES.map((n) => [n, together[n].eventsPerSec])))}`);

    const alone: Record<string, number> = {};
    const aloneRss: Record<string, number> = {};
    const aloneCpu: Record<string, number> = {};
    // Every process's CPU while one projection catches up alone, from its first
    // progress (start-up left out): the store's and the broker's share show
    // whether the projector or what it writes to limits it.
    const aloneCpuByProcess: Record<string, Record<string, number>> = {};
    if (!opts.skipAlone) {
      await appendBacklog();
      for (const n of PROJECTION_NAMES) {
        await quiet();
        const meter = newMeter();
        startProjector(n);
        meter.startsFromZero(procs.get(n)!.child.pid!);
        const r = await drain([n], meter);
        alone[n] = r[n].eventsPerSec;
        aloneRss[n] = peakRssMb(procs.get(n)!.child.pid);
        aloneCpu[n] = round(((meter.total()[n] ?? 0) / r[n].events) * 100_000, 1);
        aloneCpuByProcess[n] = Object.fromEntries(Object.entries(cpuPer100k(r[n].cpuSinceStart, r[n].events)).filter(([, c]) => c >= 0.1));
        await stopNode(procs.get(n)!);
        log(`catch-up alone ${n}: ${alone[n]}/s`);
      }
      for (const n of PROJECTION_NAMES) startProjector(n);
    }

    // (c) baselines on the same rows.
    await quiet();
    const copy = await postgresCopyBaseline(s);
    const chRaw = await clickhouseInsertBaseline(s);
    log(`baselines: pg COPY ${copy.resultsPerSec}/s, ch insert ${chRaw.resultsPerSec}/s`);

    const rss = Object.fromEntries([...procs.values()].map((p) => [p.name, peakRssMb(p.child.pid)]));
    Object.assign(rss, { kafka: peakRssMb(kafkaPid), 'clickhouse-server': peakRssMb(chPid) });
    agent.destroy();

    // Events per result in the topic: run.created and run.updated are few.
    const catchUpBase = Object.keys(alone).length ? alone : Object.fromEntries(PROJECTION_NAMES.map((n) => [n, together[n].eventsPerSec]));
    const ratios = {
      catchUpAloneVsIngest: Object.fromEntries(PROJECTION_NAMES.map((n) => [n, round(catchUpBase[n]! / ingestRate, 2)])),
      catchUpTogetherVsIngest: Object.fromEntries(PROJECTION_NAMES.map((n) => [n, round(together[n].eventsPerSec / ingestRate, 2)])),
      postgresVsCopy: round(catchUpBase.postgres! / copy.resultsPerSec, 3),
      clickhouseVsRawInsert: round(catchUpBase.clickhouse! / chRaw.resultsPerSec, 3),
      endToEndVsIngest: round(endToEnd / ingestRate, 2),
    };
    const goals = {
      catchUpAtLeast2xIngest: Object.values(ratios.catchUpAloneVsIngest).every((r) => r >= 2),
      postgresAtLeastHalfCopy: ratios.postgresVsCopy >= 0.5,
      clickhouseAtLeastHalfRawInsert: ratios.clickhouseVsRawInsert >= 0.5,
      pacedP95FreshnessAtMost1s: pacedFreshness.postgres.p95Ms <= 1000 && pacedFreshness.clickhouse.p95Ms <= 1000,
      projectorRssAtMost300MB: Object.values({ ...togetherRss, ...aloneRss }).every((m) => !(m > 300)),
      stretchEndToEnd5000PerSec: endToEnd >= 5000,
    };
    return {
      options: opts,
      load: loadAverage(),
      steady: {
        results: sent.results, ingestResultsPerSec: round(ingestRate), endToEndResultsPerSec: round(endToEnd),
        drainResultsPerSec: steadyDrain, freshnessAtFullLoad: freshness,
        cpuSecondsPer100kResults: cpuPer100k(steadyCpu, sent.results),
      },
      paced: { resultsPerSec: round(pacedRate), results: pacedSent, freshness: pacedFreshness },
      catchUp: {
        backlogResults,
        aloneEventsPerSec: alone, togetherEventsPerSec: Object.fromEntries(PROJECTION_NAMES.map((n) => [n, together[n].eventsPerSec])),
        aloneCpuSecondsPer100kEvents: aloneCpu, aloneCpuSecondsPer100kEventsByProcess: aloneCpuByProcess, togetherCpuSecondsPer100kResults: cpuPer100k(togetherCpu, backlogResults),
        peakRssMbAlone: aloneRss, peakRssMbTogether: togetherRss,
      },
      baselines: { postgresCopy: copy, clickhouseJsonEachRow: chRaw },
      peakRssMb: rss,
      ratios, goals,
    };
  } finally {
    await admin?.disconnect().catch(() => undefined);
    await Promise.all([...procs.values()].map(stopNode));
    await stack?.stop().catch((e) => log(`stack stop: ${e}`));
    if (chServer) await stopClickHouse(chServer).catch(() => undefined);
    await stopKafka(kafkaNode).catch(() => undefined);
    if (!process.env.BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
  }
}

function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

// Baselines are the best of three runs: a single COPY took 20,900 to 32,300
// results/s on this machine from one run to the next (checkpoints, autovacuum,
// the page cache), more than the projectors varied; the fastest run is what
// the store can do, so the ratios are measured against that.
const BASELINE_RUNS = 3;
type Baseline = { results: number; rows: number; seconds: number; resultsPerSec: number; runsPerSec: number[] };
async function bestOf(run: () => Promise<{ results: number; rows: number; seconds: number }>): Promise<Baseline> {
  const runs: Array<{ results: number; rows: number; seconds: number }> = [];
  for (let i = 0; i < BASELINE_RUNS; i++) runs.push(await run());
  const best = runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  return {
    results: best.results, rows: best.rows, seconds: round(best.seconds, 2), resultsPerSec: round(best.results / best.seconds),
    runsPerSec: runs.map((r) => round(r.results / r.seconds)),
  };
}

// COPY of the rows the Postgres projection wrote (tests, their steps, test
// cases) into empty tables of the same definition, indexes included, through
// psql (a client process of its own, as the projector is).
async function postgresCopyBaseline(s: TestStack): Promise<Baseline> {
  const tables = ['tests', 'test_steps', 'test_cases'];
  const dir = mkdtempSync(join(tmpdir(), 'rl-bench-copy-'));
  const psql = (args: string[]) => {
    const r = spawnSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', s.config.pgUrl, ...args], { encoding: 'utf8', maxBuffer: 1 << 30 });
    if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
    return r.stdout;
  };
  try {
    const results = Number((await s.pool.query('SELECT count(*) AS n FROM tests')).rows[0].n);
    for (const t of tables) psql(['-c', `\\copy ${t} TO '${join(dir, t)}'`]);
    return await bestOf(async () => {
      for (const t of tables) await s.pool.query(`DROP TABLE IF EXISTS bench_copy_${t}; CREATE TABLE bench_copy_${t} (LIKE ${t} INCLUDING ALL)`);
      const started = performance.now();
      for (const t of tables) psql(['-c', `\\copy bench_copy_${t} FROM '${join(dir, t)}'`]);
      const seconds = (performance.now() - started) / 1000;
      let rows = 0;
      for (const t of tables) rows += Number((await s.pool.query(`SELECT count(*) AS n FROM bench_copy_${t}`)).rows[0].n);
      for (const t of tables) await s.pool.query(`DROP TABLE bench_copy_${t}`);
      return { results, rows, seconds };
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// JSONEachRow inserts of the ClickHouse projection's rows (test_results_v1 and
// test_errors_v1, whose views fill the derived tables) into a database made by
// the same migrations, in inserts of 50,000 rows.
async function clickhouseInsertBaseline(s: TestStack): Promise<Baseline> {
  const db = `${s.config.clickhouseDb}_raw`;
  const tables = ['test_results_v1', 'test_errors_v1'];
  const data = new Map<string, object[]>();
  for (const t of tables) data.set(t, await s.ch.select<object>(`SELECT * FROM ${t}`));
  const results = data.get('test_results_v1')!.length;
  const rows = [...data.values()].reduce((n, r) => n + r.length, 0);
  return bestOf(async () => {
    const root = ClickHouse.connect(s.config.clickhouseUrl, 'default');
    await root.command(`DROP DATABASE IF EXISTS ${db}`);
    await root.command(`CREATE DATABASE ${db}`);
    await root.close();
    const target = ClickHouse.connect(s.config.clickhouseUrl, db);
    try {
      await migrateClickHouse(target);
      const started = performance.now();
      for (const t of tables) {
        const tableRows = data.get(t)!;
        for (let i = 0; i < tableRows.length; i += 50_000) await target.insert(t, tableRows.slice(i, i + 50_000));
      }
      return { results, rows, seconds: (performance.now() - started) / 1000 };
    } finally {
      await target.command(`DROP DATABASE IF EXISTS ${db}`).catch(() => undefined);
      await target.close();
    }
  });
}

// A readable table of the figures, besides the JSON line.
export function pipelineTable(r: Awaited<ReturnType<typeof measurePipeline>>): string {
  const lines: string[] = [];
  const row = (...cells: Array<string | number>) => lines.push(cells.map((c, i) => String(c).padEnd(i === 0 ? 22 : 14)).join(' '));
  lines.push(`pipeline bench: ${r.steady.results} results steady, ${r.catchUp.backlogResults} backlog; load average ${r.load}`);
  lines.push(`ingest ${r.steady.ingestResultsPerSec}/s, end to end ${r.steady.endToEndResultsPerSec}/s (${r.ratios.endToEndVsIngest}× ingest)`);
  row('projection', 'steady drain/s', 'alone ev/s', 'together ev/s', 'alone/ingest', 'RSS MB');
  for (const n of PROJECTION_NAMES) {
    row(n, r.steady.drainResultsPerSec[n]!, r.catchUp.aloneEventsPerSec[n] ?? '-', r.catchUp.togetherEventsPerSec[n]!,
      r.ratios.catchUpAloneVsIngest[n]!, Math.max(r.catchUp.peakRssMbAlone[n] ?? 0, r.catchUp.peakRssMbTogether[n] ?? 0));
  }
  lines.push(`freshness at full load p50/p95: postgres ${r.steady.freshnessAtFullLoad.postgres.p50Ms}/${r.steady.freshnessAtFullLoad.postgres.p95Ms} ms, clickhouse ${r.steady.freshnessAtFullLoad.clickhouse.p50Ms}/${r.steady.freshnessAtFullLoad.clickhouse.p95Ms} ms`);
  lines.push(`freshness paced at ${r.paced.resultsPerSec}/s p50/p95: postgres ${r.paced.freshness.postgres.p50Ms}/${r.paced.freshness.postgres.p95Ms} ms, clickhouse ${r.paced.freshness.clickhouse.p50Ms}/${r.paced.freshness.clickhouse.p95Ms} ms`);
  lines.push(`postgres projector / COPY = ${r.ratios.postgresVsCopy} (COPY ${r.baselines.postgresCopy.resultsPerSec} results/s, best of ${r.baselines.postgresCopy.runsPerSec.join(', ')})`);
  lines.push(`clickhouse projector / JSONEachRow = ${r.ratios.clickhouseVsRawInsert} (insert ${r.baselines.clickhouseJsonEachRow.resultsPerSec} results/s, best of ${r.baselines.clickhouseJsonEachRow.runsPerSec.join(', ')})`);
  lines.push(`CPU-s per 100k results (steady): ${Object.entries(r.steady.cpuSecondsPer100kResults).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  for (const [n, byProcess] of Object.entries(r.catchUp.aloneCpuSecondsPer100kEventsByProcess)) {
    lines.push(`CPU-s per 100k events, ${n} catching up alone: ${Object.entries(byProcess).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  }
  lines.push(`goals: ${Object.entries(r.goals).map(([k, v]) => `${k} ${v ? 'met' : 'NOT met'}`).join(', ')}`);
  return lines.join('\n');
}
