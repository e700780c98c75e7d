import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium } from 'playwright-core';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { createTenant } from '../support/tenants.ts';
import { mountedRoutes, type MountedRoute } from '../../lib/http/routes.ts';
import { buildOpenApi, ROUTE_DOCS } from '../../lib/http/openapi.ts';
import { ERROR_CODES } from '../../lib/errors.ts';

// GET /openapi.json describes every route the app serves (read from its
// mounted routers, like the isolation matrix), with the error shape and codes
// of docs/errors.md, and is a structurally valid OpenAPI 3.1 document. No
// OpenAPI validator is installed (node_modules has no ajv or swagger parser),
// so `openApi31Problems` below checks the rules of the 3.1 specification the
// document relies on: required fields, path templates and their parameters,
// operation ids, responses, and that every $ref resolves.

let stack: TestStack;
let routes: MountedRoute[];
let doc: any;

beforeAll(async () => {
  stack = await startTestStack();
  routes = mountedRoutes(stack.app);
  const res = await fetch(`${stack.url}/openapi.json`);
  expect(res.status).toBe(200);
  doc = await res.json();
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const toOpenApi = (p: string) => p.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

export function openApi31Problems(d: any): string[] {
  const problems: string[] = [];
  const bad = (where: string, what: string) => problems.push(`${where}: ${what}`);
  if (typeof d.openapi !== 'string' || !/^3\.1\.\d+$/.test(d.openapi)) bad('openapi', 'must be 3.1.x');
  if (typeof d.info?.title !== 'string' || typeof d.info?.version !== 'string') bad('info', 'needs title and version (strings)');
  if (!d.paths && !d.components && !d.webhooks) bad('root', 'needs paths, components or webhooks');
  const refs: string[] = [];
  const walk = (v: unknown, where: string) => {
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${where}[${i}]`));
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === '$ref') {
          if (typeof x !== 'string') bad(where, '$ref must be a string');
          else refs.push(x);
        } else walk(x, `${where}.${k}`);
      }
    }
  };
  walk(d, '#');
  for (const ref of new Set(refs)) {
    if (!ref.startsWith('#/')) continue; // the document has no external refs; a relative one would be reported below
    const target = ref.slice(2).split('/').reduce<any>((o, k) => (o == null ? undefined : o[k.replace(/~1/g, '/').replace(/~0/g, '~')]), d);
    if (target === undefined) bad(ref, 'does not resolve');
  }
  for (const ref of refs) if (!ref.startsWith('#/')) bad(ref, 'external $ref');
  const operationIds = new Set<string>();
  for (const [path, item] of Object.entries<any>(d.paths ?? {})) {
    if (!path.startsWith('/')) bad(path, 'a path must start with /');
    const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
    for (const [method, op] of Object.entries<any>(item)) {
      const where = `${method.toUpperCase()} ${path}`;
      if (!METHODS.includes(method)) {
        if (!['summary', 'description', 'servers', 'parameters', '$ref'].includes(method)) bad(where, 'unknown path item field');
        continue;
      }
      if (op.operationId !== undefined) {
        if (operationIds.has(op.operationId)) bad(where, `duplicate operationId ${op.operationId}`);
        operationIds.add(op.operationId);
      }
      const params: any[] = op.parameters ?? [];
      const seen = new Set<string>();
      for (const p of params) {
        if (typeof p.name !== 'string' || !['query', 'header', 'path', 'cookie'].includes(p.in)) bad(where, `parameter ${JSON.stringify(p)} needs name and in`);
        if (seen.has(`${p.in}:${p.name}`)) bad(where, `duplicate parameter ${p.name}`);
        seen.add(`${p.in}:${p.name}`);
        if (p.in === 'path' && p.required !== true) bad(where, `path parameter ${p.name} must be required`);
        if (p.in === 'path' && !templated.includes(p.name)) bad(where, `path parameter ${p.name} is not in the path`);
        if (!p.schema === !p.content) bad(where, `parameter ${p.name} needs exactly one of schema and content`);
      }
      for (const t of templated) if (!params.some((p) => p.in === 'path' && p.name === t)) bad(where, `{${t}} has no path parameter`);
      if (op.requestBody && (typeof op.requestBody.content !== 'object' || !Object.keys(op.requestBody.content).length)) bad(where, 'requestBody needs content');
      const responses = op.responses;
      if (!responses || typeof responses !== 'object' || !Object.keys(responses).length) bad(where, 'needs responses');
      for (const [status, r] of Object.entries<any>(responses ?? {})) {
        if (!/^([1-5](\d\d|XX)|default)$/.test(status)) bad(where, `response key ${status}`);
        if (typeof r.description !== 'string') bad(`${where} ${status}`, 'response needs a description');
        for (const [type, media] of Object.entries<any>(r.content ?? {})) {
          if (!type.includes('/')) bad(`${where} ${status}`, `media type ${type}`);
          if (media.schema !== undefined && (typeof media.schema !== 'object' || media.schema === null)) bad(`${where} ${status}`, 'schema must be an object');
        }
      }
      for (const s of op.security ?? []) for (const name of Object.keys(s)) if (!d.components?.securitySchemes?.[name]) bad(where, `unknown security scheme ${name}`);
    }
  }
  return problems;
}

describe('GET /openapi.json', () => {
  it('has an operation for every mounted route, and nothing else', () => {
    const documented = Object.entries(doc.paths).flatMap(([p, item]: [string, any]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${p}`));
    const served = routes.map((r) => `${r.method} ${toOpenApi(r.path)}`);
    expect(served.filter((r) => !documented.includes(r))).toEqual([]);
    expect(documented.filter((r) => !served.includes(r))).toEqual([]);
    expect(buildOpenApi(routes).undocumented).toEqual([]);
    // and no stale entry for a route that is gone
    expect(Object.keys(ROUTE_DOCS).filter((k) => !routes.some((r) => `${r.method} ${r.path}` === k))).toEqual([]);
  });

  it('names a route missing from ROUTE_DOCS as undocumented and leaves it out', () => {
    const { document, undocumented } = buildOpenApi([...routes, { method: 'GET', path: '/api/not-described/:id' }]);
    expect(undocumented).toEqual(['GET /api/not-described/:id']);
    expect(document.paths['/api/not-described/{id}']).toBeUndefined();
  });

  it('is a structurally valid OpenAPI 3.1 document', () => {
    expect(openApi31Problems(doc)).toEqual([]);
    // the checker itself catches what it claims to
    const broken = structuredClone(doc);
    broken.openapi = '3.0.3';
    broken.paths['/api/runs/{id}'].get.parameters = [];
    broken.paths['/api/runs'].get.responses['200'].content['application/json'].schema = { $ref: '#/components/schemas/Nope' };
    expect(openApi31Problems(broken)).toEqual([
      'openapi: must be 3.1.x',
      '#/components/schemas/Nope: does not resolve',
      'GET /api/runs/{id}: {id} has no path parameter',
    ]);
  });

  it('takes request bodies, queries and path ids from the zod schemas the routes parse with', () => {
    const runs = doc.paths['/api/runs'];
    const body = doc.components.schemas[runs.post.requestBody.content['application/json'].schema.$ref.split('/').pop()];
    expect(body.required).toEqual(expect.arrayContaining(['projectId', 'status']));
    expect(body.properties.status.enum).toEqual(['running', 'passed', 'failed', 'cancelled']);
    const query = Object.fromEntries(runs.get.parameters.filter((p: any) => p.in === 'query').map((p: any) => [p.name, p]));
    expect(Object.keys(query)).toEqual(expect.arrayContaining(['projectId', 'status', 'branch', 'limit', 'offset']));
    expect(query.limit.schema).toMatchObject({ type: 'integer', minimum: 1, maximum: 500, default: 50 });
    const idParam = doc.paths['/api/runs/{id}'].get.parameters.find((p: any) => p.in === 'path');
    expect(idParam.schema.pattern).toMatch(/^\^run_/);
    const settings = doc.components.schemas[doc.paths['/api/projects/{id}/settings'].patch.requestBody.content['application/json'].schema.$ref.split('/').pop()];
    expect(settings.properties.dataRetentionDays).toMatchObject({ type: 'integer', minimum: 1, maximum: 3650 });
  });

  it('documents the error shape and every error code', () => {
    expect(doc.components.schemas.ErrorCode.enum.sort()).toEqual(Object.keys(ERROR_CODES).sort());
    const used = new Set<string>();
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(item)) {
        for (const [status, r] of Object.entries<any>(op.responses)) {
          if (Number(status) < 400) continue;
          const schema = r.content['application/json'].schema;
          if (path.startsWith('/health/') && status === '503') continue; // the health body, not an error
          expect(schema.allOf, `${method} ${path} ${status}`).toEqual([{ $ref: '#/components/schemas/Error' }]);
          for (const code of schema.properties.error.properties.code.enum) {
            expect(ERROR_CODES[code as keyof typeof ERROR_CODES] === Number(status) || (code === 'idempotency_error' && status === '409'), `${code} at ${status}`).toBe(true);
            used.add(code);
          }
        }
        // every route may fail with a bug; every authenticated one with a bad credential
        expect(op.responses['500'], `${method} ${path}`).toBeDefined();
        if (!op.security) expect(op.responses['401'], `${method} ${path}`).toBeDefined();
      }
    }
    // 405 is an answer for a method a path does not have: in ErrorCode and the description, on no operation
    expect(Object.keys(ERROR_CODES).filter((c) => !used.has(c))).toEqual(['method_not_allowed']);
    expect(doc.info.description).toContain('method_not_allowed');
  });

  it('matches what the API answers: an unknown run is a 404 of the documented shape', async () => {
    const op = doc.paths['/api/runs/{id}'].get;
    expect(op.responses['404'].content['application/json'].schema.properties.error.properties.code.enum).toContain('not_found');
    const tenant = await createTenant(stack.url, 'openapi');
    const res = await fetch(`${stack.url}/api/runs/run_00000000000000000000000000`, { headers: { 'x-api-key': tenant.apiKey } });
    const body = await res.json();
    expect(res.status).toBe(404);
    expect(Object.keys(body.error).sort()).toEqual(['code', 'details', 'message']);
    expect(op.responses['404'].content['application/json'].schema.properties.error.properties.code.enum).toEqual([body.error.code]);
    // and a bad credential: the documented 401
    const unauth = await fetch(`${stack.url}/api/runs/run_00000000000000000000000000`, { headers: { 'x-api-key': 'rl_unknown' } });
    expect(unauth.status).toBe(401);
    expect(op.responses['401'].content['application/json'].schema.properties.error.properties.code.enum).toEqual([(await unauth.json()).error.code]);
  });
});

