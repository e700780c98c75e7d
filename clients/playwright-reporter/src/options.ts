// The reporter's options, checked when Playwright loads it: a wrong one is one
// line on stderr and its default is used; the run is never stopped over it.

export type RunledgerReporterOptions = {
  // API base URL and project API key; default RUNLEDGER_URL and RUNLEDGER_API_KEY.
  url?: string;
  apiKey?: string;
  // The project (default: RUNLEDGER_PROJECT_ID, else the API key's project).
  projectId?: string;
  runTitle?: string;
  tags?: string[];
  // Shards of one CI build report into one run; the build id comes from the CI
  // environment, or from here / RUNLEDGER_BUILD_ID outside CI.
  buildId?: string;
  // File paths are relative to this directory (default: the config's rootDir).
  rootDir?: string;
  // Quarantine-aware exit: when every failure is a quarantined test, the run passes.
  // Default false; RUNLEDGER_QUARANTINE=1 also turns it on.
  quarantine?: boolean;
  // Streaming: a batch every flushIntervalMs, or as soon as batchSize results wait.
  flushIntervalMs?: number;
  batchSize?: number;
  // Results kept in memory while the API is away; more spill to disk (spoolDir).
  maxMemoryResults?: number;
  // Past this many waiting results, new ones are dropped (and counted).
  maxBufferedResults?: number;
  spoolDir?: string;
  // How long onEnd keeps trying to deliver what is left (ms).
  endTimeoutMs?: number;
  uploadAttachments?: boolean;
  // Silence the reporter's own lines (errors at the end are still printed).
  quiet?: boolean;
};

type Kind = 'string' | 'boolean' | 'count' | 'ms' | 'strings';
const KINDS: Record<keyof RunledgerReporterOptions, Kind> = {
  url: 'string', apiKey: 'string', projectId: 'string', runTitle: 'string', tags: 'strings', buildId: 'string', rootDir: 'string',
  quarantine: 'boolean', flushIntervalMs: 'ms', batchSize: 'count', maxMemoryResults: 'count', maxBufferedResults: 'count',
  spoolDir: 'string', endTimeoutMs: 'ms', uploadAttachments: 'boolean', quiet: 'boolean',
};
const WANTED: Record<Kind, string> = {
  string: 'a string', boolean: 'true or false', count: 'a whole number of at least 1', ms: 'a number of milliseconds (0 or more)', strings: 'an array of strings',
};

function fits(kind: Kind, v: unknown): boolean {
  switch (kind) {
    case 'string': return typeof v === 'string';
    case 'boolean': return typeof v === 'boolean';
    case 'count': return Number.isInteger(v) && (v as number) >= 1;
    case 'ms': return typeof v === 'number' && Number.isFinite(v) && v >= 0;
    case 'strings': return Array.isArray(v) && v.every((t) => typeof t === 'string');
  }
}

const show = (v: unknown) => {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
};

// The options that are right, and one line for each that is not. Undefined and
// null mean "not given" (a config often passes process.env.X straight through).
export function readOptions(given: unknown): { options: RunledgerReporterOptions; problems: string[] } {
  const problems: string[] = [];
  if (given === undefined || given === null) return { options: {}, problems };
  if (typeof given !== 'object' || Array.isArray(given)) {
    return { options: {}, problems: [`the reporter's options must be an object, not ${show(given)}: using the defaults`] };
  }
  const options: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(given)) {
    const kind = KINDS[k as keyof RunledgerReporterOptions];
    if (!kind) problems.push(`unknown option '${k}' (ignored; the options are ${Object.keys(KINDS).join(', ')})`);
    else if (v === undefined || v === null) continue;
    else if (!fits(kind, v)) problems.push(`option '${k}' must be ${WANTED[kind]}, not ${show(v)}: using the default`);
    else options[k] = v;
  }
  return { options: options as RunledgerReporterOptions, problems };
}
