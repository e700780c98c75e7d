// A plain Koa JSON route against bare node:http serving the same payload, each
// server in its own process, loaded by autocannon from this one; the ratio of
// their requests per second is what Koa's machinery costs.
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { ROOT } from '../test/support/processes.ts';
import { cpuSecondsOf } from './cpu.ts';

async function start(kind: 'koa' | 'node', port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/http-servers.ts', kind, String(port)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  await once(child.stdout!, 'data');
  return child;
}

async function load(url: string, seconds: number): Promise<number> {
  const result = await autocannon({ url, connections: 32, pipelining: 1, duration: seconds });
  if (result.non2xx || result.errors) throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return result.requests.average;
}

export async function measureKoaOverhead(seconds = Number(process.env.BENCH_SECONDS ?? 4), rounds = Number(process.env.BENCH_ROUNDS ?? 4)) {
  const servers = { koa: await start('koa', 41700), node: await start('node', 41701) };
  const url = { koa: 'http://127.0.0.1:41700/payload', node: 'http://127.0.0.1:41701/payload' };
  try {
    await load(url.koa, 1);
    await load(url.node, 1);
    // Interleaved rounds; the best round of each is the least disturbed by the
    // machine's other tenants. Requests per CPU second of each server beside.
    const rps = { koa: [] as number[], node: [] as number[] };
    const cpu = { koa: 0, node: 0 };
    const served = { koa: 0, node: 0 };
    for (let round = 0; round < rounds; round++) {
      for (const kind of ['node', 'koa'] as const) {
        const before = cpuSecondsOf(servers[kind].pid!);
        const r = await load(url[kind], seconds);
        cpu[kind] += cpuSecondsOf(servers[kind].pid!) - before;
        served[kind] += r * seconds;
        rps[kind].push(r);
      }
    }
    const best = (xs: number[]) => Math.max(...xs);
    const round3 = (n: number) => Math.round(n * 1000) / 1000;
    return {
      koaRps: Math.round(best(rps.koa)), nodeHttpRps: Math.round(best(rps.node)), ratio: round3(best(rps.koa) / best(rps.node)), goal: 0.65,
      koaPerCpuSec: Math.round(served.koa / cpu.koa), nodeHttpPerCpuSec: Math.round(served.node / cpu.node),
      cpuRatio: round3((served.koa / cpu.koa) / (served.node / cpu.node)),
    };
  } finally {
    for (const c of Object.values(servers)) c.kill('SIGTERM');
  }
}
