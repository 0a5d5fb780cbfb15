// One run: loss and metric curves that follow metrics.jsonl live, its results, hyperparameters
// and environment beside them, then the confusion matrix and the misclassified gallery.
import { api, followMetrics, type RunDetail } from '../api.js';
import { alignSeries, createChart, PALETTE, type Chart } from '../charts.js';
import { h, mount } from '../dom.js';
import { fmtDuration, fmtMetric, fmtTime, fmtValue, isPercentMetric, metricLabel } from '../format.js';
import { RunMetrics } from '../run-metrics.js';
import { renderConfusion } from './confusion.js';
import { renderGallery } from './gallery.js';
import { statusBadge } from './runs-list.js';

const TRAIN = PALETTE[0];
const VALIDATION = PALETTE[1];

function keyValueTable(id: string, rows: Array<[string, string]>): HTMLElement {
  return rows.length
    ? h('table', { class: 'kv', id }, h('tbody', {}, rows.map(([k, v]) => h('tr', {}, h('th', { scope: 'row' }, k), h('td', {}, v)))))
    : h('p', { class: 'muted', id }, 'none recorded');
}

function resultRows(run: RunDetail): Array<[string, string]> {
  const rows: Array<[string, string]> = Object.entries(run.summary).map(([k, v]) => [metricLabel(k), fmtMetric(k, v)]);
  const ev = run.evaluation;
  if (ev && typeof ev.loss === 'number' && run.summary.test_loss === undefined) {
    rows.push([`${ev.split ?? 'test'} loss`, fmtMetric('loss', ev.loss)]);
    for (const [k, v] of Object.entries(ev.metrics ?? {})) rows.push([`${ev.split ?? 'test'} ${metricLabel(k)}`, fmtMetric(k, v)]);
  }
  return rows;
}

