// Telling a store's rejection of an event from a store that is unwell, and
// isolating the rejected events of a batch (issue 14 §2). Shared by every
// projection that writes a batch to a store in one statement per table.
//
// A data error (the store parsed our request and said no to a value in it)
// will fail the same way on every retry: retrying it stops the partition for
// every tenant on it. Anything else (connection refused, timeout, overload, a
// deadlock, an unknown error) may pass on retry, so it is thrown and the
// consumer retries the batch with backoff.

export type StoreErrorKind = 'data' | 'infrastructure';

// Postgres SQLSTATE classes 22 (data exception: bad json, NUL in text, out of
// range) and 23 (integrity constraint violation).
export function classifyPostgresError(err: unknown): StoreErrorKind {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && /^2[23][0-9A-Z]{3}$/.test(code) ? 'data' : 'infrastructure';
}

// ClickHouse server error codes (src/Common/ErrorCodes.cpp) that mean "this
// value cannot be parsed or stored in this column". Codes about the query or the
// schema (SYNTAX_ERROR, UNKNOWN_TABLE, NO_SUCH_COLUMN...) are not listed: they are
// our bug or a migration in progress, and must not dead-letter good events.
export const CLICKHOUSE_DATA_ERROR_CODES: ReadonlyMap<number, string> = new Map([
  [6, 'CANNOT_PARSE_TEXT'],
  [19, 'SIZE_OF_FIXED_STRING_DOESNT_MATCH'],
  [25, 'CANNOT_PARSE_ESCAPE_SEQUENCE'], // e.g. a lone surrogate \ud800 in a JSON string
  [26, 'CANNOT_PARSE_QUOTED_STRING'],
  [27, 'CANNOT_PARSE_INPUT_ASSERTION_FAILED'],
  [38, 'CANNOT_PARSE_DATE'],
  [41, 'CANNOT_PARSE_DATETIME'],
  [53, 'TYPE_MISMATCH'],
  [69, 'ARGUMENT_OUT_OF_BOUND'],
  [70, 'CANNOT_CONVERT_TYPE'],
  [72, 'CANNOT_PARSE_NUMBER'],
  [117, 'INCORRECT_DATA'],
  [131, 'TOO_LARGE_STRING_SIZE'],
  [321, 'VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE'],
  [349, 'CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN'],
  [376, 'CANNOT_PARSE_UUID'],
  [467, 'CANNOT_PARSE_BOOL'],
]);

// @clickhouse/client's ClickHouseError carries the server's code as a string
// ("25"); transport errors carry Node codes ("ECONNREFUSED") or none. The
// client does not recognise 18.16's message shape ("Code: 25, e.displayText() =
// DB::Exception: ..."), so the code is read from the message then.
export function clickHouseErrorCode(err: unknown): number | null {
  const e = err as { code?: unknown; message?: unknown };
  if (typeof e?.code === 'string' && /^\d+$/.test(e.code)) return Number(e.code);
  if (typeof e?.code === 'number') return e.code;
  const m = typeof e?.message === 'string' ? /^Code: (\d+)[.,]/.exec(e.message) : null;
  return m ? Number(m[1]) : null;
}

export function classifyClickHouseError(err: unknown): StoreErrorKind {
  const code = clickHouseErrorCode(err);
  return code !== null && CLICKHOUSE_DATA_ERROR_CODES.has(code) ? 'data' : 'infrastructure';
}

export type Rejected<T> = { item: T; error: unknown };

// Applies `items` with `attempt`, which must be all-or-nothing (a transaction
// or savepoint, or a store request that writes nothing when it fails to parse).
// On a data error the items are halved, in order, until the rejected ones stand
// alone: k bad items among n cost O(k log n) attempts, and the good ones are
// applied in their original order. `onRejected` is awaited for each rejected
// item as soon as it is isolated, before any later item is attempted, so a
// projection that records progress as it goes (ClickHouse's watermarks) never
// gets past an event it has not dead-lettered yet.
// Infrastructure errors are rethrown as they come: the caller's batch retries.
export async function applyIsolating<T>(
  items: readonly T[],
  attempt: (items: readonly T[]) => Promise<void>,
  classify: (err: unknown) => StoreErrorKind,
  onRejected: (rejected: Rejected<T>) => Promise<void> | void,
): Promise<Array<Rejected<T>>> {
  const rejected: Array<Rejected<T>> = [];
  const run = async (part: readonly T[]): Promise<void> => {
    if (part.length === 0) return;
    try {
      await attempt(part);
      return;
    } catch (error) {
      if (classify(error) !== 'data') throw error;
      if (part.length === 1) {
        const r = { item: part[0]!, error };
        rejected.push(r);
        await onRejected(r);
        return;
      }
    }
    const mid = Math.ceil(part.length / 2);
    await run(part.slice(0, mid));
    await run(part.slice(mid));
  };
  await run(items);
  return rejected;
}

export function rejectionReason(store: string, error: unknown): string {
  const e = error as { code?: unknown; message?: unknown };
  const known = typeof e?.code === 'string' || typeof e?.code === 'number' ? String(e.code) : clickHouseErrorCode(error);
  const code = known !== null ? ` (code ${known})` : '';
  return `${store} rejected the event${code}: ${typeof e?.message === 'string' ? e.message : String(error)}`;
}
