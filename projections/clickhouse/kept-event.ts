import type { Event, EventOf } from '../../schemas/events.ts';

// The fields of a result that the ClickHouse tables are made of
// (tables/test-results.ts, tables/test-errors.ts). Steps, output, tags and
// annotations are most of a result and none of them is a column.
type KeptResultData = Pick<EventOf<'test.reported'>['data'],
  'id' | 'runId' | 'testCaseId' | 'title' | 'fullTitle' | 'filePath' | 'variant' | 'status' | 'duration' | 'retries'
  | 'attempt' | 'isFlaky' | 'run' | 'error' | 'attempts' | 'startedAt' | 'createdAt'>;
export type KeptResult = Omit<EventOf<'test.reported'>, 'data'> & { data: KeptResultData };
// What the ClickHouse projection reads of an event; a whole event is one too.
export type ClickHouseEvent = Exclude<Event, { type: 'test.reported' }> | KeptResult;

// What the projector keeps of each event while its batch waits for its group
// (Projection.keep): a catch-up's group holds thousands of results for as long
// as the inserts before it take, long enough for whole events to outlive V8's
// young generation and be promoted, then collected by full GCs. Keeping only
// these fields cost 23–29 µs of CPU per result instead of 37–39 in a model
// of the projector (docs/scaling.md, session 12).
export function keptForClickHouse(e: ClickHouseEvent): ClickHouseEvent {
  if (e.type !== 'test.reported') return e;
  const d = e.data;
  return {
    ...e,
    data: {
      id: d.id, runId: d.runId, testCaseId: d.testCaseId, title: d.title, fullTitle: d.fullTitle, filePath: d.filePath,
      variant: d.variant, status: d.status, duration: d.duration, retries: d.retries, attempt: d.attempt, isFlaky: d.isFlaky,
      run: d.run, error: d.error, attempts: d.attempts, startedAt: d.startedAt, createdAt: d.createdAt,
    },
  };
}
