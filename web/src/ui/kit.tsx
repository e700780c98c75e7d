import type { ComponentChildren } from 'preact';
import { useEffect } from 'preact/hooks';
import { useQuery, type UseQueryOptions } from '@tanstack/react-query';
import { ApiError, get } from '../api';

type Q = Record<string, string | number | boolean | null | undefined>;

// GET through the cache: the key is the path and its query.
export function useApi<T = any>(path: string | null, query?: Q, opts: Partial<UseQueryOptions<T, ApiError>> = {}) {
  return useQuery<T, ApiError>({
    queryKey: [path, query ?? {}],
    queryFn: () => get<T>(path!, query),
    enabled: path !== null && (opts.enabled ?? true),
    ...opts,
  } as UseQueryOptions<T, ApiError>);
}

export function usePageTitle(title: string) {
  useEffect(() => {
    document.title = `${title} · Runledger`;
  }, [title]);
}

export function ErrorBox({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  const e = error as ApiError;
  const status = e.status ? ` (${e.status}${e.code ? ` ${e.code}` : ''})` : '';
  return (
    <div class="error" role="alert">
      <strong>{title ?? 'Something went wrong'}{status}</strong>
      <div>{e.message ?? String(error)}</div>
    </div>
  );
}

export function Loading({ what }: { what?: string }) {
  return <p class="muted" role="status">Loading{what ? ` ${what}` : ''}…</p>;
}

// A query's three states: loading, its error as a message, or its data.
export function Loaded<T>({ q, what, children }: { q: { isLoading: boolean; error: unknown; data: T | undefined }; what?: string; children: (d: T) => ComponentChildren }) {
  if (q.error) return <ErrorBox error={q.error} title={`Could not load ${what ?? 'this'}`} />;
  if (q.isLoading || q.data === undefined) return <Loading what={what} />;
  return <>{children(q.data)}</>;
}

export function StatusBadge({ status, live }: { status: string; live?: boolean }) {
  return (
    <span class={`badge st-${status}`}>
      {live ? <span class="live-dot" aria-hidden="true" /> : null}
      {status}
      {live ? <span class="sr-only"> (live)</span> : null}
    </span>
  );
}

export function Card({ title, children, actions }: { title?: ComponentChildren; children: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <section class="card">
      {title || actions ? (
        <header class="card-h">
          {title ? <h2>{title}</h2> : <span />}
          {actions}
        </header>
      ) : null}
      {children}
    </section>
  );
}

export function Stat({ label, value, tone }: { label: string; value: ComponentChildren; tone?: string }) {
  return (
    <div class={`stat ${tone ?? ''}`}>
      <div class="stat-v">{value}</div>
      <div class="stat-l">{label}</div>
    </div>
  );
}

// A tiny inline chart for 14-day series (SVG: no chart library for 14 points).
export function Sparkline({ values, label, color = 'currentColor' }: { values: Array<number | null>; label: string; color?: string }) {
  const w = 120, h = 28;
  const nums = values.map((v) => v ?? 0);
  const max = Math.max(1, ...nums);
  const step = values.length > 1 ? w / (values.length - 1) : w;
  const pts = nums.map((v, i) => `${(i * step).toFixed(1)},${(h - 2 - (v / max) * (h - 4)).toFixed(1)}`).join(' ');
  return (
    <svg class="spark" width={w} height={h} viewBox={`0 0 ${w} ${h}`} role="img" aria-label={`${label}: ${values.map((v) => v ?? 0).join(', ')}`}>
      <polyline fill="none" stroke={color} stroke-width="1.5" points={pts} />
    </svg>
  );
}
