import type { Config } from '../../lib/config.ts';
import type { Logger } from '../../lib/logger.ts';
import { createPool, type Queryable } from '../../lib/pg.ts';
import { sql, ClickHouse } from '../../lib/clickhouse.ts';
import { createKafka, topicEnds, topicIdOf } from '../../lib/kafka.ts';
import { CLICKHOUSE_FACT_TABLES } from '../clickhouse/projector.ts';

// Stored positions know their topic. A projection that keeps its positions in a
// store of its own (Postgres projection_offsets, the ClickHouse projector's
// offsets in ClickHouse) skips every event at or below them. If the topic was
// deleted and created again under the same name, those positions belong to the
// old topic, and the new topic's first events would be skipped in silence. So
// every such projection records Kafka's topic id beside its positions, and at
// start-up refuses to run when the topic's id is not the recorded one.
//
// Consumers that keep no positions of their own (blobs, quarantine, webhooks)
// need no check: their only position is the consumer group's committed offset,
// which Kafka deletes with the topic.

export class TopicRecreatedError extends Error {
  readonly code = 'topic_recreated';
}

// Where a projection's positions and their topic id are kept.
type PositionStore = {
  where: string;
  positions(consumer: string, topic: string): Promise<Map<number, number>>;
  recorded(consumer: string, topic: string): Promise<string | null>;
  record(consumer: string, topic: string, topicId: string): Promise<void>;
  close(): Promise<void>;
};

function postgresStore(db: Queryable & { end?: () => Promise<void> }): PositionStore {
  return {
    where: 'Postgres (projection_offsets)',
    async positions(consumer, topic) {
      const r = await db.query('SELECT partition, "offset" FROM projection_offsets WHERE projection = $1 AND topic = $2', [consumer, topic]);
      return new Map(r.rows.map((x) => [Number(x.partition), Number(x.offset)]));
    },
    async recorded(consumer, topic) {
      const r = await db.query('SELECT topic_id FROM topic_identities WHERE consumer = $1 AND topic = $2', [consumer, topic]);
      return (r.rows[0]?.topic_id as string | undefined) ?? null;
    },
    async record(consumer, topic, topicId) {
      await db.query(
        `INSERT INTO topic_identities (consumer, topic, topic_id) VALUES ($1, $2, $3)
         ON CONFLICT (consumer, topic) DO UPDATE SET topic_id = EXCLUDED.topic_id, recorded_at = now()`,
        [consumer, topic, topicId],
      );
    },
    close: async () => db.end?.(),
  };
}

function clickhouseStore(ch: ClickHouse): PositionStore {
  return {
    where: 'ClickHouse (projection_offsets_v1 and the rows\' _offset)',
    // What the projector resumes from (ClickHouseProjection.loadWatermarks): the recorded offsets and the rows themselves.
    async positions(consumer, topic) {
      const found = new Map<number, number>();
      const add = (rows: { p: number; o: string }[]) => {
        for (const r of rows) found.set(Number(r.p), Math.max(found.get(Number(r.p)) ?? -1, Number(r.o)));
      };
      add(await ch.select(`SELECT partition AS p, toString(max(offset)) AS o FROM projection_offsets_v1
                           WHERE projection = ${sql.str(consumer)} AND topic = ${sql.str(topic)} GROUP BY partition`));
      for (const table of CLICKHOUSE_FACT_TABLES) add(await ch.select(`SELECT _partition AS p, toString(max(_offset)) AS o FROM ${table} GROUP BY _partition`));
      return found;
    },
    async recorded(consumer, topic) {
      const [row] = await ch.select<{ id: string }>(
        `SELECT argMax(topic_id, recorded_ms) AS id FROM topic_identities_v1
         WHERE consumer = ${sql.str(consumer)} AND topic = ${sql.str(topic)} GROUP BY consumer, topic`,
      );
      return row?.id ?? null;
    },
    async record(consumer, topic, topicId) {
      await ch.insert('topic_identities_v1', [{ consumer, topic, topic_id: topicId, recorded_ms: Date.now() }]);
    },
    close: () => ch.close(),
  };
}

// What the operator does about a re-created topic, per projection (docs/operations.md).
const REMEDY: Record<string, string> = {
  postgres: 'stop every postgres projector, then run `ops/runledger rebuild postgres` (replays the new topic into fresh read models while the old ones serve) or `ops/runledger reset postgres` (empties the read models and their positions now), and start the projector again',
  clickhouse: 'stop every clickhouse projector, then run `ops/runledger reset clickhouse` (empties the ClickHouse tables and their positions), and start the projector again: it replays the new topic',
  flakiness: 'stop every flakiness projector, then run `ops/runledger reset flakiness` (empties the stored scores and their positions), and start the projector again',
};

