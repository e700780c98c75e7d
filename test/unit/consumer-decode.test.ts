import { describe, expect, it } from 'vitest';
import { appliedBefore, decode, wanted } from '../../projections/kafka/consumer.ts';
import { EXAMPLE_EVENTS } from '../../schemas/examples.ts';

const handles = new Set(['run.updated', 'project.deleted']);
const asIngestWrites = (e: { id: string; type: string; [k: string]: unknown }) => ({
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

describe('decoding only the envelope', () => {
  it('checks the envelope, leaves data unread and does not hand it over', () => {
    for (const e of Object.values(EXAMPLE_EVENTS)) {
      const d = decode(asIngestWrites(e), 'envelope');
      expect(d, e.type).toEqual({ ok: true, event: expect.objectContaining({ id: e.id, type: e.type, projectId: e.projectId }) });
      expect(d.ok && 'data' in d.event).toBe(false);
    }
    const result = EXAMPLE_EVENTS['test.reported'];
    // A result whose data is wrong: only a projection that reads data refuses it.
    const badData = asIngestWrites({ ...result, data: { ...result.data, duration: -1 } });
    expect(decode(badData)).toMatchObject({ ok: false });
    expect(decode(badData, 'envelope')).toMatchObject({ ok: true });
    // A wrong envelope is refused either way.
    for (const bad of [{ ...result, projectId: 'nope' }, { ...result, type: 'test.exploded' }]) {
      expect(decode(asIngestWrites(bad), 'envelope')).toMatchObject({ ok: false });
    }
    expect(decode({ key: null, value: Buffer.from('not json'), headers: {} }, 'envelope')).toMatchObject({ ok: false });
  });

  it('reads the envelope of events in other key orders, or with "data" inside strings and objects, as a full parse does', () => {
    const result = EXAMPLE_EVENTS['test.reported'];
    const { data, ...envelope } = result;
    const raw = (text: string) => ({ key: null, value: Buffer.from(text), headers: {} });
    const full = (text: string) => {
      const d = decode(raw(text), 'envelope');
      return d.ok ? d.event : d;
    };
    const expected = { ...envelope };
    // data first, data in the middle, a correlation id that holds the cut sequence
    expect(full(JSON.stringify({ data, ...envelope }))).toEqual(expected);
    const { correlationId, ...rest } = envelope;
    expect(full(JSON.stringify({ ...rest, data, correlationId }))).toEqual(expected);
    const tricky = { ...envelope, correlationId: 'x","data":{' };
    expect(full(JSON.stringify({ ...tricky, data }))).toEqual({ ...tricky });
    // a nested "data" key before the envelope's own keys end
    expect(full(JSON.stringify({ ...rest, actor: { ...envelope.actor }, data: { data: 1, ...data }, correlationId }))).toEqual(expected);
    // a wrong envelope after the cut is still refused
    expect(decode(raw(JSON.stringify({ ...rest, data, correlationId: 42 })), 'envelope')).toMatchObject({ ok: false });
    // Bytes past the envelope are not read: data that is not even JSON is, as
    // wrong data is, refused by the projections that read data.
    const cutShort = raw(JSON.stringify({ ...envelope, data }).slice(0, -1));
    expect(decode(cutShort, 'envelope')).toMatchObject({ ok: true });
    expect(decode(cutShort)).toMatchObject({ ok: false });
  });
});

describe('a dead letter replayed onto the log', () => {
  it('is applied by the projections it was replayed for, and skipped by the others, which applied the original', () => {
    const copy = (replayedFor?: string) => ({
      key: null, value: Buffer.from(JSON.stringify(EXAMPLE_EVENTS['test.reported'])),
      headers: { 'event-type': Buffer.from('test.reported'), 'replayed-from': Buffer.from('dlq:0:7'), ...(replayedFor === undefined ? {} : { 'replayed-for': Buffer.from(replayedFor) }) },
    });
    expect(appliedBefore(copy('postgres'), 'postgres')).toBe(false);
    expect(appliedBefore(copy('postgres'), 'clickhouse')).toBe(true);
    expect(appliedBefore(copy('clickhouse,postgres'), 'clickhouse')).toBe(false);
    expect(appliedBefore(copy('clickhouse,postgres'), 'webhooks')).toBe(true);
    // Replayed by an older version, which did not say for whom: every projection applies it, as then.
    expect(appliedBefore(copy(), 'webhooks')).toBe(false);
    expect(appliedBefore({ key: null, value: null, headers: {} }, 'postgres')).toBe(false);
  });
});
