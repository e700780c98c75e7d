import { useState } from 'preact/hooks';
import { Link, useParams } from 'wouter-preact';
import { useQueryClient } from '@tanstack/react-query';
import { post, type List, type TestDetail } from '../api';
import { useProject } from '../session';
import { Card, ErrorBox, Loaded, StatusBadge, useApi, usePageTitle } from '../ui/kit';
import { ago, duration, shortSha, when } from '../ui/format';
import { TrendChart } from './shared';
import { ErrorView } from './test-detail';

type Exec = { runId: string; testId: string; status: string; duration: number; branch: string | null; commitSha: string | null; createdAt: string };
type QHist = { eventId: string; isQuarantined: boolean; reason: string; mode: string; owner: string | null; expiresAt: string | null; actor: string; changedAt: string };
export type FlakyItem = {
  testId: string; testCaseId: string; testTitle: string; fullTitle: string; filePath: string; flakinessScore: number; totalRuns: number; flakyRuns: number;
  lastFlakyAt: string | null; isQuarantined: boolean; interval: { lower: number; upper: number; mass: number }; classification: string; evidence: Record<string, any>;
};

function Strip({ executions }: { executions: Exec[] }) {
  const byBranch = new Map<string, Exec[]>();
  for (const e of executions) {
    const b = e.branch ?? '(no branch)';
    byBranch.set(b, [...(byBranch.get(b) ?? []), e]);
  }
  return (
    <div class="strips">
      {[...byBranch].map(([branch, xs]) => (
        <div key={branch} class="strip-row">
          <span class="strip-branch">{branch}</span>
          <ol class="strip" aria-label={`Last ${xs.length} executions on ${branch}, newest first`}>
            {xs.map((e) => (
              <li key={e.testId}>
                <Link href={`/runs/${e.runId}?test=${e.testId}`} class={`cell st-${e.status}`} title={`${e.status} · ${duration(e.duration)} · ${shortSha(e.commitSha)} · ${when(e.createdAt)}`}>
                  <span class="sr-only">{e.status} {when(e.createdAt)}</span>
                </Link>
              </li>
            ))}
          </ol>
        </div>
      ))}
    </div>
  );
}

function Evidence({ f }: { f: FlakyItem }) {
  const ev = f.evidence;
  return (
    <div>
      <p>
        Score <strong>{(f.flakinessScore * 100).toFixed(1)} %</strong> (90 % interval {(f.interval.lower * 100).toFixed(1)}–{(f.interval.upper * 100).toFixed(1)} %),
        classified <span class={`badge cls-${f.classification}`}>{f.classification}</span>; {f.flakyRuns} flaky of {f.totalRuns} runs, last flaky {ago(f.lastFlakyAt)}.
      </p>
      <dl class="facts">
        <dt>Executions</dt><dd>{ev.executions}</dd>
        <dt>Passed on retry</dt><dd>{ev.retryFlakes}</dd>
        <dt>Different outcomes on the same commit</dt><dd>{ev.sameCommitFlakes} (in {ev.flakyCommits} commits)</dd>
        <dt>Pass/fail flips</dt><dd>{ev.flips}</dd>
        <dt>Failures (transient · broken)</dt><dd>{ev.failures} ({ev.transientFailures} · {ev.brokenFailures})</dd>
        <dt>Current failure streak</dt><dd>{ev.currentFailureStreak}</dd>
        <dt>Excluded as incidents</dt><dd>{ev.incidentExecutionsExcluded}</dd>
        {ev.exampleRunIds?.length ? <><dt>Example runs</dt><dd>{ev.exampleRunIds.map((r: string) => <Link key={r} href={`/runs/${r}`} class="tag">{r.slice(-8)}</Link>)}</dd></> : null}
      </dl>
    </div>
  );
}

export function QuarantineForm({ projectId, testCaseId, quarantined, onDone }: { projectId: string; testCaseId: string; quarantined: boolean; onDone: () => void }) {
  const [reason, setReason] = useState('');
  const [owner, setOwner] = useState('');
  const [expires, setExpires] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  return (
    <form class="quarantine" onSubmit={async (e) => {
      e.preventDefault();
      setBusy(true);
      setError(null);
      try {
        await post('/api/flakiness', {
          testId: testCaseId, projectId, isQuarantined: !quarantined, reason: reason || undefined,
          ...(quarantined ? {} : { owner: owner || undefined, expiresAt: expires ? new Date(`${expires}T23:59:59Z`).toISOString() : undefined }),
        });
        setReason('');
        onDone();
      } catch (err) {
        setError(err);
      } finally {
        setBusy(false);
      }
    }}>
      <label>Reason <input value={reason} onInput={(e) => setReason(e.currentTarget.value)} /></label>
      {!quarantined ? (
        <>
          <label>Owner <input value={owner} onInput={(e) => setOwner(e.currentTarget.value)} /></label>
          <label>Expires <input type="date" value={expires} onInput={(e) => setExpires(e.currentTarget.value)} /></label>
        </>
      ) : null}
      <button type="submit" class={quarantined ? '' : 'primary'} disabled={busy}>{quarantined ? 'Release from quarantine' : 'Quarantine'}</button>
      <ErrorBox error={error} title="The quarantine change failed" />
    </form>
  );
}

