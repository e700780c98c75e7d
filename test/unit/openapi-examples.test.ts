import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { buildOpenApi, ROUTE_DOCS } from '../../lib/http/openapi.ts';

// Every operation of GET /openapi.json (what the /docs explorer shows and
// "Try it out" pre-fills) has examples, and they are true: the request body
// example parses with the very zod schema the route parses with, the path
// parameters' with theirs, and the answer's with the schema of its response.
const routes = Object.keys(ROUTE_DOCS).map((k) => ({ method: k.split(' ')[0]!, path: k.split(' ')[1]! }));
const { document } = buildOpenApi(routes);
const problems = (schema: z.ZodType, value: unknown) => {
  const r = schema.safeParse(value);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('the examples of the OpenAPI document', () => {
  it.each(Object.keys(ROUTE_DOCS))('%s', (key) => {
    const d = ROUTE_DOCS[key]!;
    const [method, path] = key.split(' ') as [string, string];
    const op = document.paths[path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')]![method.toLowerCase()];
    for (const p of op.parameters ?? []) {
      // optional ones have none: the explorer would pre-fill them
      expect(p.example !== undefined, `parameter ${p.name}`).toBe(p.required === true);
      if (p.in === 'path' && d.params?.[p.name]) expect(problems(d.params[p.name]!, p.example), `parameter ${p.name}`).toEqual([]);
    }
    if (d.body) {
      const content = op.requestBody.content['application/json'] ?? op.requestBody.content['multipart/form-data'];
      expect(content.example, 'request example').toBeDefined();
      if (d.bodyType !== 'multipart') expect(problems(d.body, content.example), 'request example').toEqual([]);
    }
    if (d.ok.schema) {
      const example = op.responses[String(d.ok.status)].content['application/json'].example;
      expect(example, 'response example').toBeDefined();
      expect(problems(d.ok.schema, example), 'response example').toEqual([]);
    }
  });
});
