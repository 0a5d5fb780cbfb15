// ONNX backend node tests (Debian's libonnx-testdata): every test whose operators Lathe imports
// is loaded, fed its recorded inputs and compared with its recorded outputs (rtol 1e-3,
// atol 1e-7, as onnx's backend test runner does). test/io/onnx-conformance-passing.txt lists
// the tests that passed when it was written; one of them failing is a regression. Set
// LATHE_ONNX_CONFORMANCE_UPDATE=1 to rewrite the list. Skips when the package is absent.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as lt from '../../src/index.js';
import { ONNX_OPS } from '../../src/io/onnx/import/model.js';
import { tensorFromProto, tensorOf, type TensorProtoObject } from '../../src/io/onnx/import/tensors.js';
import { ModelProto, TensorProto } from '../../src/io/onnx/schema.js';

const ROOT = process.env.LATHE_ONNX_TESTDATA ?? '/usr/share/libonnx-testdata/data/node';
const LIST = fileURLToPath(new URL('../../../test/io/onnx-conformance-passing.txt', import.meta.url));
const RTOL = 1e-3;
const ATOL = 1e-7;

type Status = { status: 'pass' } | { status: 'fail'; reason: string } | { status: 'unsupported' };

function readTensor(file: string): lt.Tensor {
  const obj = TensorProto.toObject(TensorProto.decode(fs.readFileSync(file)), { longs: Number, defaults: false }) as TensorProtoObject;
  return tensorOf(tensorFromProto(obj, path.basename(file)), path.basename(file));
}

function compare(name: string, actual: lt.Tensor, expected: lt.Tensor): void {
  assert.deepEqual([...actual.shape], [...expected.shape], `${name}: shape`);
  const a = actual.dataSync();
  const e = expected.dataSync();
  for (let i = 0; i < e.length; i++) {
    const [x, y] = [Number(a[i]), Number(e[i])];
    if (x === y || (Number.isNaN(x) && Number.isNaN(y))) continue;
    if (!(Math.abs(x - y) <= ATOL + RTOL * Math.abs(y))) assert.fail(`${name}: element ${i}: got ${x}, expected ${y}`);
  }
}

/** Runs one node test: its model against test_data_set_0. */
export function runNodeTest(dir: string): Status {
  let model: lt.OnnxModel;
  try {
    model = lt.loadOnnx(fs.readFileSync(path.join(dir, 'model.onnx')));
  } catch (e) {
    if (/unsupported operators|opset \d+ is outside|no opset of the default|is not a tensor/.test((e as Error).message)) return { status: 'unsupported' };
    return { status: 'fail', reason: (e as Error).message };
  }
  try {
    const data = path.join(dir, 'test_data_set_0');
    const feeds: Record<string, lt.Tensor> = {};
    model.inputs.forEach((info, i) => (feeds[info.name] = readTensor(path.join(data, `input_${i}.pb`))));
    const outputs = lt.noGrad(() => model.run(feeds));
    model.outputs.forEach((info, i) => compare(info.name, outputs[info.name], readTensor(path.join(data, `output_${i}.pb`))));
    return { status: 'pass' };
  } catch (e) {
    return { status: 'fail', reason: (e as Error).message.split('\n')[0] };
  }
}

const squash = (s: string) => s.replace(/_/g, '').toLowerCase();

/** The operator a test is about: the longest of its model's op names that starts its name. */
function operatorOf(name: string, dir: string): string {
  // Function-expanded tests run a composite of primitive ops; they count together.
  if (name.endsWith('_expanded')) return 'expanded functions';
  const m = ModelProto.toObject(ModelProto.decode(fs.readFileSync(path.join(dir, 'model.onnx'))), { defaults: false }) as { graph?: { node?: { opType: string }[] } };
  const ops = [...new Set((m.graph?.node ?? []).map((n) => n.opType))];
  const bare = squash(name.replace(/^test_/, ''));
  const hit = ops.filter((op) => bare.startsWith(squash(op))).sort((a, b) => b.length - a.length)[0];
  return hit ?? ops[0] ?? '?';
}

test('ONNX backend node tests: every listed test still passes', { skip: !fs.existsSync(ROOT) && `${ROOT} not found (apt-get install libonnx-testdata)` }, (t) => {
  const listed = fs.existsSync(LIST) ? fs.readFileSync(LIST, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')) : [];
  const results = new Map<string, Status>();
  const perOp = new Map<string, { pass: number; fail: number }>();
  for (const name of fs.readdirSync(ROOT).sort()) {
    const dir = path.join(ROOT, name);
    if (!fs.existsSync(path.join(dir, 'model.onnx'))) continue;
    const r = runNodeTest(dir);
    results.set(name, r);
    if (r.status === 'unsupported') continue;
    const op = operatorOf(name, dir);
    const c = perOp.get(op) ?? { pass: 0, fail: 0 };
    c[r.status]++;
    perOp.set(op, c);
  }
  const passing = [...results].filter(([, r]) => r.status === 'pass').map(([n]) => n);
  const failing = [...results].filter(([, r]) => r.status === 'fail') as [string, { reason: string }][];
  t.diagnostic(`${passing.length} passing, ${failing.length} failing, ${[...results.values()].filter((r) => r.status === 'unsupported').length} with unsupported operators`);
  t.diagnostic(`per operator (pass/run): ${[...perOp].sort().map(([op, c]) => `${op} ${c.pass}/${c.pass + c.fail}`).join(', ')}`);
  if (process.env.LATHE_ONNX_CONFORMANCE_VERBOSE) for (const [n, r] of failing) t.diagnostic(`FAIL ${n}: ${r.reason}`);
  if (process.env.LATHE_ONNX_CONFORMANCE_UPDATE === '1') {
    fs.writeFileSync(LIST, `# ONNX backend node tests (libonnx-testdata) that Lathe passes; test/io/onnx-conformance.test.ts checks them.\n${passing.join('\n')}\n`);
    return;
  }
  assert.ok(listed.length > 0, `${LIST} lists no tests; run with LATHE_ONNX_CONFORMANCE_UPDATE=1 to write it`);
  const regressions = listed.filter((n) => results.get(n)?.status !== 'pass').map((n) => {
    const r = results.get(n);
    return `${n}: ${r === undefined ? 'not found' : r.status === 'fail' ? r.reason : 'unsupported operator'}`;
  });
  assert.deepEqual(regressions, [], `listed ONNX node tests that no longer pass:\n${regressions.join('\n')}`);
  const fresh = passing.filter((n) => !listed.includes(n));
  if (fresh.length > 0) t.diagnostic(`newly passing, not yet listed: ${fresh.join(', ')}`);
});
