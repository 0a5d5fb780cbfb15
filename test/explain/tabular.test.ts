// Tabular models: integrated gradients' completeness on the iris model (issue 8, acceptance 3),
// attributions per CSV column through the saved preprocessing (one-hot columns summed back),
// and saliency through the scaling checked against finite differences in raw units.
//
// Completeness is a quadrature error, and ReLU kinks make the trapezoid's error fall only as
// 1/steps. Measured on all 150 iris rows with 64 steps: tanh units, worst row 0.28%; ReLU units
// (examples/iris.json), worst row 36% on a flower whose logit moves by only 0.006 from the mean
// flower's (the zero baseline), 1.9% among the rows whose logit moves by 1 or more, and 0.19%
// in total (sum of |delta| over sum of |f(x) - f(baseline)|); 256 steps bring the latter rows to
// 0.29%. So the acceptance test holds every row of the tanh model to 1%, and the ReLU model in
// total.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as lt from '../../src/index.js';
import { assertClose } from '../helpers.js';

const irisFile = process.env.LATHE_DATA ? path.join(process.env.LATHE_DATA, 'tabular', 'iris.csv') : '';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-explain-tabular-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Trains a small softmax classifier on a CSV and saves it with its preprocessing; returns the loaded model and the raw rows as records. */
async function trainAndLoad(file: string, options: lt.data.tabular.CsvDatasetOptions, dir: string, epochs: number, activation = 'tanh') {
  const csv = lt.data.tabular.loadCsvDataset(file, options);
  lt.manualSeed(1);
  const model = new lt.Sequential([
    new lt.layers.Dense(16, { activation, inputShape: [csv.preprocessor.features.length] }),
    new lt.layers.Dense(csv.preprocessor.classNames.length, { activation: 'softmax' }),
  ]);
  model.compile({ optimizer: new lt.Adam({ learningRate: 0.01 }), loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
  await model.fit(csv.train.x, csv.train.y, { epochs, batchSize: 16, verbose: 0 });
  const { accuracy } = await model.evaluate(csv.validation.x, csv.validation.y);
  lt.save(model, dir, { preprocessing: csv.preprocessor, classNames: csv.preprocessor.classNames });
  const table = lt.data.readCsvFile(file);
  const records = table.rows.map((r) => Object.fromEntries(table.header.map((h, k) => [h, r[k]])));
  return { loaded: lt.load(dir), records, accuracy };
}

describe('explanations of the iris model', { skip: irisFile && fs.existsSync(irisFile) ? false : 'needs $LATHE_DATA/tabular/iris.csv' }, () => {
  let loaded: lt.explain.ExplainableModel;
  let relu: lt.explain.ExplainableModel;
  let records: Record<string, string>[];

  before(async () => {
    const options = { label: 'Species', exclude: ['Id'], validationSplit: 0.2, stratify: true, seed: 1 };
    relu = (await trainAndLoad(irisFile, options, path.join(tmp, 'iris-relu'), 60, 'relu')).loaded as lt.explain.ExplainableModel;
    const r = await trainAndLoad(irisFile, options, path.join(tmp, 'iris'), 60);
    assert.ok(r.accuracy >= 0.9, `iris validation accuracy ${r.accuracy}`);
    loaded = r.loaded as lt.explain.ExplainableModel;
    records = r.records;
  });

  test('integrated gradients with 64 steps sum to f(x) - f(mean flower) within 1%, on every row (tanh units)', () => {
    const res = lt.explain.explainRequest(loaded, { instances: records }, { method: 'ig', steps: 64 });
    assert.equal(res.score, 'logit');
    assert.equal(res.explanations.length, 150);
    let worst = 0;
    for (const e of res.explanations) {
      const change = e.score - e.baseline_score!;
      const sum = e.columns!.reduce((s, c) => s + c.attribution, 0);
      // The columns' attributions add up to the features' (numeric columns map one to one).
      assert.ok(Math.abs(sum - (e.attributions as number[]).reduce((s, a) => s + a, 0)) < 1e-9);
      worst = Math.max(worst, Math.abs(sum - change) / Math.abs(change));
    }
    assert.ok(worst <= 0.01, `the worst completeness error is ${(worst * 100).toFixed(3)}% (bound 1%)`);
  });

  test('with ReLU units, 64 steps keep the total completeness error within 1% (sum of |delta| / sum of |f(x) - f(baseline)|)', () => {
    const res = lt.explain.explainRequest(relu, { instances: records }, { method: 'ig', steps: 64 });
    const gap = res.explanations.reduce((s, e) => s + Math.abs(e.delta!), 0);
    const moved = res.explanations.reduce((s, e) => s + Math.abs(e.score - e.baseline_score!), 0);
    assert.ok(gap / moved <= 0.01, `total completeness error ${((gap / moved) * 100).toFixed(3)}% (bound 1%)`);
  });

  test('the ranked columns name the class and put the petal measurements first for a setosa', () => {
    const res = lt.explain.explainRequest(loaded, { instances: [records[0]] }, { method: 'ig' });
    const e = res.explanations[0];
    assert.equal(e.class, 'Iris-setosa');
    assert.deepEqual(e.columns!.map((c) => c.column).sort(), ['PetalLengthCm', 'PetalWidthCm', 'SepalLengthCm', 'SepalWidthCm']);
    for (const c of e.columns!) assert.equal(c.value, records[0][c.column]);
    assert.match(e.columns![0].column, /^Petal/);
    const abs = e.columns!.map((c) => Math.abs(c.attribution));
    assert.deepEqual(abs, [...abs].sort((a, b) => b - a));
  });

  test('a class name is accepted as the target, and an unknown one is refused', () => {
    const res = lt.explain.explainRequest(loaded, { instances: [records[0]] }, { target: 'Iris-virginica' });
    assert.equal(res.explanations[0].target, 2);
    assert.throws(() => lt.explain.explainRequest(loaded, { instances: [records[0]] }, { target: 'Iris-rosa' }), /target "Iris-rosa" is not a class of this model \(classes: Iris-setosa, Iris-versicolor, Iris-virginica\)/);
    assert.throws(() => lt.explain.explainRequest(loaded, { instances: [records[0]] }, { target: 3 }), /target 3 is out of range: the model has 3 outputs/);
  });
});

describe('explanations through one-hot and scaled columns', () => {
  let loaded: lt.explain.ExplainableModel;
  let records: Record<string, string>[];

  before(async () => {
    // A label that depends on a numeric column and a categorical one.
    const colours = ['red', 'green', 'blue'];
    const lines = ['size,colour,weight,label'];
    let s = 12345;
    const rnd = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 120; i++) {
      const size = (rnd() * 10).toFixed(2);
      const colour = colours[i % 3];
      const weight = (50 + rnd() * 100).toFixed(1);
      lines.push(`${size},${colour},${weight},${Number(size) + (colour === 'red' ? 4 : 0) > 7 ? 'big' : 'small'}`);
    }
    const file = path.join(tmp, 'shapes.csv');
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
    const r = await trainAndLoad(file, { label: 'label', scaling: { default: 'standardize', columns: { weight: 'minmax' } }, validationSplit: 0.2, seed: 2 }, path.join(tmp, 'shapes'), 40);
    loaded = r.loaded as lt.explain.ExplainableModel;
    records = r.records.slice(0, 6);
  });

  test('a one-hot column gets the sum of its categories\' attributions, and completeness holds per column', () => {
    assert.deepEqual(loaded.preprocessor!.features, ['size', 'colour=blue', 'colour=green', 'colour=red', 'weight']);
    const res = lt.explain.explainRequest(loaded, { instances: records }, { method: 'ig', steps: 64 });
    for (const e of res.explanations) {
      const f = e.attributions as number[];
      const byName = Object.fromEntries(e.columns!.map((c) => [c.column, c.attribution]));
      assertClose([byName.size, byName.colour, byName.weight], [f[0], f[1] + f[2] + f[3], f[4]], { atol: 1e-9 });
      const sum = e.columns!.reduce((s, c) => s + c.attribution, 0);
      assert.ok(Math.abs(sum - (e.score - e.baseline_score!)) <= 0.01 * Math.abs(e.score - e.baseline_score!) + 1e-6);
      assert.equal(e.columns!.find((c) => c.column === 'colour')!.value, records[res.explanations.indexOf(e)].colour);
    }
  });

  test('column saliency is the derivative with respect to the raw value (finite differences through the preprocessing)', () => {
    const res = lt.explain.explainRequest(loaded, { instances: records }, { method: 'saliency', absolute: false, score: 'outputs', target: 0 });
    const prob = (record: Record<string, string | number>) => {
      const { x, features } = loaded.preprocessor!.transformRecords([record]);
      return loaded.model.predict(lt.tensor(x, { shape: [1, features.length] })).dataSync()[0];
    };
    res.explanations.forEach((e, i) => {
      for (const column of ['size', 'weight']) {
        const eps = column === 'size' ? 1e-2 : 1e-1;
        const v = Number(records[i][column]);
        const fd = (prob({ ...records[i], [column]: v + eps }) - prob({ ...records[i], [column]: v - eps })) / (2 * eps);
        const got = e.columns!.find((c) => c.column === column)!.attribution;
        assert.ok(Math.abs(got - fd) <= 2e-3 * Math.max(...e.columns!.map((c) => Math.abs(c.attribution))) + 1e-5, `row ${i}, ${column}: saliency ${got}, finite differences ${fd}`);
      }
    });
  });
});
