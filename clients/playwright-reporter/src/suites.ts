import type { Suite, TestCase } from '@playwright/test/reporter';
import type { SuiteSpec } from '../../sdk/src/index.ts';
import { relPath } from './map.ts';

// The describe hierarchy as Runledger suites: file → describe → nested describe.
// The server names a suite by (run, file path, title), so the same file or
// describe in every shard and every Playwright project is one suite of the
// merged run; the reporter keys them the same way.

const keyOf = (filePath: string, title: string) => `${filePath}\u0000${title}`;

// The suites of a test: its file and the describes around it, outermost first.
function chain(test: TestCase, rootDir: string): SuiteSpec[] {
  const describes: string[] = [];
  let s: Suite | undefined = test.parent;
  for (; s && s.type === 'describe'; s = s.parent) describes.unshift(s.title);
  const filePath = relPath(test.location.file, rootDir);
  const out: SuiteSpec[] = [{ key: keyOf(filePath, filePath), title: filePath, filePath, parentKey: null }];
  for (const title of describes) {
    const key = keyOf(filePath, title.slice(0, 2000) || '(untitled)');
    // A describe titled like one around it is the same suite on the server: keep one.
    if (out.some((o) => o.key === key)) continue;
    out.push({ key, title: title.slice(0, 2000) || '(untitled)', filePath, parentKey: out.at(-1)!.key });
  }
  return out;
}

export class SuiteTree {
  readonly specs: SuiteSpec[] = [];
  private readonly byKey = new Map<string, SuiteSpec>();
  private readonly ofTest = new Map<string, string>();

  // Every test this process runs (onBegin's suite holds this shard's tests only).
  constructor(root: Suite, rootDir: string) {
    for (const test of root.allTests()) {
      const specs = chain(test, rootDir);
      for (const spec of specs) {
        // One suite per (file, title), as on the server.
        if (!this.byKey.has(spec.key)) {
          this.byKey.set(spec.key, spec);
          this.specs.push(spec);
        }
      }
      this.ofTest.set(test.id, specs.at(-1)!.key);
    }
  }

  suiteKeyOf(testId: string): string | undefined {
    return this.ofTest.get(testId);
  }
}
