// Decoding cost of a reactor that handles few event types (issue 15 §2):
// the same realistic messages (test.reported results with their runs' events,
// as ingest writes them) decoded by
//   - before: every message JSON-parsed and zod-validated;
//   - json-only: JSON-parsed, validated only if its type is handled (the alternative);
//   - after: type read from the event-type header, then only handled types decoded;
//   - after-no-header: type read from the leading bytes of the value.
// In this process, CPU-bound: events/s and CPU seconds per 100,000 events.
import { decode, wanted, type RawMessage } from '../projections/kafka/consumer.ts';
import { Event, type EventType } from '../schemas/events.ts';
import { projectorLoad } from './projectors/events.ts';
import { ownCpuSeconds } from './cpu.ts';

export function measureReactorDecode(results = Number(process.env.BENCH_RESULTS ?? 20_000)) {
  const load = projectorLoad('proj_01JEXAMP1E0000000000000000', 20, Math.ceil(results / 20));
  const events = load.batches.flat().map((pe) => pe.event);
  const withHeaders: RawMessage[] = events.map((e) => ({
    key: Buffer.from(e.runId ?? e.projectId), value: Buffer.from(JSON.stringify(e)),
    headers: { 'event-type': Buffer.from(e.type), 'event-id': Buffer.from(e.id) },
  }));
  const bare: RawMessage[] = withHeaders.map((m) => ({ ...m, headers: {} }));
  const handles = new Set<EventType>(['run.updated', 'project.deleted']); // the quarantine reactor's

  const ways: Record<string, (m: RawMessage) => unknown> = {
    before: (m) => decode(m),
    'json-only': (m) => {
      const json = JSON.parse(m.value!.toString('utf8')) as { type?: string };
      return handles.has(json.type as EventType) ? Event.safeParse(json) : null;
    },
    after: (m) => (wanted(m, handles) ? decode(m) : null),
  };
  const out: Record<string, { eventsPerSecond: number; cpuSecondsPer100k: number }> = {};
  const measure = (name: string, fn: (m: RawMessage) => unknown, messages: RawMessage[]) => {
    for (let i = 0; i < 2000; i++) fn(messages[i % messages.length]!); // warm-up
    const c0 = ownCpuSeconds();
    const t0 = process.hrtime.bigint();
    for (const m of messages) fn(m);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    out[name] = { eventsPerSecond: Math.round(messages.length / s), cpuSecondsPer100k: Math.round(((ownCpuSeconds() - c0) / messages.length) * 1e5 * 100) / 100 };
  };
  for (const [name, fn] of Object.entries(ways)) measure(name, fn, withHeaders);
  measure('after-no-header', ways.after!, bare);
  const ratio = (a: string) => Math.round((out[a]!.eventsPerSecond / out.before!.eventsPerSecond) * 10) / 10;
  return { events: events.length, ...out, speedup: { 'json-only': ratio('json-only'), after: ratio('after'), 'after-no-header': ratio('after-no-header') } };
}
