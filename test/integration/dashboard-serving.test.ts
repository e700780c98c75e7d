import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, brotliDecompressSync } from 'node:zlib';
import { loadConfig, type Config } from '../../lib/config.ts';
import { createApp, type RunledgerApp } from '../../app/api.ts';
import { createLogger } from '../../lib/logger.ts';
import { createPool, type Pool } from '../../lib/pg.ts';
import { ClickHouse } from '../../lib/clickhouse.ts';
import { createKafka } from '../../lib/kafka.ts';
import { EventLog } from '../../lib/event-log.ts';

// The API serves the dashboard's build at / and the Playwright Trace Viewer at
// /trace/ (docs/dashboard.md "Serving and sessions"). Serving files touches no
// store: the app here has its clients but never needs them.
const BUNDLE = `console.log(${JSON.stringify('x'.repeat(5000))});\n`;
const INDEX = '<!DOCTYPE html><html><head><script type="module" src="/assets/index-AbCd1234.js"></script></head><body><div id="root"></div></body></html>';

let dir: string;
const servers: Array<{ server: Server; app: RunledgerApp; pool: Pool }> = [];

async function serve(webDir: string): Promise<string> {
  const config: Config = loadConfig({ ...process.env, RUNLEDGER_LOG_LEVEL: 'silent' }, { webDir });
  const logger = createLogger('test', 'silent');
  const pool = createPool(config.pgUrl, 1);
  const kafka = createKafka(config, 'runledger-test');
  const app = createApp({ config, pool, ch: ClickHouse.connect(config.clickhouseUrl, config.clickhouseDb), kafka, eventLog: new EventLog(kafka, config.topic, 1000), logger });
  const server: Server = await new Promise((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)); });
  servers.push({ server, app, pool });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

let base: string;
const page = (path: string, headers: Record<string, string> = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' }) => fetch(base + path, { headers });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rl-web-'));
  await mkdir(join(dir, 'assets'));
  await writeFile(join(dir, 'index.html'), INDEX);
  await writeFile(join(dir, 'assets', 'index-AbCd1234.js'), BUNDLE);
  await writeFile(join(dir, 'assets', 'index-EfGh5678.css'), `body{color:red}${' '.repeat(3000)}`);
  await writeFile(join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  base = await serve(dir);
});

afterAll(async () => {
  for (const s of servers) {
    await new Promise((r) => s.server.close(r));
    await s.app.close();
    await s.pool.end();
  }
  await rm(dir, { recursive: true, force: true });
});

