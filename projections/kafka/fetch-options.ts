import type { ProjectionName } from '../../lib/consumer-groups.ts';
import type { ConsumerOptions } from './consumer.ts';

export type FetchOptions = Pick<ConsumerOptions, 'minBytes' | 'maxWaitTimeInMs' | 'maxBytes' | 'maxBytesPerPartition' | 'partitionsConsumedConcurrently'>;

// How each projection's consumer fetches, wherever it runs: the projector as
// `ops/up` starts it, and `runledger rebuild`, which replays the whole log
// through the same projection (with kafkajs' defaults, one partition at a
// time, a rebuild drained at 0.78× the live Postgres catch-up and 0.58× the
// ClickHouse one: docs/scaling.md, session 12).
export function fetchOptionsOf(name: ProjectionName, partitions: number): FetchOptions {
  switch (name) {
    case 'postgres':
      // Every partition's batch at once, each in its own transaction: the
      // projector's encoding and Postgres' writing overlap on two cores instead of
      // taking turns (test cases, shared by partitions, are locked in id order).
      // Fetches big enough to hold every partition's batch (12 MB, 2 MB each):
      // with the default 2 MB (1 MB each) a fetch held about two partitions, so
      // two transactions overlapped and each event paid a share of a fetch, a
      // commit and ~14 statements. Catch-up alone, same bench run, two runs each:
      // 2 MB 9,710 and 9,590 events/s; 6 MB 12,331 to 13,555; 12 MB 17,685 and
      // 13,838 at 240–245 MB peak RSS; 24 MB 18,172 and 16,286 but 297–303 MB.
      return {
        minBytes: 1, maxWaitTimeInMs: 100, maxBytes: 12 * 1024 * 1024, maxBytesPerPartition: 2 * 1024 * 1024,
        partitionsConsumedConcurrently: partitions,
      };
    case 'clickhouse':
      // Bigger, rarer inserts: ClickHouse wants about one insert per second per
      // table. Every partition's batch at once: the projection writes them as one
      // group (one insert per table), so inserts do not multiply with partitions.
      // Fetches as big as kafkajs' defaults: a smaller group makes smaller
      // inserts, and ClickHouse's CPU per row grew by half with 2 MB groups.
      return {
        minBytes: 256 * 1024, maxWaitTimeInMs: 1000, maxBytes: 10 * 1024 * 1024, maxBytesPerPartition: 4 * 1024 * 1024,
        partitionsConsumedConcurrently: partitions,
      };
    case 'flakiness':
      // Scoring a project costs the same for one result as for thousands: fewer,
      // bigger batches, and the batches of every partition at once so that they
      // share one scoring per project (FlakinessProjection coalesces them).
      // A fetch costs one scoring whatever its size (about one per project per
      // second), so a catch-up drains about one fetch per second: 16 MB fetches
      // (it keeps only the envelopes of what it fetched). 10 MB drained ~6,000
      // events/s, 20 MB 10,600 but peaked at 299 MB (docs/scaling.md).
      return {
        minBytes: 64 * 1024, maxWaitTimeInMs: 1000, maxBytes: 16 * 1024 * 1024, maxBytesPerPartition: 6 * 1024 * 1024,
        partitionsConsumedConcurrently: partitions,
      };
    case 'blobs':
      return { minBytes: 1, maxWaitTimeInMs: 500 };
    case 'webhooks':
    case 'quarantine':
      return { minBytes: 1, maxWaitTimeInMs: 200 };
  }
}

// The Postgres projection holds one connection per partition it applies at once, and one more.
export const postgresPoolSizeOf = (partitions: number) => partitions + 1;
