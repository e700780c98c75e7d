import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { spawnProcess, type Projector } from '../support/processes.ts';
import { request } from '../support/http.ts';

// The processes ops/up starts, started the same way (their build in dist/ with
// plain node, not the test runner's loader): they come up, serve, and stop
// cleanly on SIGTERM.
describe('the process entrypoints', () => {
  let stack: TestStack;
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  let children: Projector[] = [];

  beforeAll(async () => {
    stack = await startTestStack();
    const env = { ...stack.env, RUNLEDGER_PORT: String(port) };
    children = [
      spawnProcess(['ops/run/api.ts'], env),
      spawnProcess(['ops/run/projector.ts', 'postgres'], env),
      spawnProcess(['ops/run/projector.ts', 'clickhouse'], env),
    ];
  });

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await stack?.stop();
  });

  it('the API answers /health/ready once Kafka, Postgres and ClickHouse answer', async () => {
    const deadline = Date.now() + 30_000;
    let status = 0;
    while (Date.now() < deadline) {
      for (const c of children) c.assertAlive();
      status = await request(`http://127.0.0.1:${port}`, 'GET', '/health/ready').then((r) => r.status, () => 0);
      if (status === 200) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(status).toBe(200);
  });

  // The build sits in dist/, one level below the root like lib/: what the API
  // finds by a path relative to its module (the dashboard in web/dist, the API
  // explorer's script) must be found from there too.
  it('serves the dashboard and the API explorer from its build', async () => {
    const base = `http://127.0.0.1:${port}`;
    const page = await request(base, 'GET', '/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.text).toContain('<div id="app">');
    const init = await request(base, 'GET', '/docs/assets/init.js');
    expect(init.status).toBe(200);
    expect(init.headers.get('content-type')).toMatch(/^application\/javascript/);
    expect(init.text).toContain("SwaggerUIBundle({");
  });

  it('every process exits 0 on SIGTERM, within the shutdown bound', async () => {
    for (const c of children) c.assertAlive();
    const exits = children.map((c) => new Promise<number | null>((resolve) => c.once('exit', (code) => resolve(code))));
    for (const c of children) c.kill('SIGTERM');
    const codes = await Promise.race([
      Promise.all(exits),
      new Promise<string>((resolve) => setTimeout(() => resolve('timeout'), 20_000)),
    ]);
    expect(codes).toEqual([0, 0, 0]);
  });
});
