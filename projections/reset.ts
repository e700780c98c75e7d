import type { Kafka } from 'kafkajs';
import type { Pool } from '../lib/pg.ts';
import { sql, type ClickHouse } from '../lib/clickhouse.ts';
import { POSTGRES_READ_MODELS } from './postgres/read-models.ts';
import { POSTGRES_PROJECTION } from './postgres/projector.ts';
import { CLICKHOUSE_FACT_TABLES, CLICKHOUSE_PROJECTION, DELETED_PROJECTS_TABLE } from './clickhouse/projector.ts';
import { CLICKHOUSE_DERIVED_TABLES } from './clickhouse/tables/derived.ts';
import { waitForMutations } from './clickhouse/mutations.ts';
import { FLAKINESS_PROJECTION } from './flakiness/projection.ts';
import { forgetTopicIdentityClickHouse, forgetTopicIdentityPostgres } from './kafka/topic-identity.ts';

export { waitForMutations };

// Dropping a projection's read models and its position, so that consuming the
// log again from the beginning rebuilds them. The projection must be stopped.

export async function resetPostgresReadModels(pool: Pool): Promise<void> {
  await pool.query(`TRUNCATE ${POSTGRES_READ_MODELS.join(', ')}`);
  await pool.query('DELETE FROM projection_offsets WHERE projection = $1', [POSTGRES_PROJECTION]);
  await forgetTopicIdentityPostgres(pool, POSTGRES_PROJECTION);
}

// The flakiness projection's stored scores are a cache (reads score live without
// them); its position goes with them, so a start replays the log.
export async function resetFlakinessScores(pool: Pool): Promise<void> {
  await pool.query('TRUNCATE flakiness_snapshots, flakiness_scores');
  await pool.query('DELETE FROM projection_offsets WHERE projection = $1', [FLAKINESS_PROJECTION]);
  await forgetTopicIdentityPostgres(pool, FLAKINESS_PROJECTION);
}

export async function resetClickHouseFacts(ch: ClickHouse): Promise<void> {
  for (const table of [...CLICKHOUSE_FACT_TABLES, ...CLICKHOUSE_DERIVED_TABLES, DELETED_PROJECTS_TABLE]) await ch.command(`TRUNCATE TABLE ${table}`);
  await ch.command(`ALTER TABLE projection_offsets_v1 DELETE WHERE projection = ${sql.str(CLICKHOUSE_PROJECTION)}`);
  await forgetTopicIdentityClickHouse(ch, CLICKHOUSE_PROJECTION);
  await waitForMutations(ch);
}

// Kafka refuses while the group has members. A member that was killed stays one
// until its session times out, so this waits (up to `waitMs`) for the group to empty.
export async function rewindConsumerGroup(kafka: Kafka, groupId: string, topic: string, waitMs = 60_000): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const [group] = (await admin.describeGroups([groupId])).groups;
      if (!group || group.members.length === 0 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    await admin.resetOffsets({ groupId, topic, earliest: true });
  } finally {
    await admin.disconnect();
  }
}
