import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');

// The client packages as a user gets them: `npm run pack` builds the three
// tarballs (dist/packages/*.tgz), and a project of its own, outside this
// repository, installs them next to @playwright/test from the registry.
export async function packClients(): Promise<string[]> {
  await run(process.execPath, [join(ROOT, 'clients/build.mjs'), '--pack'], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
  const dir = join(ROOT, 'dist/packages');
  return readdirSync(dir).filter((f) => f.endsWith('.tgz')).sort().map((f) => join(dir, f));
}

// The Playwright version this repository tests with (the root package.json's, as installed).
export const playwrightVersion = (): string =>
  JSON.parse(readFileSync(join(ROOT, 'node_modules/@playwright/test/package.json'), 'utf8')).version;

export async function installScratchProject(dir: string, tarballs: string[]): Promise<void> {
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name: 'scratch-shop', private: true, version: '1.0.0' }, null, 2)}\n`);
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', `@playwright/test@${playwrightVersion()}`, ...tarballs], {
    cwd: dir, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, npm_config_update_notifier: 'false' },
  });
}
