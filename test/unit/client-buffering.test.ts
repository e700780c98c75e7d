import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Outbox, RunledgerClient, detectCi, quarantineVerdict, type BatchItem, type QuarantineEntry } from '../../clients/sdk/src/index.ts';
import { scriptedServer, type Seen } from '../support/scripted-server.ts';

// What the clients share: the quarantine decision, CI detection and the outbox
// that buffers results while the API is away.

const entry = (t: { filePath: string; fullTitle: string; variant: string }, extra: Partial<QuarantineEntry> = {}): QuarantineEntry => ({
  testId: null, testCaseId: 'tc_x', testTitle: t.fullTitle.split(' > ').at(-1)!, reason: 'flaky on CI', mode: 'manual', owner: null,
  expiresAt: null, quarantinedAt: '2026-01-01T00:00:00Z', quarantinedBy: null, ...t, ...extra,
});
const login = { filePath: 'tests/auth.spec.ts', fullTitle: 'Auth > logs in', variant: 'chromium' };
const cart = { filePath: 'tests/cart.spec.ts', fullTitle: 'Cart > adds', variant: 'chromium' };

describe('the quarantine-aware exit decision', () => {
  it('lets the run pass when every failure is quarantined, and names them', () => {
    const v = quarantineVerdict([login], [entry(login), entry(cart)]);
    expect(v.allQuarantined).toBe(true);
    expect(v.quarantined.map((q) => [q.test.fullTitle, q.entry.reason])).toEqual([['Auth > logs in', 'flaky on CI']]);
  });

  it('keeps the run failed when one failure is not quarantined', () => {
    const v = quarantineVerdict([login, cart], [entry(login)]);
    expect(v.allQuarantined).toBe(false);
    expect(v.unquarantined).toEqual([cart]);
  });

  it('matches on file path, full title and variant: another browser is another test', () => {
    expect(quarantineVerdict([{ ...login, variant: 'firefox' }], [entry(login)]).allQuarantined).toBe(false);
    expect(quarantineVerdict([{ ...login, filePath: 'tests/other.spec.ts' }], [entry(login)]).allQuarantined).toBe(false);
  });

  it('ignores an entry past its expiry', () => {
    const now = Date.parse('2026-06-01T00:00:00Z');
    expect(quarantineVerdict([login], [entry(login, { expiresAt: '2026-05-01T00:00:00Z' })], now).allQuarantined).toBe(false);
    expect(quarantineVerdict([login], [entry(login, { expiresAt: '2026-07-01T00:00:00Z' })], now).allQuarantined).toBe(true);
  });

  it('counts every failure when the list could not be read, and changes nothing when nothing failed', () => {
    expect(quarantineVerdict([login], null)).toMatchObject({ allQuarantined: false, unquarantined: [login] });
    expect(quarantineVerdict([], [entry(login)]).allQuarantined).toBe(false);
  });
});

