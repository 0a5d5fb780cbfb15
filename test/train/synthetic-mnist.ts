// A tiny MNIST look-alike for training tests: 28x28 uint8 images whose label (0-9) is the cell of
// a 4x3 grid that holds a bright 7x7 block, on a noisy background, written as the four IDX files
// the MNIST loader reads. A small MLP learns it in an epoch or two, and no download is needed.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import * as lt from '../../src/index.js';

/** A small deterministic generator (mulberry32), independent of Lathe's. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` images [n*784] and labels [n]; the bright block sits in cell label of a 4-wide grid of 7x7 cells. */
export function syntheticDigits(n: number, seed: number): { images: Uint8Array; labels: Uint8Array } {
  const rnd = mulberry32(seed);
  const images = new Uint8Array(n * 784);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const label = i % 10; // every class in every split, shuffled by the fit itself
    labels[i] = label;
    const [r0, c0] = [7 * Math.floor(label / 4), 7 * (label % 4)];
    for (let r = 0; r < 28; r++) {
      for (let c = 0; c < 28; c++) {
        const inBlock = r >= r0 && r < r0 + 7 && c >= c0 && c < c0 + 7;
        images[i * 784 + r * 28 + c] = inBlock ? 160 + Math.floor(rnd() * 96) : Math.floor(rnd() * 80);
      }
    }
  }
  return { images, labels };
}

/** The digits as tensors: x float32 [n,784] in [0,1), y int32 [n]. */
export function digitTensors(n: number, seed: number): { x: lt.Tensor; y: lt.Tensor } {
  const { images, labels } = syntheticDigits(n, seed);
  return { x: lt.tensor(Float32Array.from(images, (v) => v / 255), { shape: [n, 784] }), y: lt.tensor(Int32Array.from(labels), { dtype: 'int32' }) };
}

/** A copy of every parameter and buffer's values, by name, to compare bit for bit. */
export function snapshot(model: lt.Model): Record<string, Float64Array> {
  return Object.fromEntries(Object.entries(model.stateDict()).map(([k, t]) => [k, Float64Array.from(t.dataSync())]));
}

/** The bytes of an IDX file of unsigned bytes: magic 0x0000 08 rank, big-endian dims, the data. */
export function idxBytes(shape: number[], data: Uint8Array): Buffer {
  const header = Buffer.alloc(4 + 4 * shape.length);
  header.writeUInt32BE(0x00000800 + shape.length, 0);
  shape.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

/**
 * Writes the four MNIST files for `train` and `test` examples into a new temp folder (the
 * training images gzipped, the rest raw, as both forms are read) and returns its path.
 */
export function writeSyntheticMnist(train: number, test: number, seed = 1): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-mnist-'));
  const tr = syntheticDigits(train, seed);
  const te = syntheticDigits(test, seed + 1000);
  fs.writeFileSync(path.join(dir, 'train-images-idx3-ubyte.gz'), gzipSync(idxBytes([train, 28, 28], tr.images)));
  fs.writeFileSync(path.join(dir, 'train-labels-idx1-ubyte'), idxBytes([train], tr.labels));
  fs.writeFileSync(path.join(dir, 't10k-images-idx3-ubyte'), idxBytes([test, 28, 28], te.images));
  fs.writeFileSync(path.join(dir, 't10k-labels-idx1-ubyte'), idxBytes([test], te.labels));
  return dir;
}

/** A training config for the synthetic digits: the brief's MLP, made small. */
export function mlpConfig(options: { hidden?: number; epochs?: number; batchSize?: number; lr?: number; optimizer?: string; seed?: number; dropout?: number } = {}): Record<string, unknown> {
  const { hidden = 32, epochs = 3, batchSize = 32, lr = 0.01, optimizer = 'adam', seed = 0, dropout } = options;
  return {
    seed,
    dataset: { type: 'mnist', inputShape: [784], rescale: 1 / 255, validation: 'test' },
    model: {
      layers: [
        { type: 'dense', units: hidden, activation: 'relu', inputShape: [784] },
        ...(dropout !== undefined ? [{ type: 'dropout', rate: dropout }] : []),
        { type: 'dense', units: 10, activation: 'softmax' },
      ],
    },
    compile: { optimizer: { type: optimizer, lr }, loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] },
    fit: { epochs, batchSize },
  };
}