export function renderRunDetail(app: HTMLElement, id: string, setLive: (on: boolean) => void): () => void {
  const metrics = new RunMetrics();
  const charts: Chart[] = [];
  let stop: (() => void) | null = null;
  let destroyed = false;
  mount(app, h('p', { class: 'muted' }, `Loading ${id}…`));

  api
    .run(id)
    .then((run) => {
      if (destroyed) return;
      const badge = h('span', {}, statusBadge(run.status));
      const results = h('div', {}, keyValueTable('results', resultRows(run)));
      const lossBox = h('div', { id: 'loss-chart' });
      const metricBox = h('div', { id: 'metric-chart' });
      const metricSelect = h('select', { id: 'metric-select', 'aria-label': 'metric to plot' });
      const metricCard = h('div', { class: 'card', hidden: true }, h('div', { class: 'card-head' }, h('span', {}), h('label', { class: 'muted' }, 'metric ', metricSelect)), metricBox);

      mount(
        app,
        h('section', { class: 'run-header' },
          h('a', { href: '#/', class: 'muted small' }, '← all runs'),
          h('h1', {}, run.name, ' ', badge),
          h('p', { class: 'muted' }, `${run.id} · started ${fmtTime(run.started)} · ${fmtDuration(run.started, run.ended)}`),
          run.warnings.length ? h('details', { class: 'warnings' }, h('summary', {}, `${run.warnings.length} warning(s)`), h('ul', {}, run.warnings.map((w) => h('li', {}, w)))) : null),
        h('div', { class: 'run-grid' },
          h('div', { class: 'charts' }, h('div', { class: 'card' }, lossBox), metricCard),
          h('aside', {},
            h('div', { class: 'card' }, h('h2', {}, 'Results'), results),
            h('div', { class: 'card' }, h('h2', {}, 'Hyperparameters'), keyValueTable('hyperparameters', Object.entries(run.hyperparameters).map(([k, v]) => [k, fmtValue(v)]))),
            h('div', { class: 'card' }, h('h2', {}, 'Environment'), keyValueTable('environment', Object.entries(run.env).map(([k, v]) => [k, fmtValue(v)]))))),
        run.evaluation?.confusion ? h('section', { class: 'card' }, h('h2', {}, 'Confusion matrix'), renderConfusion(run.evaluation)) : null,
        run.misclassified.length
          ? h('section', { class: 'card' }, h('h2', {}, `Misclassified examples (${run.misclassified.length}, most confident first)`), renderGallery(run.id, run.misclassified, run.evaluation?.classNames))
          : null,
      );

      // The loss chart's axis depends on whether the run logs steps; it is rebuilt if that changes.
      let lossChart: Chart | null = null;
      let lossOnSteps: boolean | null = null;
      let metricChart: Chart | null = null;
      let metricShown = '';

      const drawLoss = () => {
        const onSteps = metrics.hasSteps;
        if (lossChart === null || lossOnSteps !== onSteps) {
          lossChart?.destroy();
          lossBox.replaceChildren();
          lossOnSteps = onSteps;
          lossChart = createChart(lossBox, {
            title: 'Loss',
            xLabel: onSteps ? 'step (batches)' : 'epoch',
            yLabel: 'loss',
            integerX: true,
            series: onSteps
              ? [
                  { label: 'train loss (per step)', color: TRAIN, points: false },
                  { label: 'train loss (epoch mean)', color: '#1e3a8a', line: false, points: true },
                  { label: 'validation loss (per epoch)', color: VALIDATION, points: true },
                ]
              : [
                  { label: 'train loss', color: TRAIN, points: true },
                  { label: 'validation loss', color: VALIDATION, points: true },
                ],
          });
          charts.push(lossChart);
        }
        if (onSteps) {
          const l = metrics.lossOnSteps();
          const { x, ys } = alignSeries([l.step, l.trainEpoch, l.validation]);
          lossChart.setData(x, ys);
        } else {
          const { x, ys } = alignSeries([metrics.epochSeries('loss'), metrics.epochSeries('val_loss')]);
          lossChart.setData(x, ys);
        }
      };

      const drawMetric = () => {
        const names = metrics.metricNames().filter((n) => n !== 'loss');
        metricCard.hidden = names.length === 0;
        if (!names.length) return;
        if (metricSelect.options.length !== names.length) {
          const keep = metricSelect.value;
          mount(metricSelect, names.map((n) => h('option', { value: n }, metricLabel(n))));
          metricSelect.value = names.includes(keep) ? keep : names.includes('accuracy') ? 'accuracy' : names[0];
        }
        const name = metricSelect.value;
        const percent = isPercentMetric(name);
        if (metricChart === null || metricShown !== name) {
          metricChart?.destroy();
          metricBox.replaceChildren();
          metricShown = name;
          metricChart = createChart(metricBox, {
            title: metricLabel(name),
            xLabel: 'epoch',
            yLabel: percent ? `${metricLabel(name)} (%)` : metricLabel(name),
            percent,
            integerX: true,
            series: [
              { label: `train ${metricLabel(name)}`, color: TRAIN, points: true },
              { label: `validation ${metricLabel(name)}`, color: VALIDATION, points: true },
            ],
          });
          charts.push(metricChart);
        }
        const scale = percent ? 100 : 1;
        const { x, ys } = alignSeries([metrics.epochSeries(name, scale), metrics.epochSeries(`val_${name}`, scale)]);
        metricChart.setData(x, ys);
      };
      metricSelect.addEventListener('change', drawMetric);

      // Records can arrive many to a frame while a backlog streams in: draw once per frame.
      let pending = false;
      const redraw = () => {
        if (pending) return;
        pending = true;
        requestAnimationFrame(() => {
          pending = false;
          if (destroyed) return;
          drawLoss();
          drawMetric();
        });
      };
      stop = followMetrics(run.id, {
        records: (r) => (metrics.add(r), redraw()),
        reset: () => (metrics.clear(), redraw()),
        run: (u) => {
          if (u.status) mount(badge, statusBadge(u.status));
          if (u.summary) mount(results, keyValueTable('results', resultRows({ ...run, summary: u.summary })));
        },
        connected: (open) => setLive(open && run.status === 'running'),
      });
    })
    .catch((e: Error) => mount(app, h('p', { class: 'error' }, e.message)));

  return () => {
    destroyed = true;
    stop?.();
    setLive(false);
    for (const c of charts) c.destroy();
  };
}
