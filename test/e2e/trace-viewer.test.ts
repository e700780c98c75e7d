import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { createTenant, type Tenant } from '../support/tenants.ts';
import { client } from '../support/http.ts';
import { runBody } from '../support/fixtures.ts';

// The self-hosted Playwright Trace Viewer (/trace/) opening a real trace, made
// here by playwright-core's tracing, uploaded as an artifact and loaded through
// its signed URL, in Debian's Chromium: the viewer lists the trace's actions
// and logs no error.
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

let stack: TestStack;
let t: Tenant;
let browser: Browser;
const tracePath = join(tmpdir(), `rl-trace-${process.pid}-${Date.now()}.zip`);

beforeAll(async () => {
  stack = await startTestStack();
  t = await createTenant(stack.url, 'traces');
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  // A trace of a few actions on a small page (no network needed).
  const context = await browser.newContext();
  await context.tracing.start({ snapshots: true, screenshots: true, title: 'runledger trace' });
  const page = await context.newPage();
  await page.setContent('<h1>Cart</h1><button id="add" onclick="document.querySelector(\'#n\').textContent = \'1\'">Add to cart</button><span id="n">0</span>');
  await page.click('#add');
  await page.waitForSelector('#n:has-text("1")');
  await context.tracing.stop({ path: tracePath });
  await context.close();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await rm(tracePath, { force: true });
});

describe('the trace viewer at /trace/', () => {
  it('opens a trace artifact through its signed URL and lists its actions, with no console error', async () => {
    const api = client(stack.url, { key: t.apiKey });
    const runId = (await api.post('/api/runs', runBody(t.projectId))).body.id as string;
    const form = new FormData();
    form.append('type', 'trace');
    form.append('runId', runId);
    form.append('projectId', t.projectId);
    form.append('file', new Blob([new Uint8Array(await readFile(tracePath))]), 'trace.zip');
    const uploaded = await fetch(`${stack.url}/api/upload`, { method: 'POST', body: form, headers: { 'x-api-key': t.apiKey } });
    const artifact = await uploaded.json();
    expect(uploaded.status, JSON.stringify(artifact)).toBe(201);
    expect(artifact.url.startsWith(`${stack.url}/artifacts/`)).toBe(true);

    const context = await browser.newContext();
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    context.on('weberror', (e) => problems.push(`weberror: ${e.error().message}`));
    const uploads: string[] = [];
    context.on('request', (r) => { if (!r.url().startsWith(stack.url) && !r.url().startsWith('data:') && !r.url().startsWith('blob:')) uploads.push(r.url()); });

    await page.goto(`${stack.url}/trace/?trace=${encodeURIComponent(artifact.url)}`, { waitUntil: 'domcontentloaded', timeout: 60_000 });
    // The actions of the trace, as the viewer's action list shows them.
    const actions = page.locator('.action-title');
    await expect.poll(async () => (await actions.allInnerTexts()).join(' | '), { timeout: 60_000 }).toMatch(/Click/i);
    const titles = (await actions.allInnerTexts()).join(' | ');
    expect(titles).toMatch(/Set content/i);
    expect(titles).toMatch(/Wait for selector/i);
    // The service worker is the viewer's, within /trace/.
    const scope = await page.evaluate(async () => (await navigator.serviceWorker.getRegistration())?.scope);
    expect(scope).toBe(`${stack.url}/trace/`);
    expect(problems).toEqual([]);
    expect(uploads).toEqual([]);
    await context.close();
  }, 150_000);
});
