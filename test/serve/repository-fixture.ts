// A model repository for the serving tests, built in a temp folder: a small MLP trained a few
// steps on the synthetic digits and saved as two versions, its ONNX export, a model with one
// broken version, and one whose default policy serves only its latest version.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as lt from '../../src/index.js';
import { exportOnnx } from '../../src/io/onnx/export.js';
import { Dense, Rescaling } from '../../src/nn/layers/index.js';
import { syntheticDigits } from '../train/synthetic-mnist.js';

export const CLASS_NAMES = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];

/** Raw pixels (0-255) as float32 [n,784]: the saved model rescales them itself. */
export function pixels(n: number, seed: number): lt.Tensor {
  return lt.tensor(Float32Array.from(syntheticDigits(n, seed).images), { shape: [n, 784] });
}

async function trainedMlp(seed: number, epochs: number): Promise<lt.Sequential> {
  lt.manualSeed(seed);
  const model = new lt.Sequential([new Rescaling(1 / 255, 0, { inputShape: [784] }), new Dense(16, { activation: 'relu' }), new Dense(10, { activation: 'softmax' })]);
  model.compile({ optimizer: 'adam', loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
  const { labels } = syntheticDigits(200, seed);
  await model.fit(pixels(200, seed), lt.tensor(Int32Array.from(labels), { dtype: 'int32' }), { epochs, batchSize: 32, verbose: 0, seed });
  return model;
}

export interface Fixture {
  root: string;
  /** The models as trained, to compare the server's answers with in-process predictions. */
  v1: lt.Sequential;
  v2: lt.Sequential;
}

export async function buildRepository(): Promise<Fixture> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-serve-'));
  const v1 = await trainedMlp(1, 1);
  const v2 = await trainedMlp(2, 2);
  lt.save(v1, path.join(root, 'mlp', '1'), { classNames: CLASS_NAMES });
  lt.save(v2, path.join(root, 'mlp', '2'), { classNames: CLASS_NAMES });
  fs.writeFileSync(path.join(root, 'mlp', 'config.json'), JSON.stringify({ versionPolicy: { all: true }, labels: { stable: 1, canary: 2 } }));
  fs.mkdirSync(path.join(root, 'mlp-onnx', '3'), { recursive: true });
  fs.writeFileSync(path.join(root, 'mlp-onnx', '3', 'model.onnx'), exportOnnx(v2));
  // broken/1 fails to load; broken/2 serves regardless.
  fs.mkdirSync(path.join(root, 'broken', '1'), { recursive: true });
  fs.writeFileSync(path.join(root, 'broken', '1', 'model.json'), '{"format": "not-lathe"');
  lt.save(v1, path.join(root, 'broken', '2'));
  fs.writeFileSync(path.join(root, 'broken', 'config.json'), JSON.stringify({ versionPolicy: { specific: [1, 2] } }));
  // The default policy (latest 1) serves only old/7; non-numeric folders are ignored.
  lt.save(v1, path.join(root, 'old', '5'));
  lt.save(v2, path.join(root, 'old', '7'));
  fs.mkdirSync(path.join(root, 'old', 'notes'));
  fs.mkdirSync(path.join(root, 'bad name'));
  return { root, v1, v2 };
}

/** Serves mlp/2 again as models named after `configs`' keys, version 1, each with its config.json (a runtime, batching). */
export function addMlpCopies(fx: Fixture, configs: Record<string, Record<string, unknown>>): void {
  for (const [name, config] of Object.entries(configs)) {
    fs.cpSync(path.join(fx.root, 'mlp', '2'), path.join(fx.root, name, '1'), { recursive: true });
    fs.writeFileSync(path.join(fx.root, name, 'config.json'), JSON.stringify(config));
  }
}

/** The largest absolute difference between two equally long arrays of numbers. */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} and ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
