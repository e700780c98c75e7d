import type { Queryable } from '../../lib/pg.ts';

// One page of a list and the total it is a page of, in two statements run side
// by side. `limit` and `offset` are validated integers (schemas' Pagination).
export async function page<T>(db: Queryable, q: {
  from: string; where: string; args: unknown[]; orderBy: string; limit: number; offset: number; select?: string;
}): Promise<{ rows: T[]; total: number }> {
  const [rows, count] = await Promise.all([
    db.query(`SELECT ${q.select ?? '*'} FROM ${q.from} WHERE ${q.where} ORDER BY ${q.orderBy} LIMIT ${q.limit} OFFSET ${q.offset}`, q.args),
    db.query(`SELECT count(*)::int AS n FROM ${q.from} WHERE ${q.where}`, q.args),
  ]);
  return { rows: rows.rows as T[], total: count.rows[0].n as number };
}
