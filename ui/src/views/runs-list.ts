// The runs list: every run folder with its key figures, a text filter (name, id, status,
// hyperparameter values), a status filter, and checkboxes to overlay runs in Compare.
import { api, type RunSummary } from '../api.js';
import { h, mount } from '../dom.js';
import { fmtDuration, fmtMetric, fmtTime } from '../format.js';
import { selection } from '../selection.js';

const REFRESH_MS = 5000;

export function statusBadge(status: string): HTMLElement {
  return h('span', { class: `badge status-${status.replace(/[^a-z]/g, '')}` }, status);
}

function matches(run: RunSummary, text: string, status: string): boolean {
  if (status && run.status !== status) return false;
  if (!text) return true;
  const hay = [run.name, run.id, run.status, ...Object.entries(run.hyperparameters).map(([k, v]) => `${k}=${v}`)].join(' ').toLowerCase();
  return text.toLowerCase().split(/\s+/).every((word) => hay.includes(word));
}

export function renderRunsList(app: HTMLElement): () => void {
  let runs: RunSummary[] = [];
  const filter = h('input', { type: 'search', id: 'run-filter', placeholder: 'Filter by name, id, status or lr=0.001', 'aria-label': 'Filter runs', value: sessionStorage.getItem('lathe.filter') ?? '' });
  const statusSelect = h('select', { id: 'status-filter', 'aria-label': 'Filter by status' }, ...['', 'running', 'finished', 'failed', 'stopped', 'unknown'].map((s) => h('option', { value: s }, s || 'any status')));
  const compareButton = h('a', { class: 'button', id: 'compare-selected', href: '#/compare' });
  const count = h('span', { class: 'muted', id: 'run-count' });
  const body = h('tbody');
  const warnings = h('div', { class: 'warnings' });

  const updateCompare = () => {
    const n = selection.get().length;
    compareButton.textContent = n ? `Compare ${n} selected` : 'Compare (select runs)';
    compareButton.classList.toggle('disabled', n < 1);
  };

  const draw = () => {
    sessionStorage.setItem('lathe.filter', filter.value);
    const shown = runs.filter((r) => matches(r, filter.value.trim(), statusSelect.value));
    count.textContent = `${shown.length} of ${runs.length} runs`;
    const selected = new Set(selection.get());
    mount(
      body,
      shown.length === 0
        ? h('tr', {}, h('td', { colspan: 10, class: 'empty' }, runs.length ? 'No run matches the filter.' : 'No runs yet: lathe train writes them under runs/.'))
        : shown.map((r) => {
            const s = r.summary;
            const box = h('input', { type: 'checkbox', 'aria-label': `select ${r.name}`, checked: selected.has(r.id), onchange: () => (selection.toggle(r.id, box.checked), updateCompare()) });
            return h(
              'tr',
              { 'data-run-id': r.id },
              h('td', {}, box),
              h('td', {}, h('a', { href: `#/run/${encodeURIComponent(r.id)}`, class: 'run-name' }, r.name), r.name !== r.id ? h('div', { class: 'muted small' }, r.id) : null),
              h('td', {}, statusBadge(r.status)),
              h('td', { class: 'nowrap' }, fmtTime(r.started)),
              h('td', { class: 'num' }, r.started ? fmtDuration(r.started, r.ended ?? (r.status === 'running' ? null : r.started)) : '–'),
              h('td', { class: 'num' }, fmtMetric('epochs', s.epochs)),
              h('td', { class: 'num' }, fmtMetric('loss', s.loss)),
              h('td', { class: 'num' }, fmtMetric('val_loss', s.val_loss)),
              h('td', { class: 'num' }, fmtMetric('val_accuracy', s.val_accuracy ?? s.accuracy)),
              h('td', { class: 'num' }, fmtMetric('test_accuracy', s.test_accuracy)),
            );
          }),
    );
    updateCompare();
  };

  const load = () =>
    api
      .runs()
      .then((r) => {
        runs = r.runs;
        mount(warnings, r.warnings.length ? h('details', {}, h('summary', {}, `${r.warnings.length} warning(s) reading the runs folder`), h('ul', {}, r.warnings.map((w) => h('li', {}, w)))) : null);
        draw();
      })
      .catch((e: Error) => mount(body, h('tr', {}, h('td', { colspan: 10, class: 'error' }, e.message))));

  filter.addEventListener('input', draw);
  statusSelect.addEventListener('change', draw);
  mount(
    app,
    h('section', { class: 'panel', id: 'runs-list' },
      h('div', { class: 'toolbar' }, h('h1', {}, 'Runs'), filter, statusSelect, count, h('span', { class: 'spacer' }), compareButton),
      h('table', { class: 'runs' },
        h('thead', {}, h('tr', {}, ...['', 'Run', 'Status', 'Started', 'Duration', 'Epochs', 'Loss', 'Val loss', 'Val accuracy', 'Test accuracy'].map((c, i) => h('th', { class: i >= 4 ? 'num' : '' }, c)))),
        body),
      warnings),
  );
  load();
  const timer = setInterval(load, REFRESH_MS);
  return () => clearInterval(timer);
}
