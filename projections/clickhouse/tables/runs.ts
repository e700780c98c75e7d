import { chDateTime } from '../../../lib/clickhouse.ts';
import type { EventOf } from '../../../schemas/events.ts';

export const RUNS_TABLE = 'runs_v1';
const TERMINAL = new Set(['passed', 'failed', 'cancelled']);
const UNKNOWN = -1;

export type RunRow = {
  project_id: string; run_id: string; event_id: string; event_type: string; status: string; branch: string;
  commit_sha: string; ci_build_id: string; run_title: string; created_at: string; updated_at: string; duration_ms: number;
  total_tests: number; passed_tests: number; failed_tests: number; skipped_tests: number; flaky_tests: number;
  _partition: number; _offset: number;
};

export function runCreatedRow(e: EventOf<'run.created'>, partition: number, offset: number): RunRow {
  const d = e.data;
  return {
    project_id: e.projectId, run_id: d.id, event_id: e.id, event_type: e.type, status: d.status,
    branch: d.branch ?? '', commit_sha: d.commitSha ?? '', ci_build_id: d.ciBuildId ?? '', run_title: d.runTitle ?? '',
    created_at: chDateTime(Date.parse(d.createdAt)), updated_at: chDateTime(Date.parse(d.createdAt)),
    duration_ms: UNKNOWN, total_tests: UNKNOWN, passed_tests: UNKNOWN, failed_tests: UNKNOWN, skipped_tests: UNKNOWN,
    flaky_tests: UNKNOWN, _partition: partition, _offset: offset,
  };
}

// Unknown values are -1 / '': a run's state is the latest known value of each column.
export function runUpdatedRow(e: EventOf<'run.updated'>, partition: number, offset: number): RunRow {
  const d = e.data;
  const createdMs = Date.parse(d.run.createdAt);
  const updatedMs = Date.parse(d.updatedAt);
  const duration = d.duration ?? (d.status && TERMINAL.has(d.status) ? Math.max(0, updatedMs - createdMs) : UNKNOWN);
  return {
    project_id: e.projectId, run_id: d.id, event_id: e.id, event_type: e.type, status: d.status ?? '',
    branch: d.run.branch ?? '', commit_sha: d.run.commitSha ?? '', ci_build_id: '', run_title: '',
    created_at: chDateTime(createdMs), updated_at: chDateTime(updatedMs), duration_ms: duration,
    total_tests: d.stats?.totalTests ?? UNKNOWN, passed_tests: d.stats?.passedTests ?? UNKNOWN,
    failed_tests: d.stats?.failedTests ?? UNKNOWN, skipped_tests: d.stats?.skippedTests ?? UNKNOWN,
    flaky_tests: d.stats?.flakyTests ?? UNKNOWN, _partition: partition, _offset: offset,
  };
}
