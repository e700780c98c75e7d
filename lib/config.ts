import { z } from 'zod';
import cron from 'node-cron';

// Requests per API key (or user) per window and endpoint group; the defaults are
// the Euriqa table (shared/seeds/001), plus groups of our own.
export const RATE_LIMIT_DEFAULTS = {
  runs_read: 100,
  runs_write: 30,
  tests_read: 200,
  tests_write: 60,
  uploads: 30,
  projects: 60,
  keys: 30,
  flakiness: 60,
  batch: 120,
  other: 120,
} as const;
export type RateLimitGroup = keyof typeof RATE_LIMIT_DEFAULTS;
// Every setting the processes read, in one place, from the environment.
const Env = z.object({
  RUNLEDGER_HOST: z.string().default('127.0.0.1'),
  RUNLEDGER_PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  RUNLEDGER_PG_URL: z.string().default('postgres://postgres@127.0.0.1:5432/runledger'),
  RUNLEDGER_KAFKA_BROKERS: z.string().default('127.0.0.1:9092'),
  RUNLEDGER_TOPIC: z.string().default('runledger.events.v1'),
  RUNLEDGER_DLQ_TOPIC: z.string().default('runledger.events.dlq.v1'),
  RUNLEDGER_TOPIC_PARTITIONS: z.coerce.number().int().min(1).default(6),
  RUNLEDGER_CLICKHOUSE_URL: z.string().default('http://127.0.0.1:8123'),
  RUNLEDGER_CLICKHOUSE_DB: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).default('runledger'),
  RUNLEDGER_JWT_SECRET: z.string().min(16).default('dev-only-secret-change-me-please'),
  RUNLEDGER_JWT_TTL_SECONDS: z.coerce.number().int().positive().default(12 * 3600),
  // Browser sessions (docs/access.md): ended after this long without a request,
  // and this long after sign-in whatever the activity; the cookie's token is
  // replaced this often (the old one works for RUNLEDGER_SESSION_ROTATE_GRACE_SECONDS more).
  RUNLEDGER_SESSION_IDLE_SECONDS: z.coerce.number().int().positive().default(12 * 3600),
  RUNLEDGER_SESSION_ABSOLUTE_SECONDS: z.coerce.number().int().positive().default(7 * 24 * 3600),
  RUNLEDGER_SESSION_ROTATE_SECONDS: z.coerce.number().int().positive().default(15 * 60),
  RUNLEDGER_SESSION_ROTATE_GRACE_SECONDS: z.coerce.number().int().min(0).default(60),
  // Behind a reverse proxy that sets X-Forwarded-Proto/-For: 1 to believe them
  // (the session cookie is Secure when the request was https; the login rate limit keys on the client IP).
  RUNLEDGER_TRUST_PROXY: z.enum(['0', '1', 'true', 'false']).default('0'),
  // The dashboard's built files (web/ builds them); served at /.
  RUNLEDGER_WEB_DIR: z.string().optional(),
  RUNLEDGER_BODY_LIMIT_BYTES: z.coerce.number().int().positive().default(5 * 1024 * 1024),
  RUNLEDGER_KAFKA_TIMEOUT_MS: z.coerce.number().int().positive().default(5000),
  RUNLEDGER_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  RUNLEDGER_CONSUMER_GROUP_PREFIX: z.string().default('runledger'),
  // How long a consumer that died without leaving keeps its partitions.
  RUNLEDGER_CONSUMER_SESSION_TIMEOUT_MS: z.coerce.number().int().min(6000).default(30_000),
  // Login, setup and invitation acceptance, per client IP (Fusillade: 10 per 60 s).
  RUNLEDGER_AUTH_RATE_LIMIT: z.coerce.number().int().positive().default(10),
  RUNLEDGER_AUTH_RATE_WINDOW_MS: z.coerce.number().int().positive().default(60_000),
  // How often an API process writes the lastUsedAt of the keys it saw.
  RUNLEDGER_KEY_USAGE_FLUSH_MS: z.coerce.number().int().positive().default(60_000),
  // Ingest at scale (docs/ingest.md).
  RUNLEDGER_BATCH_BODY_LIMIT_BYTES: z.coerce.number().int().positive().default(16 * 1024 * 1024),
  RUNLEDGER_BATCH_MAX_ITEMS: z.coerce.number().int().positive().default(10_000),
  RUNLEDGER_IDEMPOTENCY_TTL_SECONDS: z.coerce.number().int().positive().default(24 * 3600),
  RUNLEDGER_READ_YOUR_WRITES_TIMEOUT_MS: z.coerce.number().int().min(0).max(60_000).default(5000),
  RUNLEDGER_BLOB_DIR: z.string().default('.state/dev/blobs'),
  RUNLEDGER_BLOB_SIGNING_SECRET: z.string().min(16).default('dev-only-blob-secret-change-me'),
  RUNLEDGER_BLOB_URL_TTL_SECONDS: z.coerce.number().int().positive().default(3600),
  // Where clients reach the API, for signed artifact URLs; the request's own origin when unset.
  RUNLEDGER_PUBLIC_URL: z.url().optional(),
  ...rateLimitEnv(),
  // A projector's own Prometheus endpoint (0 = off); the API serves /metrics on its port.
  RUNLEDGER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  // Projectors record that their loop is alive at most this often (consumer_heartbeats).
  RUNLEDGER_HEARTBEAT_INTERVAL_MS: z.coerce.number().int().min(100).default(5000),
  RUNLEDGER_FLAKINESS_SWEEP_MS: z.coerce.number().int().min(100).default(60_000),
  // /health/deep calls a projection with lag and no heartbeat this recent unhealthy.
  RUNLEDGER_HEARTBEAT_STALE_MS: z.coerce.number().int().min(500).default(60_000),
  // Webhooks (docs/webhooks.md). Private/loopback targets and plain http: development and tests only.
  RUNLEDGER_WEBHOOK_ALLOW_PRIVATE: z.enum(['0', '1', 'true', 'false']).default('0'),
  // Delays before the 2nd, 3rd, ... attempt; attempts = 1 + the number of delays.
  RUNLEDGER_WEBHOOK_RETRY_DELAYS_MS: z.string().regex(/^\d+(,\d+)*$/).default('30000,120000,480000'),
  RUNLEDGER_WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  // How often the sender looks for due deliveries when it found none.
  RUNLEDGER_WEBHOOK_POLL_MS: z.coerce.number().int().min(10).default(500),
  RUNLEDGER_WEBHOOK_CONCURRENCY: z.coerce.number().int().min(1).default(16),
  RUNLEDGER_WEBHOOK_PER_TARGET_CONCURRENCY: z.coerce.number().int().min(1).default(4),
  // The housekeeping process (ops/run/housekeeping.ts): when it sweeps (a node-cron
  // expression, UTC), and how many expired runs it deletes per append.
  RUNLEDGER_HOUSEKEEPING_CRON: z.string().refine((e) => cron.validate(e), 'must be a cron expression').default('17 * * * *'),
  RUNLEDGER_HOUSEKEEPING_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(500),
});

