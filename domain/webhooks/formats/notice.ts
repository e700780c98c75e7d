// What a chat or paging message says about a webhook event, before any
// service's shape: a title, one line of summary, facts, at most one list (its
// full length kept in `total`, so every format can say "and N more") and a link
// to the dashboard. Each format (slack.ts, teams.ts, discord.ts, pagerduty.ts)
// renders a Notice within its own limits.
//
// Links: `linkBase` is RUNLEDGER_DASHBOARD_URL (else RUNLEDGER_PUBLIC_URL); the
// dashboard serves /runs/:id and /tests/:testCaseId. Without a base, no links.

export type Severity = 'critical' | 'error' | 'warning' | 'info' | 'ok';
export type Notice = {
  title: string;
  summary: string;
  severity: Severity;
  facts: Array<{ name: string; value: string }>;
  list?: { heading: string; items: string[]; total: number };
  link?: { label: string; url: string };
};
// Failed results of a run, for run.failed: not in the JSON envelope (which stays
// the run as GET /api/runs/:id shows it); the dispatcher reads them for the other formats.
export type Failure = { title: string; filePath: string; error: string | null };
export type EventContext = { failures?: Failure[]; failureCount?: number };
export type FormattableEvent = { id: string; event: string; projectId: string; timestamp: string; data: unknown; context?: EventContext };

type Dict = Record<string, any>;
const pct = (x: unknown, scale = 1) => (typeof x === 'number' ? `${Math.round(x * scale * 10_000) / 100}%` : 'n/a');
const short = (sha: unknown) => (typeof sha === 'string' && sha ? sha.slice(0, 12) : 'n/a');
const str = (x: unknown, fallback = 'n/a') => (x === null || x === undefined || x === '' ? fallback : String(x));
const firstLine = (s: string | null | undefined) => (s ? s.split('\n').find((l) => l.trim())?.trim() ?? '' : '');
const duration = (ms: unknown) => (typeof ms === 'number' ? `${Math.round(ms / 100) / 10} s` : 'n/a');

export function linkTo(base: string | null, path: string, label: string): Notice['link'] {
  return base ? { label, url: `${base}${path}` } : undefined;
}

