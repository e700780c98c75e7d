import { newId } from '../schemas/ids.ts';
import type { Actor, EventData, EventOf, EventType } from '../schemas/events.ts';
import type { Principal } from '../lib/http/principal.ts';

export function actorOf(principal: Principal): Actor {
  return principal.kind === 'api_key' ? { type: 'api_key', id: principal.keyId } : { type: 'user', id: principal.userId };
}

export function makeEvent<T extends EventType>(
  type: T,
  fields: { projectId: string; runId: string | null; actor: Actor; correlationId: string | null; now: string; data: EventData<T> },
): EventOf<T> {
  return {
    id: newId('event'),
    type,
    version: 1,
    projectId: fields.projectId,
    runId: fields.runId,
    occurredAt: fields.now,
    receivedAt: fields.now,
    actor: fields.actor,
    correlationId: fields.correlationId,
    data: fields.data,
  } as EventOf<T>;
}
