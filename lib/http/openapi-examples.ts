import type { z } from 'zod';
import { EXAMPLE_EVENTS } from '../../schemas/examples.ts';
// Examples for the OpenAPI document (GET /openapi.json, shown by the /docs
// explorer): a value for a JSON Schema, built from the schema itself (its
// defaults, first enum value, formats, id patterns, bounds), so an example
// cannot drift from the schema it illustrates. test/integration/openapi-examples.test.ts
// parses every request example with the route's zod schema and every response
// example with its answer's, and a route whose schema cannot be illustrated
// this way gives its own example in ROUTE_DOCS (built from schemas/examples.ts).

type Schema = Record<string, any>;
const ULID = '01JD3Z5W8Q2X7K9M4N6P1R3T5V';
const AT = '2026-01-15T09:30:00.000Z';
// for fields that must be in the future (expiresAt)
const FUTURE = '2099-01-01T00:00:00.000Z';

// `^run_[0-9A-HJKMNP-TV-Z]{26}$` → run_01JD…: the prefixed, sortable ids of lib/ids.ts
function fromPattern(pattern: string): string | undefined {
  const id = /^\^([a-z]+)_\[0-9A-HJKMNP-TV-Z\]\{26\}\$$/.exec(pattern);
  if (id) return `${id[1]}_${ULID}`;
  // a literal prefix, then one character class repeated: rlinv_[0-9A-Za-z]{40}, [A-Za-z0-9]{32}
  const repeated = /^\^([A-Za-z_]*)\[([^\]]+)\]\{(\d+)(?:,\d*)?\}\$$/.exec(pattern);
  if (repeated) return repeated[1]! + repeated[2]![0]!.repeat(Number(repeated[3]));
  return undefined;
}

function stringExample(s: Schema, name: string): string {
  if (s.pattern) {
    const p = fromPattern(s.pattern);
    if (p) return p;
  }
  switch (s.format) {
    case 'date-time': return /expires/i.test(name) ? FUTURE : AT;
    case 'date': return AT.slice(0, 10);
    case 'email': return 'ada@example.com';
    case 'uri': case 'url': return 'https://example.com/hook';
    case 'uuid': return '3f1c2b9e-8a4d-4e7f-9b6a-2c5d8e1f0a3b';
    default: break;
  }
  const byName: Record<string, string> = {
    name: 'checkout', title: 'pays with a saved card', filePath: 'tests/checkout.spec.ts', branch: 'main', commitSha: '9f2c1e4b7a0d3c6e8f1a2b3c4d5e6f7a8b9c0d1e',
    password: 'correct horse battery staple', url: 'https://example.com/hook', cron: '0 9 * * 1', timezone: 'Europe/Paris', secret: 'whsec_0123456789abcdef',
  };
  let v = byName[name] ?? 'string';
  if (s.minLength && v.length < s.minLength) v = v.padEnd(s.minLength, 'x');
  if (s.maxLength && v.length > s.maxLength) v = v.slice(0, s.maxLength);
  return v;
}

export function exampleOf(schema: Schema | undefined, components: Record<string, Schema>, name = '', depth = 0): unknown {
  if (!schema || depth > 12) return null;
  if (schema.$ref) return exampleOf(components[String(schema.$ref).split('/').pop()!], components, name, depth + 1);
  if ('const' in schema) return schema.const;
  if ('default' in schema) return schema.default;
  if (Array.isArray(schema.examples) && schema.examples.length) return schema.examples[0];
  if (Array.isArray(schema.enum)) return schema.enum[0];
  for (const k of ['anyOf', 'oneOf'] as const) {
    if (Array.isArray(schema[k])) {
      const options = (schema[k] as Schema[]).filter((o) => o.type !== 'null');
      return exampleOf(options[0] ?? schema[k][0], components, name, depth + 1);
    }
  }
  if (Array.isArray(schema.allOf)) {
    return Object.assign({}, ...schema.allOf.map((s: Schema) => exampleOf(s, components, name, depth + 1)).filter((x: unknown) => x && typeof x === 'object'));
  }
  const type = Array.isArray(schema.type) ? schema.type.find((t: string) => t !== 'null') : schema.type;
  switch (type) {
    case 'string': return stringExample(schema, name);
    case 'integer': {
      const lo = schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : 1);
      return Math.min(lo, schema.maximum ?? lo);
    }
    case 'number': return Math.min(schema.maximum ?? 0.5, Math.max(schema.minimum ?? 0.5, 0.5));
    case 'boolean': return true;
    case 'null': return null;
    case 'array': {
      // one item, except deep in a recursive schema (steps in steps, the suite tree)
      const n = depth > 3 ? (schema.minItems ?? 0) : Math.max(1, schema.minItems ?? 1);
      return Array.from({ length: n }, () => exampleOf(schema.items, components, name, depth + 1));
    }
    case 'object':
    default: {
      const props = (schema.properties ?? {}) as Record<string, Schema>;
      if (!Object.keys(props).length && schema.additionalProperties && typeof schema.additionalProperties === 'object') {
        return { key: exampleOf(schema.additionalProperties, components, 'key', depth + 1) };
      }
      return Object.fromEntries(Object.entries(props).map(([k, s]) => [k, exampleOf(s, components, k, depth + 1)]));
    }
  }
}

// Where schemas/examples.ts has it: a request body made of an example event's
// data (the body that would have produced it), keeping only the keys the body
// schema knows. undefined when that does not parse: the generated one is used.
const project = EXAMPLE_EVENTS['run.created'].projectId;
const data = (t: keyof typeof EXAMPLE_EVENTS) => EXAMPLE_EVENTS[t].data as Record<string, unknown>;
export const EVENT_BODIES: Record<string, Record<string, unknown>> = {
  'POST /api/runs': { projectId: project, ...data('run.created') },
  'PATCH /api/runs/:id': { ...data('run.updated') },
  'POST /api/test-suites': { projectId: project, ...data('suite.reported') },
  'POST /api/tests': { projectId: project, ...data('test.reported') },
  'POST /api/flakiness': { projectId: project, ...data('test.quarantine_changed') },
};

export function fittedExample(schema: z.ZodType, candidate: Record<string, unknown> | undefined): unknown {
  if (!candidate) return undefined;
  const c: Record<string, unknown> = { ...candidate };
  for (let i = 0; i < 3; i++) {
    const r = schema.safeParse(c);
    if (r.success) {
      // only what the body knows (a schema that strips unknown keys would accept more)
      const known = r.data && typeof r.data === 'object' ? (r.data as Record<string, unknown>) : {};
      return Object.fromEntries(Object.entries(c).filter(([k]) => k in known));
    }
    const extra = r.error.issues.flatMap((x) => (x.code === 'unrecognized_keys' && x.path.length === 0 ? x.keys : []));
    if (!extra.length) return undefined;
    for (const k of extra) delete c[k];
  }
  return undefined;
}
