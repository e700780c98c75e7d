import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { createTenant, type Tenant } from '../support/tenants.ts';
import { client } from '../support/http.ts';
import { sendOnce } from '../../domain/webhooks/sender.ts';

// SSRF: with private targets not allowed (the production default), a webhook
// URL that is not https or that resolves to a private, loopback, link-local or
// metadata address is refused at creation and on change, and again at
// delivery (re-resolved then), so a name that turned private after it was
// stored (DNS rebinding) reaches nothing.
process.env.RUNLEDGER_WEBHOOK_ALLOW_PRIVATE = '0';

let stack: TestStack;
let t: Tenant;
let server: Server;
let hits = 0;
let port = 0;

beforeAll(async () => {
  stack = await startTestStack();
  t = await createTenant(stack.url, 'ssrf');
  server = createServer((_req, res) => {
    hits++;
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
}, 120_000);

afterAll(async () => {
  server?.close();
  await stack?.stop();
  delete process.env.RUNLEDGER_WEBHOOK_ALLOW_PRIVATE;
});

describe('webhook targets when private targets are not allowed', () => {
  const refused: Array<[string, string]> = [
    ['https://127.0.0.1/hook', 'private_address'],
    ['https://127.1.2.3:8443/hook', 'private_address'],
    ['https://10.1.2.3/hook', 'private_address'],
    ['https://172.16.0.1/hook', 'private_address'],
    ['https://192.168.1.1/hook', 'private_address'],
    ['https://169.254.169.254/latest/meta-data/', 'private_address'],
    ['https://100.64.0.1/hook', 'private_address'],
    ['https://0.0.0.0/hook', 'private_address'],
    ['https://[::1]/hook', 'private_address'],
    ['https://[fe80::1]/hook', 'private_address'],
    ['https://[fd00:ec2::254]/hook', 'private_address'],
    ['https://[::ffff:127.0.0.1]/hook', 'private_address'],
    ['https://localhost/hook', 'private_address'],
    ['https://2130706433/hook', 'private_address'], // 127.0.0.1 written as one number
    ['http://93.184.215.14/hook', 'scheme'], // public, but not https
    ['https://user:pass@93.184.215.14/hook', 'credentials'],
  ];
  it.each(refused)('refuses %s at creation (400, reason %s)', async (url, reason) => {
    const res = await client(stack.url, { key: t.apiKey }).post('/api/webhooks', { projectId: t.projectId, url });
    expect(res.status, res.text).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'validation_error', details: { field: 'url', reason } });
  });

  it('refuses a private URL on change too', async () => {
    // A public literal address passes the check (it is not contacted at creation).
    const created = await client(stack.url, { key: t.apiKey }).post('/api/webhooks', { projectId: t.projectId, url: 'https://93.184.215.14/hook', isActive: false });
    expect(created.status, created.text).toBe(201);
    const res = await client(stack.url, { key: t.apiKey }).patch(`/api/webhooks/${created.body.id}`, { url: 'https://10.0.0.1/x' });
    expect(res.status).toBe(400);
    expect(res.body.error.details.reason).toBe('private_address');
  });

  it('re-checks at delivery: a stored URL that now points at loopback is refused and not contacted', async () => {
    const settings = { ...stack.config.webhooks, allowPrivate: false };
    for (const url of [`https://127.0.0.1:${port}/hook`, `https://localhost:${port}/hook`, `http://127.0.0.1:${port}/hook`]) {
      const r = await sendOnce({ url, headers: {}, secret: 'whsec_test_secret_value' }, { id: 'whd_x', event: 'run.completed', body: '{}' }, settings);
      expect(r.statusCode).toBeNull();
      expect(r.error).toMatch(/^refused: /);
    }
    expect(hits).toBe(0);
    // The same receiver is reached when private targets are allowed: the refusals above were the guard, not the network.
    const allowed = await sendOnce({ url: `http://localhost:${port}/hook`, headers: {}, secret: 'whsec_test_secret_value' }, { id: 'whd_x', event: 'run.completed', body: '{}' }, { ...settings, allowPrivate: true });
    expect(allowed.statusCode).toBe(200);
    expect(hits).toBe(1);
  });
});
