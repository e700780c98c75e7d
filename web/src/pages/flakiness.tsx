import { useState } from 'preact/hooks';
import { Link, useParams } from 'wouter-preact';
import { useQueryClient } from '@tanstack/react-query';
import { post } from '../api';
import { useProject } from '../session';
import { Card, ErrorBox, Loaded, Stat, useApi, usePageTitle } from '../ui/kit';
import { ago } from '../ui/format';
import { useSearchParams } from '../ui/url';
import { LineChart } from '../ui/chart';
import type { FlakyItem } from './test-case';

type FlakyList = { data: FlakyItem[]; total: number; summary: { totalFlakyTests: number; quarantinedTests: number; brokenTests: number; testsScored: number; averageFlakinessScore: number }; asOf: string; source: string };
type Move = { from: 'new' | 'stable' | 'flaky' | 'broken'; to: 'stable' | 'flaky' | 'broken'; count: number };
type Transitions = { buckets: Array<{ start: string; stable: number; flaky: number; broken: number; transitions: Move[] }> };

// Test cases by state per day, and the moves between states (GET /api/flakiness/transitions).
function TransitionsChart({ projectId, branch }: { projectId: string; branch: string }) {
  const t = useApi<Transitions>('/api/flakiness/transitions', { projectId, period: '30d', interval: 'day', branch });
  return (
    <Loaded q={t} what="transitions">
      {(d) => {
        const x = d.buckets.map((b) => Date.parse(`${b.start}T00:00:00Z`) / 1000);
        const moved = (to: Move['to']) => d.buckets.map((b) => b.transitions.filter((m) => m.to === to && m.from !== 'new' && m.from !== to).reduce((a, m) => a + m.count, 0));
        return (
          <div class="charts">
            <LineChart title="Test cases by state per day" x={x} series={[
              { label: 'stable', values: d.buckets.map((b) => b.stable), color: '#15803d' },
              { label: 'flaky', values: d.buckets.map((b) => b.flaky), color: '#c2410c' },
              { label: 'broken', values: d.buckets.map((b) => b.broken), color: '#be123c' },
            ]} />
            <LineChart title="Moves between states per day" x={x} series={[
              { label: 'became flaky', values: moved('flaky'), color: '#c2410c' },
              { label: 'became broken', values: moved('broken'), color: '#be123c' },
              { label: 'became stable', values: moved('stable'), color: '#15803d' },
            ]} />
          </div>
        );
      }}
    </Loaded>
  );
}

export function FlakinessPage() {
  const { projectId } = useParams<{ projectId: string }>();
  const { project, canWrite } = useProject(projectId);
  usePageTitle(`Flakiness · ${project?.name ?? ''}`);
  const qc = useQueryClient();
  const [params, set] = useSearchParams();
  const classification = params.get('classification') ?? '';
  const quarantined = params.get('quarantined') ?? '';
  const branch = params.get('branch') ?? '';
  const list = useApi<FlakyList>('/api/flakiness', { projectId, classification, quarantined, branch, limit: 200 });
  const [picked, setPicked] = useState<Set<string>>(new Set());
  const [reason, setReason] = useState('');
  const [bulkError, setBulkError] = useState<unknown>(null);
  const [done, setDone] = useState('');
  const toggle = (id: string) => setPicked((s) => {
    const n = new Set(s);
    if (n.has(id)) n.delete(id);
    else n.add(id);
    return n;
  });
  const bulk = async (isQuarantined: boolean) => {
    setBulkError(null);
    setDone('');
    const ids = [...picked];
    const results = await Promise.allSettled(ids.map((testId) => post('/api/flakiness', { testId, projectId, isQuarantined, reason: reason || undefined })));
    const failed = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    if (failed.length) setBulkError(failed[0]!.reason);
    setDone(`${ids.length - failed.length} of ${ids.length} ${isQuarantined ? 'quarantined' : 'released'}.`);
    setPicked(new Set());
    setTimeout(() => qc.invalidateQueries({ queryKey: ['/api/flakiness'] }), 500);
  };
  return (
    <>
      <h1>Flakiness{project ? <span class="muted"> · {project.name}</span> : null}</h1>
      <Loaded q={list} what="flakiness">
        {(l) => (
          <>
            <div class="stats card">
              <Stat label="flaky tests" value={l.summary.totalFlakyTests} tone="warn" />
              <Stat label="broken tests" value={l.summary.brokenTests} tone="bad" />
              <Stat label="quarantined" value={l.summary.quarantinedTests} />
              <Stat label="tests scored" value={l.summary.testsScored} />
            </div>
            <Card title="Transitions"><TransitionsChart projectId={projectId} branch={branch} /></Card>
            <form class="filters" aria-label="Filter tests" onSubmit={(e) => e.preventDefault()}>
              <label>Classification
                <select value={classification} onChange={(e) => set({ classification: e.currentTarget.value })}>
                  <option value="">any</option>
                  {['flaky', 'broken', 'stable', 'insufficient_data'].map((c) => <option key={c} value={c}>{c}</option>)}
                </select>
              </label>
              <label>Quarantined
                <select value={quarantined} onChange={(e) => set({ quarantined: e.currentTarget.value })}>
                  <option value="">any</option><option value="true">yes</option><option value="false">no</option>
                </select>
              </label>
              <label>Branch <input value={branch} onChange={(e) => set({ branch: e.currentTarget.value })} /></label>
            </form>
            {canWrite ? (
              <div class="bulk" role="group" aria-label="Bulk quarantine">
                <span>{picked.size} selected</span>
                <label>Reason <input value={reason} onInput={(e) => setReason(e.currentTarget.value)} /></label>
                <button type="button" class="primary" disabled={!picked.size} onClick={() => bulk(true)}>Quarantine selected</button>
                <button type="button" disabled={!picked.size} onClick={() => bulk(false)}>Release selected</button>
                {done ? <span role="status">{done}</span> : null}
                <ErrorBox error={bulkError} title="Some changes failed" />
              </div>
            ) : null}
            <Card>
              {l.data.length === 0 ? <p class="muted">No tests match.</p> : (
                <table class="grid">
                  <thead><tr>{canWrite ? <th scope="col"><span class="sr-only">Select</span></th> : null}<th scope="col">Test</th><th scope="col">Score</th><th scope="col">90 % interval</th><th scope="col">Class</th><th scope="col">Flaky runs</th><th scope="col">Last flaky</th><th scope="col">Quarantined</th></tr></thead>
                  <tbody>
                    {l.data.map((f) => (
                      <tr key={f.testCaseId}>
                        {canWrite ? <td><input type="checkbox" aria-label={`Select ${f.fullTitle}`} checked={picked.has(f.testCaseId)} onChange={() => toggle(f.testCaseId)} /></td> : null}
                        <td><Link href={`/projects/${projectId}/tests/${f.testCaseId}`}>{f.fullTitle}</Link><div class="muted small">{f.filePath}</div></td>
                        <td>{(f.flakinessScore * 100).toFixed(1)} %</td>
                        <td>{(f.interval.lower * 100).toFixed(0)}–{(f.interval.upper * 100).toFixed(0)} %</td>
                        <td><span class={`badge cls-${f.classification}`}>{f.classification}</span></td>
                        <td>{f.flakyRuns} / {f.totalRuns}</td>
                        <td>{ago(f.lastFlakyAt)}</td>
                        <td>{f.isQuarantined ? <span class="badge quarantined">quarantined</span> : 'no'}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
              <p class="muted small">Scores as of {l.asOf} ({l.source}).</p>
            </Card>
          </>
        )}
      </Loaded>
    </>
  );
}
