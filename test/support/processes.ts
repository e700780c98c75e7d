import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SERVER_ENTRIES } from '../../ops/build-server.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

// A projector as its own OS process, exactly as ops/up runs it. `assertAlive`
// throws, with the process's stderr, if it died on its own.
export type Projector = ChildProcess & { assertAlive(): void; output(): string };

export function spawnProjector(name: 'postgres' | 'clickhouse' | 'flakiness', env: Record<string, string>): Projector {
  return spawnProcess(['ops/run/projector.ts', name], env);
}

// Callers name the source entry (ops/run/projector.ts); what runs is its build
// in dist/ (ops/build-server.ts, built by test/support/global-setup.ts) with
// plain node, as ops/up runs it.
function builtArgs([source, ...rest]: string[]): string[] {
  const entry = Object.entries(SERVER_ENTRIES).find(([, src]) => src === source)?.[0];
  if (!entry) throw new Error(`${source} is not a server entry (ops/build-server.ts)`);
  return ['--enable-source-maps', `dist/${entry}.js`, ...rest];
}

// Any entrypoint under ops/run (or ops/cli.ts), built. Its stdout (the JSON
// logs, at `logLevel`) is kept for output() and for the message of assertAlive.
export function spawnProcess(args: string[], env: Record<string, string>, logLevel = 'warn'): Projector {
  const name = args.join(' ');
  const child = spawn(process.execPath, builtArgs(args), {
    cwd: ROOT,
    env: { ...env, RUNLEDGER_LOG_LEVEL: logLevel },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  return Object.assign(child, {
    output: () => stdout,
    assertAlive() {
      if (child.exitCode !== null || (child.signalCode !== null && child.signalCode !== 'SIGKILL')) {
        throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}): ${stderr} ${stdout.slice(-4000)}`);
      }
    },
  });
}

export function killHard(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

// Runs a command to its end (the operator CLI) and returns its exit code and output.
export function runToEnd(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, builtArgs(args), { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

// Polls `f` every 50 ms until it gives something truthy; fails at `ms`, or at
// once (with its output) if `child` died meanwhile.
export async function pollWhileAlive<T>(
  child: Projector | undefined, what: string, f: () => Promise<T | undefined | false> | T | undefined | false, ms = 60_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    child?.assertAlive();
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
