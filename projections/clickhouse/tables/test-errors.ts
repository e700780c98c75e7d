import { createHash } from 'node:crypto';
import { chDateTime } from '../../../lib/clickhouse.ts';
import type { TestError } from '../../../schemas/events.ts';
import type { KeptResult } from '../kept-event.ts';

export const TEST_ERRORS_TABLE = 'test_errors_v1';

export type TestErrorRow = {
  project_id: string; test_case_id: string; test_id: string; run_id: string; event_id: string; status: string;
  from_attempt: number; branch: string; commit_sha: string; started_at: string; fingerprint: string;
  message_pattern: string; top_frame: string; sample_message: string; _partition: number; _offset: number;
};

// Error clusters: the same failure seen in many results should have one
// fingerprint, whatever ids, numbers, timings and paths it mentions. The
// fingerprint is a hash of the normalised first line of the message and the
// normalised top stack frame of the test's own code.

// Order matters: the specific shapes first, bare numbers last.
const MESSAGE_RULES: Array<[RegExp, string]> = [
  [/\u001b\[[0-9;]*[A-Za-z]/g, ''], // ANSI colours
  [/\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?\b/g, '<time>'],
  [/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<uuid>'],
  [/\b[a-z]{2,12}_[0-9A-HJKMNP-TV-Z]{26}\b/g, '<id>'], // our own prefixed ids
  [/\b[0-9A-HJKMNP-TV-Z]{26}\b/g, '<id>'], // bare ULIDs
  [/\bhttps?:\/\/[^\s'"`)\]]+/gi, '<url>'],
  [/(?:[A-Za-z]:|[\w.@+-]+)?(?:[\\/][\w.@+-]+){2,}[\\/]?/g, '<path>'],
  [/\b0x[0-9a-f]+\b/gi, '<hex>'],
  [/\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,}\b/gi, '<hex>'], // commit shas, hashes
  [/\b\d+(\.\d+)?\s?(ms|s|sec|secs|seconds|m|min|minutes|h)\b/gi, '<duration>'],
  [/\d+(\.\d+)?/g, '<n>'],
  [/\s+/g, ' '],
];

export function normaliseMessage(message: string): string {
  const firstLine = message.split(/\r?\n/).map((l) => l.trim()).find((l) => l.length > 0) ?? '';
  let out = firstLine.slice(0, 1000);
  for (const [re, to] of MESSAGE_RULES) out = out.replace(re, to);
  return out.trim().slice(0, 300);
}

// The first frame of the stack that is not Node's or a dependency's, as
// "function (file)": line and column numbers and directories dropped.
export function topFrame(stack: string | undefined, location?: TestError['location']): string {
  for (const line of (stack ?? '').split(/\r?\n/)) {
    const m = /^\s*at\s+(?:(.*?)\s+\()?(.*?)(?::\d+)?(?::\d+)?\)?\s*$/.exec(line);
    if (!m) continue;
    const file = m[2] ?? '';
    if (!file || file.startsWith('node:') || file.includes('node_modules') || file.startsWith('internal/')) continue;
    return frameText(m[1], file);
  }
  return location?.file ? frameText(undefined, location.file) : '';
}

function frameText(fn: string | undefined, file: string): string {
  const base = file.replace(/^file:\/\//, '').split(/[\\/]/).pop() ?? '';
  const name = (fn ?? '').replace(/^async\s+/, '').replace(/\[as [^\]]*\]/, '').trim();
  return (name ? `${name} (${base})` : base).slice(0, 300);
}

export function errorFingerprint(messagePattern: string, frame: string): string {
  return createHash('sha256').update(`${messagePattern}\n${frame}`).digest('hex').slice(0, 16);
}

// The error a result shows: its own, or for a result that passed on a retry the
// last failed attempt's. Results without any error have no row.
export function testErrorRow(e: KeptResult, partition: number, offset: number): TestErrorRow | null {
  const d = e.data;
  const attemptError = [...d.attempts].reverse().find((a) => a.error && (a.error.message || a.error.stack))?.error ?? null;
  const error = d.error && (d.error.message || d.error.stack) ? d.error : attemptError;
  if (!error) return null;
  const messagePattern = normaliseMessage(error.message || (error.stack ?? ''));
  const frame = topFrame(error.stack, error.location);
  return {
    project_id: e.projectId,
    test_case_id: d.testCaseId,
    test_id: d.id,
    run_id: d.runId,
    event_id: e.id,
    status: d.status,
    from_attempt: error === d.error ? 0 : 1,
    branch: d.run.branch ?? '',
    commit_sha: d.run.commitSha ?? '',
    started_at: chDateTime(Date.parse(d.startedAt)),
    fingerprint: errorFingerprint(messagePattern, frame),
    message_pattern: messagePattern,
    top_frame: frame,
    sample_message: (error.message || '').slice(0, 1000),
    _partition: partition,
    _offset: offset,
  };
}
