// `lathe train` on a folder of class folders (issue 5's image datasets): PNGs of two colours,
// a stratified validation split, and predict naming the class of raw 0-255 pixels.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { pngjsEncode, put, RGB, scratch } from '../data/image-fixtures.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const bin = path.join(root, 'bin', 'lathe.js');
const newDir = scratch('lathe-images-cli');

function lathe(args: string[]) {
  const { LATHE_DATA: _, ...env } = process.env;
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** An 8x8 image, mostly `base` with a little seeded noise per pixel. */
function noisy(base: [number, number, number], seed: number): { png: Buffer; chw: number[][][] } {
  const hwc: number[] = [];
  for (let i = 0; i < 64; i++) for (let c = 0; c < 3; c++) hwc.push(Math.max(0, Math.min(255, base[c] + (((seed * 31 + i * 7 + c * 13) % 41) - 20))));
  const chw = [0, 1, 2].map((c) => Array.from({ length: 8 }, (_, y) => Array.from({ length: 8 }, (_, x) => hwc[(y * 8 + x) * 3 + c])));
  return { png: pngjsEncode(8, 8, RGB, hwc), chw };
}

test('an image-folder config trains, and predict names the class of raw pixels', () => {
  const dir = newDir('data');
  for (let i = 0; i < 20; i++) {
    put(dir, `shapes/reddish/${i}.png`, noisy([200, 40, 40], i).png);
    put(dir, `shapes/bluish/${i}.png`, noisy([40, 40, 200], i + 100).png);
  }
  const config = path.join(dir, 'config.json');
  fs.writeFileSync(config, JSON.stringify({
    seed: 2,
    dataset: { type: 'images', path: 'shapes', rescale: 1 / 255, validationSplit: 0.25, seed: 2 },
    model: { layers: [{ type: 'flatten' }, { type: 'dense', units: 2, activation: 'softmax' }] },
    compile: { optimizer: { type: 'adam', learningRate: 0.05 }, loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] },
    fit: { epochs: 10, batchSize: 8 },
  }));
  const run = path.join(dir, 'run');
  const r = lathe(['train', config, '--out', run, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const done = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.equal(done.val_accuracy, 1);
  const model = JSON.parse(fs.readFileSync(path.join(run, 'model', 'model.json'), 'utf8'));
  assert.deepEqual(model.classNames, ['bluish', 'reddish'], "Keras' rule: class folders sorted");
  assert.deepEqual(model.signature.inputs[0].shape, [null, 3, 8, 8]);
  fs.writeFileSync(path.join(dir, 'req.json'), JSON.stringify({ instances: [noisy([210, 30, 50], 7).chw, noisy([30, 50, 210], 8).chw] }));
  const p = lathe(['predict', path.join(run, 'model'), '--input', path.join(dir, 'req.json')]);
  assert.equal(p.status, 0, p.stderr);
  assert.deepEqual(JSON.parse(p.stdout).classes, ['reddish', 'bluish']);
});

test('an image-folder config with a bad field or a missing folder fails before training', () => {
  const dir = newDir('bad');
  const write = (dataset: unknown) => {
    const file = path.join(dir, 'c.json');
    fs.writeFileSync(file, JSON.stringify({ dataset, model: { layers: [{ type: 'dense', units: 2 }] }, compile: { optimizer: 'sgd', loss: 'mse' } }));
    return file;
  };
  let r = lathe(['train', write({ type: 'images', path: 'nowhere' }), '--out', path.join(dir, 'r1')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^lathe: config\.dataset: "path" "nowhere": .*nowhere not found/);
  r = lathe(['train', write({ type: 'images', path: '.', channels: 2 }), '--out', path.join(dir, 'r2')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^lathe: config\.dataset: "channels" must be 1 \(grayscale\) or 3 \(RGB\), got 2\n$/);
});
