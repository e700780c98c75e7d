import type { Kafka } from 'kafkajs';
import type { Config } from './config.ts';
import type { Queryable } from './pg.ts';
import { PROJECTION_NAMES, groupIdOf } from './consumer-groups.ts';
import { committedOffsets, topicOffsets } from './kafka.ts';

export type PartitionLag = {
  partition: number; end: number; committed: number | null; lag: number;
  // When a batch of this partition was last committed, by any instance.
  lastCommitAt: string | null;
  // Failed attempts of the batch this partition is on (0 once one commits).
  retries: number;
  stalled: boolean;
};
export type BatchError = { message: string; at: string; partition: number; retries: number };
export type ConsumerHealth = {
  projection: string;
  groupId: string;
  // stalled: events are waiting and either no instance showed a sign of life
  // within RUNLEDGER_HEARTBEAT_STALE_MS, or an event of a partition has waited
  // RUNLEDGER_STALL_AFTER_MS while that partition committed nothing (alive or not).
  status: 'ok' | 'stalled';
  reason: string | null;
  alive: boolean;
  lag: number;
  partitions: PartitionLag[];
  liveInstances: number;
  lastHeartbeatAt: string | null;
  lastBatchAt: string | null;
  lastCommitAt: string | null;
  // The most recent failed batch (kept after recovery: when and why it last failed).
  lastError: BatchError | null;
  // Failed batch attempts ever, over every partition and instance.
  batchFailures: number;
};

const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : null);

type ProgressRow = {
  projection: string; partition: number; last_commit_at: Date | null; committed_recently: boolean;
  failures: string; retries: number; last_error: string | null; last_error_at: Date | null;
};

async function progressRows(db: Queryable, boundMs: number): Promise<ProgressRow[]> {
  const r = await db.query(
    `SELECT projection, partition, last_commit_at, failures, retries, last_error, last_error_at,
            COALESCE(now() - last_commit_at <= $1 * interval '1 millisecond', false) AS committed_recently
       FROM projection_progress`,
    [boundMs],
  );
  return r.rows as ProgressRow[];
}

