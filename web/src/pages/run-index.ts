import type { TestItem } from '../api';

// A run's results as the run page shows them: failures first, then by title,
// and the suite tree (file, then each describe block of the full title) with
// counts. Results arrive in pages and live, in batches: a batch of new results
// is sorted alone and merged in, and only its results are added to the tree,
// so a page or a live batch costs its own size, not the run's. A result that
// changes after it was indexed (a live replay with a new status) rebuilds both.

const ORDER: Record<string, number> = { failed: 0, timedOut: 0, interrupted: 1, flaky: 2, passed: 3, skipped: 4 };
export const isFailure = (s: string) => s === 'failed' || s === 'timedOut' || s === 'interrupted';
// (localeCompare or one Intl.Collator: 5 to 20 ms for 5,000 results in Chromium
// either way, neither ahead in every run of bench/dashboard.ts runPageCpu; the
// sort's cost is per batch now, and the requests dominate the page's time.)
export const byFailureThenTitle = (a: TestItem, b: TestItem) =>
  (ORDER[a.status] ?? 5) - (ORDER[b.status] ?? 5) || a.fullTitle.localeCompare(b.fullTitle);

export type SuiteNode = { key: string; title: string; children: Map<string, SuiteNode>; total: number; failed: number; flaky: number };

const SEP = '\u0000';
export const suitePath = (t: TestItem) => [t.filePath || '(no file)', ...t.fullTitle.split(/ > | › /).slice(0, -1)];
// The tree key of a result's innermost suite (a prefix of it selects the result).
export const suiteKey = (t: TestItem) => suitePath(t).join(SEP);
export const inSuite = (t: TestItem, key: string) => !key || (suiteKey(t) + SEP).startsWith(key + SEP);

const node = (key: string, title: string): SuiteNode => ({ key, title, children: new Map(), total: 0, failed: 0, flaky: 0 });

function addToTree(root: SuiteNode, t: TestItem) {
  const count = (n: SuiteNode) => {
    n.total++;
    if (isFailure(t.status)) n.failed++;
    if (t.status === 'flaky' || t.isFlaky) n.flaky++;
  };
  count(root);
  let n = root;
  let key = '';
  for (const part of suitePath(t)) {
    key = key ? `${key}${SEP}${part}` : part;
    let c = n.children.get(part);
    if (!c) n.children.set(part, (c = node(key, part)));
    count(c);
    n = c;
  }
}

// Two sorted arrays into one (the run's results and a sorted batch of new ones).
function merge(a: TestItem[], b: TestItem[]): TestItem[] {
  if (!a.length) return b;
  if (!b.length) return a;
  const out = new Array<TestItem>(a.length + b.length);
  let i = 0, j = 0, k = 0;
  while (i < a.length && j < b.length) out[k++] = byFailureThenTitle(b[j]!, a[i]!) < 0 ? b[j++]! : a[i++]!;
  while (i < a.length) out[k++] = a[i++]!;
  while (j < b.length) out[k++] = b[j++]!;
  return out;
}

export class RunIndex {
  readonly byId = new Map<string, TestItem>();
  sorted: TestItem[] = [];
  failures: TestItem[] = [];
  tree: SuiteNode = node('', '');
  private pending: TestItem[] = [];
  private changed = false;

  get size() {
    return this.byId.size;
  }

  // A result from a page: kept only if the stream did not bring it first.
  addIfNew(t: TestItem) {
    if (this.byId.has(t.id)) return;
    this.byId.set(t.id, t);
    this.pending.push(t);
  }

  // A result from the live stream: the latest word on it.
  put(t: TestItem) {
    const known = this.byId.get(t.id);
    this.byId.set(t.id, t);
    if (known) this.changed = true;
    else this.pending.push(t);
  }

  // Brings the order and the tree up to date with what was added since the last call.
  flush() {
    if (this.changed) {
      this.changed = false;
      this.pending = [];
      this.sorted = [...this.byId.values()].sort(byFailureThenTitle);
      this.tree = node('', '');
      for (const t of this.sorted) addToTree(this.tree, t);
    } else if (this.pending.length) {
      const batch = this.pending.sort(byFailureThenTitle);
      this.pending = [];
      this.sorted = merge(this.sorted, batch);
      for (const t of batch) addToTree(this.tree, t);
    } else {
      return;
    }
    // failures sort first: they are the head of the list
    const end = this.sorted.findIndex((t) => !isFailure(t.status));
    this.failures = this.sorted.slice(0, end < 0 ? this.sorted.length : end);
  }
}
