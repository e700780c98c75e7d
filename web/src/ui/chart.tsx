import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export type Series = { label: string; values: Array<number | null>; color: string; unit?: string };

const compact = new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 1 });

// uPlot: canvas, ~50 KB, draws thousands of points in a few ms.
export function LineChart({ x, series, height = 220, title, bars }: { x: number[]; series: Series[]; height?: number; title: string; bars?: boolean }) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const node = el.current;
    if (!node) return;
    const width = Math.max(300, node.clientWidth || 600);
    const opts: uPlot.Options = {
      width, height,
      series: [
        {},
        ...series.map((s) => ({
          label: s.label, stroke: s.color, width: 2, spanGaps: false,
          // a day with data between two without still shows
          points: { show: true, size: 5, fill: s.color },
          fill: bars ? s.color + '55' : undefined,
          paths: bars ? uPlot.paths.bars!({ size: [0.6, 40] }) : undefined,
          value: (_u: uPlot, v: number | null) => (v == null ? '–' : `${Number.isInteger(v) ? v : v.toFixed(2)}${s.unit ?? ''}`),
        })),
      ],
      axes: [
        { stroke: '#4b5563', grid: { stroke: '#eee' } },
        { stroke: '#4b5563', grid: { stroke: '#eee' }, size: 56, values: (_u: uPlot, vals: number[]) => vals.map((v) => compact.format(v)) },
      ],
      scales: { x: { time: true } },
      legend: { show: true },
      hooks: { setSeries: [(u: uPlot, i: number | null) => markShown(u, i)] },
      cursor: { drag: { x: false, y: false } },
    };
    const plot = new uPlot(opts, [x, ...series.map((s) => s.values)] as uPlot.AlignedData, node);
    keyboardLegend(plot, title);
    performance.mark(`chart-drawn:${title}`);
    const ro = new ResizeObserver(() => plot.setSize({ width: Math.max(300, node.clientWidth), height }));
    ro.observe(node);
    return () => {
      ro.disconnect();
      plot.destroy();
    };
  }, [x, series, height, bars, title]);
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <div ref={el} />
    </figure>
  );
}

// uPlot's legend shows or hides a series on a click on its label (a <th>), which
// the keyboard cannot reach: each label's content goes into a real button, whose
// activation (Enter, Space, or a click) bubbles to that <th>, and which says
// whether its series is shown. The plot area itself is a labelled image.
function keyboardLegend(plot: uPlot, title: string) {
  plot.root.querySelector('.u-wrap')?.setAttribute('role', 'img');
  plot.root.querySelector('.u-wrap')?.setAttribute('aria-label', `${title} chart`);
  plot.root.querySelectorAll<HTMLTableRowElement>('.u-legend .u-series').forEach((row, i) => {
    const th = row.querySelector('th');
    if (i === 0 || !th) return;
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'legend-toggle';
    button.setAttribute('aria-label', `Show ${plot.series[i]!.label ?? `series ${i}`} in ${title}`);
    button.append(...th.childNodes);
    th.append(button);
  });
  markShown(plot, null);
}

function markShown(plot: uPlot, only: number | null) {
  plot.root.querySelectorAll<HTMLTableRowElement>('.u-legend .u-series').forEach((row, i) => {
    if (i > 0 && (only === null || only === i)) row.querySelector('.legend-toggle')?.setAttribute('aria-pressed', String(plot.series[i]!.show !== false));
  });
}
