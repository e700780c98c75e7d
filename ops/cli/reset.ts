import type { Config } from '../../lib/config.ts';
import { createPool } from '../../lib/pg.ts';
import { ClickHouse } from '../../lib/clickhouse.ts';
import { createKafka } from '../../lib/kafka.ts';
import { resetClickHouseFacts, resetFlakinessScores, resetPostgresReadModels, rewindConsumerGroup } from '../../projections/reset.ts';
import { groupIdOf } from '../../lib/consumer-groups.ts';

export const RESETTABLE = ['postgres', 'clickhouse', 'flakiness'] as const;
export type Resettable = (typeof RESETTABLE)[number];

// `runledger reset <projection>`: empties the projection's read models, its
// positions and their recorded topic id, and rewinds its consumer group, so its
// next start replays the whole log (the way back after the topic was re-created).
// Reads of those models are empty until it caught up: `rebuild postgres` avoids
// that for the Postgres read models. The projector must be stopped.
export async function resetProjection(config: Config, name: Resettable): Promise<void> {
  const pool = createPool(config.pgUrl, 2);
  try {
    const live = await pool.query(
      `SELECT count(*)::int AS n FROM consumer_heartbeats WHERE projection = $1 AND now() - updated_at <= $2 * interval '1 millisecond'`,
      [name, config.heartbeatStaleMs],
    );
    if (live.rows[0].n > 0) throw new Error(`the ${name} projector is running (${live.rows[0].n} live instance(s)): stop it first`);
    if (name === 'postgres') await resetPostgresReadModels(pool);
    else if (name === 'flakiness') await resetFlakinessScores(pool);
    else {
      const ch = ClickHouse.connect(config.clickhouseUrl, config.clickhouseDb);
      try {
        await resetClickHouseFacts(ch);
      } finally {
        await ch.close();
      }
    }
    await rewindConsumerGroup(createKafka(config, 'runledger-reset'), groupIdOf(config, name), config.topic);
  } finally {
    await pool.end();
  }
}
