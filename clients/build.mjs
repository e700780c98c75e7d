#!/usr/bin/env node
// Builds the three client packages to JavaScript with declarations (tsup), then,
// with --pack, stages each with a stamped package.json and packs it into
// dist/packages/*.tgz. The version of all three is clients/VERSION.
//
// Reproducible: esbuild's output depends on the sources only, npm pack writes
// fixed mtimes and sorted entries, and nothing here adds a date or a path.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'tsup';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const VERSION = readFileSync(join(here, 'VERSION'), 'utf8').trim();
const SDK_ENTRY = join(here, 'sdk/src/index.ts');

// In the repository the packages import the SDK by relative path (no install
// step needed for tests); in the built packages that import is the published
// @runledger/sdk, a dependency by version, so the reporter and the CLI share it.
const sdkAsPackage = {
  name: 'runledger-sdk-external',
  setup(b) {
    b.onResolve({ filter: /\/sdk\/src\/index\.ts$/ }, (args) => {
      const abs = resolve(args.resolveDir, args.path);
      return abs === SDK_ENTRY ? { path: '@runledger/sdk', external: true } : undefined;
    });
  },
};

const PACKAGES = [
  { dir: 'sdk', entry: { index: 'src/index.ts' }, format: ['esm', 'cjs'] },
  { dir: 'playwright-reporter', entry: { index: 'src/index.ts' }, format: ['esm', 'cjs'] },
  // The bin is its own small entry: `--version` answers without loading the rest.
  { dir: 'junit', entry: { index: 'src/index.ts', bin: 'src/bin.ts' }, format: ['esm'], dtsEntry: { index: 'src/index.ts' } },
];

async function buildPackage(p) {
  const dir = join(here, p.dir);
  rmSync(join(dir, 'dist'), { recursive: true, force: true });
  await build({
    entry: Object.fromEntries(Object.entries(p.entry).map(([k, v]) => [k, join(dir, v)])),
    outDir: join(dir, 'dist'),
    format: p.format,
    platform: 'node',
    target: 'node20',
    // Runtime dependencies stay imports; only the package's own code is bundled.
    external: ['@runledger/sdk', '@playwright/test', 'sax', 'tinyglobby'],
    esbuildPlugins: p.dir === 'sdk' ? [] : [sdkAsPackage],
    define: { __RUNLEDGER_VERSION__: JSON.stringify(VERSION) },
    dts: { entry: Object.fromEntries(Object.entries(p.dtsEntry ?? p.entry).map(([k, v]) => [k, join(dir, v)])) },
    tsconfig: join(here, 'tsconfig.build.json'),
    // The CLI's bin loads the rest only when it needs it (a chunk shared with index).
    splitting: p.format.length === 1,
    sourcemap: false,
    clean: false,
    silent: true,
    shims: false,
  });
}

// The package as published: its package.json with the version (and the SDK
// dependency) stamped, its README, and dist/.
function stage(p, stageRoot) {
  const src = join(here, p.dir);
  const out = join(stageRoot, p.dir);
  mkdirSync(out, { recursive: true });
  const pkg = JSON.parse(readFileSync(join(src, 'package.json'), 'utf8'));
  const stamped = { name: pkg.name, version: VERSION, ...pkg };
  stamped.version = VERSION;
  for (const field of ['dependencies', 'peerDependencies']) {
    if (stamped[field]?.['@runledger/sdk']) stamped[field]['@runledger/sdk'] = VERSION;
  }
  writeFileSync(join(out, 'package.json'), `${JSON.stringify(stamped, null, 2)}\n`);
  cpSync(join(src, 'dist'), join(out, 'dist'), { recursive: true });
  cpSync(join(src, 'README.md'), join(out, 'README.md'));
  return out;
}

const pack = process.argv.includes('--pack');
for (const p of PACKAGES) await buildPackage(p);
if (pack) {
  const dest = join(root, 'dist/packages');
  const stageRoot = join(root, 'dist/stage');
  rmSync(dest, { recursive: true, force: true });
  rmSync(stageRoot, { recursive: true, force: true });
  mkdirSync(dest, { recursive: true });
  for (const p of PACKAGES) {
    const dir = stage(p, stageRoot);
    execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dest], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  rmSync(stageRoot, { recursive: true, force: true });
  process.stdout.write(`${execFileSync('ls', ['-1', dest], { encoding: 'utf8' }).trim().split('\n').map((f) => `dist/packages/${f}`).join('\n')}\n`);
} else {
  process.stdout.write(`built ${PACKAGES.map((p) => `clients/${p.dir}/dist`).join(', ')} (version ${VERSION})\n`);
}
