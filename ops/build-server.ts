// Compiles the server's processes to plain JavaScript, one file each in dist/:
// api.js, projector.js, housekeeping.js (ops/run/), setup.js and cli.js (ops/).
// ops/up, the Docker services, the benchmarks and the tests' child processes run
// these with plain `node`: tsx is a development tool (a devDependency), and its
// loader thread cost every process ~35 MB of RSS (docs/scaling.md).
//
// npm packages stay imports, resolved from node_modules at run time. The files
// sit one level below the root, as lib/ does in the sources, so paths written
// relative to a module (web/dist, ops/migrations) resolve the same in both.
// It takes well under a second, so every start builds again: never stale.
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export const SERVER_ENTRIES: Record<string, string> = {
  api: 'ops/run/api.ts',
  projector: 'ops/run/projector.ts',
  housekeeping: 'ops/run/housekeeping.ts',
  setup: 'ops/setup.ts',
  cli: 'ops/cli.ts',
};

export async function buildServer(): Promise<void> {
  await build({
    absWorkingDir: root,
    entryPoints: SERVER_ENTRIES,
    outdir: 'dist',
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Stack traces name the .ts sources when node runs with --enable-source-maps.
    sourcemap: 'linked',
    logLevel: 'warning',
  });
}

if (import.meta.url === `file://${process.argv[1]}`) await buildServer();
