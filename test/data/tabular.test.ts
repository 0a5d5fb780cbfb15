// Tabular preprocessing: column types, missing-value policies and their report, statistics fitted
// on the training split only, one-hot/ordinal encoding with unknown categories, class names,
// the saved JSON form, raw serving records, and loadCsvDataset end to end (iris when present).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { parseCsvText } from '../../src/data/sources/csv.js';
import { TabularPreprocessor, columnTypes, parseNumber, formatTabularReport, loadCsvDataset, selectRows, splitIndices, tabularDataset } from '../../src/data/tabular/index.js';
import { assertClose, assertThrowsLathe } from '../helpers.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-tabular-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const write = (name: string, text: string) => {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
};
const table = (text: string) => parseCsvText(text, { source: 'd.csv' });
const markers = new Set(['', 'NA', 'NaN', 'null', '?']);
const column = (x: Float32Array, width: number, c: number) => Array.from(x.filter((_, i) => i % width === c));
const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const std = (v: number[]) => Math.sqrt(mean(v.map((a) => (a - mean(v)) ** 2)));

// 20 rows, 2 classes; "size" has a larger spread in some rows so train and all-row statistics differ.
const ROWS = Array.from({ length: 20 }, (_, i) => `${i + 1},${(i * 7) % 11 + (i % 3) * 10},${['red', 'green', 'blue'][i % 3]},${i % 2 ? 'yes' : 'no'}`);
const CSV = `Id,size,color,label\n${ROWS.join('\n')}\n`;

