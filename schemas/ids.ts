import { hash, randomFillSync } from 'node:crypto';
import { monotonicFactory } from 'ulid';

// Prefixed, time-sortable ids (DESIGN §3). The prefix tells the kind at a glance
// and lets routes reject a malformed id before touching a database.
export const ID_PREFIXES = {
  run: 'run',
  test: 'test',
  suite: 'suite',
  testCase: 'tc',
  artifact: 'artifact',
  event: 'evt',
  user: 'user',
  team: 'team',
  member: 'member',
  project: 'proj',
  apiKey: 'key',
  invitation: 'invite',
  audit: 'audit',
  webhook: 'wh',
  delivery: 'whd',
  schedule: 'sched',
  personalToken: 'pat',
} as const;
export type IdKind = keyof typeof ID_PREFIXES;

// ulid's own PRNG asks the OS for one byte per character; a batch makes
// thousands of ids, so the bytes come from a pool refilled 4 KiB at a time.
const pool = new Uint8Array(4096);
let poolAt = pool.length;
const prng = () => {
  if (poolAt >= pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  return pool[poolAt++]! / 256;
};
const ulid = monotonicFactory(prng);
const BODY = /^[0-9A-HJKMNP-TV-Z]{26}$/;

export function newId(kind: IdKind): string {
  return `${ID_PREFIXES[kind]}_${ulid()}`;
}

// Ids that must come out the same on every replay (suites upserted by title and
// path, test cases) are derived from their natural key instead of the clock.
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export function derivedId(kind: IdKind, ...parts: string[]): string {
  const digest = hash('sha256', parts.join('\u0000'), 'buffer');
  let out = '';
  for (let i = 0; i < 26; i++) out += CROCKFORD[digest[i]! & 31];
  return `${ID_PREFIXES[kind]}_${out}`;
}

// A test case: the same test (file, full title) under the same variant
// (Playwright project) of one project, across runs (DESIGN §3).
export const testCaseIdOf = (projectId: string, filePath: string, fullTitle: string, variant: string) =>
  derivedId('testCase', projectId, filePath, fullTitle, variant);

export function isId(kind: IdKind, value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const prefix = `${ID_PREFIXES[kind]}_`;
  return value.startsWith(prefix) && BODY.test(value.slice(prefix.length));
}

export function idPattern(kind: IdKind): RegExp {
  return new RegExp(`^${ID_PREFIXES[kind]}_[0-9A-HJKMNP-TV-Z]{26}$`);
}
