import { z } from 'zod';

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
});

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
  bodyLimitBytes: number;
  kafkaTimeoutMs: number;
  logLevel: string;
  consumerGroupPrefix: string;
  consumerSessionTimeoutMs: number;
  authRateLimit: number;
  authRateWindowMs: number;
  keyUsageFlushMs: number;
};

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const e = Env.parse(env);
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
    bodyLimitBytes: e.RUNLEDGER_BODY_LIMIT_BYTES,
    kafkaTimeoutMs: e.RUNLEDGER_KAFKA_TIMEOUT_MS,
    logLevel: e.RUNLEDGER_LOG_LEVEL,
    consumerGroupPrefix: e.RUNLEDGER_CONSUMER_GROUP_PREFIX,
    consumerSessionTimeoutMs: e.RUNLEDGER_CONSUMER_SESSION_TIMEOUT_MS,
    authRateLimit: e.RUNLEDGER_AUTH_RATE_LIMIT,
    authRateWindowMs: e.RUNLEDGER_AUTH_RATE_WINDOW_MS,
    keyUsageFlushMs: e.RUNLEDGER_KEY_USAGE_FLUSH_MS,
    ...overrides,
  };
}
