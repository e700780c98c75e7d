import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { metrics, timed } from './metrics.ts';

const observe = (op: string) => (seconds: number, outcome: string) =>
  metrics.dbDuration.observe({ store: 'clickhouse', op, outcome }, seconds);

// ClickHouse must work on 18.16 (tests here) and 24.x (production); see
// docs/clickhouse.md. 18.16 has no server-side query parameters, so every literal
// goes through the escaping helpers below and nowhere else.

const ESCAPES: Record<string, string> = {
  '\\': '\\\\', "'": "\\'", '\n': '\\n', '\r': '\\r', '\t': '\\t', '\0': '\\0', '\b': '\\b', '\f': '\\f',
};

export const sql = {
  str(value: string): string {
    return "'" + String(value).replace(/[\\'\n\r\t\0\b\f]/g, (c) => ESCAPES[c]!) + "'";
  },
  int(value: number): string {
    if (!Number.isSafeInteger(value)) throw new TypeError(`not a safe integer: ${value}`);
    return String(value);
  },
  ident(value: string): string {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(value)) throw new TypeError(`not an identifier: ${value}`);
    return value;
  },
  inList(column: string, values: readonly string[]): string {
    return values.length ? `${column} IN (${values.map(sql.str).join(', ')})` : '0';
  },
};

export class ClickHouse {
  private legacyVersion: boolean | undefined;

  constructor(readonly client: ClickHouseClient, readonly database: string) {}

  static connect(url: string, database: string): ClickHouse {
    const client = createClient({
      url,
      database,
      request_timeout: 60_000,
      compression: { response: true, request: false },
      // 18.16 closes idle keep-alive sockets after 3 s.
      keep_alive: { enabled: true, idle_socket_ttl: 2500 },
      clickhouse_settings: { max_execution_time: 55 },
      // Failures are thrown to the caller, which decides what to log.
      log: { level: ClickHouseLogLevel.OFF },
    });
    return new ClickHouse(client, database);
  }

  // `settings`: per-query settings both versions know (e.g. max_query_size for long IN lists).
  // A SELECT is retried once when the server closed a kept-alive socket just as it
  // was reused (the idle TTL below 3 s narrows that window; a busy client can still hit it).
  select<T>(query: string, settings: Record<string, number> = {}): Promise<T[]> {
    const run = async () => {
      const rs = await this.client.query({ query, format: 'JSONEachRow', clickhouse_settings: { wait_end_of_query: 1, ...settings } });
      return rs.json<T>();
    };
    return timed(observe('select'), async () => {
      try {
        return await run();
      } catch (err) {
        const e = err as { code?: string; message?: string };
        if (e.code !== 'ECONNRESET' && !/socket hang up/i.test(e.message ?? '')) throw err;
        return run();
      }
    });
  }

  async insert(table: string, values: readonly object[]): Promise<void> {
    if (values.length === 0) return;
    await timed(observe('insert'), () => this.client.insert({
      table: sql.ident(table),
      values: values as object[],
      format: 'JSONEachRow',
      clickhouse_settings: { input_format_skip_unknown_fields: 1, date_time_input_format: 'best_effort' },
    }));
  }

  async command(query: string): Promise<void> {
    const legacy = await this.isLegacy();
    await timed(observe('command'), () => this.client.command({
      query,
      clickhouse_settings: legacy ? ({ allow_experimental_low_cardinality_type: 1 } as Record<string, number>) : {},
    }));
  }

  async isLegacy(): Promise<boolean> {
    if (this.legacyVersion === undefined) {
      const rows = await this.select<{ v: string }>('SELECT version() AS v');
      this.legacyVersion = rows[0]?.v.startsWith('18.') ?? false;
    }
    return this.legacyVersion;
  }

  async ping(): Promise<boolean> {
    const r = await this.client.ping();
    return r.success;
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

// A ClickHouse DateTime literal for JSONEachRow: 'YYYY-MM-DD hh:mm:ss' in UTC.
export function chDateTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}
