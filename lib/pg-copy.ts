import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import copyStreams from 'pg-copy-streams';
import type { PoolClient } from './pg.ts';

// COPY … FROM STDIN in text format: Postgres' fastest way to write many rows
// (issue 15: the bar the Postgres projection is measured against).

// One value in COPY's text format: \N is NULL, objects are written as JSON (for
// json/jsonb columns), and backslash, newline, carriage return and tab are escaped.
export function copyValue(v: unknown): string {
  if (v === null || v === undefined) return '\\N';
  const s = typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[\\\n\r\t]/.test(s) ? s.replace(/[\\\n\r\t]/g, (c) => ESCAPED[c]!) : s;
}
const ESCAPED: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

export const copyLine = (values: readonly unknown[]): string => values.map(copyValue).join('\t') + '\n';

// Writes `lines` (from copyLine) into `table (columns)`. It runs on the
// caller's client, so inside its transaction; a value the column refuses fails
// the whole COPY with the usual SQLSTATE (22P02, 22P05, ...), writing nothing.
export async function copyInto(client: PoolClient, table: string, columns: readonly string[], lines: readonly string[]): Promise<void> {
  if (lines.length === 0) return;
  const stream = client.query(copyStreams.from(`COPY ${table} (${columns.join(', ')}) FROM STDIN`));
  await pipeline(Readable.from([lines.join('')]), stream);
}
