import type { Logger } from '../../lib/logger.ts';
import type { Event, EventType } from '../../schemas/events.ts';
import type { BlobStore } from '../../ingest/blob-store.ts';
import type { Projection, ProjectionBatch } from '../kafka/consumer.ts';

export const BLOBS_PROJECTION = 'blobs';

// The files that go with a deletion: a run's artifacts live under
// `<projectId>/<runId>/`, so a project's under `<projectId>/`.
export function prefixesToDelete(event: Event): string[] {
  switch (event.type) {
    case 'run.deleted':
      return [`${event.projectId}/${event.data.id}/`];
    case 'project.deleted':
      return [`${event.data.id}/`];
    default:
      return [];
  }
}

// Deletes artifact files when the log says their owner was deleted. Deleting
// is idempotent, so this needs no position of its own: after a crash the
// uncommitted batch comes again and deletes what is already gone.
export class BlobsProjection implements Projection {
  readonly name = BLOBS_PROJECTION;
  // The rest is skipped undecoded (projections/kafka/consumer.ts).
  readonly handles: ReadonlySet<EventType> = new Set<EventType>(['run.deleted', 'project.deleted']);

  constructor(private blobs: BlobStore, private logger: Logger) {}

  async apply(batch: ProjectionBatch): Promise<void> {
    for (const { event, offset } of batch.events) {
      for (const prefix of prefixesToDelete(event)) {
        await this.blobs.deletePrefix(prefix);
        this.logger.info({ partition: batch.partition, offset, prefix }, 'deleted artifact files');
      }
    }
  }
}
