import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { RunCreateBody, RunPatchFields, SuiteCreateBody, TestCreateBody } from '../../schemas/api.ts';
import { RunCreatedData, RunStats, RunUpdatedData, SuiteReportedData, TestReportedData } from '../../schemas/events.ts';

// A request the API acknowledges becomes an event every projector must apply:
// a request field that allows more than its event field (a longer string, a
// bigger number, more items) is an acknowledged write that is then lost.
type Json = Record<string, unknown>;

const fieldsOf = (schema: z.ZodType): Record<string, Json> => {
  const doc = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', reused: 'inline', cycles: 'ref' }) as Json;
  return (doc.properties ?? {}) as Record<string, Json>;
};

// What bounds a value: the same keys wherever they sit, nullable and defaults aside.
const BOUND_KEYS = new Set(['maxLength', 'minLength', 'maximum', 'minimum', 'exclusiveMaximum', 'exclusiveMinimum', 'maxItems', 'minItems', 'pattern', 'enum', 'type', 'format', 'const']);
function bounds(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(bounds);
  if (!node || typeof node !== 'object') return node;
  const o = node as Json;
  const alternatives = (o.anyOf ?? o.oneOf) as Json[] | undefined;
  if (alternatives) {
    const nonNull = alternatives.filter((a) => a.type !== 'null');
    if (nonNull.length === 1) return bounds(nonNull[0]);
  }
  const out: Json = {};
  for (const [k, v] of Object.entries(o)) {
    if (BOUND_KEYS.has(k)) out[k] = k === 'type' && Array.isArray(v) ? v.filter((t) => t !== 'null') : v;
    else if (k === 'properties') out[k] = Object.fromEntries(Object.entries(v as Json).map(([p, s]) => [p, bounds(s)]));
    else if (k === 'items') out[k] = bounds(v);
  }
  return out;
}

const PAIRS: Array<[string, z.ZodType, z.ZodType, string[]]> = [
  ['POST /api/runs → run.created', RunCreateBody, RunCreatedData, []],
  ['POST /api/tests → test.reported', TestCreateBody, TestReportedData, ['steps']],
  ['POST /api/test-suites → suite.reported', SuiteCreateBody, SuiteReportedData, []],
  ['PATCH /api/runs/:id → run.updated', RunPatchFields, RunStats.extend({ duration: RunUpdatedData.shape.duration, status: RunUpdatedData.shape.status }), []],
];

describe('request bounds equal event bounds', () => {
  for (const [name, request, event, skip] of PAIRS) {
    it(`${name}: every field the request shares with its event takes the same values`, () => {
      const req = fieldsOf(request);
      const evt = fieldsOf(event);
      const shared = Object.keys(req).filter((k) => k in evt && !skip.includes(k));
      expect(shared.length).toBeGreaterThan(2);
      for (const k of shared) {
        const want = bounds(evt[k]) as Json;
        // a duration may be fractional in a request: it is rounded into the event's integer
        if (k === 'duration' && want.type === 'integer' && (bounds(req[k]) as Json).type === 'number') want.type = 'number';
        expect({ field: k, bounds: bounds(req[k]) }).toEqual({ field: k, bounds: want });
      }
    });
  }

  it('steps of a request are the event schema steps (one schema object)', () => {
    expect(TestCreateBody.shape.steps.unwrap()).toBe(TestReportedData.shape.steps);
  });
});
