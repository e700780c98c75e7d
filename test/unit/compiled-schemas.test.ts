import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Event, EventEnvelope } from '../../schemas/events.ts';
import { BatchItem } from '../../schemas/batch.ts';
import { runEvents } from '../support/events.ts';
import { newId } from '../../schemas/ids.ts';

// The hot-path schemas are z.compile'd. Zod falls back to its runtime parser,
// silently, for a schema it cannot compile: a schema change that did so would
// only show as a slower pipeline. `strict` makes that refusal an error here.
describe('compiled hot-path schemas', () => {
  it.each([['Event', Event], ['EventEnvelope', EventEnvelope], ['BatchItem', BatchItem]] as const)('%s compiles whole', (_name, schema) => {
    expect(() => z.compile(schema as z.ZodType, { strict: true })).not.toThrow();
  });

  it('accepts, strips and refuses events as the runtime parser does, with the same issues', () => {
    const { events } = runEvents(newId('project'), { tests: 3 });
    const runtime = z.discriminatedUnion('type', Event.def.options);
    const samples: unknown[] = [
      ...events,
      { ...events[1], extra: 1 },
      { ...events[1], projectId: 'nope' },
      { ...events[1], data: { ...(events[1] as { data: object }).data, startedAt: 'yesterday' } },
      { ...events[0], type: 'run.exploded' },
      null,
    ];
    for (const sample of samples) {
      const copy = JSON.parse(JSON.stringify(sample));
      const a = Event.safeParse(copy);
      const b = runtime.safeParse(copy);
      expect(a.success).toBe(b.success);
      if (a.success) expect(a.data).toEqual(b.data);
      else expect(a.error!.issues).toEqual(b.error!.issues);
    }
  });
});
