export {};

// ES2024 (Node 20 has them; the TypeScript lib target here predates them)
declare global {
  interface String {
    isWellFormed(): boolean;
    toWellFormed(): string;
  }
}

// The one text rule (docs/errors.md): text that enters through a body or a
// query string is made well-formed before anything is built from it. A lone
// surrogate (which no store can hold: ClickHouse and Postgres JSON refuse it)
// and U+0000 (which Postgres text cannot hold) each become U+FFFD. Replaced,
// not refused: a reporter's stdout or error message with a stray byte keeps
// its result instead of losing it to a 400. Lengths do not change (one UTF-16
// unit for one), so bounds checked afterwards mean the same.

export function wellFormed(s: string): string {
  if (s.isWellFormed() && !s.includes('\u0000')) return s;
  return s.toWellFormed().replaceAll('\u0000', '\uFFFD');
}

export function isWellFormedDeep(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length) {
    const v = stack.pop();
    if (typeof v === 'string') {
      if (wellFormed(v) !== v) return false;
    } else if (v && typeof v === 'object') {
      for (const [k, child] of Object.entries(v)) {
        if (wellFormed(k) !== k) return false;
        stack.push(child);
      }
    }
  }
  return true;
}

// Strings, object keys and array items, at any depth; walked with a stack, not
// recursion: bodies may nest deeper than the call stack. Objects and arrays are
// fixed in place (they are fresh from the parser); the value is returned for a
// top-level string.
export function wellFormedDeep(value: unknown): unknown {
  if (typeof value === 'string') return wellFormed(value);
  const stack: unknown[] = [value];
  while (stack.length) {
    const v = stack.pop();
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        if (typeof v[i] === 'string') v[i] = wellFormed(v[i]);
        else if (v[i] && typeof v[i] === 'object') stack.push(v[i]);
      }
    } else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      for (const k of Object.keys(o)) {
        let child = o[k];
        if (typeof child === 'string') child = wellFormed(child);
        else if (child && typeof child === 'object') stack.push(child);
        const key = wellFormed(k);
        if (key !== k) delete o[k];
        o[key] = child;
      }
    }
  }
  return value;
}
