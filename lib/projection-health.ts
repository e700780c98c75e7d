import type { Kafka } from 'kafkajs';
import type { Config } from './config.ts';
import type { Queryable } from './pg.ts';
import { PROJECTION_NAMES, groupIdOf } from './consumer-groups.ts';

export type PartitionLag = { partition: number; end: number; committed: number | null; lag: number };
export type ConsumerHealth = {
  projection: string;
  groupId: string;
  // stalled: messages are waiting and no instance showed a sign of life within the bound.
  status: 'ok' | 'stalled';
  alive: boolean;
  lag: number;
  partitions: PartitionLag[];
  liveInstances: number;
  lastHeartbeatAt: string | null;
  lastBatchAt: string | null;
  lastCommitAt: string | null;
};

// Each projection's consumer group: lag per partition (log end − committed
// offset, from Kafka) and liveness (consumer_heartbeats, from Postgres). A
// connected consumer whose loop stopped writes no heartbeat, so it shows up
// here even though Kafka still lists it as a group member.
export async function consumerHealth(kafka: Kafka, db: Queryable, config: Config): Promise<ConsumerHealth[]> {
  const beats = await db.query(
    `SELECT projection,
            count(*) FILTER (WHERE now() - updated_at <= $1 * interval '1 millisecond')::int AS live,
            max(updated_at) AS updated_at, max(last_batch_at) AS last_batch_at, max(last_commit_at) AS last_commit_at
       FROM consumer_heartbeats GROUP BY projection`,
    [config.heartbeatStaleMs],
  );
  const byName = new Map(beats.rows.map((r) => [r.projection as string, r]));
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ends = await admin.fetchTopicOffsets(config.topic);
    return await Promise.all(
      PROJECTION_NAMES.map(async (name) => {
        const groupId = groupIdOf(config, name);
        const [committed] = await admin.fetchOffsets({ groupId, topics: [config.topic] });
        const byPartition = new Map((committed?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
        const partitions = ends
          .map((e) => {
            const end = Number(e.high);
            const c = byPartition.get(e.partition) ?? -1;
            const from = c >= 0 ? c : Number(e.low);
            return { partition: e.partition, end, committed: c >= 0 ? c : null, lag: Math.max(0, end - from) };
          })
          .sort((a, b) => a.partition - b.partition);
        const lag = partitions.reduce((sum, p) => sum + p.lag, 0);
        const beat = byName.get(name);
        const liveInstances = Number(beat?.live ?? 0);
        const alive = liveInstances > 0;
        const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : null);
        return {
          projection: name,
          groupId,
          status: alive || lag === 0 ? 'ok' : 'stalled',
          alive,
          lag,
          partitions,
          liveInstances,
          lastHeartbeatAt: iso(beat?.updated_at),
          lastBatchAt: iso(beat?.last_batch_at),
          lastCommitAt: iso(beat?.last_commit_at),
        } satisfies ConsumerHealth;
      }),
    );
  } finally {
    await admin.disconnect();
  }
}
