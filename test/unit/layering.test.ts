import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// The layering of docs/architecture.md, enforced on the import graph: a module
// imports only from its own top-level folder or from a lower layer. Folders of
// one layer never import each other (ingest/, projections/ and query-api/ meet
// only in domain/ below them and in app/ above them).
const LAYER: Record<string, number> = {
  schemas: 0,
  lib: 1,
  domain: 2,
  ingest: 3, projections: 3, 'query-api': 3,
  app: 4,
  ops: 5,
  // Tests may import anything below them (client sources included), benchmarks
  // also the tests' support code; nothing imports either.
  test: 6,
  bench: 7,
};

type Import = { from: string; to: string; typeOnly: boolean; line: string };

const ROOT = resolve(import.meta.dirname, '../..');
const SOURCE = /\.(ts|tsx|mts|js|mjs|cjs)$/;
const IMPORT = /^\s*(import|export)\s+(type\s+)?[^'"]*?from\s+['"](\.{1,2}\/[^'"]+)['"]|\bimport\s*\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)|^\s*import\s+['"](\.{1,2}\/[^'"]+)['"]/gm;

function relativeImports(): Import[] {
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' })
    .split('\n')
    .filter((f) => SOURCE.test(f) && !f.includes('node_modules/') && !f.startsWith('test/fixtures/') && existsSync(join(ROOT, f)));
  const imports: Import[] = [];
  for (const from of files) {
    const text = readFileSync(join(ROOT, from), 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[3] ?? m[4] ?? m[5]!;
      const to = relative(ROOT, resolve(dirname(join(ROOT, from)), spec));
      imports.push({ from, to, typeOnly: Boolean(m[2]), line: m[0].trim() });
    }
  }
  return imports;
}

const top = (path: string) => path.split('/')[0]!;
const topOf = (path: string) => (path.includes('/') ? top(path) : '.');

// Why an import breaks the layering, or null when it keeps it.
export function violation(imp: Import): string | null {
  const a = topOf(imp.from);
  const b = topOf(imp.to);
  if (imp.to.startsWith('..')) return 'leaves the repository';
  if (a === b) return null;
  if (a === 'clients') {
    return b === 'schemas' && imp.typeOnly ? null : 'clients/ may import only types from schemas/ (they ship as packages)';
  }
  if (a === 'web') return 'web/ uses only the HTTP API';
  const la = LAYER[a];
  const lb = LAYER[b];
  if (la === undefined) return `${a}/ has no layer: add it to LAYER and to docs/architecture.md`;
  if (b === 'clients') return la >= LAYER.test! ? null : 'only tests and benchmarks import clients/ (the server never does)';
  if (lb === undefined) return `${b}/ is not importable`;
  if (lb < la) return null;
  return lb === la ? `${a}/ and ${b}/ are one layer and never import each other` : `${a}/ is below ${b}/`;
}

describe('the import graph', () => {
  const imports = relativeImports();

  it('finds the imports it checks', () => {
    expect(imports.length).toBeGreaterThan(500);
    expect(imports.some((i) => i.from === 'app/api.ts' && i.to === 'ingest/routes.ts')).toBe(true);
  });

  it('keeps every import within its layer or pointing down', () => {
    const broken = imports.flatMap((imp) => {
      const why = violation(imp);
      return why ? [`${imp.from}: ${imp.line} — ${why}`] : [];
    });
    expect(broken).toEqual([]);
  });

  it('has no cycle between top-level folders', () => {
    const edges = new Map<string, Set<string>>();
    for (const { from, to } of imports) {
      const [a, b] = [topOf(from), topOf(to)];
      if (a !== b) edges.set(a, (edges.get(a) ?? new Set()).add(b));
    }
    const cycles: string[] = [];
    const visit = (node: string, path: string[]) => {
      if (path.includes(node)) return void cycles.push([...path.slice(path.indexOf(node)), node].join(' → '));
      for (const next of edges.get(node) ?? []) visit(next, [...path, node]);
    };
    for (const node of edges.keys()) visit(node, []);
    expect(cycles).toEqual([]);
  });

  it('refuses the imports the layering forbids', () => {
    const imp = (from: string, to: string, typeOnly = false) => ({ from, to, typeOnly, line: '' });
    expect(violation(imp('lib/http/auth.ts', 'query-api/pg/users.ts'))).toMatch(/below/);
    expect(violation(imp('projections/flakiness/projection.ts', 'query-api/flakiness/score.ts'))).toMatch(/one layer/);
    expect(violation(imp('ingest/routes.ts', 'app/api.ts'))).toMatch(/below/);
    expect(violation(imp('clients/sdk/src/types.ts', 'schemas/batch.ts'))).toMatch(/only types/);
    expect(violation(imp('clients/sdk/src/types.ts', 'schemas/batch.ts', true))).toBeNull();
    expect(violation(imp('query-api/routes/runs.ts', 'domain/pg/runs.ts'))).toBeNull();
  });
});
