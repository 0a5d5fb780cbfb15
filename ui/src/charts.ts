// Line charts on uPlot (canvas, ~50 KB): each chart has axis labels with units, a legend, and
// records how many points it draws in data-points, which the browser tests watch grow.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface SeriesSpec {
  label: string;
  color: string;
  /** Draw a line through the points (default true). */
  line?: boolean;
  /** Mark each point (default: only when the series has few points). */
  points?: boolean;
  dash?: number[];
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: SeriesSpec[];
  /** Whole numbers on the x axis (epochs, steps). */
  integerX?: boolean;
  /** Values are percentages (0-100): the axis and legend say %. */
  percent?: boolean;
}

export interface Chart {
  setData(x: number[], ys: (number | null)[][]): void;
  destroy(): void;
}

export const PALETTE = ['#2563eb', '#ea580c', '#16a34a', '#9333ea', '#dc2626', '#0891b2', '#ca8a04', '#db2777'];

const AXIS_FONT = '12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
const LABEL_FONT = '600 12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';

export function createChart(container: HTMLElement, spec: ChartSpec): Chart {
  container.classList.add('chart');
  container.dataset.points = '0';
  // uPlot draws its axes on the canvas; the labels are repeated here for tests and tools.
  container.dataset.axes = `${spec.xLabel} | ${spec.yLabel}`;
  const fmt = (v: number | null) => (v === null || v === undefined ? '–' : spec.percent ? `${v.toFixed(2)}%` : Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(4));
  const width = () => Math.max(320, container.clientWidth || 640);
  const axis = (label: string): uPlot.Axis => ({
    label,
    labelFont: LABEL_FONT,
    font: AXIS_FONT,
    stroke: '#334155',
    grid: { stroke: '#e2e8f0', width: 1 },
    ticks: { stroke: '#cbd5e1', width: 1 },
  });
  const opts: uPlot.Options = {
    title: spec.title,
    width: width(),
    height: 260,
    scales: { x: { time: false } },
    axes: [
      { ...axis(spec.xLabel), ...(spec.integerX ? { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000] } : {}) },
      { ...axis(spec.yLabel), size: 60, values: (_u, ticks) => ticks.map((t) => (spec.percent ? `${+t.toFixed(2)}%` : String(+t.toPrecision(4)))) },
    ],
    legend: { live: true },
    cursor: { drag: { x: true, y: false } },
    series: [
      { label: spec.xLabel, value: (_u, v) => (v === null ? '–' : String(v)) },
      ...spec.series.map<uPlot.Series>((s) => ({
        label: s.label,
        stroke: s.color,
        width: s.line === false ? 0 : 2,
        dash: s.dash,
        spanGaps: true,
        value: (_u, v) => fmt(v),
        points: { show: s.points ?? ((u: uPlot, si: number) => (u.data[si] as (number | null)[]).filter((v) => v !== null).length <= 60), size: 7, stroke: s.color, fill: '#fff', width: 2 },
        ...(s.line === false ? { paths: () => null } : {}),
      })),
    ],
  };
  const plot = new uPlot(opts, [[], ...spec.series.map(() => [])], container);
  let destroyed = false;
  const resize = new ResizeObserver(() => plot.setSize({ width: width(), height: 260 }));
  resize.observe(container);
  return {
    setData(x, ys) {
      plot.setData([x, ...ys] as uPlot.AlignedData);
      container.dataset.points = String(ys.reduce((n, y) => n + y.filter((v) => v !== null && v !== undefined).length, 0));
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      resize.disconnect();
      plot.destroy();
    },
  };
}

/** Aligns several (x, y) lists on one sorted x axis, with null where a list has no point. */
export function alignSeries(lists: Array<Array<[number, number]>>): { x: number[]; ys: (number | null)[][] } {
  const xs = [...new Set(lists.flatMap((l) => l.map(([x]) => x)))].sort((a, b) => a - b);
  const at = new Map(xs.map((x, i) => [x, i]));
  const ys = lists.map((l) => {
    const y: (number | null)[] = new Array(xs.length).fill(null);
    for (const [x, v] of l) y[at.get(x)!] = v;
    return y;
  });
  return { x: xs, ys };
}
