import { useMemo, useRef, useState } from 'preact/hooks';
import { Link, useParams } from 'wouter-preact';
import { useVirtualizer } from '@tanstack/react-virtual';
import type { List, Run, TestItem } from '../api';
import { useProject } from '../session';
import { Card, ErrorBox, Loaded, Loading, Stat, StatusBadge, useApi, usePageTitle } from '../ui/kit';
import { duration, pct, runName, shortSha, when } from '../ui/format';
import { useSearchParams } from '../ui/url';
import { useLiveRun } from './live-run';
import { TestDetailPanel } from './test-detail';
import { inSuite, type SuiteNode } from './run-index';

function SuiteTree({ node, selected, select, depth = 0 }: { node: SuiteNode; selected: string; select: (k: string) => void; depth?: number }) {
  return (
    <ul class={depth === 0 ? 'tree' : ''} role={depth === 0 ? 'tree' : 'group'} aria-label={depth === 0 ? 'Suites' : undefined}>
      {[...node.children.values()].map((c) => (
        <li key={c.key} role="treeitem" aria-selected={selected === c.key}>
          <button type="button" class={`link ${selected === c.key ? 'sel' : ''}`} onClick={() => select(selected === c.key ? '' : c.key)}>
            {c.title} <span class="muted">{c.total}</span>
            {c.failed ? <span class="bad"> ✗{c.failed}</span> : null}
            {c.flaky ? <span class="warn"> ~{c.flaky}</span> : null}
          </button>
          {c.children.size ? <SuiteTree node={c} selected={selected} select={select} depth={depth + 1} /> : null}
        </li>
      ))}
    </ul>
  );
}

