import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ROOT } from './processes.ts';

// Private instances of the real services for the fault-injection tests, which
// stop, kill and restart them: started with the same shell functions as
// ops/up and ops/test (ops/lib/*.sh), on free ports, with data under `dir`.

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

// Runs a snippet of bash with the ops libraries loaded; rejects with its output on failure.
export function ops(script: string, env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `set -euo pipefail; LOG_TAG=fault; . ops/lib/common.sh; . ops/lib/kafka.sh; . ops/lib/clickhouse.sh; ${script}`], {
      cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`ops script failed (${code}): ${script}\n${out.slice(-3000)}`))));
  });
}

const pidOf = (pidfile: string) => Number(readFileSync(pidfile, 'utf8').trim());

export type KafkaNode = { dir: string; port: number; controllerPort: number; nodeId: number; env: Record<string, string> };

// One broker (a node of `cluster` when given, else alone).
export async function startKafka(node: KafkaNode): Promise<void> {
  mkdirSync(node.dir, { recursive: true });
  await ops(`kafka_start ${node.dir} ${node.port} ${node.controllerPort}`, node.env);
}

// A KRaft cluster of `size` nodes, each broker and controller, replication `size`
// with min.insync.replicas `size - 1`; the nodes start together (a quorum needs them).
export async function kafkaCluster(dir: string, size: number): Promise<KafkaNode[]> {
  const nodes: KafkaNode[] = [];
  for (let i = 1; i <= size; i++) nodes.push({ dir: join(dir, `node${i}`), port: await freePort(), controllerPort: await freePort(), nodeId: i, env: {} });
  const voters = nodes.map((n) => `${n.nodeId}@127.0.0.1:${n.controllerPort}`).join(',');
  let clusterId = '-';
  while (clusterId.startsWith('-')) clusterId = randomBytes(16).toString('base64url'); // as Kafka's own Uuid
  for (const n of nodes) {
    n.env = {
      KAFKA_NODE_ID: String(n.nodeId), KAFKA_QUORUM_VOTERS: voters, KAFKA_CLUSTER_ID: clusterId,
      KAFKA_REPLICATION: String(size), KAFKA_MIN_ISR: String(size - 1),
    };
  }
  await Promise.all(nodes.map(startKafka));
  return nodes;
}

export const stopKafka = (node: KafkaNode) => ops(`kafka_stop ${node.dir}`);
export function killKafka(node: KafkaNode): void {
  process.kill(pidOf(join(node.dir, 'kafka.pid')), 'SIGKILL');
}

export type ClickHouseServer = { dir: string; http: number; tcp: number; url: string };
export async function startClickHouse(server: ClickHouseServer): Promise<void> {
  await ops(`clickhouse_start ${server.dir} ${server.http} ${server.tcp}`);
}
export async function newClickHouse(dir: string): Promise<ClickHouseServer> {
  const http = await freePort();
  const server = { dir, http, tcp: await freePort(), url: `http://127.0.0.1:${http}` };
  await startClickHouse(server);
  return server;
}
export const stopClickHouse = (server: ClickHouseServer) => ops(`clickhouse_stop ${server.dir}`);

// A PostgreSQL cluster of its own (Debian's binaries, run as the postgres user:
// the server refuses to run as root), trust authentication on 127.0.0.1:port.
const PG_BIN = '/usr/lib/postgresql/15/bin';
export type PostgresServer = { dir: string; port: number; url: string };
export async function newPostgres(dir: string): Promise<PostgresServer> {
  const port = await freePort();
  await ops(`mkdir -p ${dir} && chmod 755 "$(dirname ${dir})" && chown postgres ${dir} && runuser -u postgres -- ${PG_BIN}/initdb -D ${dir}/data -A trust -U postgres >/dev/null`);
  const server = { dir, port, url: `postgres://postgres@127.0.0.1:${port}/postgres` };
  await startPostgres(server);
  return server;
}
export const startPostgres = (s: PostgresServer) =>
  ops(`runuser -u postgres -- ${PG_BIN}/pg_ctl -D ${s.dir}/data -l ${s.dir}/server.log -w -o "-p ${s.port} -k ${s.dir} -c listen_addresses=127.0.0.1" start >/dev/null`);
// mode immediate: no shutdown checkpoint, every client cut off, as in a crash.
export const stopPostgres = (s: PostgresServer, mode: 'fast' | 'immediate' = 'immediate') =>
  ops(`runuser -u postgres -- ${PG_BIN}/pg_ctl -D ${s.dir}/data -m ${mode} -w stop >/dev/null`);