export function TestCasePage() {
  const { projectId, testId } = useParams<{ projectId: string; testId: string }>();
  const qc = useQueryClient();
  const { canWrite } = useProject(projectId);
  const [branch, setBranch] = useState('');
  const test = useApi<TestDetail>(`/api/tests/${testId}`);
  const caseId = test.data?.testCaseId;
  usePageTitle(test.data ? test.data.title : 'Test');
  const history = useApi<List<Exec>>(caseId ? `/api/tests/${caseId}/history` : null, { limit: 50, branch });
  const qhist = useApi<List<QHist>>(caseId ? `/api/tests/${caseId}/quarantine-history` : null);
  const score = useApi<FlakyItem & { asOf: string; source: string }>(caseId ? `/api/tests/${caseId}/flakiness` : null);
  const errors = useApi<List<any>>(caseId ? '/api/analytics/errors' : null, { projectId, testId: caseId, period: '90d' });
  const current = qhist.data?.data[0];
  const isQuarantined = current?.isQuarantined ?? false;
  const refresh = () => setTimeout(() => {
    qc.invalidateQueries({ queryKey: [`/api/tests/${caseId}/quarantine-history`] });
    qc.invalidateQueries({ queryKey: [`/api/tests/${caseId}/flakiness`] });
    qc.invalidateQueries({ queryKey: ['/api/flakiness'] });
    qc.invalidateQueries({ queryKey: ['/api/quarantine'] });
  }, 300);

  return (
    <Loaded q={test} what="the test">
      {(t) => (
        <>
          <p class="crumbs"><Link href={`/projects/${projectId}/flakiness`}>Flakiness</Link> ›</p>
          <h1>{t.title} {isQuarantined ? <span class="badge quarantined">quarantined</span> : null}</h1>
          <p class="muted">{t.fullTitle} · {t.filePath}{t.variant ? ` · ${t.variant}` : ''}</p>
          <Card title="Last executions" actions={<label>Branch <input value={branch} onChange={(e) => setBranch(e.currentTarget.value)} /></label>}>
            <Loaded q={history} what="history">{(h) => (h.data.length ? <Strip executions={h.data} /> : <p class="muted">No executions recorded.</p>)}</Loaded>
          </Card>
          <Card title="Duration">
            <TrendChart projectId={projectId} testId={caseId} branch={branch} period="90d" title="Duration p50 / p95 (ms)" metrics={[{ metric: 'duration_p50', label: 'p50' }, { metric: 'duration_p95', label: 'p95' }]} />
          </Card>
          <Card title="Flakiness">
            <Loaded q={score} what="the flakiness score">{(f) => (f.totalRuns ? <Evidence f={f} /> : <p class="muted">Not scored yet: no executions in the scoring window.</p>)}</Loaded>
          </Card>
          <Card title="Quarantine">
            {current ? (
              <p>{isQuarantined ? 'Quarantined' : 'Not quarantined'} since {when(current.changedAt)} by {current.actor}: {current.reason}
                {current.owner ? ` · owner ${current.owner}` : ''}{current.expiresAt ? ` · expires ${when(current.expiresAt)}` : ''}</p>
            ) : <p>Not quarantined.</p>}
            {canWrite && caseId ? <QuarantineForm projectId={projectId} testCaseId={caseId} quarantined={isQuarantined} onDone={refresh} /> : null}
            <Loaded q={qhist} what="quarantine history">
              {(h) => h.data.length ? (
                <table class="grid">
                  <caption>Quarantine history</caption>
                  <thead><tr><th scope="col">When</th><th scope="col">Change</th><th scope="col">By</th><th scope="col">Reason</th><th scope="col">Owner</th><th scope="col">Expires</th></tr></thead>
                  <tbody>{h.data.map((e) => <tr key={e.eventId}><td>{when(e.changedAt)}</td><td>{e.isQuarantined ? 'quarantined' : 'released'} ({e.mode})</td><td>{e.actor}</td><td>{e.reason}</td><td>{e.owner ?? '–'}</td><td>{when(e.expiresAt)}</td></tr>)}</tbody>
                </table>
              ) : null}
            </Loaded>
          </Card>
          <Card title="Error clusters">
            <Loaded q={errors} what="error clusters">
              {(c) => c.data.length ? <ul class="clusters">{c.data.map((x) => <li key={x.fingerprint}><strong>{x.occurrences}×</strong> {x.mostlyFlaky ? <span class="badge st-flaky">mostly flaky</span> : null}<pre class="err-msg">{x.sampleMessage}</pre><span class="muted">{x.topFrame ?? ''} · last {ago(x.lastSeenAt)}</span></li>)}</ul> : <p class="muted">No errors in the last 90 days.</p>}
            </Loaded>
          </Card>
          <Card title="Latest execution">
            <p><StatusBadge status={t.status} /> <Link href={`/runs/${t.runId}?test=${t.id}`}>in run {t.runId.slice(-8)}</Link> · {duration(t.duration)}</p>
            <ErrorView error={t.error} />
          </Card>
        </>
      )}
    </Loaded>
  );
}
