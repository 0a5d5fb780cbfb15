// POST ...:explain (issue 8, KServe v1's explain verb) on the model server: integrated gradients
// and saliency for a Lathe saved model, equal to the library's in-process answers, with
// completeness holding within the reported delta; every bad field is a 400 naming it, an
// unknown model or version a 404, an ONNX model a 400, and the caps on steps and instances hold.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import * as lt from '../../src/index.js';
import { MAX_EXPLAIN_INSTANCES, MAX_EXPLAIN_STEPS } from '../../src/serve/http/explain.js';
import { type RunningServer, startServer } from '../../src/serve/http/server.js';
import { buildRepository, CLASS_NAMES, type Fixture, pixels } from './repository-fixture.js';

let fx: Fixture;
let srv: RunningServer;
before(async () => {
  fx = await buildRepository();
  srv = await startServer({ repository: fx.root, port: 0 });
});
after(async () => {
  await srv?.close();
  fs.rmSync(fx.root, { recursive: true, force: true });
});

async function explain(url: string, body: unknown): Promise<{ status: number; json: any }> {
  const r = await fetch(`${srv.url}${url}`, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: r.status, json: await r.json() };
}

const N = 3;
const x = () => pixels(N, 21);

describe(':explain answers', () => {
  test('integrated gradients: attributions of the input\'s shape whose sum is f(x) - f(baseline) within the reported delta, as in-process', async () => {
    const r = await explain('/v1/models/mlp:explain', { instances: x().toArray(), steps: 32 });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.method, 'ig');
    assert.equal(r.json.score, 'logit');
    const want = lt.explain.integratedGradientsWithDelta(fx.v2, x(), { steps: 32 });
    const attr = want.attributions.dataSync();
    assert.equal(r.json.explanations.length, N);
    r.json.explanations.forEach((e: any, i: number) => {
      assert.equal(e.attributions.length, 784, 'one attribution per input feature');
      const sum = (e.attributions as number[]).reduce((a, b) => a + b, 0);
      const gap = e.score - e.baseline_score;
      assert.ok(Math.abs(sum - gap - e.delta) <= 1e-6 * Math.max(1, Math.abs(gap)), `example ${i}: sum ${sum}, f(x)-f(b) ${gap}, delta ${e.delta}`);
      assert.ok(Math.abs(e.delta) <= 0.01 * Math.abs(gap) + 1e-4, `example ${i}: completeness gap ${e.delta} for f(x)-f(b) ${gap}`);
      assert.equal(e.target, want.targets[i]);
      assert.equal(e.class, CLASS_NAMES[want.targets[i]]);
      assert.ok(Math.abs(e.score - want.scores[i]) <= 1e-9 && Math.abs(e.delta - want.delta[i]) <= 1e-9);
      const maxDiff = (e.attributions as number[]).reduce((m, v, j) => Math.max(m, Math.abs(v - attr[i * 784 + j])), 0);
      assert.ok(maxDiff <= 1e-9, `attributions differ from in-process by ${maxDiff}`);
    });
  });

  test('a label and a class-name target pick the version and the class explained', async () => {
    const r = await explain('/v1/models/mlp/labels/stable:explain', { instances: x().toArray(), target: 'three', method: 'saliency' });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const want = lt.explain.saliency(fx.v1, x(), { target: 3 }).dataSync();
    r.json.explanations.forEach((e: any, i: number) => {
      assert.deepEqual([e.target, e.class, 'delta' in e], [3, 'three', false]);
      const maxDiff = (e.attributions as number[]).reduce((m, v, j) => Math.max(m, Math.abs(v - want[i * 784 + j])), 0);
      assert.ok(maxDiff <= 1e-9, `saliency differs from in-process (version 1) by ${maxDiff}`);
    });
    const perRow = await explain('/v1/models/mlp/versions/2:explain', { instances: x().toArray(), target: [0, 5, 9], score: 'outputs' });
    assert.equal(perRow.status, 200, JSON.stringify(perRow.json));
    assert.deepEqual(perRow.json.explanations.map((e: any) => e.target), [0, 5, 9]);
    assert.equal(perRow.json.score, 'output');
  });
});

describe(':explain refuses', () => {
  const rows = () => x().toArray();
  const cases: Array<[string, unknown, RegExp]> = [
    ['an unknown method', { instances: rows(), method: 'shap' }, /"method" must be one of "ig", "saliency", got "shap"/],
    ['zero steps', { instances: rows(), steps: 0 }, /"steps" must be an integer from 1 to 256, got 0/],
    ['steps over the cap', { instances: rows(), steps: MAX_EXPLAIN_STEPS + 1 }, /"steps" must be an integer from 1 to 256, got 257/],
    ['fractional steps', { instances: rows(), steps: 1.5 }, /"steps" must be an integer/],
    ['steps as a string', { instances: rows(), steps: '10' }, /"steps" must be an integer/],
    ['steps for saliency', { instances: rows(), method: 'saliency', steps: 8 }, /"steps" applies to method "ig"/],
    ['a target past the classes', { instances: rows(), target: 10 }, /target 10 is out of range: the model has 10 outputs/],
    ['a negative target', { instances: rows(), target: -1 }, /"target" must be a class index/],
    ['a target list of the wrong length', { instances: rows(), target: [1] }, /one class index per instance \(3\)/],
    ['an unknown class name', { instances: rows(), target: 'dog' }, /target "dog" is not a class of this model/],
    ['an unknown score', { instances: rows(), score: 'probits' }, /"score" must be "logits"/],
    ['an unknown field', { instances: rows(), baseline: 7 }, /unknown field "baseline"/],
    ['too many instances', { instances: pixels(MAX_EXPLAIN_INSTANCES + 1, 1).toArray() }, /"instances" must hold 1 to 16 inputs/],
    ['no instances', { instances: [] }, /"instances" must hold 1 to 16/],
    ['a body without instances', { inputs: rows() }, /unknown field "inputs"|must have "instances"/],
    ['an instance of the wrong shape', { instances: [[1, 2, 3]] }, /instances\[0\]: expected an array of 784/],
    ['a body that is not an object', '[1,2]', /must be a JSON object/],
  ];
  for (const [what, body, message] of cases) {
    test(`${what}: 400`, async () => {
      const r = await explain('/v1/models/mlp:explain', body);
      assert.equal(r.status, 400, JSON.stringify(r.json));
      assert.match(r.json.error, message);
    });
  }

  test('an ONNX model: 400 "explain needs a Lathe model"; unknown models and versions: 404; GET: 405', async () => {
    const onnx = await explain('/v1/models/mlp-onnx:explain', { instances: rows() });
    assert.equal(onnx.status, 400);
    assert.match(onnx.json.error, /explain needs a Lathe model: model "mlp-onnx" version 3 is an ONNX model/);
    for (const url of ['/v1/models/nope:explain', '/v1/models/mlp/versions/9:explain', '/v1/models/mlp/labels/gold:explain']) {
      const r = await explain(url, { instances: rows() });
      assert.equal(r.status, 404, url);
      assert.ok(typeof r.json.error === 'string' && r.json.error.length > 0);
    }
    const get = await fetch(`${srv.url}/v1/models/mlp:explain`);
    assert.equal(get.status, 405);
    // The server still serves after every refusal.
    assert.equal((await fetch(`${srv.url}/v1/models/mlp:predict`, { method: 'POST', body: JSON.stringify({ instances: rows() }) })).status, 200);
  });
});
