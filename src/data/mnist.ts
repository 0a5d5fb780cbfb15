// The original synchronous MNIST reader, kept for its importers (the train and evaluate
// commands): the four IDX files from one folder, no checksums, no download. New code uses
// datasets.mnist / datasets.fashionMnist (src/data/datasets/) and readIdx (src/data/sources/idx.ts).
import * as path from 'node:path';
import { fail } from '../errors.js';
import { MNIST_SPEC, findIdxFile, toSplit, type MnistSplit } from './datasets/mnist.js';
import { readIdx } from './sources/idx.js';

export { readIdx, type MnistSplit };

const FILES = { train: ['trainImages', 'trainLabels'], test: ['testImages', 'testLabels'] } as const;

function find(dir: string, base: string): string {
  return findIdxFile(dir, base) ?? fail('mnist', `${path.join(dir, base)}(.gz) not found; pass --data DIR with the four MNIST IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz)`);
}

/** One split from `dir`. Fashion-MNIST has the same file names and shapes, so it loads here too. */
export function loadMnistSplit(dir: string, split: 'train' | 'test'): MnistSplit {
  const [imagesFile, labelsFile] = FILES[split].map((k) => find(dir, MNIST_SPEC.files[k].base));
  return toSplit(MNIST_SPEC, imagesFile, readIdx(imagesFile), labelsFile, readIdx(labelsFile));
}

export function loadMnist(dir: string): { train: MnistSplit; test: MnistSplit } {
  return { train: loadMnistSplit(dir, 'train'), test: loadMnistSplit(dir, 'test') };
}
