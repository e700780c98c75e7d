import kafkajs, { Kafka, logLevel, type Admin } from 'kafkajs';

// Node's ESM loader does not see every named export of kafkajs (CommonJS): its
// export list has a computed value before ConfigResourceTypes, so that one is
// read off the default export (a named import fails under `node --import tsx`).
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

// Offsets one past the last message of every partition of a topic.
export async function topicEnds(admin: Admin, topic: string): Promise<Map<number, number>> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return new Map(offsets.map((o) => [o.partition, Number(o.high)]));
}
