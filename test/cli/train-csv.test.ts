// `lathe train` on a CSV (issue 5): the config names the file and the label column, the fitted
// preprocessing is saved with the model, and predict answers class names for raw CSV-shaped
// records. A synthetic CSV always; examples/iris.json on the real iris.csv when LATHE_DATA has it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const bin = path.join(root, 'bin', 'lathe.js');
let tmp: string;

function lathe(args: string[], env: Record<string, string> = {}) {
  const { LATHE_DATA: _, ...rest } = process.env;
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...rest, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-csv-cli-'));
  // Two features decide the class; "colour" is categorical noise, one value missing.
  const rows = ['id,size,weight,colour,kind'];
  for (let i = 0; i < 120; i++) {
    const big = i % 2 === 0;
    const size = (big ? 10 : 2) + ((i * 7) % 5) / 5;
    const weight = (big ? 50 : 20) + ((i * 3) % 7);
    rows.push(`${i},${size},${weight},${i === 5 ? '' : ['red', 'green', 'blue'][i % 3]},${big ? 'large' : 'small'}`);
  }
  fs.writeFileSync(path.join(tmp, 'things.csv'), `${rows.join('\r\n')}\r\n`);
  fs.writeFileSync(path.join(tmp, 'config.json'), JSON.stringify({
    seed: 3,
    dataset: { type: 'csv', path: 'things.csv', label: 'kind', exclude: ['id'], missing: { default: 'mode' }, validationSplit: 0.25, stratify: true, seed: 3 },
    model: { layers: [{ type: 'dense', units: 8, activation: 'relu' }, { type: 'dense', units: 2, activation: 'softmax' }] },
    compile: { optimizer: { type: 'adam', learningRate: 0.05 }, loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] },
    fit: { epochs: 15, batchSize: 8 },
  }));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('a CSV config trains (the path relative to the config), and predict names classes from raw records', () => {
  const run = path.join(tmp, 'run');
  const served = path.join(tmp, 'models', 'things', '1');
  const r = lathe(['train', path.join(tmp, 'config.json'), '--out', run, '--save-to', served, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const done = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.equal(done.val_accuracy, 1, `val_accuracy ${done.val_accuracy}`);
  // --save-to: the same model again where a model repository keeps version 1
  assert.equal(fs.readFileSync(path.join(served, 'model.json'), 'utf8'), fs.readFileSync(path.join(run, 'model', 'model.json'), 'utf8'));
  assert.deepEqual(fs.readFileSync(path.join(served, 'weights.safetensors')), fs.readFileSync(path.join(run, 'model', 'weights.safetensors')));
  const model = JSON.parse(fs.readFileSync(path.join(run, 'model', 'model.json'), 'utf8'));
  assert.deepEqual(model.classNames, ['large', 'small']);
  assert.equal(model.preprocessing.type, 'tabular');
  assert.deepEqual(model.preprocessing.columns.map((c: { name: string }) => c.name), ['size', 'weight', 'colour']);
  assert.deepEqual(model.signature.inputs[0].shape, [null, 5], 'two numbers and a one-hot of three colours');
  fs.writeFileSync(path.join(tmp, 'req.json'), JSON.stringify({ instances: [{ size: '10.4', weight: '52', colour: 'red' }, ['2.2', 21, 'purple']] }));
  const p = lathe(['predict', path.join(run, 'model'), '--input', path.join(tmp, 'req.json')]);
  assert.equal(p.status, 0, p.stderr);
  const body = JSON.parse(p.stdout);
  assert.deepEqual(body.classes, ['large', 'small']);
  assert.equal(body.predictions.length, 2);
  const e = lathe(['evaluate', path.join(run, 'model'), '--data', path.join(tmp, 'things.csv'), '--json']);
  assert.equal(e.status, 0, e.stderr);
  assert.equal(JSON.parse(e.stdout).accuracy, 1);
});

test('bad CSV configs and records fail naming the field, the row or the record', () => {
  const cfg = JSON.parse(fs.readFileSync(path.join(tmp, 'config.json'), 'utf8'));
  const write = (c: unknown) => (fs.writeFileSync(path.join(tmp, 'bad.json'), JSON.stringify(c)), path.join(tmp, 'bad.json'));
  let r = lathe(['train', write({ ...cfg, dataset: { ...cfg.dataset, label: 'kindd' } }), '--out', path.join(tmp, 'bad1')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^lathe: config\.dataset: .*kindd/);
  r = lathe(['train', write({ ...cfg, dataset: { ...cfg.dataset, path: 'nope.csv' } }), '--out', path.join(tmp, 'bad2')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^lathe: config\.dataset: "path" "nope\.csv": .*nope\.csv not found/);
  fs.writeFileSync(path.join(tmp, 'req-bad.json'), JSON.stringify({ instances: [{ size: 'big', weight: '52', colour: 'red' }] }));
  r = lathe(['predict', path.join(tmp, 'run', 'model'), '--input', path.join(tmp, 'req-bad.json')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /records\[0\], column "size"/);
});

const iris = process.env.LATHE_DATA ? path.join(path.resolve(process.env.LATHE_DATA), 'tabular', 'iris.csv') : '';
test('examples/iris.json reaches 93% validation accuracy, and the model names species from raw measurements', { skip: fs.existsSync(iris) ? false : 'needs $LATHE_DATA/tabular/iris.csv' }, () => {
  const run = path.join(tmp, 'iris');
  const r = lathe(['train', path.join(root, 'examples', 'iris.json'), '--out', run, '--json'], { LATHE_DATA: path.resolve(process.env.LATHE_DATA!) });
  assert.equal(r.status, 0, r.stderr);
  const done = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.ok(done.val_accuracy >= 0.93, `val_accuracy ${done.val_accuracy}`);
  fs.writeFileSync(path.join(tmp, 'iris-req.json'), JSON.stringify({ instances: [{ SepalLengthCm: '5.1', SepalWidthCm: '3.5', PetalLengthCm: '1.4', PetalWidthCm: '0.2' }, [6.7, 3.0, 5.2, 2.3]] }));
  const p = lathe(['predict', path.join(run, 'model'), '--input', path.join(tmp, 'iris-req.json')]);
  assert.equal(p.status, 0, p.stderr);
  assert.deepEqual(JSON.parse(p.stdout).classes, ['Iris-setosa', 'Iris-virginica']);
});
