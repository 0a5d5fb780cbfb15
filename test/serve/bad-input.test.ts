// Bad input never crashes the server and always gets a clear 4xx (issue 7, acceptance 2):
// each listed case by its status and message, oversized bodies refused before they are read,
// and 10,000 seeded random bodies and URLs (issue 7's count) answered 2xx/4xx, never 5xx, with the server healthy after.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { after, before, test } from 'node:test';
import { type RunningServer, startServer } from '../../src/serve/http/server.js';
import { mulberry32 } from '../train/synthetic-mnist.js';
import { buildRepository, type Fixture } from './repository-fixture.js';

let fx: Fixture;
let srv: RunningServer;
const errors: unknown[] = [];
before(async () => {
  fx = await buildRepository();
  srv = await startServer({ repository: fx.root, port: 0, log: (l) => l.event === 'error' && errors.push(l) });
});
after(async () => {
  await srv?.close();
  fs.rmSync(fx.root, { recursive: true, force: true });
});

/** A raw request (fetch would normalise paths like /../), answered with status and body text. */
function raw(method: string, path: string, body?: string | Buffer, headers: Record<string, string | number> = {}): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: srv.port, method, path, headers: body !== undefined ? { 'content-length': Buffer.byteLength(body), ...headers } : headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c) => (text += c)).on('end', () => resolve({ status: res.statusCode!, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const row = (v: unknown = 0.5) => Array.from({ length: 784 }, () => v);
const tensor = (over: Record<string, unknown> = {}) => ({ inputs: [{ name: 'input', shape: [1, 784], datatype: 'FP32', data: row(), ...over }] });
const PREDICT = '/v1/models/mlp:predict';
const INFER = '/v2/models/mlp/infer';

// [what, method, path, body, status, a pattern of the error message]
const CASES: [string, string, string, unknown, number, RegExp][] = [
  ['malformed JSON (predict)', 'POST', PREDICT, '{"instances": [1, 2', 400, /not valid JSON/],
  ['malformed JSON (infer)', 'POST', INFER, '{inputs: []}', 400, /not valid JSON/],
  ['NaN literal, as Python writes it', 'POST', INFER, JSON.stringify(tensor()).replace('0.5', 'NaN'), 400, /not valid JSON/],
  ['wrong instance shape', 'POST', PREDICT, { instances: [[1, 2, 3]] }, 400, /expected an array of 784/],
  ['no instances', 'POST', PREDICT, { instances: [] }, 400, /at least one instance/],
  ['both row and columnar forms', 'POST', PREDICT, { instances: [row()], inputs: [row()] }, 400, /not both/],
  ['unknown signature', 'POST', PREDICT, { signature_name: 'x', instances: [row()] }, 400, /signature_name/],
  ['wrong named input (predict)', 'POST', PREDICT, { instances: [{ pixels: row() }] }, 400, /expected \{"input"/],
  ['a string in a float instance', 'POST', PREDICT, { instances: [row('0.5')] }, 400, /finite number/],
  ['null in a float instance', 'POST', PREDICT, { instances: [row(null)] }, 400, /finite number/],
  ['1e999 (Infinity) in a float tensor', 'POST', INFER, JSON.stringify(tensor()).replace('0.5', '1e999'), 400, /not a valid value/],
  ['a string in a float tensor', 'POST', INFER, tensor({ data: ['NaN', ...row().slice(1)] }), 400, /"NaN" is not a valid value/],
  ['wrong input name', 'POST', INFER, tensor({ name: 'x' }), 400, /unknown input "x"; the model takes "input"/],
  ['wrong datatype', 'POST', INFER, tensor({ datatype: 'INT32', data: row(1) }), 400, /input "input" is FP32, got INT32/],
  ['unknown datatype', 'POST', INFER, tensor({ datatype: 'FLOAT' }), 400, /datatype must be one of/],
  ['wrong shape against the signature', 'POST', INFER, tensor({ shape: [1, 783] }), 400, /does not match input "input" \[-1,784\]/],
  ['wrong rank', 'POST', INFER, tensor({ shape: [784] }), 400, /rank 1/],
  ['shape against data length', 'POST', INFER, tensor({ shape: [2, 784] }), 400, /needs 1568 values, data has 784/],
  ['a 10^9-element shape claim', 'POST', INFER, tensor({ shape: [1275510, 784] }), 400, /shape\[0\] \(the batch\) must be 1 to 65536/],
  ['a 10^9-element claim within the batch limit', 'POST', '/v2/models/mlp-onnx/infer', tensor({ shape: [65536, 784] }), 400, /needs 51380224 values, data has more|data has 784/],
  ['negative dimension', 'POST', INFER, tensor({ shape: [-1, 784] }), 400, /non-negative integers/],
  ['unknown output', 'POST', INFER, { ...tensor(), outputs: [{ name: 'logits' }] }, 400, /unknown output "logits"/],
  ['non-string id', 'POST', INFER, { ...tensor(), id: 5 }, 400, /"id" must be a string/],
  ['JSON nested 100000 deep', 'POST', INFER, `${'['.repeat(100000)}${']'.repeat(100000)}`, 400, /nests deeper than 64/],
  ['unknown model', 'POST', '/v1/models/nope:predict', { instances: [row()] }, 404, /model "nope" not found/],
  ['unknown version', 'POST', '/v1/models/mlp/versions/9:predict', { instances: [row()] }, 404, /has no version 9/],
  ['version not served by the policy', 'GET', '/v1/models/old/versions/5', undefined, 404, /has no version 5/],
  ['unknown label', 'GET', '/v1/models/mlp/labels/beta', undefined, 404, /no label "beta"/],
  ['non-numeric version', 'GET', '/v2/models/mlp/versions/01', undefined, 400, /not a positive integer/],
  ['failed version', 'POST', '/v2/models/broken/versions/1/infer', tensor(), 404, /not available \(END/],
  ['encoded path traversal', 'GET', '/v1/models/..%2F..%2Fetc', undefined, 400, /is not valid/],
  ['encoded path traversal (v2)', 'GET', '/v2/models/..%2F..%2Fetc%2Fpasswd/ready', undefined, 400, /is not valid/],
  ['raw path traversal', 'GET', '/v1/models/../../etc/passwd', undefined, 404, /no route/],
  ['dot name', 'GET', '/v1/models/..', undefined, 400, /is not valid/],
  ['prototype key as a name', 'GET', '/v2/models/__proto__', undefined, 404, /not found/],
  ['malformed percent-encoding', 'GET', '/v1/models/%E0%A4%A', undefined, 400, /percent-encoding/],
  ['unknown route', 'GET', '/v3/models', undefined, 404, /no route/],
  ['unknown verb', 'POST', '/v1/models/mlp:regress', {}, 404, /no route/],
  ['wrong method', 'GET', INFER, undefined, 405, /use POST/],
  ['wrong method (status)', 'DELETE', '/v1/models/mlp', undefined, 405, /use GET/],
  ['body not an object', 'POST', INFER, [1, 2], 400, /JSON object/],
];

for (const [what, method, path, body, status, pattern] of CASES) {
  test(`${what}: ${status}`, async () => {
    const r = await raw(method, path, body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body));
    assert.equal(r.status, status, r.text);
    const json = JSON.parse(r.text);
    assert.deepEqual(Object.keys(json), ['error']);
    assert.match(json.error, pattern);
  });
}

test('a 100 MB body gets a 413 from its Content-Length at once, before the body is sent', async () => {
  const t0 = performance.now();
  const r = await new Promise<{ status: number; sent: number }>((resolve, reject) => {
    let sent = 0;
    const req = http.request({ host: '127.0.0.1', port: srv.port, method: 'POST', path: INFER, headers: { 'content-length': 100 * 1024 * 1024 } }, (res) => {
      res.resume();
      resolve({ status: res.statusCode!, sent });
    });
    req.on('error', reject);
    // Send 1 MiB at a time, only as the socket drains: an answer before the end means nothing was buffered.
    const chunk = Buffer.alloc(1024 * 1024, 32);
    const pump = () => {
      while (sent < 100 && req.write(chunk)) sent++;
      if (sent < 100) req.once('drain', () => (sent++, pump()));
    };
    pump();
  });
  assert.equal(r.status, 413);
  assert.ok(r.sent < 50, `the answer came after ${r.sent} MiB`);
  assert.ok(performance.now() - t0 < 2000);
  assert.equal((await raw('GET', '/v2/health/live')).status, 200);
});

test('a chunked body without Content-Length is cut off at --max-request-bytes', async () => {
  const small = await startServer({ repository: srv.repository, port: 0, maxRequestBytes: 1024 * 1024 });
  try {
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${small.url}${INFER}`, { method: 'POST' }, (res) => (res.resume(), resolve(res.statusCode!)));
      req.on('error', reject);
      for (let i = 0; i < 8; i++) req.write(Buffer.alloc(256 * 1024, 32)); // 2 MiB of spaces, chunked
      req.end();
    });
    assert.equal(status, 413);
    assert.equal((await fetch(`${small.url}/v2/health/live`)).status, 200);
  } finally {
    await small.close();
  }
});

const FUZZ_REQUESTS = 10_000;

test('10,000 seeded random bodies and URLs are all answered 2xx or 4xx, and the server stays healthy', async () => {
  const rnd = mulberry32(7);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const atoms = [0, 1, -1, 0.5, 1e308, -1e-300, 255, 256, true, false, null, '', 'NaN', 'input', 'FP32', '__proto__', [], {}];
  const value = (depth: number): unknown => {
    const k = rnd();
    if (depth > 3 || k < 0.4) return pick(atoms);
    if (k < 0.7) return Array.from({ length: Math.floor(rnd() * 5) }, () => value(depth + 1));
    return Object.fromEntries(Array.from({ length: Math.floor(rnd() * 4) }, () => [pick(['instances', 'inputs', 'examples', 'name', 'shape', 'datatype', 'data', 'id', 'outputs', 'signature_name', 'input']), value(depth + 1)]));
  };
  /** A valid body, then mutated: a field replaced, the text cut or a byte flipped. */
  const body = (): string => {
    const base: any = pick([{ instances: [row()] }, { inputs: [row()] }, { examples: [row()] }, tensor(), tensor({ shape: [1, 28, 28], data: [row()] })]);
    const k = rnd();
    if (k < 0.3) return JSON.stringify(value(0));
    if (k < 0.6) {
      const t = base.inputs?.[0] && typeof base.inputs[0] === 'object' && !Array.isArray(base.inputs[0]) ? base.inputs[0] : base;
      t[pick(Object.keys(t).concat(['shape', 'datatype', 'name']))] = value(1);
      return JSON.stringify(base);
    }
    const s = JSON.stringify(base);
    if (k < 0.8) return s.slice(0, Math.floor(rnd() * s.length));
    const i = Math.floor(rnd() * s.length);
    return s.slice(0, i) + String.fromCharCode(Math.floor(rnd() * 128)) + s.slice(i + 1);
  };
  const segs = ['v1', 'v2', 'models', 'mlp', 'mlp-onnx', 'broken', 'old', 'versions', 'labels', '1', '2', '0', '-1', '99999999999999999999', 'stable', 'ready', 'infer', 'metadata', 'health', 'live', '..', '.', '%2F', '%00', '%', 'mlp:predict', 'mlp:classify', ':predict', '__proto__', 'constructor', ''];
  const url = (): string => {
    const head = pick(['/v1/models/', '/v2/models/', '/', '/v2/']);
    return head + Array.from({ length: 1 + Math.floor(rnd() * 4) }, () => pick(segs)).join('/') + (rnd() < 0.3 ? pick([':predict', ':classify', '/infer', '?x=1']) : '');
  };
  const counts = new Map<number, number>();
  const t0 = performance.now();
  for (let i = 0; i < FUZZ_REQUESTS; i += 50) {
    const batch = Array.from({ length: 50 }, (_, j) => {
      const k = rnd();
      const [method, path, b] = k < 0.5 ? ['POST', pick([INFER, PREDICT, '/v1/models/mlp:classify', '/v2/models/mlp-onnx/infer', '/v1/models/mlp/labels/canary:predict']), body()] : [pick(['GET', 'POST', 'PUT']), url(), rnd() < 0.5 ? body() : undefined];
      return raw(method, path, b).then((r) => {
        counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
        assert.ok(r.status < 500, `${i + j}: ${method} ${path} ${b?.slice(0, 200)} -> ${r.status} ${r.text}`);
        assert.ok(typeof JSON.parse(r.text) === 'object');
      });
    });
    await Promise.all(batch);
  }
  const seconds = (performance.now() - t0) / 1000;
  assert.deepEqual(errors, []);
  assert.ok([...counts.keys()].some((s) => s === 200) && [...counts.keys()].some((s) => s === 400), `statuses ${JSON.stringify([...counts])}`);
  assert.equal((await raw('GET', '/v2/health/ready')).status, 200);
  assert.equal((await raw('POST', INFER, JSON.stringify(tensor()))).status, 200);
  console.log(JSON.stringify({ fuzz_requests: FUZZ_REQUESTS, seconds: +seconds.toFixed(2), statuses: Object.fromEntries(counts) }));
});