describe('CI detection', () => {
  const cases: Array<[string, Record<string, string>, Record<string, unknown>]> = [
    ['GitHub Actions', {
      GITHUB_ACTIONS: 'true', GITHUB_RUN_ID: '42', GITHUB_RUN_ATTEMPT: '2', GITHUB_REPOSITORY: 'acme/shop', GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_SHA: 'abc', GITHUB_REF_NAME: '17/merge', GITHUB_HEAD_REF: 'feature/x', GITHUB_ACTOR: 'jane',
    }, { ciProvider: 'github-actions', ciBuildId: '42-2', ciBuildUrl: 'https://github.com/acme/shop/actions/runs/42', branch: 'feature/x', commitSha: 'abc', commitAuthor: 'jane' }],
    ['GitLab CI', {
      GITLAB_CI: 'true', CI_PIPELINE_ID: '900', CI_PIPELINE_URL: 'https://gitlab.example/p/-/pipelines/900', CI_COMMIT_REF_NAME: 'main',
      CI_COMMIT_SHA: 'def', CI_COMMIT_MESSAGE: 'Fix cart', CI_COMMIT_AUTHOR: 'Jane <j@x>',
    }, { ciProvider: 'gitlab-ci', ciBuildId: '900', branch: 'main', commitSha: 'def', commitMessage: 'Fix cart', commitAuthor: 'Jane <j@x>' }],
    ['Jenkins', {
      JENKINS_URL: 'https://ci.example/', BUILD_TAG: 'jenkins-shop-77', BUILD_URL: 'https://ci.example/job/shop/77/', GIT_BRANCH: 'origin/main', GIT_COMMIT: '123',
    }, { ciProvider: 'jenkins', ciBuildId: 'jenkins-shop-77', ciBuildUrl: 'https://ci.example/job/shop/77/', branch: 'main', commitSha: '123' }],
    ['Buildkite', {
      BUILDKITE: 'true', BUILDKITE_BUILD_ID: 'b-1', BUILDKITE_BUILD_URL: 'https://buildkite.com/acme/shop/builds/5', BUILDKITE_BRANCH: 'dev',
      BUILDKITE_COMMIT: '456', BUILDKITE_MESSAGE: 'Tidy', BUILDKITE_BUILD_AUTHOR_EMAIL: 'j@x',
    }, { ciProvider: 'buildkite', ciBuildId: 'b-1', branch: 'dev', commitSha: '456', commitMessage: 'Tidy', commitAuthor: 'j@x' }],
    ['CircleCI', {
      CIRCLECI: 'true', CIRCLE_WORKFLOW_ID: 'wf-9', CIRCLE_BUILD_NUM: '31', CIRCLE_BUILD_URL: 'https://circleci.com/gh/acme/shop/31', CIRCLE_BRANCH: 'main',
      CIRCLE_SHA1: '789', CIRCLE_USERNAME: 'jane',
    }, { ciProvider: 'circleci', ciBuildId: 'wf-9', branch: 'main', commitSha: '789', commitAuthor: 'jane' }],
  ];
  for (const [name, env, expected] of cases) {
    it(`reads ${name}: provider, build id shared by shards, URL, branch and commit`, () => {
      expect(detectCi(env)).toMatchObject(expected);
    });
  }

  it('finds nothing outside CI, and RUNLEDGER_* variables override what CI says', () => {
    expect(detectCi({ PATH: '/bin' })).toEqual({ ciProvider: null, ciBuildId: null, ciBuildUrl: null, branch: null, commitSha: null, commitMessage: null, commitAuthor: null });
    expect(detectCi({ CIRCLECI: 'true', CIRCLE_BRANCH: 'main', RUNLEDGER_BRANCH: 'release', RUNLEDGER_BUILD_ID: 'nightly-7' }))
      .toMatchObject({ ciProvider: 'circleci', branch: 'release', ciBuildId: 'nightly-7' });
  });
});