function RunHeader({ run, live }: { run: Run; live: boolean }) {
  return (
    <Card>
      <div class="run-h">
        <StatusBadge status={run.status} live={live} />
        <div class="stats">
          <Stat label="tests" value={run.totalTests} />
          <Stat label="passed" value={run.passedTests} tone="good" />
          <Stat label="failed" value={run.failedTests} tone={run.failedTests ? 'bad' : ''} />
          <Stat label="flaky" value={run.flakyTests} tone={run.flakyTests ? 'warn' : ''} />
          <Stat label="skipped" value={run.skippedTests} />
          <Stat label="pass rate" value={pct(run.passRate)} />
          <Stat label="duration" value={duration(run.duration)} />
        </div>
      </div>
      <dl class="facts">
        <dt>Branch</dt><dd>{run.branch ?? '–'}</dd>
        <dt>Commit</dt><dd><code>{shortSha(run.commitSha)}</code> {run.commitMessage ? <span>{run.commitMessage.split('\n')[0]}</span> : null} {run.commitAuthor ? <span class="muted">by {run.commitAuthor}</span> : null}</dd>
        <dt>CI</dt><dd>{run.ciBuildUrl && /^https?:\/\//.test(run.ciBuildUrl) ? <a href={run.ciBuildUrl} target="_blank" rel="noopener noreferrer">{run.ciProvider ?? 'build'} {run.ciBuildId ?? ''}</a> : <>{run.ciProvider ?? '–'} {run.ciBuildId ?? ''}</>}</dd>
        <dt>Shards</dt><dd>{run.shardTotal ? `${run.shardTotal} shard${run.shardTotal > 1 ? 's' : ''}` : '–'}</dd>
        <dt>Environment</dt><dd>{[run.browser, run.os].filter(Boolean).join(' · ') || '–'}</dd>
        <dt>Started</dt><dd>{when(run.createdAt)}</dd>
        {run.tags?.length ? <><dt>Tags</dt><dd>{run.tags.map((t) => <span key={t} class="tag">{t}</span>)}</dd></> : null}
      </dl>
    </Card>
  );
}

const ROW = 34;

function TestRows({ tests, quarantined, selected, open }: { tests: TestItem[]; quarantined: Set<string>; selected: string | null; open: (id: string) => void }) {
  const parent = useRef<HTMLDivElement>(null);
  const v = useVirtualizer({ count: tests.length, getScrollElement: () => parent.current, estimateSize: () => ROW, overscan: 12 });
  return (
    <div ref={parent} class="vlist" role="list" aria-label={`Tests (${tests.length})`} tabIndex={0}>
      <div style={{ height: `${v.getTotalSize()}px`, position: 'relative' }}>
        {v.getVirtualItems().map((row) => {
          const t = tests[row.index]!;
          return (
            <div key={t.id} role="listitem" class={`trow ${selected === t.id ? 'sel' : ''}`} style={{ transform: `translateY(${row.start}px)`, height: `${ROW}px` }}>
              <StatusBadge status={t.status} />
              <button type="button" class="link ttitle" onClick={() => open(t.id)} title={t.fullTitle}>{t.fullTitle}</button>
              {t.variant ? <span class="tag">{t.variant}</span> : null}
              {t.isFlaky && t.status !== 'flaky' ? <span class="badge st-flaky">retried</span> : null}
              {quarantined.has(t.testCaseId) ? <span class="badge quarantined" title="Quarantined: its failure does not fail CI">quarantined</span> : null}
              <span class="dur">{duration(t.duration)}</span>
            </div>
          );
        })}
      </div>
    </div>
  );
}

function Compare({ run }: { run: Run }) {
  const [baseline, setBaseline] = useState('');
  const candidates = useApi<List<Run>>('/api/runs', { projectId: run.projectId, limit: 50 });
  const cmp = useApi<any>(baseline ? `/api/runs/${run.id}/compare/${baseline}` : null);
  return (
    <Card title="Compare with…">
      <label>Baseline run{' '}
        <select value={baseline} onChange={(e) => setBaseline(e.currentTarget.value)}>
          <option value="">choose a run</option>
          {(candidates.data?.data ?? []).filter((r) => r.id !== run.id).map((r) => (
            <option key={r.id} value={r.id}>{runName(r)} · {when(r.createdAt)} · {r.branch ?? '–'} · {shortSha(r.commitSha)} · {r.status}</option>
          ))}
        </select>
      </label>
      <ErrorBox error={candidates.error} title="Could not load the runs to compare with" />
      {baseline ? (
        <Loaded q={cmp} what="the comparison">
          {(c) => (
            <div class="compare">
              <p class={`verdict ${c.regression === true ? 'bad' : c.regression === false ? 'good' : ''}`}>
                Verdict: <strong>{c.regression === true ? 'regression' : c.regression === false ? 'no regression' : 'unknown'}</strong>
              </p>
              {c.reasons?.length ? <ul>{c.reasons.map((r: any, i: number) => <li key={i}>{typeof r === 'string' ? r : r.message ?? JSON.stringify(r)}</li>)}</ul> : null}
              <div class="stats">
                {Object.entries(c.counts ?? {}).map(([k, v]) => <Stat key={k} label={k.replace(/([A-Z])/g, ' $1').toLowerCase()} value={v as number} />)}
              </div>
              {c.newFailures?.length ? (
                <>
                  <h3>New failures</h3>
                  <ul>{c.newFailures.map((f: any) => <li key={f.testCaseId}>{f.testTitle ?? f.fullTitle ?? f.testCaseId}{f.error ? <span class="muted"> — {f.error}</span> : null}</li>)}</ul>
                </>
              ) : null}
            </div>
          )}
        </Loaded>
      ) : null}
    </Card>
  );
}

export function RunPage() {
  const { runId } = useParams<{ runId: string }>();
  const live = useLiveRun(runId);
  const [params, set] = useSearchParams();
  const selected = params.get('test');
  const [suite, setSuite] = useState('');
  const [statusFilter, setStatusFilter] = useState('');
  const [search, setSearch] = useState('');
  const run = live.run;
  usePageTitle(run ? `Run ${runName(run)}` : 'Run');
  const { q: projectQ } = useProject(run?.projectId);
  const quarantine = useApi<List<{ testCaseId: string }>>(run ? '/api/quarantine' : null, { projectId: run?.projectId });
  const quarantined = useMemo(() => new Set((quarantine.data?.data ?? []).map((q) => q.testCaseId)), [quarantine.data]);

  const { sorted, tree, failures, size } = live.index;
  const shown = useMemo(() => {
    const s = search.toLowerCase();
    if (!s && !statusFilter && !suite) return sorted;
    return sorted.filter((t) => (!statusFilter || t.status === statusFilter) && inSuite(t, suite) && (!s || t.fullTitle.toLowerCase().includes(s)));
  }, [sorted, statusFilter, suite, search]);

  if (live.error) return <ErrorBox error={live.error} title="Could not load this run" />;
  if (!run) return <Loading what="the run" />;
  return (
    <>
      <p class="crumbs"><Link href={`/projects/${run.projectId}/runs`}>{projectQ.data?.name ?? 'Project'} runs</Link> ›</p>
      <h1>Run {runName(run)} {live.live ? <span class="live-label" aria-live="polite">live</span> : null}</h1>
      <RunHeader run={run} live={live.live} />
      {failures.length ? (
        <Card title={`Failures (${failures.length})`}>
          <ul class="failures">
            {failures.slice(0, 20).map((t) => (
              <li key={t.id}>
                <button type="button" class="link" onClick={() => set({ test: t.id })}>{t.fullTitle}</button>
                {t.error?.message ? <pre class="err-msg">{t.error.message.slice(0, 400)}</pre> : null}
              </li>
            ))}
          </ul>
          {failures.length > 20 ? <p class="muted">…and {failures.length - 20} more in the list below (failures come first).</p> : null}
        </Card>
      ) : null}
      <div class="run-body">
        <aside class="card suites">
          <h2>Suites</h2>
          <SuiteTree node={tree} selected={suite} select={setSuite} />
        </aside>
        <section class="card tests" aria-label="Tests">
          <div class="filters">
            <label>Search <input type="search" value={search} onInput={(e) => setSearch(e.currentTarget.value)} /></label>
            <label>Status
              <select value={statusFilter} onChange={(e) => setStatusFilter(e.currentTarget.value)}>
                <option value="">any</option>
                {['failed', 'timedOut', 'interrupted', 'flaky', 'passed', 'skipped'].map((s) => <option key={s} value={s}>{s}</option>)}
              </select>
            </label>
            <span class="muted" aria-live="polite" data-testid="shown-count">{shown.length} of {size} tests{live.pending ? ` (loading ${live.pending} more…)` : ''}</span>
          </div>
          {live.loading ? <Loading what="tests" /> : <TestRows tests={shown} quarantined={quarantined} selected={selected} open={(id) => set({ test: id })} />}
        </section>
      </div>
      {selected ? <TestDetailPanel testId={selected} close={() => set({ test: null })} /> : null}
      <Compare run={run} />
    </>
  );
}
