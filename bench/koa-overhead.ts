// A plain Koa JSON route against bare node:http serving the same payload, each
// server in its own process, loaded by autocannon from this one; the ratio of
// their requests per second is what Koa's machinery costs.
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { ROOT } from '../test/support/processes.ts';

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

export async function measureKoaOverhead(seconds = Number(process.env.BENCH_SECONDS ?? 5)) {
  const servers = { koa: await start('koa', 41700), node: await start('node', 41701) };
  try {
    // warm up both, then measure each twice, interleaved
    await load('http://127.0.0.1:41700/payload', 1);
    await load('http://127.0.0.1:41701/payload', 1);
    const rps = { koa: [] as number[], node: [] as number[] };
    for (let round = 0; round < 2; round++) {
      rps.node.push(await load('http://127.0.0.1:41701/payload', seconds));
      rps.koa.push(await load('http://127.0.0.1:41700/payload', seconds));
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const koa = mean(rps.koa);
    const node = mean(rps.node);
    return { koaRps: Math.round(koa), nodeHttpRps: Math.round(node), ratio: Math.round((koa / node) * 1000) / 1000, goal: 0.65 };
  } finally {
    for (const c of Object.values(servers)) c.kill('SIGTERM');
  }
}
