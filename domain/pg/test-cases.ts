import type { Queryable } from '../../lib/pg.ts';
import { isId } from '../../schemas/ids.ts';
import { testsRepo } from './tests.ts';

export type TestCaseRow = { id: string; project_id: string; title: string; full_title: string; file_path: string; variant: string };

// A test case by its own id, or by the id of one of its results (where the
// Euriqa contract says `testId`, either is accepted).
export async function findTestCase(db: Queryable, given: string): Promise<TestCaseRow | undefined> {
  let id = given;
  if (isId('test', given)) {
    const test = await testsRepo.byId(db, given);
    if (!test) return undefined;
    id = test.test_case_id;
  }
  return (await db.query('SELECT id, project_id, title, full_title, file_path, variant FROM test_cases WHERE id = $1', [id])).rows[0];
}
