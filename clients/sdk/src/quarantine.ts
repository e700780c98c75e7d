import type { QuarantineEntry } from './types.ts';

// A test as the server identifies its test case: project + these three.
export type TestIdentity = { filePath: string; fullTitle: string; variant: string };

export const identityKey = (t: TestIdentity) => `${t.filePath}\u0000${t.fullTitle}\u0000${t.variant}`;

// The entries still in force (an entry past its expiry no longer quarantines).
export function activeQuarantine(entries: QuarantineEntry[], now = Date.now()): Map<string, QuarantineEntry> {
  const map = new Map<string, QuarantineEntry>();
  for (const e of entries) {
    if (e.expiresAt && Date.parse(e.expiresAt) <= now) continue;
    map.set(identityKey({ filePath: e.filePath ?? '', fullTitle: e.fullTitle, variant: e.variant ?? '' }), e);
  }
  return map;
}

export type QuarantineVerdict<T extends TestIdentity> = {
  // Every failure is quarantined (and there was at least one): the run may pass.
  allQuarantined: boolean;
  quarantined: Array<{ test: T; entry: QuarantineEntry }>;
  unquarantined: T[];
};

// Splits the failed tests into quarantined and not. `entries` null means the list
// could not be had: then nothing counts as quarantined (failures stay failures).
export function quarantineVerdict<T extends TestIdentity>(failures: T[], entries: QuarantineEntry[] | null, now = Date.now()): QuarantineVerdict<T> {
  const active = activeQuarantine(entries ?? [], now);
  const quarantined: QuarantineVerdict<T>['quarantined'] = [];
  const unquarantined: T[] = [];
  for (const test of failures) {
    const entry = active.get(identityKey(test));
    if (entry) quarantined.push({ test, entry });
    else unquarantined.push(test);
  }
  return { allQuarantined: failures.length > 0 && unquarantined.length === 0, quarantined, unquarantined };
}
