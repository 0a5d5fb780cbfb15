// The models a `lathe serve --ui` process serves: each version's state, and the model's request
// rate, latency percentiles and mean batch size, polled from GET /api/serving.
import { api, type ServingSnapshot } from '../api.js';
import { h, mount } from '../dom.js';

const POLL_MS = 2000;

/** TF Serving says AVAILABLE, KServe says ready: either shows as ready. */
function stateBadge(state: string, ready?: boolean): HTMLElement {
  const isReady = ready === true || state.toUpperCase() === 'AVAILABLE';
  const cls = isReady ? 'ready' : /LOADING|START/i.test(state) ? 'loading' : /END|UNAVAILABLE|FAIL|ERROR/i.test(state) ? 'failed' : 'unknown';
  return h('span', { class: `badge state-${cls}`, title: state }, isReady ? 'ready' : state.toLowerCase());
}

const num = (v: number | null | undefined, unit: string, digits = 1) => (typeof v === 'number' && Number.isFinite(v) ? `${v.toFixed(digits)}${unit}` : '–');

function table(snapshot: ServingSnapshot): HTMLElement {
  if (!snapshot.models.length) return h('p', { class: 'muted' }, 'No models loaded.');
  return h(
    'table',
    { class: 'runs', id: 'serving-table' },
    h('thead', {}, h('tr', {}, ['Model', 'Version', 'State', 'Requests/s', 'Latency p50', 'Latency p99', 'Mean batch size'].map((c, i) => h('th', { class: i >= 3 ? 'num' : '' }, c)))),
    h('tbody', {},
      snapshot.models.flatMap((m) =>
        (m.versions.length ? m.versions : [{ version: '–', state: 'UNKNOWN' }]).map((v, i) =>
          h('tr', { 'data-model': m.name, 'data-version': v.version },
            h('td', {}, i === 0 ? h('b', {}, m.name) : ''),
            h('td', {}, v.version, ...(('labels' in v && v.labels?.length) ? [' ', h('span', { class: 'muted small' }, v.labels.join(', '))] : [])),
            h('td', {}, stateBadge(v.state, 'ready' in v ? v.ready : undefined)),
            h('td', { class: 'num' }, i === 0 ? num(m.requestRate, '', 1) : ''),
            h('td', { class: 'num' }, i === 0 ? num(m.latencyMs?.p50, ' ms', 2) : ''),
            h('td', { class: 'num' }, i === 0 ? num(m.latencyMs?.p99, ' ms', 2) : ''),
            h('td', { class: 'num' }, i === 0 ? num(m.meanBatchSize, '', 1) : ''))))),
  );
}

export function renderServing(app: HTMLElement): () => void {
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const stamp = h('span', { class: 'muted small' });
  mount(app, h('section', { class: 'panel', id: 'serving' }, h('div', { class: 'toolbar' }, h('h1', {}, 'Served models'), h('span', { class: 'spacer' }), stamp), h('div', { class: 'card' }, body)));
  const load = () =>
    api
      .serving()
      .then((s) => {
        mount(body, table(s));
        stamp.textContent = `updated ${new Date().toLocaleTimeString()}`;
      })
      .catch((e: Error) => mount(body, h('p', { class: 'error' }, e.message)));
  load();
  const timer = setInterval(load, POLL_MS);
  return () => clearInterval(timer);
}
