// `lathe explain` as a user runs it: heat maps for image models (a PNG in, a PNG out), ranked
// feature tables for tabular models, one JSON object with --json, and clear errors.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pngjs from 'pngjs';
import * as lt from '../../src/index.js';

// The CLI compiled beside this test (bin/lathe.js does the same two steps with dist/), so the
// test runs whichever build folder it was compiled into.
const mainJs = new URL('../../src/cli/main.js', import.meta.url).href;
function lathe(args: string[], cwd: string) {
  const script = `const { main } = await import(${JSON.stringify(mainJs)}); process.exitCode = await main(process.argv.slice(1));`;
  return spawnSync(process.execPath, ['--input-type=module', '-e', script, 'explain', ...args], { encoding: 'utf8', cwd });
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-explain-cli-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A 28x28 gray PNG of a diagonal stroke (a "7"-like shape): 255 on the stroke, 0 elsewhere. */
function strokePng(file: string): void {
  const png = new pngjs.PNG({ width: 28, height: 28 });
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      const on = (y >= 5 && y <= 7 && x >= 6 && x <= 21) || (y > 7 && y < 24 && Math.abs(x - (21 - (y - 7) * 0.6)) < 1.6);
      const o = (y * 28 + x) * 4;
      png.data[o] = png.data[o + 1] = png.data[o + 2] = on ? 255 : 0;
      png.data[o + 3] = 255;
    }
  }
  fs.writeFileSync(file, pngjs.PNG.sync.write(png));
}

function decodePng(file: string): { width: number; height: number; data: Uint8Array } {
  return pngjs.PNG.sync.read(fs.readFileSync(file));
}

