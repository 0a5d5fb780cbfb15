// Several runs side by side: one metric from each, overlaid on one chart (live, like a single
// run's), and a table of their hyperparameters and results with the differing rows marked.
import { api, followMetrics, type RunDetail } from '../api.js';
import { alignSeries, createChart, PALETTE, type Chart } from '../charts.js';
import { h, mount } from '../dom.js';
import { fmtMetric, fmtValue, isPercentMetric, metricLabel } from '../format.js';
import { RunMetrics } from '../run-metrics.js';
import { selection } from '../selection.js';

/** A run's name, with its start time when another selected run has the same name. */
function seriesLabel(run: RunDetail, runs: RunDetail[]): string {
  const twin = runs.some((r) => r !== run && r.name === run.name);
  return twin && run.started ? `${run.name} · ${run.started.slice(5, 16).replace('T', ' ')}` : twin ? run.id : run.name;
}

export function renderCompare(app: HTMLElement, idsFromUrl: string[]): () => void {
  const ids = idsFromUrl.length ? idsFromUrl : selection.get();
  if (idsFromUrl.length) selection.set(idsFromUrl);
  const stops: Array<() => void> = [];
  let chart: Chart | null = null;
  let destroyed = false;
  if (ids.length === 0) {
    mount(app, h('section', { class: 'panel' }, h('h1', {}, 'Compare runs'), h('p', { class: 'muted' }, 'Select runs in the ', h('a', { href: '#/' }, 'runs list'), ' to overlay their curves here.')));
    return () => {};
  }
  mount(app, h('p', { class: 'muted' }, 'Loading runs…'));

  Promise.all(ids.map((id) => api.run(id).catch((): null => null)))
    .then((found) => {
      if (destroyed) return;
      const runs = found.filter((r): r is RunDetail => r !== null);
      const missing = ids.filter((id) => !runs.some((r) => r.id === id));
      const metrics = runs.map(() => new RunMetrics());
      const select = h('select', { id: 'compare-metric', 'aria-label': 'metric to overlay' });
      const box = h('div', { id: 'compare-chart' });

      const draw = () => {
        const names = [...new Set(metrics.flatMap((m) => m.metricNames()).flatMap((n) => [n, `val_${n}`]))].filter((n) => metrics.some((m) => m.epochSeries(n).length));
        if (select.options.length !== names.length) {
          const keep = select.value;
          mount(select, names.map((n) => h('option', { value: n }, metricLabel(n))));
          select.value = names.includes(keep) ? keep : names.includes('val_loss') ? 'val_loss' : names[0] ?? '';
        }
        const name = select.value;
        if (!name) return;
        const percent = isPercentMetric(name);
        if (!chart || box.dataset.metric !== name) {
          chart?.destroy();
          box.replaceChildren();
          box.dataset.metric = name;
          chart = createChart(box, {
            title: `${metricLabel(name)} by epoch`,
            xLabel: 'epoch',
            yLabel: percent ? `${metricLabel(name)} (%)` : metricLabel(name),
            percent,
            integerX: true,
            series: runs.map((r, i) => ({ label: seriesLabel(r, runs), color: PALETTE[i % PALETTE.length], points: true })),
          });
        }
        const { x, ys } = alignSeries(metrics.map((m) => m.epochSeries(name, percent ? 100 : 1)));
        chart.setData(x, ys);
      };
      select.addEventListener('change', draw);

      const keys = (pick: (r: RunDetail) => Record<string, unknown>) => [...new Set(runs.flatMap((r) => Object.keys(pick(r))))].sort();
      const row = (label: string, values: string[]) => h('tr', { class: new Set(values).size > 1 ? 'differs' : '' }, h('th', { scope: 'row' }, label), values.map((v) => h('td', { class: 'num' }, v)));
      mount(
        app,
        h('section', { class: 'panel' },
          h('div', { class: 'toolbar' }, h('h1', {}, `Compare ${runs.length} runs`), h('label', {}, 'metric ', select)),
          missing.length ? h('p', { class: 'error' }, `Not found: ${missing.join(', ')}`) : null,
          h('div', { class: 'card' }, box),
          h('div', { class: 'card' },
            h('h2', {}, 'Hyperparameters and results'),
            h('table', { class: 'compare-table', id: 'compare-table' },
              h('thead', {}, h('tr', {}, h('th', {}), runs.map((r, i) => h('th', { class: 'num' }, h('span', { class: 'swatch', style: `background:${PALETTE[i % PALETTE.length]}` }), h('a', { href: `#/run/${encodeURIComponent(r.id)}` }, r.name))))),
              h('tbody', {},
                h('tr', { class: 'group' }, h('th', { colspan: runs.length + 1 }, 'hyperparameters')),
                keys((r) => r.hyperparameters).map((k) => row(k, runs.map((r) => fmtValue(r.hyperparameters[k])))),
                h('tr', { class: 'group' }, h('th', { colspan: runs.length + 1 }, 'results')),
                keys((r) => r.summary).map((k) => row(metricLabel(k), runs.map((r) => fmtMetric(k, r.summary[k]))))))),
        ),
      );
      let pending = false;
      const redraw = () => {
        if (pending) return;
        pending = true;
        requestAnimationFrame(() => ((pending = false), destroyed || draw()));
      };
      runs.forEach((r, i) => stops.push(followMetrics(r.id, { records: (rec) => (metrics[i].add(rec), redraw()), reset: () => (metrics[i].clear(), redraw()) })));
    })
    .catch((e: Error) => mount(app, h('p', { class: 'error' }, e.message)));

  return () => {
    destroyed = true;
    for (const s of stops) s();
    chart?.destroy();
  };
}
