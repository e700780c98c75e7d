import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from '@playwright/test';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { client, request } from '../support/http.ts';
import { seedRuns, seededTest, FAILING, type SeededRun } from '../support/dashboard-data.ts';
import { runBody } from '../support/fixtures.ts';
import { form } from '../support/artifacts.ts';
import { PASSWORD } from '../support/people.ts';

// The dashboard in Debian's Chromium against a real stack (the API serving
// web/dist, which ops/test builds first) with data ingested through the API.
// One browser, the tests in order: the first sets the instance up.
const ADMIN = { email: 'admin@example.com', password: 'correct horse battery staple' };
const IMAGES = resolve('docs/images');
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

describe('the web dashboard, in Chromium', () => {
  let stack: TestStack;
  let browser: Browser;
  let ctx: BrowserContext;
  let page: Page;
  let token: string;
  let teamId: string;
  let projectId: string;
  let apiKey: string;
  let other: { teamId: string; projectId: string };
  let runs: SeededRun[];
  let receiver: Server;
  let receiverUrl: string;
  const received: string[] = [];
  const problems: string[] = [];
  const secrets: string[] = [];

  // Console errors, uncaught exceptions and 5xx answers fail the suite, and so
  // does any 4xx answer, except those the running test provokes on purpose and
  // declares with `provokes` (a failed sign-in, another team's project): Chromium
  // logs those as "Failed to load resource", and the test checks them itself.
  let current = '';
  let provoked: Array<{ status: number; url: RegExp }> = [];
  const provokes = (...xs: Array<{ status: number; url: RegExp }>) => provoked.push(...xs);
  function watch(p: Page) {
    p.on('pageerror', (e) => problems.push(`${current}: pageerror: ${e.message}`));
    p.on('console', (m) => {
      if (m.type() !== 'error') return;
      const status = Number(/Failed to load resource: the server responded with a status of (4\d\d)/.exec(m.text())?.[1]);
      if (status && provoked.some((x) => x.status === status)) return; // its URL is checked on the response
      problems.push(`${current}: console: ${m.text()} ${m.location().url}`);
    });
    p.on('response', (r) => {
      if (r.status() >= 500) problems.push(`${current}: ${r.status()} ${r.url()}`);
      else if (r.status() >= 400 && !provoked.some((x) => x.status === r.status() && x.url.test(r.url()))) problems.push(`${current}: unexpected ${r.status()} ${r.url()}`);
    });
  }
  async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ baseURL: stack.url, viewport: { width: 1280, height: 900 } });
    const p = await context.newPage();
    watch(p);
    return { context, page: p };
  }
  // axe-core in the page: no serious or critical violation.
  async function axe(p: Page, what: string) {
    await p.evaluate(`${axeSource};0`);
    const violations = await p.evaluate(async () => {
      const r = await (window as any).axe.run(document, { resultTypes: ['violations'] });
      return r.violations.filter((v: any) => v.impact === 'serious' || v.impact === 'critical')
        .map((v: any) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n: any) => n.target.join(' ')).join(', ')}`);
    });
    expect(violations, `axe on ${what}`).toEqual([]);
  }
  async function shot(p: Page, name: string) {
    await p.screenshot({ path: `${IMAGES}/dashboard-${name}.png`, fullPage: false });
  }
  async function noSecretShown(p: Page) {
    const html = await p.content();
    for (const s of secrets) expect(html.includes(s), 'a secret is on the page after creation').toBe(false);
  }

  // From the top of the page (its first link, "Skip to content"), Tab until
  // `target` has the focus: it must get there by keyboard alone.
  async function tabTo(p: Page, target: Locator, max = 300) {
    const el = await target.elementHandle();
    await p.evaluate(() => document.querySelector<HTMLElement>('a[href], button, input, select')?.focus());
    for (let i = 0; i < max; i++) {
      if (await p.evaluate((x) => document.activeElement === x, el)) return;
      await p.keyboard.press('Tab');
    }
    throw new Error(`Tab did not reach ${target}`);
  }
  // Every visible, enabled control of the page (links, buttons, inputs, selects,
  // summaries, anything made focusable) is reached by Tab; and nothing that takes
  // a click (a listener found through the DevTools protocol) is out of the
  // keyboard's reach: each is focusable itself or holds a control that is.
  async function everyControlByKeyboard(p: Page, what: string) {
    const wanted: string[] = await p.evaluate(() => {
      const controls = [...document.querySelectorAll<HTMLElement>('a[href], button, input, select, textarea, summary, [tabindex]:not([tabindex="-1"])')]
        .filter((el) => !el.matches(':disabled') && el.offsetParent !== null && (el.tagName === 'SUMMARY' || !el.closest('details:not([open])')));
      return controls.map((el, i) => {
        el.setAttribute('data-kb', String(i));
        return `${el.tagName} "${(el.getAttribute('aria-label') ?? el.innerText ?? '').slice(0, 40)}" ${el.getAttribute('name') ?? ''} in "${el.closest('tr,li,form,section')?.textContent?.slice(0, 50) ?? ''}"`;
      });
    });
    expect(wanted.length, `controls on ${what}`).toBeGreaterThan(3);
    // from the first control on (controls are in DOM order, which is the tab order here)
    await p.evaluate(() => document.querySelector<HTMLElement>('[data-kb="0"]')!.focus());
    const reached = new Set<number>([0]);
    for (let i = 0; i < 2 * wanted.length + 20 && reached.size < wanted.length; i++) {
      await p.keyboard.press('Tab');
      const k = await p.evaluate(() => document.activeElement?.getAttribute('data-kb'));
      if (k != null) reached.add(Number(k));
    }
    expect(wanted.filter((_, i) => !reached.has(i)), `not reached by Tab on ${what}`).toEqual([]);

    const cdp = await p.context().newCDPSession(p);
    try {
      await cdp.send('DOM.getDocument', { depth: 0 });
      const doc = await cdp.send('Runtime.evaluate', { expression: 'document.documentElement' });
      const { listeners } = await cdp.send('DOMDebugger.getEventListeners', { objectId: doc.result.objectId!, depth: -1, pierce: true });
      const clickable = [...new Set(listeners.filter((l) => ['click', 'mousedown', 'mouseup', 'dblclick'].includes(l.type) && l.backendNodeId).map((l) => l.backendNodeId!))];
      const unreachable: string[] = [];
      for (const backendNodeId of clickable) {
        const { object } = await cdp.send('DOM.resolveNode', { backendNodeId });
        const { result } = await cdp.send('Runtime.callFunctionOn', {
          objectId: object.objectId!, returnByValue: true,
          functionDeclaration: `function () {
            const focusable = (el) => el.tabIndex >= 0 && !el.matches(':disabled');
            if (this.nodeType !== 1 || this === document.documentElement || this.offsetParent === null || this.matches(':disabled')) return null;
            // uPlot's pointer handlers on the plot area (drag to zoom, double-click to
            // reset, click to lock the cursor) are all off here (cursor.drag, cursor.lock):
            // hovering only shows values, which the legend's text and the page's tables carry
            if (this.classList.contains('u-wrap') || this.classList.contains('u-over')) return null;
            if (focusable(this) || [...this.querySelectorAll('*')].some(focusable)) return null;
            return this.tagName + '.' + this.className + ' "' + (this.innerText || '').slice(0, 40) + '"';
          }`,
        });
        if (result.value) unreachable.push(result.value as string);
      }
      expect(unreachable, `clickable but not focusable on ${what}`).toEqual([]);
    } finally {
      await cdp.detach();
    }
  }

  beforeEach((ctx) => {
    current = ctx.task.name;
    provoked = [];
  });

  beforeAll(async () => {
    mkdirSync(IMAGES, { recursive: true });
    stack = await startTestStack({ projections: ['postgres', 'clickhouse'] });
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        received.push(body);
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    ({ context: ctx, page } = await newPage());
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => receiver?.close(r));
    await stack?.stop();
  });

  it('sets the instance up on first run, signs out and signs in again', async () => {
    provokes({ status: 401, url: /\/api\/auth\/login$/ }); // the wrong password, on purpose
    await page.goto('/');
    await page.waitForURL(/\/setup$/);
    await expect(page.getByRole('heading', { name: 'Set up Runledger' }).isVisible()).resolves.toBe(true);
    await axe(page, 'the setup page');
    await shot(page, 'setup');
    await page.getByLabel('Email').fill(ADMIN.email);
    await page.getByLabel('Password').fill(ADMIN.password);
    await page.getByRole('button', { name: 'Create administrator' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    const cookies = await ctx.cookies();
    const session = cookies.find((c) => c.name === 'rl_session');
    expect(session?.httpOnly).toBe(true);
    expect(await page.evaluate(() => document.cookie.includes('rl_session'))).toBe(false);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/login/);
    await page.goto('/');
    await page.waitForURL(/\/login/);
    await axe(page, 'the login page');
    await shot(page, 'login');
    await page.getByLabel('Email').fill(ADMIN.email);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).toMatch(/Sign in failed/);
    await page.getByLabel('Password').fill(ADMIN.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();

    // The rest of the data goes in through the API, as reporters would send it.
    token = (await request(stack.url, 'POST', '/api/auth/login', { body: ADMIN })).body.token;
    const admin = client(stack.url, { token });
    teamId = (await admin.post('/api/teams', { name: 'Shop team' })).body.id;
    projectId = (await admin.post('/api/projects', { teamId, name: 'shop-web' })).body.id;
    apiKey = (await admin.post('/api/api-keys', { projectId, name: 'ci', scope: 'full' })).body.key;
    const otherTeam = (await admin.post('/api/teams', { name: 'Other team' })).body.id;
    const otherProject = (await admin.post('/api/projects', { teamId: otherTeam, name: 'secret-project' })).body.id;
    other = { teamId: otherTeam, projectId: otherProject };
    secrets.push(apiKey);
    const png = await page.screenshot({ clip: { x: 0, y: 0, width: 320, height: 200 } });
    runs = await seedRuns(stack.url, apiKey, projectId, 4, { branch: (i) => (i === 1 ? 'feature/cart' : 'main'), screenshot: png });
    await stack.waitForProjections();
  }, 120_000);

  it('shows the overview with each project of the user', async () => {
    await page.goto('/');
    await page.getByRole('link', { name: 'shop-web' }).waitFor();
    await page.getByRole('link', { name: 'secret-project' }).waitFor();
    await page.locator('tr', { hasText: 'shop-web' }).getByText('failed').waitFor();
    await axe(page, 'the overview');
    await shot(page, 'overview');
    await everyControlByKeyboard(page, 'the overview');
    // a project opened with Enter
    await tabTo(page, page.getByRole('link', { name: 'shop-web' }));
    await page.keyboard.press('Enter');
    await page.waitForURL(new RegExp(`/projects/${projectId}/runs$`));
  });

  it('lists runs by name, with filters in the URL, changed by keyboard', async () => {
    await page.goto(`/projects/${projectId}/runs`);
    await page.getByText('c0ffee30').waitFor();
    expect(await page.locator('tbody tr').count()).toBe(4);
    // each run by its title (the seeded runs are "Nightly #1" to "#4")
    expect(await page.locator('tbody tr td:nth-child(2) a').allTextContents()).toEqual(['Nightly #4', 'Nightly #3', 'Nightly #2', 'Nightly #1']);
    await everyControlByKeyboard(page, 'the runs page');
    await tabTo(page, page.getByLabel('Branch'));
    await page.keyboard.type('feature/cart');
    await page.keyboard.press('Enter');
    await page.waitForURL(/branch=feature%2Fcart/);
    await page.waitForFunction(() => document.querySelectorAll('tbody tr').length === 1);
    expect(await page.locator('tbody tr').first().textContent()).toContain('c0ffee10');
    await page.goto(`/projects/${projectId}/runs`);
    await page.getByText('c0ffee30').waitFor();
    // the status filter with the arrow keys: any → running → passed → failed
    await tabTo(page, page.getByLabel('Status'));
    for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowDown');
    await page.waitForURL(/status=failed/);
    await page.waitForFunction(() => document.querySelectorAll('tbody tr').length === 2);
    await page.goto(`/projects/${projectId}/runs`);
    await page.getByText('c0ffee30').waitFor();
    await axe(page, 'the runs page');
    await shot(page, 'runs');
  });

  it('shows a run: header, failures first with the diff and stack, steps, the screenshot, a trace link, and a comparison', async () => {
    const last = runs.at(-1)!;
    await page.goto(`/runs/${last.id}`);
    await page.getByRole('heading', { name: /Run Nightly #4/ }).waitFor();
    await page.getByText('Failures (1)').waitFor();
    const first = page.locator('.trow').first();
    expect(await first.textContent()).toContain(`case ${FAILING}`);
    await page.getByRole('link', { name: /github-actions/ }).waitFor();
    await page.getByRole('button', { name: `Suite ${FAILING} > case ${FAILING}` }).first().click();
    await page.waitForURL(/test=/);
    const detail = page.getByTestId('test-detail');
    await detail.getByText('Payment declined').first().waitFor();
    expect(await detail.locator('.diff pre .d-exp').first().textContent()).toContain('Checkout complete');
    await detail.getByText('Stack').click();
    await detail.getByText('runTest').waitFor();
    await detail.getByRole('list', { name: 'Steps' }).getByText('navigate').waitFor();
    await detail.getByRole('img', { name: /Screenshot failure.png/ }).waitFor();
    expect(await detail.getByRole('img', { name: /Screenshot failure.png/ }).evaluate((i: HTMLImageElement) => i.naturalWidth)).toBe(320);
    const trace = await detail.getByRole('link', { name: /Open trace/ }).getAttribute('href');
    expect(trace).toMatch(/^\/trace\/\?trace=http.*%2Fartifacts%2F/);
    await page.getByLabel('Baseline run').selectOption({ label: new RegExp('feature/cart') as never }).catch(async () => {
      const value = await page.locator('select').filter({ hasText: 'feature/cart' }).locator('option', { hasText: 'feature/cart' }).getAttribute('value');
      await page.getByLabel('Baseline run').selectOption(value!);
    });
    await page.getByText(/Verdict:/).waitFor();
    await axe(page, 'the run page');
    await shot(page, 'run');

    // By keyboard: every control, a suite chosen with Space, a test opened with Enter.
    await page.goto(`/runs/${last.id}`);
    await page.getByText('Failures (1)').waitFor();
    await page.waitForFunction(() => document.querySelector('[data-testid="shown-count"]')?.textContent === '24 of 24 tests');
    await everyControlByKeyboard(page, 'the run page');
    await tabTo(page, page.getByRole('tree', { name: 'Suites' }).getByRole('button', { name: /^tests\/area-3\.spec\.ts/ }));
    await page.keyboard.press('Space');
    await page.waitForFunction(() => document.querySelector('[data-testid="shown-count"]')?.textContent?.startsWith('3 of 24'));
    await tabTo(page, page.locator('.trow').getByRole('button', { name: `Suite ${FAILING} > case ${FAILING}` }));
    await page.keyboard.press('Enter');
    await page.waitForURL(/test=/);
    await page.getByTestId('test-detail').getByText('Payment declined').first().waitFor();
  });

  it('plays a WebM video uploaded through the artifact API', async () => {
    // A real WebM, recorded here in Chromium: a canvas animation through MediaRecorder.
    const base64: string = await page.evaluate(async () => {
      const canvas = document.createElement('canvas');
      canvas.width = 160;
      canvas.height = 120;
      const g = canvas.getContext('2d')!;
      let frame = 0;
      const draw = () => {
        g.fillStyle = `hsl(${(frame * 15) % 360} 70% 45%)`;
        g.fillRect(0, 0, 160, 120);
        g.fillStyle = '#fff';
        g.font = '24px sans-serif';
        g.fillText(String(frame++), 60, 70);
      };
      draw();
      const recorder = new MediaRecorder(canvas.captureStream(25), { mimeType: 'video/webm;codecs=vp8' });
      const chunks: Blob[] = [];
      recorder.ondataavailable = (e) => chunks.push(e.data);
      const timer = setInterval(draw, 40);
      recorder.start(250);
      await new Promise((r) => setTimeout(r, 2000));
      await new Promise((r) => {
        recorder.onstop = r;
        recorder.stop();
      });
      clearInterval(timer);
      const bytes = new Uint8Array(await new Blob(chunks, { type: 'video/webm' }).arrayBuffer());
      let s = '';
      for (const b of bytes) s += String.fromCharCode(b);
      return btoa(s);
    });
    const webm = Buffer.from(base64, 'base64');
    expect(webm.subarray(0, 4)).toEqual(Buffer.from([0x1a, 0x45, 0xdf, 0xa3])); // EBML: a Matroska/WebM file
    expect(webm.length).toBeGreaterThan(2000);
    const last = runs.at(-1)!;
    const res = await fetch(`${stack.url}/api/upload`, {
      method: 'POST', headers: { 'x-api-key': apiKey },
      body: form([['type', 'video'], ['runId', last.id], ['testId', last.failingTestId], ['projectId', projectId], ['file', webm]], 'checkout.webm'),
    });
    expect(res.status, await res.clone().text()).toBe(201);
    expect((await res.json()).mimeType).toBe('video/webm');
    await stack.waitForProjections();

    await page.goto(`/runs/${last.id}?test=${last.failingTestId}`);
    const video = page.getByTestId('test-detail').locator('video[aria-label="Video checkout.webm"]');
    await video.waitFor();
    const played = await video.evaluate(async (v: HTMLVideoElement) => {
      v.muted = true;
      await v.play();
      const readyState = v.readyState;
      const from = v.currentTime;
      await new Promise((r) => setTimeout(r, 800));
      return { readyState, from, to: v.currentTime, paused: v.paused, error: v.error ? `${v.error.code} ${v.error.message}` : null, width: v.videoWidth };
    });
    expect(played.error).toBeNull();
    expect(played.readyState).toBeGreaterThanOrEqual(2); // HAVE_CURRENT_DATA: a frame to show
    expect(played.to).toBeGreaterThan(played.from);
    expect(played.width).toBe(160);
  });

  it('fills a running run in live, without a reload', async () => {
    const api = client(stack.url, { key: apiKey });
    const run = await api.post('/api/runs', runBody(projectId, { runTitle: 'Live run', commitSha: 'c0ffee9' }));
    await page.goto(`/runs/${run.body.id}`);
    await page.getByText('live', { exact: true }).first().waitFor();
    await page.evaluate(() => ((window as any).__notReloaded = true));
    for (let chunk = 0; chunk < 3; chunk++) {
      const items = Array.from({ length: 10 }, (_, i) => ({ type: 'test', ...seededTest(projectId, run.body.id, chunk * 10 + i, 1) }));
      expect((await api.post('/api/ingest/batch', items)).status).toBe(200);
      await page.waitForFunction((n) => document.querySelector('[data-testid="shown-count"]')?.textContent?.includes(`of ${n} tests`), (chunk + 1) * 10, { timeout: 30_000 });
    }
    await shot(page, 'run-live');
    await api.patch(`/api/runs/${run.body.id}`, { status: 'passed' });
    await page.locator('.run-h .badge', { hasText: 'passed' }).waitFor({ timeout: 30_000 });
    expect(await page.evaluate(() => (window as any).__notReloaded)).toBe(true);
  });

  it('quarantines a test from its page, and the API sees it', async () => {
    const testCaseId = (await client(stack.url, { token }).get(`/api/tests/${runs.at(-1)!.failingTestId}`)).body.testCaseId;
    await page.goto(`/projects/${projectId}/tests/${testCaseId}`);
    await page.getByRole('heading', { name: `case ${FAILING}` }).waitFor();
    await page.getByRole('list', { name: /Last \d+ executions on main/ }).waitFor();
    await page.getByText('Duration p50 / p95 (ms)').waitFor();
    // its score from GET /api/tests/:id/flakiness: the seeded failure is new, so not flaky
    await page.getByText(/Score \d+\.\d %/).waitFor();
    await page.locator('.u-legend .legend-toggle').first().waitFor();
    await everyControlByKeyboard(page, 'the test case page');
    // quarantined by keyboard alone: typed into its fields, the button pressed with Space
    await tabTo(page, page.getByLabel('Reason'));
    await page.keyboard.type('tracked in SHOP-42');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.closest('label')?.textContent)).toMatch(/^Owner/);
    await page.keyboard.type('payments team');
    await tabTo(page, page.getByRole('button', { name: 'Quarantine', exact: true }));
    await page.keyboard.press('Space');
    const deadline = Date.now() + 30_000;
    let listed = false;
    while (!listed && Date.now() < deadline) {
      const q = await client(stack.url, { token }).get(`/api/quarantine?projectId=${projectId}`);
      listed = q.body.data.some((x: any) => x.testCaseId === testCaseId && x.reason === 'tracked in SHOP-42' && x.owner === 'payments team');
      if (!listed) await new Promise((r) => setTimeout(r, 200));
    }
    expect(listed).toBe(true);
    await page.reload();
    await page.getByRole('table', { name: 'Quarantine history' }).getByText('tracked in SHOP-42').waitFor({ timeout: 20_000 });
    await page.getByRole('button', { name: 'Release from quarantine' }).waitFor();
    await axe(page, 'the test case page');
    await shot(page, 'test-case');
  });

  it('ranks flaky tests and draws the trends', async () => {
    await page.goto(`/projects/${projectId}/flakiness`);
    await page.getByText('tests scored').waitFor();
    await page.getByRole('link', { name: `Suite ${FAILING} > case ${FAILING}` }).waitFor();
    await page.getByRole('button', { name: 'Quarantine selected' }).waitFor();
    await page.getByText('Test cases by state per day').waitFor();
    await page.locator('.uplot').first().waitFor();
    await axe(page, 'the flakiness page');
    await shot(page, 'flakiness');
    await everyControlByKeyboard(page, 'the flakiness page');
    // a test picked for bulk quarantine with Space
    await tabTo(page, page.getByRole('checkbox', { name: `Select Suite ${FAILING} > case ${FAILING}` }));
    await page.keyboard.press('Space');
    await page.getByText('1 selected').waitFor();
    await page.keyboard.press('Space');
    await page.getByText('0 selected').waitFor();
    await page.goto(`/projects/${projectId}/trends?period=7d`);
    await page.getByText('Pass rate and flaky rate (%)').waitFor();
    await page.locator('.uplot').first().waitFor();
    await page.getByRole('heading', { name: 'Most failing' }).waitFor();
    await page.getByRole('heading', { name: 'Error clusters' }).waitFor();
    await page.getByText('Payment declined').first().waitFor();
    await axe(page, 'the trends page');
    await shot(page, 'trends');
    await everyControlByKeyboard(page, 'the trends page');
    // a chart's series hidden and shown again from its legend, by keyboard
    const toggle = page.getByRole('button', { name: 'Show flaky rate in Pass rate and flaky rate (%)' });
    expect(await toggle.getAttribute('aria-pressed')).toBe('true');
    await tabTo(page, toggle);
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelector('[aria-label="Show flaky rate in Pass rate and flaky rate (%)"]')?.getAttribute('aria-pressed') === 'false');
    expect(await toggle.evaluate((b) => b.closest('tr')!.classList.contains('u-off'))).toBe(true);
    await page.keyboard.press('Space');
    await page.waitForFunction(() => document.querySelector('[aria-label="Show flaky rate in Pass rate and flaky rate (%)"]')?.getAttribute('aria-pressed') === 'true');
    // the period, with the arrow keys
    await tabTo(page, page.getByLabel('Period'));
    await page.keyboard.press('ArrowDown');
    await page.waitForURL(/period=30d/);
  });

  it('creates an API key shown once, then only masked', async () => {
    await page.goto(`/projects/${projectId}/settings`);
    await page.getByRole('heading', { name: 'API keys' }).waitFor();
    await page.getByLabel('Name', { exact: true }).first().fill('nightly reporter');
    await page.getByRole('button', { name: 'Create key' }).click();
    const shown = page.getByTestId('secret-once');
    await shown.waitFor();
    const key = (await shown.locator('code').textContent())!;
    expect(key).toMatch(/^rl_/);
    secrets.push(key);
    expect((await request(stack.url, 'GET', `/api/runs?projectId=${projectId}`, { key })).status).toBe(200);
    await shown.getByRole('button', { name: 'Done' }).click();
    await page.getByRole('cell', { name: 'nightly reporter' }).waitFor();
    await noSecretShown(page);
    const masked = await page.locator('tr', { hasText: 'nightly reporter' }).locator('code').textContent();
    expect(masked).toMatch(/\*{4}/);
    await page.reload();
    await page.getByRole('cell', { name: 'nightly reporter' }).waitFor();
    await noSecretShown(page);
    await page.locator('tr', { hasText: 'nightly reporter' }).getByRole('button', { name: 'Deactivate' }).click();
    await page.locator('tr', { hasText: 'nightly reporter' }).getByRole('button', { name: 'Activate', exact: true }).waitFor();
    expect((await request(stack.url, 'GET', `/api/runs?projectId=${projectId}`, { key })).status).toBe(401);
  });

  it('creates a webhook, sends a test delivery and shows it in the log', async () => {
    await page.getByText('Add a webhook').click();
    await page.getByLabel('URL').fill(receiverUrl);
    await page.getByRole('button', { name: 'Create webhook' }).click();
    const shown = page.getByTestId('secret-once');
    await shown.waitFor();
    secrets.push((await shown.locator('code').textContent())!);
    await shown.getByRole('button', { name: 'Done' }).click();
    await page.getByRole('button', { name: 'Send test' }).click();
    await page.getByTestId('deliveries').getByText('webhook.test').waitFor({ timeout: 20_000 });
    expect(await page.getByTestId('deliveries').getByText('delivered').count()).toBeGreaterThan(0);
    expect(received.some((b) => b.includes('webhook.test'))).toBe(true);
    await noSecretShown(page);
    await axe(page, 'the settings page');
    await shot(page, 'settings');
  });

  it('reaches every action of the settings and team pages by keyboard', async () => {
    await page.goto(`/projects/${projectId}/settings`);
    await page.getByRole('button', { name: 'Create key' }).waitFor();
    await page.getByTestId('deliveries').waitFor();
    // (not the controls in a closed <details>: its summary opens it, with Enter)
    await everyControlByKeyboard(page, 'the settings page');
    await tabTo(page, page.getByText('Add a webhook'));
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Create webhook' }).waitFor();
    await everyControlByKeyboard(page, 'the settings page with the webhook form open');

    await page.goto(`/teams/${teamId}/settings`);
    await page.getByRole('heading', { name: 'Audit log' }).waitFor();
    await page.getByRole('cell', { name: /api_key/ }).first().waitFor();
    await axe(page, 'the team page');
    await shot(page, 'team');
    await everyControlByKeyboard(page, 'the team page');
    // someone invited by keyboard: the address typed, Enter; the token dismissed with Enter
    await tabTo(page, page.getByLabel('Email'));
    await page.keyboard.type('keyboard@example.com');
    await page.keyboard.press('Enter');
    const shown = page.getByTestId('secret-once');
    await shown.waitFor();
    secrets.push((await shown.locator('code').textContent())!);
    await tabTo(page, shown.getByRole('button', { name: 'Done' }));
    await page.keyboard.press('Enter');
    await page.getByRole('cell', { name: 'keyboard@example.com', exact: true }).first().waitFor();
    await noSecretShown(page);
  });

  it('shows a viewer no management action', async () => {
    const admin = client(stack.url, { token });
    const inv = await admin.post('/api/team-members', { teamId, email: 'viewer@example.com', role: 'viewer' });
    expect(inv.status, inv.text).toBe(201);
    const accepted = await request(stack.url, 'POST', '/api/auth/accept-invitation', { body: { token: inv.body.token, password: PASSWORD } });
    expect(accepted.status, accepted.text).toBeLessThan(300);
    const v = await newPage();
    await v.page.goto('/login');
    await v.page.getByLabel('Email').fill('viewer@example.com');
    await v.page.getByLabel('Password').fill(PASSWORD);
    await v.page.getByRole('button', { name: 'Sign in' }).click();
    await v.page.getByRole('heading', { name: 'Overview' }).waitFor();
    await v.page.goto(`/projects/${projectId}/settings`);
    await v.page.getByRole('heading', { name: 'Webhooks' }).waitFor();
    await v.page.getByText('settings are read-only for you').waitFor();
    for (const name of ['Create key', 'Send test', 'Edit', 'Delete', 'Save settings', 'Add schedule']) {
      expect(await v.page.getByRole('button', { name }).count(), name).toBe(0);
    }
    expect(await v.page.getByText('Add a webhook').count()).toBe(0);
    await v.page.goto(`/projects/${projectId}/flakiness`);
    await v.page.getByText('tests scored').waitFor();
    expect(await v.page.getByRole('button', { name: 'Quarantine selected' }).count()).toBe(0);
    await v.page.goto(`/runs/${runs[0]!.id}`);
    await v.page.getByRole('heading', { name: /Run Nightly #1/ }).waitFor();

    // Another team's project, by URL: a message, not its data (the 404s are on purpose).
    provokes({ status: 404, url: new RegExp(`/api/(projects/${other.projectId}|runs\\?projectId=${other.projectId})`) });
    await v.page.goto(`/projects/${other.projectId}/runs`);
    await v.page.getByRole('alert').first().waitFor();
    expect(await v.page.getByRole('alert').first().textContent()).toMatch(/40[34]/);
    expect(await v.page.content()).not.toContain('secret-project');
    await noSecretShown(v.page);
    await v.context.close();
  });

  it('had no console errors and no server errors', () => {
    expect(problems).toEqual([]);
  });
});
