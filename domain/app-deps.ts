import type { Middleware } from 'koa';
import type { Kafka } from 'kafkajs';
import type { Config } from '../lib/config.ts';
import type { Pool } from '../lib/pg.ts';
import type { ClickHouse } from '../lib/clickhouse.ts';
import type { Logger } from '../lib/logger.ts';
import type { EventLog } from '../lib/event-log.ts';
import type { BlobStore } from '../lib/blobs/blob-store.ts';
import type { IdempotencyStore } from '../lib/http/idempotency.ts';
import type { ProjectionWatcher } from '../lib/http/read-your-writes.ts';
import type { CookieSessions } from '../lib/http/session.ts';
import type { KeyUsage } from './accounts/key-usage.ts';

// What the API's routers are built from. It lives below the routers (ingest/,
// query-api/) and the composition that mounts them (app/api.ts), so neither
// imports the other to get it.
export type ServiceDeps = {
  config: Config; pool: Pool; ch: ClickHouse; kafka: Kafka; eventLog: EventLog; logger: Logger;
  // The local directory store unless given (tests may pass another).
  blobs?: BlobStore;
};
// What routers get: the services, plus the app's own per-process state.
export type AppDeps = ServiceDeps & {
  blobs: BlobStore;
  keyUsage: KeyUsage;
  watcher: ProjectionWatcher;
  idempotency: IdempotencyStore;
  limits: { auth: Middleware };
  // the dashboard's cookie sessions (lib/http/session.ts)
  sessions: CookieSessions;
};
