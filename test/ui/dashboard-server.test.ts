// The dashboard's server without a browser: its API answers, its metrics stream sends new lines
// only (and resumes from Last-Event-ID), and no path, however encoded, reads a file outside the
// runs folder (issue 8, acceptance 5).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createDashboard } from '../../src/dashboard/handler.js';
import { startDashboardServer, type DashboardServer } from '../../src/dashboard/server.js';
import { LIVE_CURVE, metricLines, RUN_IDS, writeFixtureRuns } from './fixtures.js';

const SECRET = 'TOP-SECRET-outside-the-runs-folder';

interface Reply { status: number; headers: http.IncomingHttpHeaders; body: string }

/** A raw request: fetch() and new URL() would resolve "..", which is what the server must see. */
function request(base: string, rawPath: string, init: { method?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: rawPath, method: init.method ?? 'GET', headers: init.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Reads server-sent events until `until` says stop; returns them parsed. */
function readEvents(base: string, rawPath: string, headers: Record<string, string>, until: (events: SseEvent[]) => boolean, onOpen?: () => void): Promise<SseEvent[]> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const events: SseEvent[] = [];
    const timer = setTimeout(() => (req.destroy(), reject(new Error(`timed out; events so far: ${JSON.stringify(events).slice(0, 400)}`))), 8000);
    const req = http.get({ host: u.hostname, port: u.port, path: rawPath, headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['content-type']), /text\/event-stream/);
      onOpen?.();
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        buf += chunk;
        let cut: number;
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          const e: SseEvent = { event: 'message', data: '' };
          for (const line of block.split('\n')) {
            if (line.startsWith('id: ')) e.id = line.slice(4);
            else if (line.startsWith('event: ')) e.event = line.slice(7);
            else if (line.startsWith('data: ')) e.data += line.slice(6);
          }
          if (e.data) events.push(e);
          if (until(events)) {
            clearTimeout(timer);
            req.destroy();
            resolve(events);
            return;
          }
        }
      });
    });
    req.on('error', (e) => { if (!req.destroyed) reject(e); });
  });
}
interface SseEvent { id?: string; event: string; data: string }
const records = (e: SseEvent) => (JSON.parse(e.data) as { records: Array<Record<string, unknown>> }).records;

