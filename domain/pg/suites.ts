import type { Queryable } from '../../lib/pg.ts';
import type { SuiteNode } from '../../schemas/api.ts';

type SuiteRow = { id: string; run_id: string; project_id: string; title: string; file_path: string | null; parent_suite_id: string | null };

export const suitesRepo = {
  async ofRun(db: Queryable, runId: string): Promise<SuiteRow[]> {
    return (await db.query('SELECT * FROM suites WHERE run_id = $1 ORDER BY created_at, id', [runId])).rows;
  },
};

// Nest suites under their parents; a suite whose parent is unknown is a root.
export function suiteTree(rows: SuiteRow[]): SuiteNode[] {
  const nodes = new Map<string, SuiteNode>(
    rows.map((r) => [r.id, { id: r.id, title: r.title, filePath: r.file_path, parentSuiteId: r.parent_suite_id, children: [] }]),
  );
  const roots: SuiteNode[] = [];
  for (const n of nodes.values()) {
    const parent = n.parentSuiteId && n.parentSuiteId !== n.id ? nodes.get(n.parentSuiteId) : undefined;
    (parent ? parent.children : roots).push(n);
  }
  return roots;
}