describe('the dashboard at /', () => {
  it('serves index.html revalidated, with a CSP that allows no inline script, and the other security headers', async () => {
    const res = await page('/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await res.text()).toBe(INDEX);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const csp = res.headers.get('content-security-policy')!;
    const scriptSrc = /script-src ([^;]+)/.exec(csp)![1]!;
    expect(scriptSrc).toBe("'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("object-src 'none'");
    expect(csp).not.toMatch(/script-src[^;]*unsafe/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
  });

  it('serves hashed assets for a year, immutable, compressed for those who accept it', async () => {
    const plain = await fetch(`${base}/assets/index-AbCd1234.js`, { headers: { 'accept-encoding': 'identity' } });
    expect(plain.status).toBe(200);
    expect(plain.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(plain.headers.get('content-type')).toMatch(/javascript/);
    expect(plain.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await plain.text()).toBe(BUNDLE);
    // fetch() would decode on its own: read the raw bytes through node:http
    for (const [encoding, decode] of [['gzip', gunzipSync], ['br', brotliDecompressSync]] as const) {
      const raw = await rawGet(`${base}/assets/index-AbCd1234.js`, { 'accept-encoding': encoding });
      expect(raw.headers['content-encoding'], encoding).toBe(encoding);
      expect(raw.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(raw.body.length).toBeLessThan(BUNDLE.length / 5);
      expect(decode(raw.body).toString()).toBe(BUNDLE);
    }
    const css = await rawGet(`${base}/assets/index-EfGh5678.css`, { 'accept-encoding': 'gzip' });
    expect(css.headers['content-encoding']).toBe('gzip');
  });

  it('answers a missing hashed asset 404, never index.html', async () => {
    const res = await page('/assets/index-Gone0000.js');
    expect(res.status).toBe(404);
    expect((await res.json()).error.code).toBe('not_found');
  });

  it('answers index.html for any page of the app (SPA routing), and not for the API\'s own paths', async () => {
    for (const path of ['/runs', '/projects/proj_x/runs/run_y?tab=failures', '/settings/keys/']) {
      const res = await page(path);
      expect(res.status, path).toBe(200);
      expect(await res.text()).toBe(INDEX);
      expect(res.headers.get('content-security-policy')).toBeTruthy();
    }
    // The API keeps its answers, whatever the Accept header.
    const api = await page('/api/runs');
    expect(api.status).toBe(401);
    expect((await api.json()).error.code).toBe('invalid_auth');
    const unknownApi = await page('/api/nope');
    expect(unknownApi.status).toBe(404);
    expect((await unknownApi.json()).error.code).toBe('not_found');
    expect((await page('/health')).headers.get('content-type')).toMatch(/json/);
    expect((await page('/openapi.json')).headers.get('content-type')).toMatch(/json/);
    expect((await page('/metrics')).headers.get('content-type')).toMatch(/text\/plain/);
    expect(await (await page('/docs')).text()).not.toBe(INDEX);
    const artifact = await page('/artifacts/proj_x/run_y/file.zip?expires=1&token=x');
    expect(artifact.status).toBe(403);
  });

  it('answers a non-page request for an unknown path 404 JSON, and serves public files revalidated', async () => {
    // `/` is the dashboard for any client (curl sends Accept: */*).
    for (const accept of ['*/*', 'application/json']) {
      const root = await page('/', { accept });
      expect(root.status, accept).toBe(200);
      expect(await root.text()).toBe(INDEX);
    }
    const res = await page('/runs', { accept: 'application/json' });
    expect(res.status).toBe(404);
    expect((await res.json()).error.code).toBe('not_found');
    expect((await page('/runs', { accept: 'application/json' })).status).toBe(404);
    const posted = await fetch(`${base}/runs`, { method: 'POST', headers: { accept: 'text/html' } });
    expect(posted.status).toBe(404);
    const icon = await page('/favicon.svg', { accept: 'image/*' });
    expect(icon.status).toBe(200);
    expect(icon.headers.get('cache-control')).toBe('no-cache');
    expect((await page('/../../etc/passwd')).status).not.toBe(500);
    expect((await page('/%E0%A4%A')).status).toBeLessThan(500);
  });

  it('says plainly that the dashboard is not built when web/dist is missing (503)', async () => {
    const bare = await serve(join(dir, 'not-there'));
    const res = await fetch(`${bare}/runs`, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(503);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const text = await res.text();
    expect(text).toContain('The dashboard is not built');
    expect(text).toContain('RUNLEDGER_WEB_DIR');
    expect((await fetch(`${bare}/api/runs`)).status).toBe(401);
  });
});

describe('the Playwright Trace Viewer at /trace/', () => {
  it('serves the viewer of the installed playwright-core, its service worker revalidated within /trace/', async () => {
    const redirect = await fetch(`${base}/trace?trace=x`, { redirect: 'manual' });
    expect(redirect.status).toBe(308);
    expect(redirect.headers.get('location')).toBe('/trace/?trace=x');
    const index = await page('/trace/?trace=%2Fartifacts%2Fx');
    expect(index.status).toBe(200);
    const html = await index.text();
    expect(html).toContain('Playwright Trace Viewer');
    expect(index.headers.get('cache-control')).toBe('no-cache');
    const csp = index.headers.get('content-security-policy')!;
    expect(csp).toMatch(/script-src 'self' 'sha256-[A-Za-z0-9+/=]+'/);
    expect(csp).toContain("frame-ancestors 'self'");
    const sw = await fetch(`${base}/trace/sw.bundle.js`);
    expect(sw.status).toBe(200);
    expect(sw.headers.get('content-type')).toMatch(/javascript/);
    expect(sw.headers.get('cache-control')).toBe('no-cache');
    const chunk = /src="\.\/([^"]+\.js)"/.exec(html)![1]!;
    const js = await fetch(`${base}/trace/${chunk}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect((await fetch(`${base}/trace/nope.js`)).status).toBe(404);
  });
});

function rawGet(url: string, headers: Record<string, string>): Promise<{ headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return import('node:http').then((http) => new Promise((resolve, reject) => {
    http.get(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    }).on('error', reject);
  }));
}
