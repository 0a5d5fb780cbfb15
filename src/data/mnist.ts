// A minimal MNIST loader: the four IDX files (gzipped or not) from a folder. Pixels stay uint8
// (47 MB for the training images instead of 188 MB as float32); a Rescaling layer or the
// training config scales them per batch. The data issue replaces this with datasets.mnist.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { fail } from '../errors.js';
import { fromArray } from '../tensor/create.js';
import type { Tensor } from '../tensor/tensor.js';

const IDX_DTYPES: Record<number, string> = { 0x08: 'uint8' };

/** Reads one IDX file: magic 0x0000 0x08 rank, then rank big-endian uint32 dims, then the bytes. */
export function readIdx(file: string): { shape: number[]; data: Uint8Array } {
  let bytes: Uint8Array = fs.readFileSync(file);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      fail('idx', `${file}: not a valid gzip file (${(e as Error).message})`);
    }
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4 || view.getUint16(0) !== 0) fail('idx', `${file}: not an IDX file (bad magic number)`);
  const type = bytes[2];
  const rank = bytes[3];
  if (!IDX_DTYPES[type]) fail('idx', `${file}: element type 0x${type.toString(16)} is not supported here (only unsigned bytes)`);
  if (bytes.length < 4 + 4 * rank) fail('idx', `${file}: truncated header`);
  const shape = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  const start = 4 + 4 * rank;
  const size = shape.reduce((a, b) => a * b, 1);
  if (bytes.length - start !== size) fail('idx', `${file}: expected ${size} bytes of data for shape [${shape.join(',')}], found ${bytes.length - start}`);
  return { shape, data: bytes.subarray(start) };
}

export interface MnistSplit {
  /** uint8 pixels [N, 28, 28]. */
  images: Tensor;
  /** int32 class labels [N]. */
  labels: Tensor;
}

const FILES = {
  train: ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte'],
  test: ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'],
} as const;

function find(dir: string, base: string): string {
  for (const name of [`${base}.gz`, base, base.replace(/-idx(\d)-/, '.idx$1-')]) {
    const p = path.join(dir, name);
    if (fs.existsSync(p)) return p;
  }
  fail('mnist', `${path.join(dir, base)}(.gz) not found; pass --data DIR with the four MNIST IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz)`);
}

export function loadMnistSplit(dir: string, split: 'train' | 'test'): MnistSplit {
  const [imagesFile, labelsFile] = FILES[split].map((f) => find(dir, f));
  const images = readIdx(imagesFile);
  const labels = readIdx(labelsFile);
  if (images.shape.length !== 3 || labels.shape.length !== 1 || images.shape[0] !== labels.shape[0]) {
    fail('mnist', `${imagesFile} has shape [${images.shape}] and ${labelsFile} [${labels.shape}]; expected [N,28,28] images and [N] labels`);
  }
  return {
    images: fromArray(images.data, images.shape, { dtype: 'uint8' }, 'mnist', true),
    labels: fromArray(Int32Array.from(labels.data), labels.shape, { dtype: 'int32' }, 'mnist', true),
  };
}

export function loadMnist(dir: string): { train: MnistSplit; test: MnistSplit } {
  return { train: loadMnistSplit(dir, 'train'), test: loadMnistSplit(dir, 'test') };
}
