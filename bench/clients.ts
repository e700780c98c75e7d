// Client packages, installed from their tarballs into a scratch project (as a user
// would): how fast the `runledger` command starts, against Node's own start, and
// what the Playwright reporter adds to the wall time of a 25-test run, against the
// same run without it. Runs alternate (A B A B …) and medians are compared, so a
// machine busy with other work disturbs both sides alike.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startTestStack } from '../test/support/stack.ts';
import { createTenant } from '../test/support/tenants.ts';
import { installScratchProject, packClients } from '../test/support/client-packages.ts';

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;

function wallMs(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): number {
  const started = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: 'ignore' });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.status !== 0 && r.status !== 1) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}`);
  return ms;
}

// The same, without blocking this process: the API the reporter talks to runs here.
function wallMsAsync(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<number> {
  const started = process.hrtime.bigint();
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: 'ignore' });
    child.on('error', fail);
    child.on('close', (code) => (code === 0 || code === 1 ? done(Number(process.hrtime.bigint() - started) / 1e6) : fail(new Error(`${cmd} exited ${code}`))));
  });
}

const SPEC = `import { expect, test } from '@playwright/test';
for (let i = 1; i <= 25; i++) {
  test.describe('group ' + Math.ceil(i / 5), () => {
    test('item ' + i, async ({ page }) => {
      await page.setContent('<h1>Item ' + i + '</h1><button onclick="this.textContent=\\'done\\'">go</button>');
      await page.getByRole('button').click();
      await expect(page.getByRole('button')).toHaveText('done');
      await expect(page.getByRole('heading')).toHaveText('Item ' + i);
    });
  });
}
`;
const config = (withReporter: boolean) => `const { defineConfig } = require('@playwright/test');
module.exports = defineConfig({
  testDir: '.', workers: 1, reporter: [['dot']${withReporter ? ", ['@runledger/playwright-reporter', { quiet: true }]" : ''}],
  use: { browserName: 'chromium', launchOptions: { executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] } },
});
`;

export async function measureClients(rounds = Number(process.env.BENCH_ROUNDS ?? 5)) {
  const scratch = mkdtempSync(join(tmpdir(), 'runledger-bench-clients-'));
  try {
    await installScratchProject(scratch, await packClients());
    const bin = join(scratch, 'node_modules/@runledger/junit/dist/bin.js');
    const xml = resolve('test/fixtures/junit/surefire.xml');

    // CLI start: `runledger --version` and a dry run of one file, against `node -e ''`.
    const node: number[] = [];
    const version: number[] = [];
    const dryRun: number[] = [];
    for (let i = 0; i < rounds * 4; i++) {
      node.push(wallMs(process.execPath, ['-e', ''], { cwd: scratch }));
      version.push(wallMs(process.execPath, [bin, '--version'], { cwd: scratch }));
      dryRun.push(wallMs(process.execPath, [bin, 'upload-junit', '--dry-run', xml], { cwd: scratch }));
    }

    // A 25-test Playwright run with the reporter (sending to a running API) and without.
    const stack = await startTestStack({ projections: [] });
    const tenant = await createTenant(stack.url, 'bench');
    for (const variant of ['plain', 'reported'] as const) {
      const dir = join(scratch, variant);
      mkdirSync(dir);
      writeFileSync(join(dir, 'items.spec.ts'), SPEC);
      writeFileSync(join(dir, 'playwright.config.js'), config(variant === 'reported'));
    }
    const env = { ...process.env, RUNLEDGER_URL: stack.url, RUNLEDGER_API_KEY: tenant.apiKey, CI: '' };
    const cli = join(scratch, 'node_modules/@playwright/test/cli.js');
    const plain: number[] = [];
    const reported: number[] = [];
    try {
      for (let i = 0; i < rounds; i++) {
        plain.push(await wallMsAsync(process.execPath, [cli, 'test'], { cwd: join(scratch, 'plain'), env }));
        reported.push(await wallMsAsync(process.execPath, [cli, 'test'], { cwd: join(scratch, 'reported'), env }));
      }
    } finally {
      await stack.stop();
    }
    return {
      rounds,
      nodeStartMs: round(median(node), 1),
      cliVersionMs: round(median(version), 1),
      cliDryRunMs: round(median(dryRun), 1),
      // goal ≤ 2
      cliVersionVsNode: round(median(version) / median(node)),
      cliDryRunVsNode: round(median(dryRun) / median(node)),
      playwright25PlainMs: Math.round(median(plain)),
      playwright25ReportedMs: Math.round(median(reported)),
      // goal ≤ 0.05
      reporterOverhead: round(median(reported) / median(plain) - 1),
    };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
