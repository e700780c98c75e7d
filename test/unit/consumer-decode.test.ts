import { describe, expect, it } from 'vitest';
import { decode, wanted } from '../../projections/kafka/consumer.ts';
import { EXAMPLE_EVENTS } from '../../schemas/examples.ts';

const handles = new Set(['run.updated', 'project.deleted']);
const asIngestWrites = (e: { id: string; type: string }) => ({
  key: null, value: Buffer.from(JSON.stringify(e)), headers: { 'event-type': Buffer.from(e.type), 'event-id': Buffer.from(e.id) },
});

describe('reading only the events a projection handles', () => {
  it('tells from the event-type header, else from the leading bytes, else decodes', () => {
    for (const e of Object.values(EXAMPLE_EVENTS)) {
      const m = asIngestWrites(e);
      expect(wanted(m, handles), e.type).toBe(handles.has(e.type));
      expect(wanted({ ...m, headers: {} }, handles), e.type).toBe(handles.has(e.type));
      expect(decode(m)).toMatchObject({ ok: true });
    }
    // Not the shape ingest writes: decoded in full, so it can be dead-lettered.
    expect(wanted({ key: null, value: Buffer.from('{"type":"test.reported"}'), headers: {} }, handles)).toBe(true);
    expect(wanted({ key: null, value: Buffer.from('not json'), headers: {} }, handles)).toBe(true);
    expect(wanted({ key: null, value: null, headers: {} }, handles)).toBe(true);
  });
});