// Every variable this module reads (docs/operations.md must list exactly these).
export const ENV_VARIABLES: readonly string[] = Object.keys(Env.shape);

export type RateLimits = { windowMs: number; max: Record<RateLimitGroup, number> };

function rateLimitEnv() {
  const shape: Record<string, z.ZodDefault<z.ZodCoercedNumber<unknown>>> = {
    RUNLEDGER_RATE_LIMIT_WINDOW_MS: z.coerce.number().int().positive().default(60_000),
  };
  for (const [group, max] of Object.entries(RATE_LIMIT_DEFAULTS)) {
    shape[`RUNLEDGER_RATE_LIMIT_${group.toUpperCase()}`] = z.coerce.number().int().positive().default(max);
  }
  return shape;
}

export type Config = {
  host: string;
  port: number;
  pgUrl: string;
  kafkaBrokers: string[];
  topic: string;
  dlqTopic: string;
  topicPartitions: number;
  clickhouseUrl: string;
  clickhouseDb: string;
  jwtSecret: string;
  jwtTtlSeconds: number;
  sessions: { idleSeconds: number; absoluteSeconds: number; rotateSeconds: number; rotateGraceSeconds: number };
  trustProxy: boolean;
  webDir: string;
  bodyLimitBytes: number;
  kafkaTimeoutMs: number;
  logLevel: string;
  consumerGroupPrefix: string;
  consumerSessionTimeoutMs: number;
  authRateLimit: number;
  authRateWindowMs: number;
  keyUsageFlushMs: number;
  batchBodyLimitBytes: number;
  batchMaxItems: number;
  idempotencyTtlSeconds: number;
  readYourWritesTimeoutMs: number;
  blobDir: string;
  blobSigningSecret: string;
  blobUrlTtlSeconds: number;
  publicUrl: string | null;
  rateLimits: RateLimits;
  metricsPort: number;
  heartbeatIntervalMs: number;
  flakinessSweepMs: number;
  heartbeatStaleMs: number;
  webhooks: {
    allowPrivate: boolean; retryDelaysMs: number[]; timeoutMs: number; pollMs: number; concurrency: number; perTargetConcurrency: number;
  };
  housekeepingCron: string;
  housekeepingBatchSize: number;
};

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const e = Env.parse(env) as z.infer<typeof Env> & Record<string, unknown>;
  return {
    host: e.RUNLEDGER_HOST,
    port: e.RUNLEDGER_PORT,
    pgUrl: e.RUNLEDGER_PG_URL,
    kafkaBrokers: e.RUNLEDGER_KAFKA_BROKERS.split(',').map((b) => b.trim()).filter(Boolean),
    topic: e.RUNLEDGER_TOPIC,
    dlqTopic: e.RUNLEDGER_DLQ_TOPIC,
    topicPartitions: e.RUNLEDGER_TOPIC_PARTITIONS,
    clickhouseUrl: e.RUNLEDGER_CLICKHOUSE_URL,
    clickhouseDb: e.RUNLEDGER_CLICKHOUSE_DB,
    jwtSecret: e.RUNLEDGER_JWT_SECRET,
    jwtTtlSeconds: e.RUNLEDGER_JWT_TTL_SECONDS,
    sessions: {
      idleSeconds: e.RUNLEDGER_SESSION_IDLE_SECONDS,
      absoluteSeconds: e.RUNLEDGER_SESSION_ABSOLUTE_SECONDS,
      rotateSeconds: e.RUNLEDGER_SESSION_ROTATE_SECONDS,
      rotateGraceSeconds: e.RUNLEDGER_SESSION_ROTATE_GRACE_SECONDS,
    },
    trustProxy: e.RUNLEDGER_TRUST_PROXY === '1' || e.RUNLEDGER_TRUST_PROXY === 'true',
    webDir: e.RUNLEDGER_WEB_DIR ?? new URL('../web/dist/', import.meta.url).pathname,
    bodyLimitBytes: e.RUNLEDGER_BODY_LIMIT_BYTES,
    kafkaTimeoutMs: e.RUNLEDGER_KAFKA_TIMEOUT_MS,
    logLevel: e.RUNLEDGER_LOG_LEVEL,
    consumerGroupPrefix: e.RUNLEDGER_CONSUMER_GROUP_PREFIX,
    consumerSessionTimeoutMs: e.RUNLEDGER_CONSUMER_SESSION_TIMEOUT_MS,
    authRateLimit: e.RUNLEDGER_AUTH_RATE_LIMIT,
    authRateWindowMs: e.RUNLEDGER_AUTH_RATE_WINDOW_MS,
    keyUsageFlushMs: e.RUNLEDGER_KEY_USAGE_FLUSH_MS,
    batchBodyLimitBytes: e.RUNLEDGER_BATCH_BODY_LIMIT_BYTES,
    batchMaxItems: e.RUNLEDGER_BATCH_MAX_ITEMS,
    idempotencyTtlSeconds: e.RUNLEDGER_IDEMPOTENCY_TTL_SECONDS,
    readYourWritesTimeoutMs: e.RUNLEDGER_READ_YOUR_WRITES_TIMEOUT_MS,
    blobDir: e.RUNLEDGER_BLOB_DIR,
    blobSigningSecret: e.RUNLEDGER_BLOB_SIGNING_SECRET,
    blobUrlTtlSeconds: e.RUNLEDGER_BLOB_URL_TTL_SECONDS,
    publicUrl: e.RUNLEDGER_PUBLIC_URL?.replace(/\/+$/, '') ?? null,
    rateLimits: {
      windowMs: e.RUNLEDGER_RATE_LIMIT_WINDOW_MS as number,
      max: Object.fromEntries(Object.keys(RATE_LIMIT_DEFAULTS).map((g) => [g, e[`RUNLEDGER_RATE_LIMIT_${g.toUpperCase()}`] as number])) as Record<RateLimitGroup, number>,
    },
    metricsPort: e.RUNLEDGER_METRICS_PORT,
    heartbeatIntervalMs: e.RUNLEDGER_HEARTBEAT_INTERVAL_MS,
    flakinessSweepMs: e.RUNLEDGER_FLAKINESS_SWEEP_MS,
    heartbeatStaleMs: e.RUNLEDGER_HEARTBEAT_STALE_MS,
    webhooks: {
      allowPrivate: e.RUNLEDGER_WEBHOOK_ALLOW_PRIVATE === '1' || e.RUNLEDGER_WEBHOOK_ALLOW_PRIVATE === 'true',
      retryDelaysMs: e.RUNLEDGER_WEBHOOK_RETRY_DELAYS_MS.split(',').map(Number),
      timeoutMs: e.RUNLEDGER_WEBHOOK_TIMEOUT_MS,
      pollMs: e.RUNLEDGER_WEBHOOK_POLL_MS,
      concurrency: e.RUNLEDGER_WEBHOOK_CONCURRENCY,
      perTargetConcurrency: e.RUNLEDGER_WEBHOOK_PER_TARGET_CONCURRENCY,
    },
    housekeepingCron: e.RUNLEDGER_HOUSEKEEPING_CRON,
    housekeepingBatchSize: e.RUNLEDGER_HOUSEKEEPING_BATCH_SIZE,
    ...overrides,
  };
}
