// The run folder `lathe train` writes (issue 8), and `lathe runs` / `lathe compare` reading it:
// two short runs on the synthetic digits (test/train/synthetic-mnist.ts) checked against the
// contract in src/train/runs/run-format.ts; with LATHE_DATA, examples/iris.json as well.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import pngjs from 'pngjs';
import * as lt from '../../src/index.js';
import { mlpConfig, syntheticDigits, writeSyntheticMnist } from '../train/synthetic-mnist.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const bin = path.join(root, 'bin', 'lathe.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-cli-runs-'));
const TEST_EXAMPLES = 100;
const data = writeSyntheticMnist(300, TEST_EXAMPLES);
after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.rmSync(data, { recursive: true, force: true });
});

function lathe(args: string[], env: Record<string, string> = {}) {
  const { LATHE_DATA: _, ...rest } = process.env;
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...rest, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const readJson = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8'));
const isNumber = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
const isoTime = (v: unknown) => typeof v === 'string' && new Date(v).toISOString() === v;

describe('lathe train writes the run folder; lathe runs and lathe compare read it', () => {
  const runs = path.join(tmp, 'runs');
  // "weak" learns little in one epoch, so it makes mistakes for the gallery; "strong" learns the digits
  const weakDir = path.join(runs, 'weak');
  const strongDir = path.join(runs, 'strong');

  before(() => {
    fs.mkdirSync(runs, { recursive: true });
    fs.writeFileSync(path.join(tmp, 'weak.json'), JSON.stringify({ ...mlpConfig({ hidden: 4, epochs: 1, lr: 0.002 }), fit: { epochs: 1, batchSize: 10, logEvery: 3 } }));
    fs.writeFileSync(path.join(tmp, 'strong.json'), JSON.stringify(mlpConfig({ epochs: 2 })));
    for (const [name, dir] of [['weak', weakDir], ['strong', strongDir]]) {
      const r = lathe(['train', path.join(tmp, `${name}.json`), '--data', data, '--out', dir, '--json']);
      assert.equal(r.status, 0, r.stderr);
    }
  });

  test('run.json: status, times, pid, hyperparameters, environment and final figures', () => {
    const run = readJson(path.join(weakDir, 'run.json'));
    assert.equal(run.format, 1);
    assert.equal(run.id, 'weak');
    assert.equal(run.name, 'weak');
    assert.equal(run.status, 'finished');
    assert.ok(isoTime(run.started) && isoTime(run.ended) && run.ended >= run.started, `${run.started} .. ${run.ended}`);
    assert.ok(Number.isInteger(run.pid) && run.pid !== process.pid);
    assert.deepEqual(
      { ...run.hyperparameters },
      { optimizer: 'adam', learning_rate: 0.002, batch_size: 10, epochs: 1, seed: 0, loss: 'sparse_categorical_crossentropy', layers: 'dense(4,relu) > dense(10,softmax)', dataset: 'mnist', validation: 'test', params: 784 * 4 + 4 + 4 * 10 + 10 },
    );
    for (const k of ['lathe', 'node', 'backend', 'cpu', 'platform']) assert.equal(typeof run.env[k], 'string', `env.${k}`);
    assert.ok(Number.isInteger(run.env.threads) && run.env.threads >= 1);
    const s = run.summary;
    for (const k of ['loss', 'accuracy', 'val_loss', 'val_accuracy', 'test_loss', 'test_accuracy', 'median_epoch_seconds', 'peak_rss_mb']) assert.ok(isNumber(s[k]), `summary.${k}: ${s[k]}`);
    assert.equal(s.epochs, 1);
    // the test split is the validation data here: the final evaluation repeats the last epoch's
    assert.equal(s.test_loss, s.val_loss);
    assert.equal(s.test_accuracy, s.val_accuracy);
  });

  test('metrics.jsonl: step lines every logEvery batches, then the epoch line', () => {
    const lines = fs.readFileSync(path.join(weakDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const steps = lines.filter((l) => l.kind === 'step');
    const epochs = lines.filter((l) => l.kind === 'epoch');
    assert.equal(steps.length + epochs.length, lines.length, 'every line has a kind');
    assert.deepEqual(steps.map((l) => l.step), [3, 6, 9, 12, 15, 18, 21, 24, 27, 30], '30 batches of 10, one line every 3');
    for (const l of steps) {
      assert.deepEqual(Object.keys(l), ['kind', 'step', 'epoch', 'loss', 'time']);
      assert.equal(l.epoch, 1);
      assert.ok(isNumber(l.loss) && l.loss > 0 && isNumber(l.time));
    }
    assert.ok(steps.every((l, i) => i === 0 || l.time >= steps[i - 1].time), 'time runs forward');
    assert.equal(epochs.length, 1);
    assert.equal(epochs[0].epoch, 1);
    assert.equal(epochs[0].lr, 0.002);
    assert.ok(epochs[0].time >= steps[steps.length - 1].time);
    // the default interval: about 50 lines an epoch, so 10 batches of 32 give one a batch
    const strong = fs.readFileSync(path.join(strongDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(strong.filter((l) => l.kind === 'step').length, 2 * Math.ceil(300 / 32));
  });

  test('evaluation.json: the test split\'s loss, accuracy and a confusion matrix summing to its size', () => {
    const ev = readJson(path.join(weakDir, 'evaluation.json'));
    const run = readJson(path.join(weakDir, 'run.json'));
    assert.equal(ev.split, 'test');
    assert.equal(ev.loss, run.summary.test_loss);
    assert.deepEqual(Object.keys(ev.metrics), ['accuracy']);
    const names = Array.from({ length: 10 }, (_, i) => String(i));
    assert.deepEqual(ev.classNames, names);
    assert.deepEqual(ev.confusion.labels, names);
    const m: number[][] = ev.confusion.matrix;
    assert.equal(m.length, 10);
    assert.ok(m.every((row) => row.length === 10 && row.every((c) => Number.isInteger(c) && c >= 0)));
    assert.equal(m.flat().reduce((a, b) => a + b, 0), TEST_EXAMPLES);
    // rows are the true class: the synthetic test labels are i % 10, ten of each
    assert.deepEqual(m.map((row) => row.reduce((a, b) => a + b, 0)), new Array(10).fill(TEST_EXAMPLES / 10));
    const correct = m.reduce((a, row, i) => a + row[i], 0);
    assert.equal(correct / TEST_EXAMPLES, ev.metrics.accuracy);
  });

  test('misclassified.json lists the mistakes, most confident first, with PNGs of the raw test pixels', () => {
    const ev = readJson(path.join(weakDir, 'evaluation.json'));
    const wrong = TEST_EXAMPLES - ev.confusion.matrix.reduce((a: number, row: number[], i: number) => a + row[i], 0);
    assert.ok(wrong > 0, 'the weak run makes mistakes');
    const list = readJson(path.join(weakDir, 'misclassified.json'));
    assert.equal(list.length, Math.min(64, wrong));
    const test = syntheticDigits(TEST_EXAMPLES, 1001);
    for (const [i, e] of list.entries()) {
      assert.deepEqual(Object.keys(e).sort(), ['confidence', 'explanation', 'image', 'index', 'label', 'labelName', 'predicted', 'predictedName']);
      assert.equal(e.label, test.labels[e.index]);
      assert.notEqual(e.predicted, e.label);
      assert.ok(e.confidence > 0 && e.confidence <= 1);
      if (i > 0) assert.ok(e.confidence <= list[i - 1].confidence);
      assert.equal(e.image, `misclassified/${e.index}.png`);
      const png = pngjs.PNG.sync.read(fs.readFileSync(path.join(weakDir, e.image)));
      assert.equal(png.width, 28);
      assert.equal(png.height, 28);
      const gray = Array.from({ length: 784 }, (_, p) => png.data[p * 4]);
      assert.deepEqual(gray, Array.from(test.images.subarray(e.index * 784, (e.index + 1) * 784)), `pixels of example ${e.index}`);
    }
    assert.equal(fs.readdirSync(path.join(weakDir, 'misclassified')).length, list.length);
  });

  test('each misclassified example has its explanation: an integrated-gradients heat map of the predicted class, at the image\'s size', () => {
    const list = readJson(path.join(weakDir, 'misclassified.json'));
    const test = syntheticDigits(TEST_EXAMPLES, 1001);
    let reddish = 0;
    for (const e of list) {
      assert.equal(e.explanation, `explanations/${e.index}.png`);
      const bytes = fs.readFileSync(path.join(weakDir, e.explanation));
      assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG signature');
      const png = pngjs.PNG.sync.read(bytes);
      assert.equal(png.width, 28);
      assert.equal(png.height, 28);
      const ink = test.images.subarray(e.index * 784, (e.index + 1) * 784);
      for (let p = 0; p < 784; p++) {
        const [r, g, b] = [png.data[p * 4], png.data[p * 4 + 1], png.data[p * 4 + 2]];
        // integrated gradients from black attribute nothing to a black pixel: it stays black
        if (ink[p] === 0) assert.deepEqual([r, g, b], [0, 0, 0], `example ${e.index}, pixel ${p}: background should carry no attribution`);
        else if (r > g + 60 && r > b + 60) reddish++;
      }
    }
    // attributions sum to f(x) - f(black) > 0 for the predicted class, so some ink argues for it
    assert.ok(reddish > 0, 'some stroke pixels are drawn red (evidence for the predicted class)');
    // the first one, redrawn here from the saved model: 32-step integrated gradients of the predicted class
    const loaded = lt.load(path.join(weakDir, 'model')).model as lt.Sequential;
    const e = list[0];
    const x = lt.tensor(Float32Array.from(test.images.subarray(e.index * 784, (e.index + 1) * 784)), { shape: [1, ...loaded.inputShape!] });
    const attributions = lt.explain.integratedGradients(loaded, x, { target: e.predicted, steps: 32 });
    const [panel] = lt.explain.heatmapPanels(x, attributions, { channels: 1, height: 28, width: 28 }, 1);
    const want = pngjs.PNG.sync.read(Buffer.from(lt.explain.heatmapPng([panel], 28, 28, { scale: 1 }))).data;
    const got = pngjs.PNG.sync.read(fs.readFileSync(path.join(weakDir, e.explanation))).data;
    const worst = Math.max(...Array.from(got, (v, k) => Math.abs(v - want[k])));
    assert.ok(worst <= 2, `example ${e.index}: the heat map differs from integrated gradients of class ${e.predicted} by up to ${worst} levels`);
    assert.deepEqual(fs.readdirSync(path.join(weakDir, 'explanations')).sort(), list.map((e: { index: number }) => `${e.index}.png`).sort());
  });

  test('lathe runs lists both, newest first, as a table and as JSON lines', () => {
    const r = lathe(['runs', '--dir', runs]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    const rows = r.stdout.trim().split('\n');
    assert.match(rows[0], /^ID\s+STATUS\s+STARTED\s+PROGRESS\s+LOSS\s+VAL_LOSS\s+VAL_ACC\s+TEST_ACC\s+DURATION$/);
    assert.equal(rows.length, 3);
    assert.match(rows[1], /^strong\s+finished\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+2 ep\s+\d\.\d{4}\s+\d\.\d{4}\s+\d\.\d{4}\s+\d\.\d{4}\s+\d+\.\ds$/);
    assert.match(rows[2], /^weak\s+finished\s.*\s1 ep\s/);
    const json = lathe(['runs', '--dir', runs, '--json']).stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(json.map((j) => j.id), ['strong', 'weak']);
    const strongRun = readJson(path.join(strongDir, 'run.json'));
    assert.equal(json[0].val_accuracy, strongRun.summary.val_accuracy);
    assert.equal(json[0].test_accuracy, strongRun.summary.test_accuracy);
    assert.equal(json[0].epochs, 2);
    assert.equal(json[0].dir, strongDir);
    assert.ok(json[0].duration_seconds > 0);
  });

  test('lathe compare shows the differing hyperparameters, the results and the best epoch side by side', () => {
    const r = lathe(['compare', 'weak', strongDir, '--dir', runs]);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0], /^\s+weak\s+strong$/);
    const row = (label: string) => lines.find((l) => l.startsWith(`  ${label} `))?.trim().split(/\s{2,}/);
    assert.deepEqual(row('learning_rate'), ['learning_rate', '0.002', '0.01']);
    assert.deepEqual(row('layers'), ['layers', 'dense(4,relu) > dense(10,softmax)', 'dense(32,relu) > dense(10,softmax)']);
    assert.equal(row('optimizer'), undefined, 'equal hyperparameters are left out');
    const weak = readJson(path.join(weakDir, 'run.json')).summary;
    const strong = readJson(path.join(strongDir, 'run.json')).summary;
    assert.deepEqual(row('test_accuracy'), ['test_accuracy', weak.test_accuracy.toFixed(4), strong.test_accuracy.toFixed(4)]);
    assert.match(row('best epoch')!.join('|'), /^best epoch\|1 \(val_loss \d\.\d{4}\)\|[12] \(val_loss \d\.\d{4}\)$/);
    const json = JSON.parse(lathe(['compare', 'weak', 'strong', '--dir', runs, '--json']).stdout);
    assert.deepEqual(json.runs.map((x: { id: string }) => x.id), ['weak', 'strong']);
    assert.deepEqual(json.hyperparameters.batch_size, [10, 32]);
    assert.equal(json.same_hyperparameters.optimizer, 'adam');
    assert.deepEqual(json.metrics.val_loss, [weak.val_loss, strong.val_loss]);
    const strongEpochs = fs.readFileSync(path.join(strongDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.kind === 'epoch');
    const best = strongEpochs.reduce((a, b) => (b.val_loss < a.val_loss ? b : a));
    assert.deepEqual(json.best_epoch[1], { epoch: best.epoch, monitor: 'val_loss', value: best.val_loss });
  });

  test('compare names a run it cannot find, and wants two', () => {
    const missing = lathe(['compare', 'weak', 'nope', '--dir', runs]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /^lathe: compare: no run "nope": not a run folder, nor a run id under .*runs/);
    const one = lathe(['compare', 'weak', '--dir', runs]);
    assert.equal(one.status, 1);
    assert.match(one.stderr, /^lathe: compare: expected two or more runs, got 1/);
  });
});

test('a diverging run is "failed" in run.json, with the NaN guard\'s message', () => {
  const out = path.join(tmp, 'failed-runs', 'diverged');
  fs.writeFileSync(path.join(tmp, 'diverge.json'), JSON.stringify(mlpConfig({ optimizer: 'sgd', lr: 1e6, epochs: 1 })));
  const r = lathe(['train', path.join(tmp, 'diverge.json'), '--data', data, '--out', out, '--json']);
  assert.equal(r.status, 1);
  const run = readJson(path.join(out, 'run.json'));
  assert.equal(run.status, 'failed');
  assert.match(run.error, /^NaN guard: step \d+/);
  assert.ok(isoTime(run.ended));
  assert.ok(!fs.existsSync(path.join(out, 'evaluation.json')));
  const list = lathe(['runs', '--dir', path.dirname(out)]);
  assert.match(list.stdout.split('\n')[1], /^diverged\s+failed\s/);
});

test('lathe runs: a killed run reads as stopped (its cut last line a warning), and a folder from before run.json lists', () => {
  const dir = path.join(tmp, 'mixed');
  // killed: run.json still says running, its pid is gone, its last metrics line was cut
  const dead = spawnSync(process.execPath, ['-e', '']).pid;
  const killed = path.join(dir, 'killed');
  fs.mkdirSync(killed, { recursive: true });
  fs.writeFileSync(path.join(killed, 'run.json'), JSON.stringify({ format: 1, id: 'killed', name: 'killed', status: 'running', started: '2025-01-02T00:00:00.000Z', ended: null, pid: dead, hyperparameters: {}, env: { hostname: os.hostname() }, summary: null }));
  fs.writeFileSync(path.join(killed, 'metrics.jsonl'), '{"kind":"step","step":1,"epoch":1,"loss":2.1,"time":0.5}\n{"kind":"epoch","epoch":1,"seconds":9,"loss":1.5,"time":9.5}\n{"kind":"step","st');
  // legacy: what lathe train wrote before run.json
  const legacy = path.join(dir, 'mlp-2024-12-31T23-59-59-000Z');
  fs.mkdirSync(path.join(legacy, 'model'), { recursive: true });
  fs.writeFileSync(path.join(legacy, 'config.json'), JSON.stringify(mlpConfig({ epochs: 1 })));
  fs.writeFileSync(path.join(legacy, 'metrics.jsonl'), '{"epoch":1,"seconds":3,"loss":0.7,"accuracy":0.8,"val_loss":0.6,"val_accuracy":0.85}\n');
  fs.writeFileSync(path.join(legacy, 'model', 'model.json'), '{}');
  const r = lathe(['runs', '--dir', dir]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, `lathe: warning: ${path.join(killed, 'metrics.jsonl')}: line 3 is cut short (the run was probably stopped mid-write); read the lines before it\n`);
  const rows = r.stdout.trim().split('\n');
  assert.equal(rows.length, 3);
  assert.match(rows[1], /^killed\s+stopped\s+\S+ \S+\s+1 ep\s+1\.5000\s+-\s+-\s+-\s+9\.5s$/);
  assert.match(rows[2], /^mlp-2024-12-31T23-59-59-000Z\s+finished\s+\S+ \S+\s+1 ep\s+0\.7000\s+0\.6000\s+0\.8500\s+-\s+3\.0s$/);
});

const IRIS = process.env.LATHE_DATA ? path.join(process.env.LATHE_DATA, 'tabular', 'iris.csv') : '';
describe('examples/iris.json (needs LATHE_DATA)', { skip: !fs.existsSync(IRIS) && `needs $LATHE_DATA/tabular/iris.csv (LATHE_DATA=${process.env.LATHE_DATA ?? 'unset'})` }, () => {
  test('trains into a run folder that runs and compare read; the evaluation is on the validation split', () => {
    const runs = path.join(tmp, 'iris-runs');
    const env = { LATHE_DATA: process.env.LATHE_DATA! };
    const iris = path.join(root, 'examples', 'iris.json');
    for (const seed of ['1', '2']) {
      const r = lathe(['train', iris, '--out', path.join(runs, `iris-seed${seed}`), '--seed', seed, '--epochs', '10', '--json'], env);
      assert.equal(r.status, 0, r.stderr);
    }
    const ev = readJson(path.join(runs, 'iris-seed1', 'evaluation.json'));
    assert.equal(ev.split, 'validation');
    assert.deepEqual(ev.classNames, ['Iris-setosa', 'Iris-versicolor', 'Iris-virginica']);
    assert.equal(ev.confusion.matrix.flat().reduce((a: number, b: number) => a + b, 0), 30, '20% of 150 rows validate');
    assert.ok(!fs.existsSync(path.join(runs, 'iris-seed1', 'misclassified.json')), 'no gallery for tabular data');
    const list = lathe(['runs', '--dir', runs]);
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout, /\niris-seed2\s+finished\s.*\niris-seed1\s+finished\s/);
    const cmp = lathe(['compare', 'iris-seed1', 'iris-seed2', '--dir', runs]);
    assert.equal(cmp.status, 0, cmp.stderr);
    assert.match(cmp.stdout, /\n {2}seed\s+1\s+2\n/);
  });
});
