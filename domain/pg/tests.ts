import type { Queryable } from '../../lib/pg.ts';
import { page } from './page.ts';

export type TestRow = {
  id: string; run_id: string; project_id: string; test_case_id: string; suite_id: string | null; title: string;
  full_title: string; file_path: string; line_number: number | null; variant: string; status: string; duration: number;
  retries: number; attempt: number; is_flaky: boolean; tags: string[]; annotations: unknown[]; error: unknown;
  attempts: unknown[]; stdout: string; stderr: string; started_at: Date; created_at: Date;
};
export type TestListRow = Pick<TestRow,
  'id' | 'run_id' | 'test_case_id' | 'title' | 'full_title' | 'file_path' | 'variant' | 'status' | 'duration' | 'is_flaky' | 'error' | 'created_at'>;
export type StepRow = {
  idx: number; parent_idx: number | null; depth: number; title: string; category: string; status: string; duration: number; error: unknown;
};

const likeEscape = (s: string) => s.replace(/[\\%_]/g, (c) => '\\' + c);

export const testsRepo = {
  async byId(db: Queryable, id: string): Promise<TestRow | undefined> {
    return (await db.query('SELECT * FROM tests WHERE id = $1', [id])).rows[0];
  },
  async latestOfCase(db: Queryable, testCaseId: string): Promise<TestRow | undefined> {
    return (await db.query('SELECT * FROM tests WHERE test_case_id = $1 ORDER BY created_at DESC LIMIT 1', [testCaseId])).rows[0];
  },
  async list(db: Queryable, q: { projectId: string; runId?: string; status?: string; search?: string; limit: number; offset: number }) {
    const where = ['project_id = $1'];
    const args: unknown[] = [q.projectId];
    if (q.runId) where.push(`run_id = $${args.push(q.runId)}`);
    if (q.status) where.push(`status = $${args.push(q.status)}`);
    if (q.search) where.push(`(full_title ILIKE $${args.push(`%${likeEscape(q.search)}%`)} OR file_path ILIKE $${args.length})`);
    // only what testListView shows: a run of 5,000 results is one request
    const select = 'id, run_id, test_case_id, title, full_title, file_path, variant, status, duration, is_flaky, error, created_at';
    return page<TestListRow>(db, { from: 'tests', where: where.join(' AND '), args, orderBy: 'created_at, id', limit: q.limit, offset: q.offset, select });
  },
  async steps(db: Queryable, testId: string): Promise<StepRow[]> {
    return (await db.query('SELECT * FROM test_steps WHERE test_id = $1 ORDER BY idx', [testId])).rows;
  },
};

export function testListView(t: TestListRow) {
  return {
    id: t.id, runId: t.run_id, testCaseId: t.test_case_id, title: t.title, fullTitle: t.full_title, filePath: t.file_path,
    variant: t.variant, status: t.status, duration: t.duration, isFlaky: t.is_flaky, error: t.error ?? null,
    createdAt: t.created_at.toISOString(),
  };
}

export function testView(t: TestRow) {
  return {
    id: t.id, runId: t.run_id, projectId: t.project_id, testCaseId: t.test_case_id, suiteId: t.suite_id,
    title: t.title, fullTitle: t.full_title, filePath: t.file_path, lineNumber: t.line_number, variant: t.variant,
    status: t.status, duration: t.duration, retries: t.retries, attempt: t.attempt, isFlaky: t.is_flaky,
    tags: t.tags, annotations: t.annotations, error: t.error ?? null, attempts: t.attempts,
    stdout: t.stdout, stderr: t.stderr, startedAt: t.started_at.toISOString(), createdAt: t.created_at.toISOString(),
  };
}

export function stepView(s: StepRow) {
  return {
    title: s.title, category: s.category, status: s.status, duration: s.duration, error: s.error ?? null,
    depth: s.depth, parentIndex: s.parent_idx,
  };
}