export function noticeOf(e: FormattableEvent, linkBase: string | null): Notice {
  const d = (e.data ?? {}) as Dict;
  switch (e.event) {
    case 'run.completed':
    case 'run.failed': {
      const r = (d.run ?? {}) as Dict;
      const failed = e.event === 'run.failed';
      const failures = e.context?.failures ?? [];
      return {
        title: `${failed ? 'Run failed' : r.status === 'cancelled' ? 'Run cancelled' : 'Run passed'}: ${str(r.runTitle ?? r.branch, r.id)}`,
        summary: `${str(r.failedTests, '0')} failed, ${str(r.passedTests, '0')} passed, ${str(r.flakyTests, '0')} flaky, ${str(r.skippedTests, '0')} skipped of ${str(r.totalTests, '0')} tests`,
        severity: failed ? 'error' : r.status === 'cancelled' ? 'warning' : 'ok',
        facts: [
          { name: 'Branch', value: str(r.branch) }, { name: 'Commit', value: short(r.commitSha) },
          { name: 'Pass rate', value: pct(r.passRate, 0.01) }, { name: 'Duration', value: duration(r.duration) },
        ],
        ...(failed && (e.context?.failureCount ?? 0) > 0 ? {
          list: {
            heading: 'First failures',
            items: failures.map((f) => `${f.title} (${f.filePath})${f.error ? ` — ${firstLine(f.error)}` : ''}`),
            total: e.context!.failureCount!,
          },
        } : {}),
        link: linkTo(linkBase, `/runs/${r.id}`, 'Open run'),
      };
    }
    case 'test.quarantined':
    case 'test.unquarantined': {
      const on = e.event === 'test.quarantined';
      return {
        title: `Test ${on ? 'quarantined' : 'released from quarantine'}`,
        summary: `${str(d.testCaseId)}${d.reason ? `: ${d.reason}` : ''}`,
        severity: on ? 'warning' : 'ok',
        facts: [
          { name: 'Mode', value: str(d.mode) }, { name: 'Owner', value: str(d.owner) },
          ...(on ? [{ name: 'Expires', value: str(d.expiresAt, 'never') }] : []),
        ],
        link: linkTo(linkBase, `/tests/${d.testCaseId}`, 'Open test'),
      };
    }
    case 'test.flaky_detected':
      return {
        title: 'Test became flaky',
        summary: `${str(d.testCaseId)} scored ${typeof d.score === 'number' ? d.score.toFixed(2) : 'n/a'} in run ${str(d.runId)}`,
        severity: 'warning',
        facts: [{ name: 'Branch', value: str(d.branch) }, { name: 'Classification', value: str(d.classification) }],
        link: linkTo(linkBase, `/tests/${d.testCaseId}`, 'Open test'),
      };
    case 'run.regression_detected': {
      const nf = (d.newFailures ?? []) as Dict[];
      return {
        title: `Regression on ${str(d.branch)}`,
        summary: `Run ${str(d.runId)} against ${str(d.baselineRunId)}: ${((d.reasons ?? []) as string[]).join('; ') || 'regression'}`,
        severity: 'error',
        facts: [{ name: 'Branch', value: str(d.branch) }, { name: 'New failures', value: str(d.counts?.newFailures, String(nf.length)) }],
        list: { heading: 'New failures', items: nf.map((c) => `${str(c.title ?? c.fullTitle, c.testCaseId)}${c.error ? ` — ${firstLine(c.error)}` : ''}`), total: Math.max(nf.length, Number(d.counts?.newFailures ?? 0)) },
        link: linkTo(linkBase, `/runs/${d.runId}`, 'Open run'),
      };
    }
    case 'threshold.breached':
    case 'threshold.recovered': {
      const breached = e.event === 'threshold.breached';
      const metric = d.metric === 'flakyRate' ? 'flaky rate' : 'pass rate';
      return {
        title: breached ? `Threshold breached: ${metric}` : `Threshold recovered: ${metric}`,
        summary: `The ${metric} over ${str(d.windowDays)} days is ${pct(d.value)} (bound ${pct(d.bound)}, ${breached ? str(d.direction) : 'back within it'})`,
        severity: breached ? 'critical' : 'ok',
        facts: [{ name: 'Window', value: `${str(d.windowDays)} days` }, { name: 'Executions', value: str(d.executions) }, { name: 'Project', value: str(d.projectId) }],
        link: linkTo(linkBase, `/runs/${d.runId}`, 'Open run'),
      };
    }
    case 'digest.ready': {
      const s = (d.summary ?? {}) as Dict;
      const flaky = (d.newFlakyTests ?? []) as Dict[];
      return {
        title: 'Runledger digest',
        summary: `${str(d.period?.from)} – ${str(d.period?.to)}: ${str(s.executions, '0')} executions, pass rate ${pct(s.passRate)}, flaky rate ${pct(s.flakyRate)}`,
        severity: 'info',
        facts: [
          { name: 'New flaky tests', value: String(flaky.length) },
          { name: 'Quarantine changes', value: String(((d.quarantineChanges ?? []) as unknown[]).length) },
          { name: 'Top error', value: str(((d.topErrors ?? []) as Dict[])[0]?.pattern, 'none') },
        ],
        ...(flaky.length ? { list: { heading: 'New flaky tests', items: flaky.map((t) => `${str(t.title, t.testCaseId)} (${str(t.filePath)})`), total: flaky.length } } : {}),
        link: linkTo(linkBase, '/', 'Open dashboard'),
      };
    }
    default:
      return {
        title: e.event === 'webhook.test' ? 'Runledger test delivery' : e.event,
        summary: typeof d.message === 'string' ? d.message : `${e.event} in project ${e.projectId}`,
        severity: 'info',
        facts: [{ name: 'Project', value: e.projectId }, { name: 'Event', value: e.id }],
        link: linkTo(linkBase, '/', 'Open dashboard'),
      };
  }
}

// At most `n` characters: cut with an ellipsis.
export function clip(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, Math.max(0, n - 1))}…`;
}

// The lines of a list that fit `maxItems` and `maxChars` (joined by newlines),
// with "and N more" for the rest: a long list is shortened, never refused.
export function fitList(items: string[], total: number, maxItems: number, maxChars: number, line = (s: string) => `• ${s}`): string {
  const out: string[] = [];
  let used = 0;
  const more = (n: number) => `and ${n} more`;
  for (const [i, item] of items.entries()) {
    if (out.length >= maxItems) break;
    const l = clip(line(item), Math.min(300, maxChars));
    const reserve = total - i - 1 > 0 ? more(total - i - 1).length + 1 : 0;
    if (used + l.length + 1 + reserve > maxChars) break;
    out.push(l);
    used += l.length + 1;
  }
  const rest = total - out.length;
  if (rest > 0) out.push(more(rest));
  return clip(out.join('\n'), maxChars);
}
