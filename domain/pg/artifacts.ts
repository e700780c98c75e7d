import type { Queryable } from '../../lib/pg.ts';
import { page } from './page.ts';

export type ArtifactRow = {
  id: string; run_id: string; project_id: string; test_id: string | null; type: string; file_name: string; file_size: number;
  mime_type: string; storage_key: string; sha256: string; created_at: Date;
};

export const artifactsRepo = {
  async byId(db: Queryable, id: string): Promise<ArtifactRow | undefined> {
    return (await db.query('SELECT * FROM artifacts WHERE id = $1', [id])).rows[0];
  },
  // A run's artifacts, or one test's, oldest first.
  list(db: Queryable, q: { runId: string; testId?: string; type?: string; limit: number; offset: number }) {
    const where = ['run_id = $1'];
    const args: unknown[] = [q.runId];
    if (q.testId) where.push(`test_id = $${args.push(q.testId)}`);
    if (q.type) where.push(`type = $${args.push(q.type)}`);
    return page<ArtifactRow>(db, { from: 'artifacts', where: where.join(' AND '), args, orderBy: 'created_at, id', limit: q.limit, offset: q.offset });
  },
  async ofTest(db: Queryable, testId: string): Promise<ArtifactRow[]> {
    return (await db.query('SELECT * FROM artifacts WHERE test_id = $1 ORDER BY created_at, id', [testId])).rows;
  },
};