describe('the outbox', () => {
  const spool = mkdtempSync(join(tmpdir(), 'runledger-outbox-test-'));
  let server: Awaited<ReturnType<typeof scriptedServer>> | null = null;
  afterEach(async () => {
    await server?.close();
    server = null;
  });
  afterAll(() => rmSync(spool, { recursive: true, force: true }));

  // A batch endpoint that accepts everything, after `downFor` requests of 503.
  const batchApi = async (downFor: number, reject: (item: { title: string }) => string | null = () => null) => {
    let n = 0;
    server = await scriptedServer((req: Seen) => {
      if (++n <= downFor) return { status: 503, body: { error: { code: 'unavailable', message: 'Kafka is unreachable', details: {} } } };
      const items = JSON.parse(req.body) as Array<{ title: string }>;
      return {
        status: 200,
        body: {
          accepted: 0, rejected: 0,
          results: items.map((it, index) => {
            const code = reject(it);
            return code ? { index, status: 'rejected', error: { code, message: `refused ${it.title}`, details: {} } } : { index, status: 'accepted', type: 'test', id: `test_${it.title}` };
          }),
        },
      };
    });
    return new RunledgerClient({ url: server.url, retry: { retries: 0 } });
  };
  const item = (i: number) => ({ type: 'test', runId: 'run_1', title: `t${i}`, fullTitle: `t${i}`, status: 'passed', duration: 1 }) as BatchItem;
  const sentTitles = () => server!.seen.filter((s) => s.method === 'POST').flatMap((s) => JSON.parse(s.body).map((x: { title: string }) => x.title));

  it('spills to disk past its memory bound and delivers everything once, in order', async () => {
    const client = await batchApi(0);
    const accepted: string[] = [];
    const box = new Outbox<number>(client, { batchSize: 10, maxMemoryItems: 20, spoolDir: spool, onAccepted: (e, r) => accepted.push(r.id) });
    for (let i = 0; i < 95; i++) box.push(item(i), i);
    expect(box.pending).toBe(95);
    const dir = readdirSync(spool).find((d) => d.startsWith('runledger-outbox-'))!;
    expect(readdirSync(join(spool, dir)).length).toBeGreaterThan(0); // segments on disk
    await box.drain(Date.now() + 10_000);
    expect(box.pending).toBe(0);
    expect(accepted).toEqual(Array.from({ length: 95 }, (_, i) => `test_t${i}`));
    expect(server!.seen).toHaveLength(10);
    box.dispose();
    expect(existsSync(join(spool, dir))).toBe(false);
  });

  it('keeps items through a down API, backs off, then delivers them', async () => {
    const client = await batchApi(2);
    const box = new Outbox<null>(client, { batchSize: 50, maxBackoffMs: 20 });
    for (let i = 0; i < 5; i++) box.push(item(i), null);
    expect(await box.sendOne()).toBe(false);
    expect(box.pending).toBe(5);
    expect(box.lastError?.code).toBe('unavailable');
    await box.drain(Date.now() + 10_000);
    expect(box.pending).toBe(0);
    expect(box.accepted).toBe(5);
    expect(sentTitles().slice(-5)).toEqual(['t0', 't1', 't2', 't3', 't4']);
  });

  it('records items the API refuses for good, and sends again those it could not store this time', async () => {
    let once = true;
    const client = await batchApi(0, (it) => {
      if (it.title === 't1') return 'validation_error';
      if (it.title === 't2' && once) {
        once = false;
        return 'unavailable';
      }
      return null;
    });
    const box = new Outbox<null>(client, { batchSize: 50, maxBackoffMs: 10 });
    for (let i = 0; i < 4; i++) box.push(item(i), null);
    await box.drain(Date.now() + 10_000);
    expect(box.accepted).toBe(3);
    expect(box.rejected.map((r) => [(r.entry.item as { title: string }).title, r.code])).toEqual([['t1', 'validation_error']]);
    expect(sentTitles().filter((t: string) => t === 't2')).toHaveLength(2);
  });

  it('drops and counts what comes past its total bound, and reads back what it could not send', async () => {
    const client = await batchApi(1_000_000);
    const box = new Outbox<null>(client, { batchSize: 5, maxMemoryItems: 5, maxItems: 12, spoolDir: spool });
    for (let i = 0; i < 15; i++) box.push(item(i), null);
    expect(box.dropped).toBe(3);
    await box.drain(Date.now() + 200);
    expect([...box.unsent()].map((e) => (e.item as { title: string }).title)).toEqual(Array.from({ length: 12 }, (_, i) => `t${i}`));
    box.dispose();
  });

  it('stops sending on a credential the API refuses', async () => {
    server = await scriptedServer(() => ({ status: 401, body: { error: { code: 'invalid_auth', message: 'invalid API key', details: {} } } }));
    const box = new Outbox<null>(new RunledgerClient({ url: server.url, retry: { retries: 0 } }), {});
    box.push(item(1), null);
    await box.drain(Date.now() + 5000);
    expect(box.fatal?.code).toBe('invalid_auth');
    expect(box.pending).toBe(1);
    expect(server.seen).toHaveLength(1);
  });
});
