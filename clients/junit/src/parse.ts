import { createReadStream } from 'node:fs';
import sax from 'sax';

// A streaming reader of JUnit XML: one pass over the file with sax (strict XML),
// never a DOM, so a 200 MB report costs a 64 KiB window plus the test case being
// read. Text longer than `maxTextBytes` (a huge system-out) is cut while it
// streams. A DOCTYPE is refused outright: no internal entity is ever expanded
// (billion laughs) and no external one resolved (XXE); sax itself does neither.

export type JUnitFailure = { kind: 'failure' | 'error'; message: string; type: string | null; stack: string };

export type JUnitCase = {
  // Which <testsuite> element (in document order) holds the case: repeated
  // cases are retries only within one suite.
  suiteIndex: number;
  suites: string[];
  // The `file` attribute of each of those suites (null where it has none).
  suiteFiles: Array<string | null>;
  suiteFile: string | null;
  name: string;
  classname: string;
  file: string | null;
  line: number | null;
  durationMs: number;
  skipped: { message: string } | null;
  failures: JUnitFailure[];
  // Surefire/Failsafe reruns: failed runs before a pass, and failed reruns after a failure.
  flakyRuns: JUnitFailure[];
  reruns: JUnitFailure[];
  stdout: string;
  stderr: string;
  properties: Array<[string, string]>;
};

export class JUnitParseError extends Error {
  constructor(readonly file: string, message: string, readonly line: number | null = null, readonly column: number | null = null) {
    super(`${file}${line !== null ? `:${line}:${column}` : ''}: ${message}`);
    this.name = 'JUnitParseError';
  }
}

export type ParseOptions = { maxTextBytes?: number };
export type ParseSummary = { suites: number; cases: number };

const RERUN = new Set(['flakyFailure', 'flakyError', 'rerunFailure', 'rerunError']);
const SUITE_ROOTS = new Set(['testsuites', 'testsuite']);

class Text {
  private parts: string[] = [];
  private size = 0;
  truncated = false;
  constructor(private max: number) {}
  add(s: string) {
    if (this.size >= this.max) {
      this.truncated ||= s.length > 0;
      return;
    }
    const room = this.max - this.size;
    const part = s.length > room ? s.slice(0, room) : s;
    this.truncated ||= part.length < s.length;
    this.parts.push(part);
    this.size += part.length;
  }
  value(): string {
    const v = this.parts.join('');
    return this.truncated ? `${v}\n[… cut by the uploader at ${this.max} characters]` : v;
  }
}

const num = (s: string | undefined): number | null => {
  if (s === undefined || s.trim() === '') return null;
  const n = Number(s.replace(/,/g, ''));
  return Number.isFinite(n) ? n : null;
};

// The encoding a report declares (BOM first, then the XML declaration).
function encodingOf(head: Buffer): string {
  if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) return 'utf-8';
  if (head[0] === 0xff && head[1] === 0xfe) return 'utf-16le';
  if (head[0] === 0xfe && head[1] === 0xff) return 'utf-16be';
  const decl = /^<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']/.exec(head.subarray(0, 200).toString('latin1'));
  return decl ? decl[1]!.toLowerCase() : 'utf-8';
}

