import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

// A projector as its own OS process, exactly as ops/up runs it. `assertAlive`
// throws, with the process's stderr, if it died on its own.
export type Projector = ChildProcess & { assertAlive(): void };

export function spawnProjector(name: 'postgres' | 'clickhouse', env: Record<string, string>): Projector {
  return spawnProcess(['ops/run/projector.ts', name], env);
}

// Any entrypoint under ops/run, with Node's own ESM loader as in production.
export function spawnProcess(args: string[], env: Record<string, string>): Projector {
  const name = args.join(' ');
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: ROOT,
    env: { ...env, RUNLEDGER_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  return Object.assign(child, {
    assertAlive() {
      if (child.exitCode !== null || (child.signalCode !== null && child.signalCode !== 'SIGKILL')) {
        throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}): ${stderr}`);
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
