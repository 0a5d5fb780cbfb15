// The confusion matrix as a heat map: rows are the true class, columns the predicted one, each
// cell shaded by its share of the row (blue on the diagonal, red off it, so mistakes stand out),
// with its count written in, and each class's recall at the row's end.
import type { Evaluation } from '../api.js';
import { h } from '../dom.js';

export function renderConfusion(evaluation: Evaluation): HTMLElement | null {
  const c = evaluation.confusion;
  if (!c || !Array.isArray(c.matrix) || c.matrix.length === 0) return null;
  const labels = c.labels?.length === c.matrix.length ? c.labels : c.matrix.map((_, i) => String(i));
  const k = labels.length;
  const total = c.matrix.reduce((n, row) => n + row.reduce((a, b) => a + b, 0), 0);
  const correct = c.matrix.reduce((n, row, i) => n + (row[i] ?? 0), 0);
  const compact = k > 20;
  const cell = (count: number, rowTotal: number, i: number, j: number) => {
    const share = rowTotal ? count / rowTotal : 0;
    // A square root lifts the few-percent mistakes into view beside a 98% diagonal.
    const alpha = count === 0 ? 0 : 0.08 + 0.92 * Math.sqrt(share);
    const rgb = i === j ? '37, 99, 235' : '220, 38, 38';
    return h(
      'td',
      { class: `cell${alpha > 0.55 ? ' dark' : ''}`, style: `background: rgba(${rgb}, ${alpha.toFixed(3)})`, title: `true ${labels[i]}, predicted ${labels[j]}: ${count} (${(share * 100).toFixed(1)}% of true ${labels[i]})`, 'data-count': count },
      compact && count === 0 ? '' : count,
    );
  };
  return h(
    'div',
    { class: `confusion${compact ? ' compact' : ''}`, id: 'confusion-matrix' },
    h('p', { class: 'muted' }, `${evaluation.split ?? 'test'} split, ${total} examples, ${correct} correct (${total ? ((correct / total) * 100).toFixed(2) : '0'}%). Rows: true class; columns: predicted class; shade: share of the row.`),
    h(
      'table',
      { class: 'heatmap', 'aria-label': 'confusion matrix' },
      h('thead', {},
        h('tr', {}, h('th', { colspan: 2, rowspan: 2, class: 'corner' }), h('th', { colspan: k, class: 'axis-title' }, 'predicted class'), h('th', { rowspan: 2, class: 'recall-head' }, 'recall')),
        h('tr', {}, labels.map((l) => h('th', { class: 'col-label', scope: 'col' }, l)))),
      h('tbody', {},
        c.matrix.map((row, i) => {
          const rowTotal = row.reduce((a, b) => a + b, 0);
          return h('tr', {},
            i === 0 ? h('th', { rowspan: k, class: 'axis-title vertical' }, h('span', {}, 'true class')) : null,
            h('th', { class: 'row-label', scope: 'row' }, labels[i]),
            row.map((count, j) => cell(count, rowTotal, i, j)),
            h('td', { class: 'recall' }, rowTotal ? `${((row[i] / rowTotal) * 100).toFixed(1)}%` : '–'));
        })),
    ),
  );
}
