import type { Queryable } from '../../lib/pg.ts';
import { findTestCase, type TestCaseRow } from './test-cases.ts';

// quarantines (current state per test case) and quarantine_history (every
// change), both projected from test.quarantine_changed events.

export type QuarantineRow = {
  test_case_id: string; project_id: string; is_quarantined: boolean; reason: string; mode: 'manual' | 'automatic';
  owner: string | null; expires_at: Date | null; changed_by: string; changed_at: Date;
};
type HistoryRow = {
  event_id: string; is_quarantined: boolean; reason: string; mode: 'manual' | 'automatic'; owner: string | null;
  expires_at: Date | null; actor: string; changed_at: Date;
};

// Quarantined now: not released, and not past its expiry (an expired entry is
// over even before the release event reaches the read model).
const ACTIVE = 'q.is_quarantined AND (q.expires_at IS NULL OR q.expires_at > now())';

export const quarantines = {
  testCase: findTestCase,
  async byCase(db: Queryable, testCaseId: string): Promise<QuarantineRow | undefined> {
    return (await db.query('SELECT * FROM quarantines WHERE test_case_id = $1', [testCaseId])).rows[0];
  },
  async activeIds(db: Queryable, projectId: string): Promise<Set<string>> {
    const r = await db.query(`SELECT test_case_id FROM quarantines q WHERE q.project_id = $1 AND ${ACTIVE}`, [projectId]);
    return new Set(r.rows.map((x) => x.test_case_id as string));
  },
  async isActive(db: Queryable, testCaseId: string): Promise<boolean> {
    const r = await db.query(`SELECT 1 FROM quarantines q WHERE q.test_case_id = $1 AND ${ACTIVE}`, [testCaseId]);
    return r.rows.length > 0;
  },
  async active(db: Queryable, projectId: string, page: { limit: number; offset: number }) {
    const [rows, count] = await Promise.all([
      db.query(
        `SELECT q.*, c.title, c.full_title, c.file_path, c.variant FROM quarantines q
         LEFT JOIN test_cases c ON c.id = q.test_case_id
         WHERE q.project_id = $1 AND ${ACTIVE} ORDER BY q.changed_at DESC, q.test_case_id LIMIT $2 OFFSET $3`,
        [projectId, page.limit, page.offset],
      ),
      db.query(`SELECT count(*)::int AS n FROM quarantines q WHERE q.project_id = $1 AND ${ACTIVE}`, [projectId]),
    ]);
    return { rows: rows.rows as Array<QuarantineRow & Partial<Omit<TestCaseRow, 'id' | 'project_id'>>>, total: count.rows[0].n as number };
  },
  async history(db: Queryable, testCaseId: string, page: { limit: number; offset: number }) {
    const [rows, count] = await Promise.all([
      db.query(
        `SELECT event_id, is_quarantined, reason, mode, owner, expires_at, actor, changed_at FROM quarantine_history
         WHERE test_case_id = $1 ORDER BY changed_at DESC, event_id DESC LIMIT $2 OFFSET $3`,
        [testCaseId, page.limit, page.offset],
      ),
      db.query('SELECT count(*)::int AS n FROM quarantine_history WHERE test_case_id = $1', [testCaseId]),
    ]);
    return { rows: rows.rows as HistoryRow[], total: count.rows[0].n as number };
  },
};

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export const quarantineEntryView = (q: QuarantineRow & Partial<Omit<TestCaseRow, 'id' | 'project_id'>>) => ({
  testId: q.test_case_id, testCaseId: q.test_case_id, testTitle: q.title ?? '', fullTitle: q.full_title ?? '',
  filePath: q.file_path ?? '', variant: q.variant ?? '', reason: q.reason, mode: q.mode, owner: q.owner,
  expiresAt: iso(q.expires_at), quarantinedAt: q.changed_at.toISOString(), quarantinedBy: q.changed_by,
});

export const historyEntryView = (h: HistoryRow) => ({
  eventId: h.event_id, isQuarantined: h.is_quarantined, reason: h.reason, mode: h.mode, owner: h.owner,
  expiresAt: iso(h.expires_at), actor: h.actor, changedAt: h.changed_at.toISOString(),
});
