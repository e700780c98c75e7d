// Expected and actual values out of an assertion message, for the error fields
// of a test result. Covers JUnit/AssertJ ("expected: <6> but was: <4>"), Jest,
// Vitest and Playwright ("Expected: 5" / "Received: 4", also "Expected string:"),
// RSpec ("expected: 12.5" / "got: 12.0") and xUnit ("Expected: …" / "Actual: …").
export function expectedActual(text: string): { expected?: string; actual?: string } {
  const plain = stripAnsi(text);
  const junit = /expected:\s*<([\s\S]*?)>\s*but was:\s*<([\s\S]*?)>/.exec(plain);
  if (junit) return { expected: junit[1], actual: junit[2] };
  const lines = /^\s*expected(?: [a-z]+)?:\s*(.+)$[\s\S]*?^\s*(?:received|got|actual)(?: [a-z]+)?:\s*(.+)$/im.exec(plain);
  if (lines) return { expected: lines[1]!.trim(), actual: lines[2]!.trim() };
  return {};
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;
export const stripAnsi = (s: string) => s.replace(ANSI, '');