// Reads `path`, calling `onCase` for each test case in document order; awaits it
// (backpressure) after each chunk. Throws JUnitParseError for anything that is
// not a well-formed JUnit report.
export async function parseJUnitFile(path: string, onCase: (c: JUnitCase) => void | Promise<void>, opts: ParseOptions = {}): Promise<ParseSummary> {
  const maxText = opts.maxTextBytes ?? 1_000_000;
  const parser = sax.parser(true, { trim: false, normalize: false, position: true, strictEntities: true } as sax.SAXOptions);
  const fail = (message: string): never => {
    throw new JUnitParseError(path, message, parser.line + 1, parser.column + 1);
  };
  const ready: JUnitCase[] = [];
  const suites: Array<{ name: string; file: string | null; index: number }> = [];
  let suiteCount = 0;
  let cases = 0;
  let depth = 0;
  let sawRoot = false;
  let tc: JUnitCase | null = null;
  let tcDepth = -1;
  let rerun: JUnitFailure | null = null;
  let failure: JUnitFailure | null = null;
  let capture: { text: Text; done: (v: string) => void } | null = null;
  let property: { name: string; text: Text } | null = null;

  const startCapture = (done: (v: string) => void) => {
    capture = { text: new Text(maxText), done };
  };

  parser.onerror = (err) => {
    const why = err.message.split('\n')[0]!;
    if (/Invalid character entity/.test(why)) fail("an entity reference other than XML's five (&amp; &lt; &gt; &quot; &apos;) or a numeric one: entities are never expanded");
    fail(`${sawRoot ? 'not well-formed XML' : 'not XML'}: ${why}`);
  };
  parser.ondoctype = () => fail('DOCTYPE declarations are refused: JUnit reports have none, and entities in them are a known attack (entity bombs, external entities)');
  parser.onopentag = (node) => {
    const name = node.name;
    const a = node.attributes as Record<string, string>;
    depth++;
    if (!sawRoot) {
      sawRoot = true;
      if (!SUITE_ROOTS.has(name)) fail(`not a JUnit report: the root element is <${name}>, not <testsuites> or <testsuite>`);
    }
    if (tc) {
      if (rerun) {
        if (name === 'stackTrace') startCapture((v) => (rerun!.stack = v));
        return;
      }
      if (name === 'failure' || name === 'error') {
        failure = { kind: name, message: a.message ?? '', type: a.type ?? null, stack: '' };
        tc.failures.push(failure);
        startCapture((v) => (failure!.stack = v));
      } else if (RERUN.has(name)) {
        rerun = { kind: /Error$/.test(name) ? 'error' : 'failure', message: a.message ?? '', type: a.type ?? null, stack: '' };
        (name.startsWith('flaky') ? tc.flakyRuns : tc.reruns).push(rerun);
      } else if (name === 'skipped') {
        const skipped = { message: a.message ?? '' };
        tc.skipped = skipped;
        startCapture((v) => {
          if (!skipped.message) skipped.message = v.trim();
        });
      } else if (name === 'system-out' && depth === tcDepth + 1) startCapture((v) => (tc!.stdout += v));
      else if (name === 'system-err' && depth === tcDepth + 1) startCapture((v) => (tc!.stderr += v));
      else if (name === 'property' && a.name) {
        if (a.value !== undefined) tc.properties.push([a.name, a.value]);
        else property = { name: a.name, text: new Text(5000) };
      }
      return;
    }
    if (name === 'testsuite') {
      suites.push({ name: a.name ?? '', file: a.file ?? a.filepath ?? null, index: suiteCount++ });
    } else if (name === 'testcase') {
      const inner = suites.at(-1);
      tcDepth = depth;
      tc = {
        suiteIndex: inner?.index ?? -1,
        suites: suites.map((s) => s.name),
        suiteFiles: suites.map((s) => s.file),
        suiteFile: [...suites].reverse().find((s) => s.file)?.file ?? null,
        name: a.name ?? '',
        classname: a.classname ?? a.class ?? '',
        file: a.file ?? a.filepath ?? null,
        line: num(a.line),
        durationMs: Math.max(0, Math.round((num(a.time) ?? 0) * 1000)),
        skipped: null, failures: [], flakyRuns: [], reruns: [], stdout: '', stderr: '', properties: [],
      };
      if (!tc.name) fail('a <testcase> without a name');
    }
  };
  const onText = (t: string) => {
    if (capture) capture.text.add(t);
    else if (property) property.text.add(t);
  };
  parser.ontext = onText;
  parser.oncdata = onText;
  parser.onclosetag = (name) => {
    if (capture && (name === 'failure' || name === 'error' || name === 'skipped' || name === 'system-out' || name === 'system-err' || name === 'stackTrace')) {
      capture.done(capture.text.value());
      capture = null;
    }
    if (tc) {
      if (name === 'property' && property) {
        tc.properties.push([property.name, property.text.value()]);
        property = null;
      } else if (rerun && RERUN.has(name)) rerun = null;
      else if (name === 'failure' || name === 'error') failure = null;
      else if (name === 'testcase' && depth === tcDepth) {
        ready.push(tc);
        cases++;
        tc = null;
      }
    } else if (name === 'testsuite') suites.pop();
    depth--;
  };

  const stream = createReadStream(path, { highWaterMark: 64 * 1024 });
  let decoder: TextDecoder | null = null;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (!decoder) {
        const enc = encodingOf(chunk);
        try {
          decoder = new TextDecoder(enc, { fatal: true, ignoreBOM: false });
        } catch {
          fail(`unsupported encoding ${enc}`);
        }
      }
      let text: string;
      try {
        text = decoder!.decode(chunk, { stream: true });
      } catch {
        throw new JUnitParseError(path, `not text in its declared encoding (${decoder!.encoding}): is it a JUnit XML file?`);
      }
      parser.write(text);
      for (const c of ready.splice(0)) await onCase(c);
    }
    if (!decoder) throw new JUnitParseError(path, 'the file is empty');
    parser.write(decoder.decode());
    parser.close();
  } catch (err) {
    stream.destroy();
    if (err instanceof JUnitParseError) throw err;
    const e = err as NodeJS.ErrnoException;
    if (e.code) throw new JUnitParseError(path, `cannot be read: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
    throw new JUnitParseError(path, e.message);
  }
  if (!sawRoot) throw new JUnitParseError(path, 'not XML: no root element');
  for (const c of ready.splice(0)) await onCase(c);
  return { suites: suiteCount, cases };
}
