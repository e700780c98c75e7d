import { chDateTime } from '../../../lib/clickhouse.ts';
import type { KeptResult } from '../kept-event.ts';

export const TEST_RESULTS_TABLE = 'test_results_v1';

export type TestResultRow = {
  project_id: string; test_case_id: string; test_id: string; run_id: string; event_id: string; title: string;
  full_title: string; file_path: string; variant: string; status: string; duration_ms: number; retries: number;
  attempt: number; is_flaky: number; branch: string; commit_sha: string; error_message: string; started_at: string;
  created_at_ms: number; run_created_at: string; _partition: number; _offset: number;
};

// Every column is sent: on 18.16 an omitted one gets its type's zero, not DEFAULT.
export function testResultRow(e: KeptResult, partition: number, offset: number): TestResultRow {
  const d = e.data;
  return {
    project_id: e.projectId,
    test_case_id: d.testCaseId,
    test_id: d.id,
    run_id: d.runId,
    event_id: e.id,
    title: d.title,
    full_title: d.fullTitle,
    file_path: d.filePath,
    variant: d.variant,
    status: d.status,
    duration_ms: Math.min(d.duration, 4_294_967_295),
    retries: Math.min(d.retries, 65_535),
    attempt: Math.min(d.attempt, 65_535),
    is_flaky: d.isFlaky ? 1 : 0,
    branch: d.run.branch ?? '',
    commit_sha: d.run.commitSha ?? '',
    error_message: (d.error?.message ?? '').slice(0, 4000),
    started_at: chDateTime(Date.parse(d.startedAt)),
    created_at_ms: Date.parse(d.createdAt),
    run_created_at: chDateTime(Date.parse(d.run.createdAt)),
    _partition: partition,
    _offset: offset,
  };
}
