import type { RunledgerClient } from './client.ts';
import type { BatchItem } from './types.ts';

// Suites of a run (POST /api/ingest/batch items of type `suite`). The server
// names a suite by (run, file path, title), so the same suite reported by two
// shards of one build is one suite of the merged run. `key` is the caller's name
// for a suite; `parentKey` names one earlier in the list, or one already sent.
export type SuiteSpec = { key: string; title: string; filePath: string | null; parentKey: string | null };

const CHUNK = 500;

// Creates the suites not in `known` yet, parents first, and adds their ids to it.
// Answers one line per suite the server refused; throws when a send fails (then
// nothing is lost: call again, and only what is still missing is sent).
export async function sendSuites(client: RunledgerClient, runId: string, specs: SuiteSpec[], known: Map<string, string>): Promise<string[]> {
  const refused: string[] = [];
  const missing = specs.filter((s) => !known.has(s.key));
  for (let i = 0; i < missing.length; i += CHUNK) {
    const chunk = missing.slice(i, i + CHUNK);
    const refOf = new Map(chunk.map((s, j) => [s.key, `s${j}`]));
    const items = chunk.map((s, j) => {
      const parent = s.parentKey === null ? {}
        : refOf.has(s.parentKey) ? { parentSuiteRef: refOf.get(s.parentKey) }
        : known.has(s.parentKey) ? { parentSuiteId: known.get(s.parentKey) } : {};
      return { type: 'suite', runId, title: s.title, ...(s.filePath ? { filePath: s.filePath } : {}), ref: `s${j}`, ...parent } as BatchItem;
    });
    const res = await client.batch(items);
    for (const r of res.body.results) {
      const spec = chunk[r.index];
      if (!spec) continue;
      if (r.status === 'accepted') known.set(spec.key, r.id);
      else refused.push(`${spec.filePath ? `${spec.filePath} › ` : ''}${spec.title}: ${r.error.code}: ${r.error.message}`);
    }
  }
  return refused;
}
