import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createApp, type RunledgerApp } from '../../app/api.ts';
import type { Config } from '../../lib/config.ts';
import type { Pool } from '../../lib/pg.ts';
import { createKafka } from '../../lib/kafka.ts';
import { createLogger } from '../../lib/logger.ts';
import { EventLog } from '../../lib/event-log.ts';
import type { TestStack } from './stack.ts';

export type Instance = { url: string; app: RunledgerApp; close(): Promise<void> };

// Another API process on the same stores (as behind a load balancer), with its
// own memory: caches, rate-limit buckets and key usage are its own.
export async function startInstance(stack: TestStack, overrides: Partial<Config> = {}, pool: Pool = stack.pool): Promise<Instance> {
  const config = { ...stack.config, ...overrides };
  const kafka = createKafka(config, 'runledger-second');
  const eventLog = new EventLog(kafka, config.topic, config.kafkaTimeoutMs);
  const app = createApp({ config, pool, ch: stack.ch, kafka, eventLog, logger: createLogger('second', 'silent') });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    app,
    async close() {
      await new Promise((r) => server.close(r));
      server.closeAllConnections?.();
      await app.close();
      await eventLog.close();
    },
  };
}

// The stack's pool, counting the statements and connections asked of it.
export function countingPool(pool: Pool): { pool: Pool; count(): number } {
  let n = 0;
  const counting = Object.create(pool) as Pool;
  counting.query = ((...args: unknown[]) => {
    n++;
    return (pool.query as (...a: unknown[]) => unknown)(...args);
  }) as Pool['query'];
  counting.connect = ((...args: unknown[]) => {
    n++;
    return (pool.connect as (...a: unknown[]) => unknown)(...args);
  }) as Pool['connect'];
  return { pool: counting, count: () => n };
}
