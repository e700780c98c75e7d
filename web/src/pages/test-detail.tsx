import { Link } from 'wouter-preact';
import type { List, Step, TestDetail, TestError } from '../api';
import { Card, Loaded, StatusBadge, useApi } from '../ui/kit';
import { duration } from '../ui/format';

// Expected/actual line by line: the lines that differ are marked.
export function Diff({ expected, actual }: { expected: string; actual: string }) {
  const e = expected.split('\n');
  const a = actual.split('\n');
  const n = Math.max(e.length, a.length);
  const rows = [];
  for (let i = 0; i < n && i < 400; i++) {
    if (e[i] === a[i]) rows.push(<div key={i} class="d-same">  {e[i]}</div>);
    else {
      if (e[i] !== undefined) rows.push(<div key={`e${i}`} class="d-exp">- {e[i]}</div>);
      if (a[i] !== undefined) rows.push(<div key={`a${i}`} class="d-act">+ {a[i]}</div>);
    }
  }
  return (
    <figure class="diff">
      <figcaption><span class="d-exp">- expected</span> <span class="d-act">+ actual</span></figcaption>
      <pre>{rows}</pre>
    </figure>
  );
}

export function ErrorView({ error }: { error: TestError }) {
  if (!error) return null;
  return (
    <div class="test-error">
      <pre class="err-msg">{error.message}</pre>
      {error.expected !== undefined && error.actual !== undefined ? <Diff expected={error.expected} actual={error.actual} /> : null}
      {error.stack ? <details><summary>Stack</summary><pre class="stack">{error.stack}</pre></details> : null}
    </div>
  );
}

function Steps({ steps }: { steps: Step[] }) {
  const total = Math.max(1, ...steps.filter((s) => s.depth === 0).map((s) => s.duration));
  return (
    <ol class="steps" aria-label="Steps">
      {steps.map((s, i) => (
        <li key={i} class={`step st-${s.status}`} style={{ paddingLeft: `${s.depth * 16}px` }}>
          <span class="step-bar" style={{ width: `${Math.max(2, (s.duration / total) * 120)}px` }} aria-hidden="true" />
          <span class="step-t">{s.title}</span> <span class="muted">{s.category} · {duration(s.duration)}</span>
          {s.error?.message ? <pre class="err-msg">{s.error.message}</pre> : null}
        </li>
      ))}
    </ol>
  );
}

export function TestDetailPanel({ testId, close }: { testId: string; close: () => void }) {
  const test = useApi<TestDetail>(`/api/tests/${testId}`);
  const steps = useApi<{ data: Step[] } | List<Step>>(`/api/tests/${testId}/steps`);
  return (
    <Card title="Test" actions={<button type="button" onClick={close}>Close</button>}>
      <Loaded q={test} what="the test">
        {(t) => (
          <div class="test-detail" data-testid="test-detail">
            <h3><StatusBadge status={t.status} /> {t.fullTitle}</h3>
            <p class="muted">
              {t.filePath}{t.lineNumber ? `:${t.lineNumber}` : ''} · {t.variant || 'default project'} · {duration(t.duration)} · attempt {t.attempt + 1} of {t.retries + 1}
              {' · '}<Link href={`/projects/${t.projectId}/tests/${t.testCaseId}`}>History and flakiness</Link>
            </p>
            <ErrorView error={t.error} />
            {t.attempts?.length > 1 ? (
              <>
                <h4>Attempts</h4>
                <ol class="attempts">
                  {t.attempts.map((a, i) => (
                    <li key={i}><StatusBadge status={a.status} /> {duration(a.duration)}{a.error?.message ? <pre class="err-msg">{a.error.message.slice(0, 500)}</pre> : null}</li>
                  ))}
                </ol>
              </>
            ) : null}
            <h4>Steps</h4>
            <Loaded q={steps} what="steps">{(s) => (s.data.length ? <Steps steps={s.data} /> : <p class="muted">No steps reported.</p>)}</Loaded>
            {t.artifacts?.length ? (
              <>
                <h4>Attachments</h4>
                <div class="artifacts">
                  {t.artifacts.map((a) =>
                    a.type === 'screenshot' ? (
                      <a key={a.id} href={a.url} target="_blank" rel="noopener"><img src={a.url} alt={`Screenshot ${a.fileName}`} loading="lazy" /></a>
                    ) : a.type === 'video' ? (
                      <video key={a.id} src={a.url} controls preload="metadata" aria-label={`Video ${a.fileName}`} />
                    ) : a.type === 'trace' ? (
                      <a key={a.id} class="button" href={`/trace/?trace=${encodeURIComponent(new URL(a.url, location.href).href)}`} target="_blank" rel="noopener">Open trace {a.fileName}</a>
                    ) : (
                      <a key={a.id} href={a.url} target="_blank" rel="noopener">{a.fileName}</a>
                    ),
                  )}
                </div>
              </>
            ) : null}
            {t.stdout ? <details><summary>stdout</summary><pre>{t.stdout}</pre></details> : null}
            {t.stderr ? <details><summary>stderr</summary><pre>{t.stderr}</pre></details> : null}
          </div>
        )}
      </Loaded>
    </Card>
  );
}
