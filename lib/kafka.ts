import kafkajs, { Kafka, logLevel, type Admin } from 'kafkajs';

// kafkajs is CommonJS: under Node's own ESM loader (the processes ops/up runs)
// only some of its exports are visible as named imports.
const { ConfigResourceTypes } = kafkajs;
import type { Config } from './config.ts';

export function createKafka(config: Config, clientId: string): Kafka {
  return new Kafka({
    clientId,
    brokers: config.kafkaBrokers,
    connectionTimeout: 3000,
    requestTimeout: config.kafkaTimeoutMs,
    retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2000 },
    logLevel: logLevel.NOTHING,
  });
}

// The event log keeps everything forever: it is the source of truth that every
// read model is rebuilt from (DESIGN §1). Its messages may be as large as the
// largest accepted request body (a test result with 1 MiB of stdout and stderr
// each), well above Kafka's default limit of 1 MB.
export const MAX_MESSAGE_BYTES = 10 * 1024 * 1024;
const TOPIC_CONFIG = [
  { name: 'retention.ms', value: '-1' },
  { name: 'retention.bytes', value: '-1' },
  { name: 'max.message.bytes', value: String(MAX_MESSAGE_BYTES) },
];

export async function ensureTopics(admin: Admin, config: Config): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const topics = [
    { topic: config.topic, numPartitions: config.topicPartitions },
    { topic: config.dlqTopic, numPartitions: 1 },
  ];
  const missing = topics.filter((t) => !existing.has(t.topic));
  if (missing.length) {
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((t) => ({ ...t, replicationFactor: -1, configEntries: TOPIC_CONFIG })),
    });
  }
  // Topics created by an older version get today's settings too.
  const older = topics.filter((t) => existing.has(t.topic));
  if (older.length) {
    await admin.alterConfigs({
      validateOnly: false,
      resources: older.map((t) => ({ type: ConfigResourceTypes.TOPIC, name: t.topic, configEntries: TOPIC_CONFIG })),
    });
  }
}

// Kafka answers some requests with a retriable error for a moment, and
// kafkajs's admin passes it on: NOT_LEADER_FOR_PARTITION just after a topic is
// created or while a partition's leader moves (seen in CI), NOT_COORDINATOR or
// GROUP_LOAD_IN_PROGRESS while a group's coordinator starts (a fresh broker
// creating its offsets topic: /health/deep said 503 on fresh test services) or
// moves. Such a request is asked again a few times, ~2 s in all.
async function retryingRetriable<T>(request: () => Promise<T>, beforeRetry?: () => Promise<unknown>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await request();
    } catch (err) {
      if (!(err as { retriable?: boolean }).retriable || attempt >= 5) throw err;
      await new Promise((r) => setTimeout(r, 200 * attempt));
      await beforeRetry?.().catch(() => undefined);
    }
  }
}

// Every partition's low and high offsets, asked again with fresh metadata after a retriable error.
export function topicOffsets(admin: Admin, topic: string): ReturnType<Admin['fetchTopicOffsets']> {
  return retryingRetriable(() => admin.fetchTopicOffsets(topic), () => admin.fetchTopicMetadata({ topics: [topic] }));
}

// Offsets one past the last message of every partition of a topic.
export async function topicEnds(admin: Admin, topic: string): Promise<Map<number, number>> {
  return new Map((await topicOffsets(admin, topic)).map((o) => [o.partition, Number(o.high)]));
}

// A consumer group's committed offset of every partition of a topic (-1: none yet).
export async function committedOffsets(admin: Admin, groupId: string, topic: string): Promise<Map<number, number>> {
  const [committed] = await retryingRetriable(() => admin.fetchOffsets({ groupId, topics: [topic] }));
  return new Map((committed?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
}

const NO_TOPIC_ID = '00000000-0000-0000-0000-000000000000';

// Kafka's id of a topic: a UUID the cluster gives a topic when it is created, so
// a topic deleted and created again under the same name has a new one. kafkajs
// 2.2.4 speaks Metadata up to v6 and never sees it (it came with v10, Kafka 2.8),
// so this one request goes through @platformatic/kafka, whose metadata call
// negotiates a version that carries it. It is imported here, when first needed:
// its import costs several times kafkajs's (it compiles its option schemas), and
// only the projectors that keep positions of their own ask for a topic id, once at start.
export async function topicIdOf(config: Config, topic: string): Promise<string> {
  const { Admin: MetadataClient } = await import('@platformatic/kafka');
  const client = new MetadataClient({
    clientId: 'runledger-topic-id', bootstrapBrokers: config.kafkaBrokers, timeout: config.kafkaTimeoutMs, retries: 3, retryDelay: 500,
  });
  try {
    const metadata = await client.metadata({ topics: [topic], autocreateTopics: false, forceUpdate: true });
    const id = metadata.topics.get(topic)?.id;
    if (!id || id === NO_TOPIC_ID) throw new Error(`Kafka gave no id for topic ${topic}: topic ids need Kafka 2.8 or newer`);
    return id;
  } catch (err) {
    throw new Error(`could not read the id of topic ${topic}: ${(err as Error).message}`, { cause: err });
  } finally {
    await client.close().catch(() => undefined);
  }
}