describe('dashboard server', () => {
  let tmp: string;
  let runsDir: string;
  let server: DashboardServer;
  let base: string;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-ui-server-'));
    runsDir = writeFixtureRuns(path.join(tmp, 'runs'));
    // Things a request must never reach: a folder beside the runs folder, and symlinks into it.
    fs.mkdirSync(path.join(tmp, 'outside'));
    fs.writeFileSync(path.join(tmp, 'outside', 'secret.txt'), SECRET);
    fs.writeFileSync(path.join(tmp, 'outside', 'secret.png'), SECRET);
    fs.writeFileSync(path.join(tmp, 'outside', 'run.json'), JSON.stringify({ name: SECRET }));
    fs.symlinkSync(path.join(tmp, 'outside'), path.join(runsDir, 'escape'));
    fs.symlinkSync(path.join(tmp, 'outside', 'secret.png'), path.join(runsDir, RUN_IDS.mlp, 'misclassified', 'link.png'));
    fs.symlinkSync('/etc', path.join(runsDir, RUN_IDS.mlp, 'misclassified', 'etc'));
    // A run folder whose run.json is a link out: the reader would otherwise return its contents.
    fs.mkdirSync(path.join(runsDir, 'linked-run'));
    fs.symlinkSync(path.join(tmp, 'outside', 'run.json'), path.join(runsDir, 'linked-run', 'run.json'));
    server = await startDashboardServer({ runsDir, host: '127.0.0.1', port: 0, pollMs: 100 });
    base = server.url;
  });
  after(async () => {
    await server?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('GET /api/runs lists the run folders, newest first, old runs included', async () => {
    const r = await request(base, '/api/runs');
    assert.equal(r.status, 200);
    const { runs } = JSON.parse(r.body) as { runs: Array<{ id: string; status: string; summary: Record<string, number>; hyperparameters: Record<string, unknown> }> };
    assert.deepEqual(runs.map((x) => x.id).sort(), Object.values(RUN_IDS).sort(), 'the symlink that leaves the runs folder is not a run');
    const legacy = runs.find((x) => x.id === RUN_IDS.legacy)!;
    assert.equal(legacy.status, 'stopped', 'a folder from before run.json without a saved model');
    assert.equal(legacy.summary.epochs, 3, 'summary from the epoch lines of a run without run.json');
    assert.equal(legacy.hyperparameters.learning_rate, 0.01, 'hyperparameters from config.json');
    assert.equal(runs.find((x) => x.id === RUN_IDS.live)!.status, 'running');
    assert.equal(runs.find((x) => x.id === RUN_IDS.failed)!.status, 'failed');
  });

  test('GET /api/runs/:id gives the run with its evaluation and gallery', async () => {
    const r = await request(base, `/api/runs/${RUN_IDS.mlp}`);
    assert.equal(r.status, 200);
    const run = JSON.parse(r.body);
    assert.equal(run.evaluation.confusion.matrix.length, 10);
    assert.equal(run.misclassified.length, 12);
    assert.equal(run.hyperparameters.lr, 0.001);
  });

  test('GET metrics as JSON reads whole lines only, from an offset', async () => {
    const r = await request(base, `/api/runs/${RUN_IDS.failed}/metrics`);
    assert.equal(r.status, 200);
    const body = JSON.parse(r.body) as { records: Array<{ kind: string }>; offset: number };
    const file = fs.readFileSync(path.join(runsDir, RUN_IDS.failed, 'metrics.jsonl'), 'utf8');
    assert.equal(body.offset, file.lastIndexOf('\n') + 1, 'the cut last line is left unread');
    assert.equal(body.records.length, metricLines({ epochs: 2, floor: 0.12, seed: 3 }).length);
    const legacy = JSON.parse((await request(base, `/api/runs/${RUN_IDS.legacy}/metrics`)).body) as { records: Array<{ kind: string }> };
    assert.deepEqual([...new Set(legacy.records.map((x) => x.kind))], ['epoch'], 'lines without "kind" read as epoch lines');
    const rest = JSON.parse((await request(base, `/api/runs/${RUN_IDS.failed}/metrics?offset=${body.offset}`)).body);
    assert.deepEqual(rest.records, []);
    for (const bad of ['-1', 'abc', '1e3', '99999999999999999']) assert.equal((await request(base, `/api/runs/${RUN_IDS.failed}/metrics?offset=${bad}`)).status, 400, bad);
  });

  test('the metrics stream sends the backlog, then each appended line once, and resumes from Last-Event-ID', async () => {
    const file = path.join(runsDir, RUN_IDS.live, 'metrics.jsonl');
    const backlog = metricLines(LIVE_CURVE, 1, 1);
    const more = metricLines(LIVE_CURVE, 2, 2);
    let appended = false;
    const events = await readEvents(base, `/api/runs/${RUN_IDS.live}/metrics`, {}, (ev) => {
      const got = ev.filter((e) => e.event === 'metrics').flatMap(records);
      if (got.length >= backlog.length && !appended) {
        appended = true;
        // A line in two writes: the stream must not send the half line.
        const [first, ...others] = more;
        fs.appendFileSync(file, first.slice(0, 20));
        setTimeout(() => fs.appendFileSync(file, `${first.slice(20)}\n${others.join('\n')}\n`), 300);
      }
      return got.length >= backlog.length + more.length;
    });
    const got = events.filter((e) => e.event === 'metrics').flatMap(records);
    assert.equal(got.length, backlog.length + more.length, 'no line sent twice, none cut');
    assert.deepEqual(got.slice(-1)[0], JSON.parse(more[more.length - 1]));
    const lastId = events.filter((e) => e.id !== undefined).slice(-1)[0].id!;
    assert.equal(Number(lastId), fs.statSync(file).size, 'the event id is the byte offset read so far');

    // A reconnect with Last-Event-ID gets only what came after it.
    const next = metricLines(LIVE_CURVE, 3, 3);
    const resumed = await readEvents(base, `/api/runs/${RUN_IDS.live}/metrics`, { 'last-event-id': lastId }, (ev) => ev.filter((e) => e.event === 'metrics').flatMap(records).length >= next.length, () => setTimeout(() => fs.appendFileSync(file, `${next.join('\n')}\n`), 100));
    assert.deepEqual(resumed.filter((e) => e.event === 'metrics').flatMap(records), next.map((l) => JSON.parse(l)));

    // An offset inside a line is not trusted: the stream starts over with a reset.
    const reset = await readEvents(base, `/api/runs/${RUN_IDS.live}/metrics?offset=5`, {}, (ev) => ev.some((e) => e.event === 'metrics'));
    assert.equal(reset[0].event, 'reset');
  });

  test('the page and the read-only rules', async () => {
    const page = await request(base, '/ui/');
    if (fs.existsSync(path.resolve(import.meta.dirname, '..', '..', '..', 'ui', 'dist', 'index.html'))) {
      assert.equal(page.status, 200);
      assert.match(page.body, /<main id="app"/);
      assert.match(String(page.headers['content-security-policy']), /default-src 'self'/);
    } else assert.equal(page.status, 503);
    assert.equal((await request(base, '/ui')).status, 301);
    assert.equal((await request(base, '/')).headers.location, '/ui/');
    const post = await request(base, '/api/runs', { method: 'POST' });
    assert.equal(post.status, 405);
    assert.match(JSON.parse(post.body).error, /read-only/);
    assert.equal((await request(base, '/api/serving')).status, 404, 'no model server in lathe ui');
    assert.equal((await request(base, '/api/nope')).status, 404);
    assert.equal((await request(base, '/api/runs/no-such-run')).status, 404);
  });

  test('no traversal attempt reads a file outside the runs folder', async () => {
    const mlp = RUN_IDS.mlp;
    const attempts = [
      '/api/runs/..', '/api/runs/../outside/secret.txt', '/api/runs/%2e%2e', '/api/runs/%2E%2E/outside', '/api/runs/..%2foutside',
      '/api/runs/%2e%2e%2foutside%2fsecret.txt', '/api/runs/.', '/api/runs/.hidden', '/api/runs//etc/passwd', '/api/runs/%2Fetc%2Fpasswd',
      '/api/runs/..%5c..%5coutside', '/api/runs/C:%5Cwindows', '/api/runs/%00', `/api/runs/${mlp}%00`, '/api/runs/escape',
      '/api/runs/escape/files/misclassified/secret.png', `/api/runs/${mlp}/files/misclassified/link.png`, `/api/runs/${mlp}/files/misclassified/etc/passwd`,
      `/api/runs/${mlp}/files/misclassified/..%2f..%2f..%2foutside%2fsecret.png`, `/api/runs/${mlp}/files/misclassified/%2e%2e/run.json`,
      `/api/runs/${mlp}/files/misclassified/100.png%00.txt`, `/api/runs/${mlp}/files/misclassified/100.png%00`, `/api/runs/${mlp}/files/run.json`,
      `/api/runs/${mlp}/files/%2Fetc%2Fpasswd`, `/api/runs/${mlp}/files//etc/passwd`, `/api/runs/${mlp}/files/misclassified/%252e%252e`,
      '/ui/../../package.json', '/ui/%2e%2e/%2e%2e/package.json', '/ui/assets/..%2f..%2f..%2fpackage.json', '/ui/assets/%2e%2e', '/ui//etc/passwd',
      '/ui/index.html%00', '/api/runs/%zz', `/api/runs/${mlp}/files/misclassified/%c0%ae%c0%ae`, '//etc/passwd', '/../../etc/passwd',
      `/api/runs/${'a'.repeat(300)}`, '/api/runs/escape/metrics', '/api/runs/linked-run',
    ];
    for (const attempt of attempts) {
      const r = await request(base, attempt);
      assert.ok(r.status === 400 || r.status === 404, `${attempt}: expected 400 or 404, got ${r.status}`);
      assert.ok(!r.body.includes(SECRET) && !r.body.includes('root:'), `${attempt}: the body holds a file outside the runs folder`);
      assert.match(String(r.headers['content-type']), /application\/json/, attempt);
      assert.equal(typeof JSON.parse(r.body).error, 'string', attempt);
    }
    // The same folder's own image is served, so the 404s above are the checks, not a broken route.
    const ok = await request(base, `/api/runs/${mlp}/files/misclassified/100.png`);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['content-type'], 'image/png');
  });

  test('the handler answers only /ui and /api, so a model server can mount it', async () => {
    const dashboard = createDashboard({ serving: () => ({ models: [{ name: 'mnist', versions: [{ version: '1', state: 'AVAILABLE' }] }] }) });
    const host = http.createServer((req, res) => {
      if (dashboard.handle(req, res)) return;
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('model server');
    });
    await new Promise<void>((r) => host.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(host.address() as { port: number }).port}/`;
    try {
      assert.equal((await request(url, '/v1/models/mnist')).body, 'model server');
      assert.equal((await request(url, '/uix')).body, 'model server');
      assert.equal(JSON.parse((await request(url, '/api/serving')).body).models[0].name, 'mnist');
      assert.deepEqual(JSON.parse((await request(url, '/api/runs')).body).runs, []);
      assert.equal((await request(url, '/api/runs/anything')).status, 404);
      assert.deepEqual(JSON.parse((await request(url, '/api/info')).body).serving, true);
    } finally {
      dashboard.close();
      await new Promise((r) => host.close(r));
    }
  });
});