describe('lathe explain', () => {
  const mlpDir = path.join(tmp, 'mlp');
  const convDir = path.join(tmp, 'conv');
  const tabDir = path.join(tmp, 'tabular');
  const digit = path.join(tmp, 'digit.png');
  const csvRows = path.join(tmp, 'rows.csv');

  before(() => {
    const { Dense, Rescaling, Conv2D, Flatten } = lt.layers;
    lt.manualSeed(4);
    lt.save(new lt.Sequential([new Rescaling(1 / 255, 0, { inputShape: [784] }), new Dense(16, { activation: 'relu' }), new Dense(10, { activation: 'softmax' })]), mlpDir, { classNames: ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'] });
    lt.save(new lt.Sequential([new Rescaling(1 / 255, 0, { inputShape: [3, 12, 12] }), new Conv2D(4, 3, { activation: 'relu' }), new Flatten(), new Dense(3, { activation: 'softmax' })]), convDir);
    strokePng(digit);
    // A tabular model: two numeric columns and a categorical one, untrained (the CLI only needs a model and its preprocessing).
    const table = lt.data.parseCsvText('size,colour,weight,label\n1.5,red,60,a\n3.0,blue,80,b\n4.5,green,70,a\n2.0,red,90,b\n', { source: 'train.csv' });
    const pre = new lt.data.tabular.TabularPreprocessor().fit(table, { features: ['size', 'colour', 'weight'], label: 'label' });
    lt.save(new lt.Sequential([new Dense(8, { activation: 'tanh', inputShape: [pre.features.length] }), new Dense(2, { activation: 'softmax' })]), tabDir, { preprocessing: pre, classNames: pre.classNames });
    fs.writeFileSync(csvRows, 'weight,size,colour\n75,2.5,blue\n65,4.0,red\n');
  });

  test('an image model: the PNG becomes an 8x heat map PNG, and the summary names the class and the completeness gap', () => {
    const out = path.join(tmp, 'heat.png');
    const r = lathe([mlpDir, '--input', digit, '--out', out], tmp);
    assert.equal(r.status, 0, r.stderr);
    const png = decodePng(out);
    assert.deepEqual([png.width, png.height], [224, 224]);
    // The background of the image stays black (no attribution where the pixel equals the black baseline) ...
    assert.deepEqual(Array.from(png.data.subarray(0, 3)), [0, 0, 0]);
    // ... and the stroke is coloured (red or blue), not gray.
    const o = ((6 * 8 + 4) * 224 + 10 * 8 + 4) * 4;
    const [red, green, blue] = png.data.subarray(o, o + 3);
    assert.ok(red !== green || blue !== green, `stroke pixel should be coloured, got ${red},${green},${blue}`);
    assert.match(r.stdout, /^instance 0: "\w+" \(class \d\), logit -?\d+\.\d+, baseline logit .*completeness gap/m);
    assert.match(r.stdout, /method: integrated gradients, 64 steps/);
    assert.match(r.stdout, new RegExp(`wrote ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });

  test('saliency on an RGB conv model resizes the image to the model\'s input and writes heatmap.png by default', () => {
    const rgb = new pngjs.PNG({ width: 30, height: 20 });
    for (let i = 0; i < rgb.data.length; i++) rgb.data[i] = (i * 37) % 256;
    fs.writeFileSync(path.join(tmp, 'rgb.png'), pngjs.PNG.sync.write(rgb));
    const r = lathe([convDir, '--input', 'rgb.png', '--method', 'saliency', '--target', '1', '--json'], tmp);
    assert.equal(r.status, 0, r.stderr);
    const body = JSON.parse(r.stdout);
    assert.equal(body.method, 'saliency');
    assert.equal(body.explanations[0].target, 1);
    assert.deepEqual([body.explanations[0].attributions.length, body.explanations[0].attributions[0].length, body.explanations[0].attributions[0][0].length], [3, 12, 12]);
    assert.equal(body.heatmap, path.join(tmp, 'heatmap.png'));
    const png = decodePng(path.join(tmp, 'heatmap.png'));
    assert.deepEqual([png.width, png.height], [96, 96]);
  });

  test('a tabular model: a CSV of rows gives a ranked table per row, and --json one object', () => {
    const r = lathe([tabDir, '--input', csvRows], tmp);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^instance 0: "(a|b)" \(class [01]\), logit/m);
    assert.match(r.stdout, /^ {2}feature +value +attribution$/m);
    for (const row of [/^ {2}weight +75 +-?\d/m, /^ {2}size +2\.5 +-?\d/m, /^ {2}colour +blue +-?\d/m, /^ {2}colour +red +-?\d/m]) assert.match(r.stdout, row);
    const j = lathe([tabDir, '--input', csvRows, '--json', '--method', 'saliency'], tmp);
    assert.equal(j.status, 0, j.stderr);
    const body = JSON.parse(j.stdout);
    assert.equal(body.explanations.length, 2);
    assert.deepEqual(body.explanations[0].columns.map((c: { column: string }) => c.column).sort(), ['colour', 'size', 'weight']);
    const abs = body.explanations[0].columns.map((c: { attribution: number }) => Math.abs(c.attribution));
    assert.deepEqual(abs, [...abs].sort((a: number, b: number) => b - a));
  });

  test('a JSON body of instances works as for lathe predict', () => {
    fs.writeFileSync(path.join(tmp, 'body.json'), JSON.stringify({ instances: [{ size: 2, colour: 'green', weight: 70 }] }));
    const r = lathe([tabDir, '--input', 'body.json', '--json', '--target', 'b'], tmp);
    assert.equal(r.status, 0, r.stderr);
    const e = JSON.parse(r.stdout).explanations[0];
    assert.equal(e.class, 'b');
    assert.ok(Math.abs(e.delta) < 1e-3 * Math.max(1, Math.abs(e.score - e.baseline_score)));
  });

  test('a plain numeric model (no column names) ranks its features as x[k] with their values', () => {
    lt.manualSeed(6);
    lt.save(new lt.Sequential([new lt.layers.Dense(3, { activation: 'softmax', inputShape: [4] })]), path.join(tmp, 'plain'));
    fs.writeFileSync(path.join(tmp, 'plain.json'), JSON.stringify({ instances: [[0.5, -2, 3, 1]] }));
    const r = lathe([path.join(tmp, 'plain'), '--input', 'plain.json', '--method', 'saliency'], tmp);
    assert.equal(r.status, 0, r.stderr);
    const rows = r.stdout.split('\n').filter((l) => /^ {2}x\[\d\]/.test(l));
    assert.equal(rows.length, 4);
    assert.match(r.stdout, /^ {2}x\[1\] +-2 +\d/m);
  });

  test('bad input is refused with a message that names the problem', () => {
    const cases: [string[], RegExp][] = [
      [[mlpDir, '--input', digit, '--target', '12'], /lathe: integratedGradients: target 12 is out of range: the model has 10 outputs \(classes 0\.\.9\)/],
      [[mlpDir, '--input', digit, '--target', 'eleven'], /lathe: explain: target "eleven" is not a class of this model \(classes: zero, one/],
      [[mlpDir, '--input', digit, '--method', 'lime'], /lathe: explain: --method must be one of ig, saliency, got "lime"/],
      [[tabDir, '--input', digit], /is an image, but the model was trained on a CSV/],
      [[tabDir, '--input', csvRows, '--out', 'x.png'], /--out writes a heat map, but the model's input \[5\] is not an image/],
      [[mlpDir, '--input', 'missing.png'], /lathe: explain: missing\.png not found/],
      [[mlpDir], /Usage: lathe explain <model_dir/],
    ];
    fs.writeFileSync(path.join(tmp, 'short.json'), JSON.stringify({ instances: [[1, 2, 3]] }));
    cases.push([[mlpDir, '--input', 'short.json'], /instances\[0\]: expected an array of 784/]);
    for (const [args, pattern] of cases) {
      const r = lathe(args, tmp);
      assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, pattern);
    }
  });
});