// GET /docs in real Chromium: the explorer (Swagger UI, served by the API
// itself) lists every operation of /openapi.json with no console error (its
// CSP included) and nothing fetched from elsewhere, and "Try it out" sends a
// real request to the running API with the API key given to "Authorize".
describe('GET /docs', () => {
  it('serves the explorer page with local assets only and no inline script', async () => {
    const res = await fetch(`${stack.url}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toMatch(/script-src 'self';/);
    const html = await res.text();
    expect(html).not.toMatch(/<script>|src="http|href="http/i);
    for (const src of html.matchAll(/(?:src|href)="([^"]+)"/g)) expect((await fetch(`${stack.url}${src[1]}`)).status, src[1]).toBe(200);
    expect((await fetch(`${stack.url}/docs/assets/package.json`)).status).toBe(404);
  });

  it('lists every operation in Chromium with no console error, and "Try it out" calls the API with the key given to Authorize', async () => {
    const tenant = await createTenant(stack.url, 'explorer');
    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    try {
      const page = await browser.newPage();
      page.setDefaultTimeout(60_000);
      const errors: string[] = [];
      page.on('console', (m) => (m.type() === 'error' ? errors.push(m.text()) : undefined));
      page.on('pageerror', (e) => errors.push(e.message));
      const external: string[] = [];
      page.on('request', (r) => (r.url().startsWith(stack.url) || r.url().startsWith('data:') ? undefined : external.push(r.url())));
      await page.goto(`${stack.url}/docs`, { waitUntil: 'domcontentloaded' });
      await page.waitForSelector('.opblock');
      const operations = Object.values<Record<string, unknown>>(doc.paths).reduce((n, item) => n + Object.keys(item).length, 0);
      expect(await page.locator('.opblock').count()).toBe(operations);
      expect(await page.locator('.opblock-summary-path').allInnerTexts()).toContain('/api/runs/{id}');

      await page.click('button.authorize');
      const keyForm = page.locator('.auth-container').filter({ hasText: 'X-API-Key' });
      await keyForm.locator('input').fill(tenant.apiKey);
      await keyForm.locator('button.authorize').click();
      await page.click('button.btn-done');
      const op = page.locator('#operations-teams-getApiTeams');
      await op.locator('.opblock-summary').first().click();
      await op.locator('button.try-out__btn').click();
      await op.locator('button.execute').click();
      const status = op.locator('.live-responses-table tr.response .response-col_status').first();
      await status.waitFor();
      expect((await status.innerText()).trim()).toBe('200');
      expect(await op.locator('.live-responses-table').innerText()).toContain(tenant.teamId);
      expect(errors).toEqual([]);
      expect(external).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 120_000);
});
