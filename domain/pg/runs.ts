import type { Queryable } from '../../lib/pg.ts';

export type RunRow = {
  id: string; project_id: string; status: string; branch: string | null; commit_sha: string | null;
  commit_message: string | null; commit_author: string | null; ci_provider: string | null; ci_build_id: string | null;
  ci_build_url: string | null; playwright_version: string | null; workers: number | null; shard_current: number | null;
  shard_total: number | null; browser: string | null; os: string | null; viewport: string | null; hostname: string | null;
  run_title: string | null; tags: string[]; total_tests: number; passed_tests: number; failed_tests: number;
  skipped_tests: number; flaky_tests: number; reported_stats: Partial<Record<string, number>> | null; duration: number | null;
  created_at: Date; updated_at: Date;
};

export const runsRepo = {
  async byId(db: Queryable, id: string): Promise<RunRow | undefined> {
    return (await db.query('SELECT * FROM runs WHERE id = $1', [id])).rows[0];
  },
  async list(db: Queryable, q: { projectId: string; status?: string; branch?: string; tag?: string; from?: string; to?: string; limit: number; offset: number }) {
    const where = ['project_id = $1'];
    const args: unknown[] = [q.projectId];
    if (q.status) where.push(`status = $${args.push(q.status)}`);
    if (q.branch) where.push(`branch = $${args.push(q.branch)}`);
    if (q.tag) where.push(`tags @> jsonb_build_array($${args.push(q.tag)}::text)`);
    if (q.from) where.push(`created_at >= $${args.push(q.from)}`);
    if (q.to) where.push(`created_at < $${args.push(q.to)}`);
    const cond = where.join(' AND ');
    const [rows, count] = await Promise.all([
      db.query(`SELECT * FROM runs WHERE ${cond} ORDER BY created_at DESC, id DESC LIMIT ${q.limit} OFFSET ${q.offset}`, args),
      db.query(`SELECT count(*)::int AS n FROM runs WHERE ${cond}`, args),
    ]);
    return { rows: rows.rows as RunRow[], total: count.rows[0].n as number };
  },
};

// What the reporter stated on PATCH wins over what we counted.
export function runCounts(r: RunRow) {
  const s = r.reported_stats ?? {};
  const totalTests = s.totalTests ?? r.total_tests;
  const passedTests = s.passedTests ?? r.passed_tests;
  return {
    totalTests,
    passedTests,
    failedTests: s.failedTests ?? r.failed_tests,
    skippedTests: s.skippedTests ?? r.skipped_tests,
    flakyTests: s.flakyTests ?? r.flaky_tests,
    passRate: totalTests ? Math.round((passedTests / totalTests) * 10000) / 100 : 0,
    duration: r.duration,
  };
}

export function runListView(r: RunRow) {
  return {
    id: r.id, projectId: r.project_id, status: r.status, branch: r.branch, commitSha: r.commit_sha,
    // what names a run in a list: its title, else its commit message or CI build
    runTitle: r.run_title, commitMessage: r.commit_message, ciBuildId: r.ci_build_id,
    ...runCounts(r), createdAt: r.created_at.toISOString(),
  };
}

export function runView(r: RunRow) {
  return {
    id: r.id, projectId: r.project_id, status: r.status, branch: r.branch, commitSha: r.commit_sha,
    commitMessage: r.commit_message, commitAuthor: r.commit_author, ciProvider: r.ci_provider, ciBuildId: r.ci_build_id,
    ciBuildUrl: r.ci_build_url, playwrightVersion: r.playwright_version, workers: r.workers,
    shardCurrent: r.shard_current, shardTotal: r.shard_total, browser: r.browser, os: r.os, viewport: r.viewport,
    hostname: r.hostname, ...runCounts(r), runTitle: r.run_title, tags: r.tags,
    createdAt: r.created_at.toISOString(), updatedAt: r.updated_at.toISOString(),
  };
}
