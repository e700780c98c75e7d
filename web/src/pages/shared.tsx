import { useMemo } from 'preact/hooks';
import { LineChart, type Series } from '../ui/chart';
import { Loaded, useApi } from '../ui/kit';

export type TrendResponse = { unit: 'percent' | 'count' | 'ms'; data: Array<{ date: string; value: number | null; samples: number }>; summary: { latest: number | null; mean: number | null; change: number | null } };
export const COLORS = ['#2563eb', '#c2410c', '#15803d', '#7c3aed', '#be123c', '#0f766e'];
const UNIT = { percent: ' %', count: '', ms: ' ms' } as const;

// One or more trend metrics over the same period in one chart.
export function TrendChart({ projectId, metrics, title, period = '30d', interval = 'day', branch, testId }: {
  projectId: string; metrics: Array<{ metric: string; label: string }>; title: string; period?: string; interval?: string; branch?: string; testId?: string;
}) {
  const qs = metrics.map((m, i) =>
    // eslint-disable-next-line react-hooks/rules-of-hooks -- a fixed list per chart
    useApi<TrendResponse>('/api/analytics/trends', { projectId, metric: m.metric, period, interval, branch, testId }, { placeholderData: (p: any) => p } as any),
  );
  const error = qs.find((q) => q.error)?.error;
  const ready = qs.every((q) => q.data);
  const data = useMemo(() => {
    if (!ready) return null;
    const x = qs[0]!.data!.data.map((p) => Date.parse(p.date) / 1000);
    const series: Series[] = qs.map((q, i) => ({ label: metrics[i]!.label, values: q.data!.data.map((p) => p.value), color: COLORS[i % COLORS.length]!, unit: UNIT[q.data!.unit] }));
    return { x, series };
  }, [ready, ...qs.map((q) => q.data)]);
  return (
    <Loaded q={{ isLoading: !ready && !error, error, data: data ?? undefined }} what={title.toLowerCase()}>
      {(d) => <LineChart title={title} x={d.x} series={d.series} />}
    </Loaded>
  );
}
