import { Kafka, logLevel, type Admin } from 'kafkajs';
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
// read model is rebuilt from (DESIGN §1).
export async function ensureTopics(admin: Admin, config: Config): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const wanted = [
    { topic: config.topic, numPartitions: config.topicPartitions },
    { topic: config.dlqTopic, numPartitions: 1 },
  ].filter((t) => !existing.has(t.topic));
  if (wanted.length === 0) return;
  await admin.createTopics({
    waitForLeaders: true,
    topics: wanted.map((t) => ({
      ...t,
      replicationFactor: -1,
      configEntries: [
        { name: 'retention.ms', value: '-1' },
        { name: 'retention.bytes', value: '-1' },
      ],
    })),
  });
}

// Offsets one past the last message of every partition of a topic.
export async function topicEnds(admin: Admin, topic: string): Promise<Map<number, number>> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return new Map(offsets.map((o) => [o.partition, Number(o.high)]));
}