// Each projection's consumer group: lag per partition (log end − committed
// offset, from Kafka), liveness (consumer_heartbeats) and progress and failures
// per partition (projection_progress), both from Postgres, so the API sees every
// projector process. A connected consumer whose loop stopped writes no
// heartbeat; a live loop that retries one batch forever commits nothing: both
// show up here even though Kafka still lists them as group members.
//
// "An event has waited the bound" comes from Kafka: the first offset appended
// at or after now − bound (ListOffsets by timestamp); a committed offset below it
// leaves an older event waiting. Without that, a projection idle for an hour
// would look stalled for the moment between a new event and its commit.
export async function consumerHealth(kafka: Kafka, db: Queryable, config: Config): Promise<ConsumerHealth[]> {
  const bound = config.stallAfterMs;
  const [beats, progress] = await Promise.all([
    db.query(
      `SELECT projection,
              count(*) FILTER (WHERE now() - updated_at <= $1 * interval '1 millisecond')::int AS live,
              COALESCE(bool_and(now() - started_at <= $2 * interval '1 millisecond')
                         FILTER (WHERE now() - updated_at <= $1 * interval '1 millisecond'), false) AS started_recently,
              max(updated_at) AS updated_at, max(last_batch_at) AS last_batch_at, max(last_commit_at) AS last_commit_at
         FROM consumer_heartbeats GROUP BY projection`,
      [config.heartbeatStaleMs, bound],
    ),
    progressRows(db, bound),
  ]);
  const byName = new Map(beats.rows.map((r) => [r.projection as string, r]));
  const progressOf = new Map<string, Map<number, ProgressRow>>();
  for (const row of progress) {
    if (!progressOf.has(row.projection)) progressOf.set(row.projection, new Map());
    progressOf.get(row.projection)!.set(row.partition, row);
  }
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ends = await topicOffsets(admin, config.topic);
    const committedOf = await Promise.all(PROJECTION_NAMES.map((name) => committedOffsets(admin, groupIdOf(config, name), config.topic)));
    const fromOf = (i: number, partition: number, low: string) => {
      const c = committedOf[i]!.get(partition) ?? -1;
      return c >= 0 ? c : Number(low);
    };
    // Asked only when something waits: the healthy case costs no extra request.
    const anyLag = PROJECTION_NAMES.some((_, i) => ends.some((e) => Number(e.high) > fromOf(i, e.partition, e.low)));
    const waitedSince = anyLag ? await admin.fetchTopicOffsetsByTimestamp(config.topic, Date.now() - bound) : [];
    const oldEnough = new Map(waitedSince.map((p) => [p.partition, Number(p.offset)]));
    return PROJECTION_NAMES.map((name, i) => {
      const groupId = groupIdOf(config, name);
      const byPartition = committedOf[i]!;
      const beat = byName.get(name);
      // Every live instance started within the bound: none has had the time to commit yet.
      const startedRecently = Boolean(beat?.started_recently);
      const mine = progressOf.get(name) ?? new Map<number, ProgressRow>();
      const partitions = ends
        .map((e): PartitionLag => {
          const end = Number(e.high);
          const c = byPartition.get(e.partition) ?? -1;
          const from = c >= 0 ? c : Number(e.low);
          const lag = Math.max(0, end - from);
          const p = mine.get(e.partition);
          const waitedTooLong = lag > 0 && from < (oldEnough.get(e.partition) ?? 0);
          return {
            partition: e.partition, end, committed: c >= 0 ? c : null, lag,
            lastCommitAt: iso(p?.last_commit_at), retries: p?.retries ?? 0,
            stalled: waitedTooLong && !p?.committed_recently && !startedRecently,
          };
        })
        .sort((a, b) => a.partition - b.partition);
      const lag = partitions.reduce((sum, p) => sum + p.lag, 0);
      const liveInstances = Number(beat?.live ?? 0);
      const alive = liveInstances > 0;
      const stuck = partitions.filter((p) => p.stalled);
      const reason = lag > 0 && !alive
        ? `events are waiting and no instance gave a sign of life within ${config.heartbeatStaleMs} ms`
        : stuck.length
          ? `partition(s) ${stuck.map((p) => p.partition).join(', ')}: an event has waited over ${bound} ms and nothing was committed meanwhile`
          : null;
      const latest = [...mine.values()].filter((p) => p.last_error_at).sort((a, b) => b.last_error_at!.getTime() - a.last_error_at!.getTime())[0];
      const commits = [beat?.last_commit_at, ...[...mine.values()].map((p) => p.last_commit_at)].filter((d): d is Date => d instanceof Date);
      return {
        projection: name,
        groupId,
        status: reason ? 'stalled' : 'ok',
        reason,
        alive,
        lag,
        partitions,
        liveInstances,
        lastHeartbeatAt: iso(beat?.updated_at),
        lastBatchAt: iso(beat?.last_batch_at),
        lastCommitAt: commits.length ? new Date(Math.max(...commits.map((d) => d.getTime()))).toISOString() : null,
        lastError: latest
          ? { message: latest.last_error ?? '', at: iso(latest.last_error_at)!, partition: latest.partition, retries: latest.retries }
          : null,
        batchFailures: [...mine.values()].reduce((n, p) => n + Number(p.failures), 0),
      } satisfies ConsumerHealth;
    });
  } finally {
    await admin.disconnect();
  }
}

export type ProjectionProgress = { projection: string; secondsSinceLastCommit: number | null; batchFailures: number; retries: number };

// Per projection, from Postgres alone (cheap enough for every scrape of /metrics):
// seconds since any partition last committed, failed batch attempts ever, and
// the failed attempts of the batch now being retried (the most over partitions).
export async function projectionProgress(db: Queryable): Promise<ProjectionProgress[]> {
  const r = await db.query(
    `SELECT projection, extract(epoch FROM now() - max(last_commit_at))::float8 AS since,
            sum(failures)::float8 AS failures, max(retries)::int AS retries
       FROM projection_progress GROUP BY projection`,
  );
  const rows = new Map(r.rows.map((x) => [x.projection as string, x]));
  return PROJECTION_NAMES.map((projection) => {
    const row = rows.get(projection);
    return {
      projection,
      secondsSinceLastCommit: row?.since == null ? null : Math.max(0, Number(row.since)),
      batchFailures: Number(row?.failures ?? 0),
      retries: Number(row?.retries ?? 0),
    };
  });
}
