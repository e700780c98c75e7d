import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { client, request } from '../support/http.ts';
import { seedRuns, seededTest, FAILING, type SeededRun } from '../support/dashboard-data.ts';
import { runBody } from '../support/fixtures.ts';
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

  // Console errors and uncaught exceptions fail the suite; a 4xx a test provokes on
  // purpose (signed out, another team's project) is logged by Chromium as
  // "Failed to load resource" and is checked by the test itself instead. No 5xx ever.
  function watch(p: Page) {
    p.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    p.on('console', (m) => {
      if (m.type() === 'error' && !/Failed to load resource: the server responded with a status of 4\d\d/.test(m.text())) problems.push(`console: ${m.text()}`);
    });
    p.on('response', (r) => {
      if (r.status() >= 500) problems.push(`${r.status()} ${r.url()}`);
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
  });

  it('lists runs with filters in the URL', async () => {
    await page.goto(`/projects/${projectId}/runs`);
    await page.getByText('c0ffee30').waitFor();
    expect(await page.locator('tbody tr').count()).toBe(4);
    await page.getByLabel('Branch').fill('feature/cart');
    await page.getByLabel('Branch').press('Enter');
    await page.waitForURL(/branch=feature%2Fcart/);
    await page.waitForFunction(() => document.querySelectorAll('tbody tr').length === 1);
    expect(await page.locator('tbody tr').first().textContent()).toContain('c0ffee10');
    await page.goto(`/projects/${projectId}/runs?status=failed`);
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
    await page.getByLabel('Reason').fill('tracked in SHOP-42');
    await page.getByLabel('Owner').fill('payments team');
    await page.getByRole('button', { name: 'Quarantine', exact: true }).click();
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
    await page.goto(`/projects/${projectId}/trends?period=7d`);
    await page.getByText('Pass rate and flaky rate (%)').waitFor();
    await page.locator('.uplot').first().waitFor();
    await page.getByRole('heading', { name: 'Most failing' }).waitFor();
    await page.getByRole('heading', { name: 'Error clusters' }).waitFor();
    await page.getByText('Payment declined').first().waitFor();
    await axe(page, 'the trends page');
    await shot(page, 'trends');
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

  it('reaches every action of the settings page by keyboard', async () => {
    await page.goto(`/projects/${projectId}/settings`);
    await page.getByRole('button', { name: 'Create key' }).waitFor();
    await page.getByTestId('deliveries').waitFor();
    // Each visible control by what it is and says (not those in a closed <details>:
    // its summary opens it), then Tab through the page.
    const describe = (el: Element | null) => el ? `${el.tagName}|${el.getAttribute('aria-label') ?? ''}|${(el as HTMLElement).innerText?.slice(0, 40) ?? ''}|${el.getAttribute('name') ?? ''}|${el.closest('tr,li,form,section')?.textContent?.slice(0, 60) ?? ''}` : '';
    const wanted: string[] = await page.evaluate(`[...document.querySelectorAll('a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), summary')]
      .filter((el) => el.offsetParent !== null && (el.tagName === 'SUMMARY' || !el.closest('details:not([open])'))).map(${describe.toString()})`);
    const reached = new Set<string>();
    for (let i = 0; i < wanted.length + 15; i++) {
      await page.keyboard.press('Tab');
      reached.add(await page.evaluate(`(${describe.toString()})(document.activeElement)`));
    }
    expect(wanted.filter((w) => !reached.has(w)), JSON.stringify({ wanted, reached: [...reached] }, null, 1)).toEqual([]);
    await page.goto(`/teams/${teamId}/settings`);
    await page.getByRole('heading', { name: 'Audit log' }).waitFor();
    await page.getByRole('cell', { name: /api_key/ }).first().waitFor();
    await axe(page, 'the team page');
    await shot(page, 'team');
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

    // Another team's project, by URL: a message, not its data.
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
