import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/processes.ts';
import { ENV_VARIABLES } from '../../lib/config.ts';

const read = (path: string) => readFileSync(`${ROOT}${path}`, 'utf8');

// The variables lib/config.ts reads: the keys of its Env schema, generated
// ones (a rate limit per endpoint group) included.
function configVariables(): string[] {
  return [...ENV_VARIABLES].sort();
}

// The variables of the configuration table in docs/operations.md: the first
// column of the table under `## Configuration`, up to the next heading.
function documentedVariables(): string[] {
  const doc = read('docs/operations.md');
  const section = /^## Configuration\n([\s\S]*?)\n#{2,3} /m.exec(doc)?.[1] ?? '';
  return section
    .split('\n')
    .filter((l) => l.startsWith('| `RUNLEDGER_'))
    .flatMap((l) => [...l.split('|')[1]!.matchAll(/`(RUNLEDGER_[A-Z0-9_]+)`/g)].map((m) => m[1]!))
    .sort();
}

describe('the configuration reference in docs/operations.md', () => {
  it('finds variables in both places (the parsers work)', () => {
    expect(configVariables().length).toBeGreaterThan(10);
    expect(documentedVariables().length).toBeGreaterThan(10);
  });

  it('documents every variable lib/config.ts reads, and nothing it does not read', () => {
    const documented = documentedVariables();
    const read = configVariables();
    expect(documented.filter((v) => !read.includes(v)), 'documented but not read by lib/config.ts').toEqual([]);
    expect(read.filter((v) => !documented.includes(v)), 'read by lib/config.ts but not documented').toEqual([]);
    expect(new Set(documented).size, 'documented twice').toBe(documented.length);
  });
});