export const POSITION_KEEPERS = Object.keys(REMEDY);

// Why the stored positions cannot be this topic's, or null when they can.
async function staleReason(store: PositionStore, consumer: string, topic: string, currentId: string, ends: Map<number, number>): Promise<string | null> {
  const [positions, recorded] = await Promise.all([store.positions(consumer, topic), store.recorded(consumer, topic)]);
  if (positions.size === 0) return null; // nothing to skip
  if (recorded) {
    return recorded === currentId ? null : `topic ${topic} was re-created (its id was ${recorded} when the positions were stored, it is ${currentId} now)`;
  }
  // Positions stored before topic ids were recorded: past the end of the log, they cannot be this topic's.
  const beyond = [...positions].filter(([p, offset]) => offset >= (ends.get(p) ?? 0));
  if (beyond.length === 0) return null;
  return `topic ${topic} (id ${currentId}) ends before the stored positions (${beyond.map(([p, o]) => `partition ${p} at ${o}, log end ${ends.get(p) ?? 0}`).join('; ')}), so it was re-created or truncated`;
}

// Compares the topic's id with the one recorded beside the positions; records it
// when nothing was recorded yet. Throws TopicRecreatedError when the positions
// belong to another incarnation of the topic.
export async function checkTopicIdentity(
  store: PositionStore, consumer: string, topic: string, currentId: string, ends: Map<number, number>, logger: Logger,
): Promise<void> {
  const why = await staleReason(store, consumer, topic, currentId, ends);
  if (why) {
    throw new TopicRecreatedError(
      `the ${consumer} projection refuses to start: ${why}. Its stored positions in ${store.where} belong to the old topic; ` +
        `consuming with them would skip the new topic's events at or below them. To replay the new topic: ${REMEDY[consumer]}.`,
    );
  }
  const recorded = await store.recorded(consumer, topic);
  if (recorded !== currentId) {
    await store.record(consumer, topic, currentId);
    logger.info({ consumer, topic, topicId: currentId, previous: recorded }, 'recorded the topic id of the stored positions');
  }
}

// For `rebuild postgres`: whether the live positions are the current topic's
// (after a re-creation the rebuild must not wait to reach them).
export async function postgresPositionsAreCurrent(db: Queryable, consumer: string, topic: string, currentId: string, ends: Map<number, number>): Promise<boolean> {
  return (await staleReason(postgresStore(db), consumer, topic, currentId, ends)) === null;
}

// For `rebuild clickhouse`, which cannot cope with a re-created topic (the old
// positions stay in projection_offsets_v1, whose highest offset wins): it refuses early.
export async function clickhousePositionsAreCurrent(ch: ClickHouse, consumer: string, topic: string, currentId: string, ends: Map<number, number>): Promise<boolean> {
  return (await staleReason(clickhouseStore(ch), consumer, topic, currentId, ends)) === null;
}

// The start-up check of one projection (app/projectors.ts): its own
// short-lived connections; nothing to do for a projection without positions of its own.
export async function verifyTopicIdentity(name: string, config: Config, logger: Logger): Promise<void> {
  if (!POSITION_KEEPERS.includes(name)) return;
  const kafka = createKafka(config, `runledger-topic-identity-${name}`);
  const admin = kafka.admin();
  const store = name === 'clickhouse' ? clickhouseStore(ClickHouse.connect(config.clickhouseUrl, config.clickhouseDb)) : postgresStore(createPool(config.pgUrl, 1));
  try {
    await admin.connect();
    const [currentId, ends] = await Promise.all([topicIdOf(config, config.topic), topicEnds(admin, config.topic)]);
    await checkTopicIdentity(store, name, config.topic, currentId, ends, logger);
  } finally {
    await admin.disconnect().catch(() => undefined);
    await store.close().catch(() => undefined);
  }
}

// After a reset or rebuild the positions are the current topic's: record its id (the next start would too).
export async function recordTopicIdentityPostgres(db: Queryable, name: string, topic: string, topicId: string): Promise<void> {
  await postgresStore(db).record(name, topic, topicId);
}

// A reset empties positions: their identity goes with them.
export async function forgetTopicIdentityPostgres(db: Queryable, name: string): Promise<void> {
  await db.query('DELETE FROM topic_identities WHERE consumer = $1', [name]);
}
export async function forgetTopicIdentityClickHouse(ch: ClickHouse, name: string): Promise<void> {
  await ch.command(`ALTER TABLE topic_identities_v1 DELETE WHERE consumer = ${sql.str(name)}`);
}
