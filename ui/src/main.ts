// The dashboard page: a hash router over four views (runs list, one run, compare, serving).
// Everything it loads comes from this server: no CDN, no web fonts.
import { api } from './api.js';
import './style.css';
import { renderCompare } from './views/compare.js';
import { renderRunDetail } from './views/run-detail.js';
import { renderRunsList } from './views/runs-list.js';
import { renderServing } from './views/serving.js';

const app = document.getElementById('app')!;
const live = document.getElementById('live-indicator')!;
let cleanup: () => void = () => {};
let hasRuns = true;

function route(): void {
  cleanup();
  window.scrollTo(0, 0);
  const hash = location.hash.replace(/^#\/?/, '');
  const [view, ...rest] = hash.split('/');
  const arg = rest.map(decodeURIComponent).join('/');
  for (const a of document.querySelectorAll<HTMLAnchorElement>('[data-nav]')) a.classList.toggle('active', a.dataset.nav === (view === 'run' || view === '' ? 'runs' : view));
  const setLive = (on: boolean) => (live.hidden = !on);
  if (view === 'run' && arg) cleanup = renderRunDetail(app, arg, setLive);
  else if (view === 'compare') cleanup = renderCompare(app, arg ? arg.split(',').filter(Boolean) : []);
  else if (view === 'serving' || (view === '' && !hasRuns)) cleanup = renderServing(app);
  else cleanup = renderRunsList(app);
  document.body.dataset.view = view || 'runs';
}

api
  .info()
  .then((info) => {
    hasRuns = info.runs;
    (document.querySelector('[data-nav="serving"]') as HTMLElement).hidden = !info.serving;
    for (const el of document.querySelectorAll<HTMLElement>('[data-nav="runs"], [data-nav="compare"]')) el.hidden = !info.runs;
    document.title = `Lathe ${info.lathe} dashboard`;
  })
  .catch(() => {})
  .finally(() => {
    window.addEventListener('hashchange', route);
    route();
  });