describe('column types', () => {
  test('parseNumber takes plain decimal numbers only', () => {
    const good: [string, number][] = [['1', 1], ['-2.5', -2.5], ['+.5', 0.5], ['3.', 3], ['1e3', 1000], ['1E-3', 0.001], [' 7 ', 7], ['\t-0\t', -0]];
    for (const [text, value] of good) assert.equal(parseNumber(text), value, JSON.stringify(text));
    for (const text of ['', ' ', '.', '+', '-', 'e3', '1e', '1e+', '0x1f', 'Infinity', 'NaN', '1,5', '1 2', '--1', '1.2.3', '1e3.5']) {
      assert.ok(Number.isNaN(parseNumber(text)), `${JSON.stringify(text)} is not a number`);
    }
  });

  test('inferred: numeric when every non-missing value parses; declared types override', () => {
    const t = table('a,b,c,d\n1,x,1.5e3,NA\n-2,y,.5,\n+3,z, NA ,?\n');
    assert.deepEqual(columnTypes(t, ['a', 'b', 'c', 'd'], markers), { a: 'numeric', b: 'categorical', c: 'numeric', d: 'categorical' });
    assert.deepEqual(columnTypes(t, ['a'], markers, { a: 'categorical' }), { a: 'categorical' });
    // "0x10", "Infinity" and "1,5" are not plain decimals: the column is categorical
    assert.deepEqual(columnTypes(table('a,b,c\n0x10,Infinity,"1,5"\nz,1,2\n'), ['a', 'b', 'c'], markers), { a: 'categorical', b: 'categorical', c: 'categorical' });
  });

  test('a non-number in a declared numeric column names the row and column', () => {
    const t = table('Id,SepalLengthCm\n1,5.1\n2,abc\n');
    assertThrowsLathe(() => columnTypes(t, ['SepalLengthCm'], markers, { SepalLengthCm: 'numeric' }), /d\.csv: row 3, column "SepalLengthCm": "abc" is not a number$/);
  });

  test('a mostly numeric column with a stray word fails instead of becoming categorical', () => {
    const file = write('iris-typo.csv', `Id,SepalLengthCm,Species\n${Array.from({ length: 12 }, (_, i) => `${i + 1},${i === 10 ? 'abc' : 5 + i / 10},${i % 2 ? 'a' : 'b'}`).join('\n')}\n`);
    assertThrowsLathe(() => loadCsvDataset(file, { label: 'Species' }), /iris-typo\.csv: row 12, column "SepalLengthCm": "abc" is not a number \(11 of the 12 values/);
    // declared categorical, the same file loads
    assert.ok(loadCsvDataset(file, { label: 'Species', columnTypes: { SepalLengthCm: 'categorical' } }).report.features.includes('SepalLengthCm=abc'));
  });
});

describe('missing values', () => {
  const csv = 'num,cat,label\n1,a,x\nNA,b,y\n3,,x\n5,b,?\nnull,a,y\n7,b,x\n';

  test('the default policy, "error", names the row and column', () => {
    assertThrowsLathe(() => tabularDataset(table(csv), { label: 'label', validationSplit: 0 }), /d\.csv: row 3, column "num": missing value \("NA"\); choose a policy/);
    // a fill default does not reach the label: its missing "?" on row 5 still fails
    assertThrowsLathe(() => tabularDataset(table(csv), { label: 'label', validationSplit: 0, missing: { default: { constant: 0 } } }), /d\.csv: row 5, column "label": missing value \("\?"\); choose a policy in missing\.columns: "drop"$/);
  });

  test('drop: rows go, the report counts them per column', () => {
    const d = tabularDataset(table(csv), { label: 'label', validationSplit: 0, missing: { default: 'drop' } });
    assert.equal(d.report.rows, 6);
    assert.equal(d.report.dropped, 4);
    assert.equal(d.train.x.shape[0], 2);
    const byName = Object.fromEntries(d.report.columns.map((c) => [c.name, c]));
    assert.deepEqual([byName.num.missing, byName.num.policy, byName.num.action], [2, 'drop', 'dropped 2 rows']);
    assert.deepEqual([byName.cat.missing, byName.cat.action], [1, 'dropped 1 row']);
    assert.deepEqual([byName.label.missing, byName.label.role, byName.label.action], [1, 'label', 'dropped 1 row']);
    assert.match(formatTabularReport(d.report), /num: feature, numeric, 2 missing \(drop\): dropped 2 rows/);
  });

  test('mean, mode and constant fill from the training rows; the report says with what', () => {
    const d = tabularDataset(table(csv), {
      label: 'label', validationSplit: 0, scaling: 'none', encoding: 'ordinal',
      missing: { columns: { num: 'mean', cat: 'mode', label: 'drop' } },
    });
    const json = d.preprocessor.toJSON();
    assert.deepEqual(json.columns[0].missing, { policy: 'mean', fill: (1 + 3 + 7) / 3 }, 'row 5 (5, label "?") was dropped first');
    assert.deepEqual(json.columns[1].missing, { policy: 'mode', fill: 'a' }, 'a and b twice each: a tie goes to the first in sorted order');
    assert.deepEqual(Array.from(d.train.x.dataSync()), [1, 1, 11 / 3, 2, 3, 1, 11 / 3, 1, 7, 2].map(Math.fround));
    const num = d.report.columns[0];
    assert.deepEqual([num.missing, num.policy, num.action], [2, 'mean', 'filled with the training mean 3.6666666666666665']);
    assert.equal(d.report.columns[1].action, 'filled with the training mode "a"');

    const c = tabularDataset(table(csv), { label: 'label', validationSplit: 0, scaling: 'none', missing: { default: { constant: -1 }, columns: { cat: { constant: 'none' }, label: 'drop' } } });
    assert.deepEqual(c.preprocessor.features, ['num', 'cat=a', 'cat=b', 'cat=none']);
    assert.deepEqual(column(c.train.x.dataSync() as Float32Array, 4, 0), [1, -1, 3, -1, 7]);
    assert.deepEqual(column(c.train.x.dataSync() as Float32Array, 4, 3), [0, 0, 1, 0, 0]);
    assert.equal(c.report.columns[0].action, 'filled with -1');
  });

  test('custom markers; "mean" on a categorical column and imputing the label are refused', () => {
    const t = table('a,b,label\n1,-,x\n2,u,y\n');
    const d = tabularDataset(t, { label: 'label', validationSplit: 0, missing: { markers: ['-'], default: 'mode' } });
    assert.deepEqual(d.preprocessor.features, ['a', 'b=u']);
    assertThrowsLathe(() => tabularDataset(t, { label: 'label', validationSplit: 0, missing: { markers: ['-'], default: 'mean' } }), /column "b" is categorical: "mean" needs a numeric column/);
    assertThrowsLathe(() => tabularDataset(t, { label: 'label', validationSplit: 0, missing: { columns: { label: 'mode' } } }), /the label column "label" can only be "drop" or "error"/);
    assertThrowsLathe(() => tabularDataset(t, { label: 'label', missing: { columns: { lable: 'drop' } } }), /missing\.columns: names column "lable", which is not one of the columns used here \(a, b, label\)/);
    assertThrowsLathe(() => tabularDataset(t, { label: 'label', validation_split: 0.1 } as never), /loadCsvDataset: unknown option "validation_split"/);
  });
});

describe('TabularPreprocessor', () => {
  test('standardisation is fitted on the training split only', () => {
    const t = table(CSV);
    const d = tabularDataset(t, { label: 'label', exclude: ['Id'], validationSplit: 0.25, seed: 5 });
    const labels = t.rows.map((r) => r[3]);
    const { trainIdx, valIdx } = splitIndices(labels, 0.25, 5, false);
    assert.equal(valIdx.length, 5);
    const trainSizes = trainIdx.map((i) => Number(t.rows[i][1]));
    const allSizes = t.rows.map((r) => Number(r[1]));
    const json = d.preprocessor.toJSON().columns[0] as { mean: number; std: number };
    assert.equal(json.mean, mean(trainSizes));
    assertClose([json.std], [std(trainSizes)], { atol: 0, rtol: 1e-12 });
    assert.notEqual(json.mean, mean(allSizes), 'the validation rows must not leak into the statistics');
    const x = d.train.x.dataSync() as Float32Array;
    assertClose(column(x, 4, 0), trainSizes.map((v) => (v - mean(trainSizes)) / std(trainSizes)), { atol: 1e-6 });
    assertClose(column(d.validation.x.dataSync() as Float32Array, 4, 0), valIdx.map((i) => (allSizes[i] - mean(trainSizes)) / std(trainSizes)), { atol: 1e-6 });
  });

  test('min-max scaling, and a constant column (zero spread) scales to 0', () => {
    const t = table('a,b\n2,7\n4,7\n10,7\n');
    const p = new TabularPreprocessor().fit(t, { features: ['a', 'b'], scaling: 'minmax' });
    assert.deepEqual(Array.from(p.transform(t).x), [0, 0, 0.25, 0, 1, 0]);
    assert.deepEqual(Array.from(p.transformRecords([[14, 7]]).x), [1.5, 0], 'not clipped outside the training range');
    const s = new TabularPreprocessor().fit(t, { features: ['b'] });
    assert.deepEqual(Array.from(s.transform(t).x), [0, 0, 0]);
    assert.deepEqual(Array.from(s.transformRecords([[8]]).x), [1], 'a zero std divides by 1');
  });

  test('one-hot and ordinal encodings; an unknown category is all zeros / index 0', () => {
    const train = table('color,size\nred,S\ngreen,M\nred,L\nblue,M\n');
    const p = new TabularPreprocessor().fit(train, { features: ['color', 'size'], encoding: { default: 'onehot', columns: { size: 'ordinal' } } });
    assert.deepEqual(p.features, ['color=blue', 'color=green', 'color=red', 'size']);
    assert.deepEqual(Array.from(p.transform(train).x), [0, 0, 1, 3, 0, 1, 0, 2, 0, 0, 1, 1, 1, 0, 0, 2]);
    const unseen = p.transformRecords([{ color: 'purple', size: 'XL' }, { color: ' red ', size: 'S' }]);
    assert.deepEqual(Array.from(unseen.x), [0, 0, 0, 0, 0, 0, 1, 3]);
  });

  test('class names are sorted (numerically when all are numbers) and label indices follow them', () => {
    const t = table('f,y\n1,versicolor\n2,setosa\n3,virginica\n4,setosa\n');
    const p = new TabularPreprocessor().fit(t, { features: ['f'], label: 'y' });
    assert.deepEqual(p.classNames, ['setosa', 'versicolor', 'virginica']);
    assert.deepEqual(Array.from(p.encodeLabels(t)), [1, 0, 2, 0]);
    assert.deepEqual(p.decodeLabels([2, 0]), ['virginica', 'setosa']);
    const n = table('f,y\n1,10\n2,2\n3,1\n');
    assert.deepEqual(new TabularPreprocessor().fit(n, { features: ['f'], label: 'y' }).classNames, ['1', '2', '10']);
    assertThrowsLathe(() => p.encodeLabels(table('f,y\n1,setosa\n2,rose\n')), /d\.csv: row 3, column "y": "rose" is not one of the classes \(setosa, versicolor, virginica\)/);
  });

  test('toJSON/fromJSON round trip gives identical transforms', () => {
    const t = table(CSV);
    const p = new TabularPreprocessor().fit(t, { features: ['size', 'color', 'Id'], label: 'label', encoding: { columns: { color: 'ordinal' } }, scaling: { columns: { Id: 'minmax' } }, missing: { columns: { size: 'mean' } } });
    const saved = JSON.parse(JSON.stringify(p.toJSON()));
    assert.equal(saved.type, 'tabular');
    assert.deepEqual(saved.label, { name: 'label', classNames: ['no', 'yes'] });
    const q = TabularPreprocessor.fromJSON(saved);
    assert.deepEqual(q.toJSON(), p.toJSON());
    assert.deepEqual(q.transform(t).x, p.transform(t).x);
    assert.deepEqual(q.transformRecords([['NA', 'mauve', '3']]).x, p.transformRecords([['NA', 'mauve', '3']]).x);
    assert.deepEqual(q.encodeLabels(t), p.encodeLabels(t));
  });

  test('fromJSON checks every field and names the bad one', () => {
    const good = new TabularPreprocessor().fit(table(CSV), { features: ['size', 'color'], label: 'label' }).toJSON();
    const bad: [string, (j: any) => void, RegExp][] = [
      ['std < 0', (j) => (j.columns[0].std = -1), /preprocessing\.columns\[0\]: "std" must be a number in \[0, Infinity\], got -1/],
      ['mean missing', (j) => delete j.columns[0].mean, /preprocessing\.columns\[0\]: "mean" is required/],
      ['bad scaling', (j) => (j.columns[0].scaling = 'zscore'), /preprocessing\.columns\[0\]: "scaling" must be one of/],
      ['duplicate category', (j) => j.columns[1].vocabulary.push('red'), /preprocessing\.columns\[1\]: "vocabulary" lists "red" twice/],
      ['fill of the wrong type', (j) => (j.columns[0].missing = { policy: 'mean', fill: 'x' }), /preprocessing\.columns\[0\]\.missing: "fill" must be a finite number/],
      ['unknown field', (j) => (j.columns[1].extra = 1), /preprocessing\.columns\[1\]: unknown field "extra"/],
      ['no class names', (j) => (j.label.classNames = []), /preprocessing\.label: "classNames" must be a non-empty array of strings/],
      ['wrong version', (j) => (j.version = 2), /preprocessing: "version" must be 1, got 2/],
      ['duplicate column', (j) => (j.columns[1].name = 'size'), /"columns\[\]\.name" lists "size" twice/],
    ];
    for (const [what, edit, pattern] of bad) {
      const j = JSON.parse(JSON.stringify(good));
      edit(j);
      assertThrowsLathe(() => TabularPreprocessor.fromJSON(j), pattern);
    }
  });

  test('transformRecords takes objects and arrays of strings or numbers, as transform does the CSV rows', () => {
    const t = table(CSV);
    const p = new TabularPreprocessor().fit(t, { features: ['size', 'color'], label: 'label' });
    const expected = p.transform(selectRows(t, [0, 1])).x;
    const objects = p.transformRecords([{ Id: '1', size: t.rows[0][1], color: 'red', label: 'no' }, { size: Number(t.rows[1][1]), color: 'green' }]);
    assert.deepEqual(objects.x, expected);
    assert.deepEqual(p.transformRecords([[t.rows[0][1], 'red'], [` ${t.rows[1][1]} `, 'green']]).x, expected);
    assertThrowsLathe(() => p.transformRecords([[1, 'red'], ['abc', 'red']]), /transformRecords: records\[1\], column "size": "abc" is not a number/);
    assertThrowsLathe(() => p.transformRecords([{ color: 'red' }]), /records\[0\], column "size": missing value \(null\)/);
    assertThrowsLathe(() => p.transformRecords([[1, 'red', 3]]), /records\[0\]: expected 2 values in the order size, color, got 3/);
    assertThrowsLathe(() => p.transformRecords([{ size: true, color: 'red' }]), /records\[0\], column "size": expected a number or a string, got true/);
    assertThrowsLathe(() => p.transform(table('size,color\n1,red\nx,red\n')), /d\.csv: row 3, column "size": "x" is not a number/);
  });
});

describe('loadCsvDataset', () => {
  const file = write('small.csv', CSV);

  test('tensors, column choice, the seeded split and the Id note', () => {
    const d = loadCsvDataset(file, { label: 'label', validationSplit: 0.2, seed: 1 });
    assert.deepEqual([d.train.x.shape, d.train.x.dtype, d.train.y.shape, d.train.y.dtype], [[16, 5], 'float32', [16], 'int32']);
    assert.deepEqual(d.validation.x.shape, [4, 5]);
    assert.deepEqual(d.report.features, ['Id', 'size', 'color=blue', 'color=green', 'color=red']);
    assert.match(d.report.notes.join('\n'), /column "Id" looks like a row id/);
    const again = loadCsvDataset(file, { label: 'label', validationSplit: 0.2, seed: 1 });
    assert.deepEqual(again.validation.x.dataSync(), d.validation.x.dataSync());
    const other = loadCsvDataset(file, { label: 'label', validationSplit: 0.2, seed: 2 });
    assert.notDeepEqual(other.validation.y.dataSync(), d.validation.y.dataSync());
    assert.deepEqual(loadCsvDataset(file, { label: 'label', exclude: ['Id'] }).report.features.slice(0, 1), ['size']);
    assert.deepEqual(loadCsvDataset(file, { label: 'label', features: ['color', 'size'] }).report.features, ['color=blue', 'color=green', 'color=red', 'size']);
    assertThrowsLathe(() => loadCsvDataset(file, { label: 'Species' }), /small\.csv: no label column "Species" \(the header has: Id, size, color, label\)/);
  });

  test('stratify keeps each class share in both splits', () => {
    const labels = Array.from({ length: 40 }, (_, i) => (i < 30 ? 'a' : 'b'));
    for (let seed = 0; seed < 5; seed++) {
      const { trainIdx, valIdx } = splitIndices(labels, 0.2, seed, true);
      assert.deepEqual([valIdx.filter((i) => labels[i] === 'b').length, valIdx.length, trainIdx.length], [2, 8, 32]);
      assert.deepEqual([...trainIdx, ...valIdx].sort((a, b) => a - b), labels.map((_, i) => i));
      for (const split of [trainIdx, valIdx]) assert.ok(split.every((v, i) => i === 0 || v > split[i - 1]), 'each split keeps file order');
    }
    assert.equal(splitIndices(['a', 'a', 'a', 'a', 'a', 'a', 'a'], 0.5, 0, false).valIdx.length, 4, 'round(3.5) rows');
    const plain = [0, 1, 2, 3, 4].map((seed) => splitIndices(labels, 0.2, seed, false).valIdx.filter((i) => labels[i] === 'b').length);
    assert.ok(plain.some((k) => k !== 2), `an unstratified split varies the share: ${plain}`);
  });

  const iris = process.env.LATHE_DATA && path.join(process.env.LATHE_DATA, 'tabular', 'iris.csv');
  test('iris.csv from $LATHE_DATA', { skip: !iris || !fs.existsSync(iris) ? 'no $LATHE_DATA/tabular/iris.csv' : false }, () => {
    const d = loadCsvDataset(iris as string, { label: 'Species', exclude: ['Id'], validationSplit: 0.2, seed: 1, stratify: true });
    assert.deepEqual(d.preprocessor.classNames, ['Iris-setosa', 'Iris-versicolor', 'Iris-virginica']);
    assert.deepEqual([d.train.x.shape, d.validation.x.shape], [[120, 4], [30, 4]]);
    assert.deepEqual(Array.from(d.validation.y.dataSync()).sort(), [...Array(10).fill(0), ...Array(10).fill(1), ...Array(10).fill(2)]);
  });
});
