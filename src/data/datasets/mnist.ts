// datasets.mnist and datasets.fashionMnist: Keras' load_data() as { train, test } of uint8 images
// [N,28,28] and int32 labels [N]. The four IDX files come from, in order: options.dir (the CLI's
// --data), $LATHE_DATA/<name> when it holds all four, the cache folder, and only with
// download: true the canonical mirror (into the cache). Pixels stay uint8 (47 MB, not 188 MB).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { writeFileAtomic } from '../../atomic-write.js';
import { fail, fmtShape } from '../../errors.js';
import { fromArray } from '../../tensor/create.js';
import type { Tensor } from '../../tensor/tensor.js';
import { parseIdx, readIdxBytesAsync, type IdxArray } from '../sources/idx.js';
import { datasetCacheDir, fetchBytes, isLoopbackHttp, sha256Hex, type DownloadOptions } from './download.js';

export interface MnistSplit {
  /** uint8 pixels [N, 28, 28]. */
  images: Tensor;
  /** int32 class labels [N]. */
  labels: Tensor;
}

interface FileSpec {
  /** The file name without .gz; the folder may hold it gzipped or not. */
  base: string;
  /** SHA-256 of the decompressed bytes, so a re-gzipped copy of the same data still matches. */
  sha256: string;
  /** Decompressed size: the gunzip cap for a download (a gzip bomb stops there). */
  bytes: number;
}

export interface IdxDatasetSpec {
  name: string;
  title: string;
  /** Base URL the four .gz files are fetched from. */
  mirror: string;
  /** Environment variable that replaces the mirror (tests serve one on 127.0.0.1). */
  mirrorEnv: string;
  classNames: readonly string[];
  files: { trainImages: FileSpec; trainLabels: FileSpec; testImages: FileSpec; testLabels: FileSpec };
}

type Key = keyof IdxDatasetSpec['files'];
const KEYS: readonly Key[] = ['trainImages', 'trainLabels', 'testImages', 'testLabels'];

export interface DatasetLoadOptions extends DownloadOptions {
  /** A folder with the four IDX files (gzipped or not); used alone, nothing else is tried. */
  dir?: string;
  /** Fetch missing files from the mirror into the cache. Off by default: no network unless asked. */
  download?: boolean;
  /** Cache root; the files go to <cacheDir>/<name>. Default $LATHE_CACHE, else ~/.cache/lathe/datasets. */
  cacheDir?: string;
  /** Base URL to download from instead of the canonical mirror (also via the spec's mirrorEnv). */
  mirror?: string;
  /**
   * What a checksum mismatch in a user's folder (dir or $LATHE_DATA) does: 'warn' (default) uses
   * the file and warns, since a subset or a re-labelled copy may be deliberate; 'error' refuses it;
   * 'off' skips hashing. Files in the cache and fresh downloads are always verified and refused.
   */
  checksum?: 'warn' | 'error' | 'off';
  /** Receives checksum warnings; default process.emitWarning. */
  onWarning?: (message: string) => void;
}

export type DatasetSource = 'dir' | 'LATHE_DATA' | 'cache';

export interface LoadedDataset {
  train: MnistSplit;
  test: MnistSplit;
  /** Where the files were read from, and which of them this call downloaded. */
  source: { kind: DatasetSource; dir: string; downloaded: string[] };
}

/** The file for `base` in `dir`: base.gz, base, or Kaggle's dotted name (train-images.idx3-ubyte). */
export function findIdxFile(dir: string, base: string): string | null {
  for (const name of [`${base}.gz`, base, base.replace(/-idx(\d)-/, '.idx$1-')]) {
    const p = path.join(dir, name);
    if (fs.existsSync(p)) return p;
  }
  return null;
}

function fileList(spec: IdxDatasetSpec): string {
  return KEYS.map((k) => `${spec.files[k].base}.gz`).join(', ');
}

/** The advice every missing-data and checksum error ends with: how to supply the files offline. */
function offlineAdvice(spec: IdxDatasetSpec): string {
  return `pass --data DIR with the four ${spec.title} files (${fileList(spec)}; gzipped or not)`;
}

/** Checks images [N,28,28] uint8 and labels [N] uint8 in 0..classes-1, and makes the tensors. */
export function toSplit(spec: IdxDatasetSpec, imagesFile: string, images: IdxArray, labelsFile: string, labels: IdxArray): MnistSplit {
  const [n, h, w] = images.shape;
  if (images.idxType !== 'uint8' || images.shape.length !== 3 || h !== 28 || w !== 28) {
    fail(spec.name, `${imagesFile}: expected uint8 images [N,28,28], got ${images.idxType} ${fmtShape(images.shape)}`);
  }
  if (labels.idxType !== 'uint8' || labels.shape.length !== 1 || labels.shape[0] !== n) {
    fail(spec.name, `${labelsFile}: expected uint8 labels [${n}] to match ${imagesFile} ${fmtShape(images.shape)}, got ${labels.idxType} ${fmtShape(labels.shape)}`);
  }
  const classes = spec.classNames.length;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = labels.data[i];
    if (v >= classes) fail(spec.name, `${labelsFile}: label ${i} is ${v}, expected 0..${classes - 1} (byte ${8 + i})`);
    out[i] = v;
  }
  return {
    images: fromArray(images.data, images.shape, { dtype: 'uint8' }, spec.name, true),
    labels: fromArray(out, [n], { dtype: 'int32' }, spec.name, true),
  };
}

interface Located { kind: DatasetSource; dir: string; files: Partial<Record<Key, string>> }

function locate(spec: IdxDatasetSpec, dir: string, kind: DatasetSource): Located {
  const files: Partial<Record<Key, string>> = {};
  for (const k of KEYS) {
    const f = findIdxFile(dir, spec.files[k].base);
    if (f) files[k] = f;
  }
  return { kind, dir, files };
}

const complete = (l: Located) => KEYS.every((k) => l.files[k]);

function mismatch(where: string, expected: string, actual: string): string {
  return `${where}: sha256 mismatch (expected ${expected}, got ${actual})`;
}

/** Downloads the missing files into the cache, verifying each before it is written. */
async function downloadMissing(spec: IdxDatasetSpec, cache: Located, options: DatasetLoadOptions): Promise<string[]> {
  const mirror = (options.mirror ?? process.env[spec.mirrorEnv] ?? spec.mirror).replace(/\/?$/, '/');
  const done: string[] = [];
  for (const k of KEYS) {
    if (cache.files[k]) continue;
    const { base, sha256, bytes } = spec.files[k];
    const url = `${mirror}${base}.gz`;
    const body = await fetchBytes(url, { ...options, allowLoopbackHttp: isLoopbackHttp(mirror) });
    let raw: Uint8Array;
    try {
      raw = gunzipSync(body, { maxOutputLength: bytes, chunkSize: 1 << 20 });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const why = err.code === 'ERR_BUFFER_TOO_LARGE' ? `decompresses to more than the expected ${bytes} bytes` : `corrupt or truncated gzip data (zlib: ${err.message})`;
      fail(spec.name, `${url}: ${why}; nothing was written; ${offlineAdvice(spec)}`);
    }
    const got = sha256Hex(raw);
    if (got !== sha256) fail(spec.name, `${mismatch(url, sha256, got)}; nothing was written; ${offlineAdvice(spec)}`);
    const dest = path.join(cache.dir, `${base}.gz`);
    writeFileAtomic(dest, body);
    cache.files[k] = dest;
    done.push(dest);
  }
  return done;
}

/** Reads, verifies and parses one file. */
async function readVerified(spec: IdxDatasetSpec, k: Key, file: string, kind: DatasetSource, options: DatasetLoadOptions): Promise<IdxArray> {
  const { sha256 } = spec.files[k];
  // A cached file was verified when downloaded, so a mismatch there means corruption: refuse it.
  const policy = kind === 'cache' ? 'error' : options.checksum ?? 'warn';
  // A cached file has exactly the official size; a user's may legitimately differ (a subset).
  const bytes = await readIdxBytesAsync(file, kind === 'cache' ? { maxBytes: spec.files[k].bytes } : {});
  if (policy !== 'off') {
    const got = sha256Hex(bytes);
    if (got !== sha256) {
      const message = mismatch(file, sha256, got);
      if (policy === 'error') {
        const fix = kind === 'cache' ? `delete it to download it again, or ${offlineAdvice(spec)}` : offlineAdvice(spec);
        fail(spec.name, `${message}; ${fix}`);
      }
      (options.onWarning ?? ((m: string) => process.emitWarning(m, 'LatheWarning')))(`${spec.name}: ${message}; using it as given (checksum: 'error' refuses it)`);
    }
  }
  return parseIdx(bytes, file);
}

/** Finds (or, with download: true, fetches) the four files and loads both splits. */
export async function loadIdxDataset(spec: IdxDatasetSpec, options: DatasetLoadOptions = {}): Promise<LoadedDataset> {
  const looked: string[] = [];
  let found: Located | null = null;
  let downloaded: string[] = [];
  if (options.dir !== undefined) {
    // An explicit folder is the user's choice: no fallback that could load other data silently.
    found = locate(spec, path.resolve(options.dir), 'dir');
    looked.push(found.dir);
  } else {
    const envRoot = process.env.LATHE_DATA;
    if (envRoot) {
      const env = locate(spec, path.resolve(envRoot, spec.name), 'LATHE_DATA');
      looked.push(`${env.dir} ($LATHE_DATA/${spec.name})`);
      if (complete(env)) found = env;
    } else looked.push(`$LATHE_DATA/${spec.name} (LATHE_DATA is not set)`);
    if (!found) {
      found = locate(spec, datasetCacheDir(spec.name, options.cacheDir), 'cache');
      looked.push(`${found.dir} (the cache)`);
      if (!complete(found) && options.download) downloaded = await downloadMissing(spec, found, options);
    }
  }
  const missing = KEYS.find((k) => !found!.files[k]);
  if (missing) {
    const mirror = options.mirror ?? process.env[spec.mirrorEnv] ?? spec.mirror;
    const optIn = options.dir === undefined ? `, or opt in to a download from ${mirror} into the cache (lathe train --download; load({ download: true }) in code)` : '';
    fail(spec.name, `${spec.files[missing].base}.gz not found (looked in ${looked.join('; ')}); ${offlineAdvice(spec)}${optIn}`);
  }
  const at = found.files as Record<Key, string>;
  const arrays = await Promise.all(KEYS.map((k) => readVerified(spec, k, at[k], found!.kind, options)));
  const [trainImages, trainLabels, testImages, testLabels] = arrays;
  return {
    train: toSplit(spec, at.trainImages, trainImages, at.trainLabels, trainLabels),
    test: toSplit(spec, at.testImages, testImages, at.testLabels, testLabels),
    source: { kind: found.kind, dir: found.dir, downloaded },
  };
}

/** A dataset by name: `await datasets.mnist.load({ dir, download })`. */
export class IdxImageDataset {
  constructor(readonly spec: IdxDatasetSpec) {}
  get name(): string { return this.spec.name; }
  get classNames(): readonly string[] { return this.spec.classNames; }
  load(options: DatasetLoadOptions = {}): Promise<LoadedDataset> { return loadIdxDataset(this.spec, options); }
}

// MNIST: the sha256s are of the decompressed files, computed from the official .gz files (their
// md5s match torchvision's list for three of them; the fourth is a re-gzipped copy whose
// decompressed sha256 matches published listings). Mirror: torchvision's https mirror, since
// yann.lecun.com no longer serves the files.
export const MNIST_SPEC: IdxDatasetSpec = {
  name: 'mnist',
  title: 'MNIST',
  mirror: 'https://ossci-datasets.s3.amazonaws.com/mnist/',
  mirrorEnv: 'LATHE_MNIST_MIRROR',
  classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
  files: {
    trainImages: { base: 'train-images-idx3-ubyte', sha256: 'ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db', bytes: 47040016 },
    trainLabels: { base: 'train-labels-idx1-ubyte', sha256: '65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5', bytes: 60008 },
    testImages: { base: 't10k-images-idx3-ubyte', sha256: '0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7', bytes: 7840016 },
    testLabels: { base: 't10k-labels-idx1-ubyte', sha256: 'ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2', bytes: 10008 },
  },
};

// Fashion-MNIST: Keras' https mirror (Zalando's own S3 website endpoint is http only). Its .gz
// files are Zalando's: the label files hash to the md5s torchvision lists and the sha256s Keras
// lists. The label sha256s below were computed from Zalando's repository files; the image ones
// are the decompressed sha256s that several independent projects publish (not recomputed here).
export const FASHION_MNIST_SPEC: IdxDatasetSpec = {
  name: 'fashion-mnist',
  title: 'Fashion-MNIST',
  mirror: 'https://storage.googleapis.com/tensorflow/tf-keras-datasets/',
  mirrorEnv: 'LATHE_FASHION_MNIST_MIRROR',
  classNames: ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'],
  files: {
    trainImages: { base: 'train-images-idx3-ubyte', sha256: 'c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888', bytes: 47040016 },
    trainLabels: { base: 'train-labels-idx1-ubyte', sha256: 'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9', bytes: 60008 },
    testImages: { base: 't10k-images-idx3-ubyte', sha256: '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b', bytes: 7840016 },
    testLabels: { base: 't10k-labels-idx1-ubyte', sha256: '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34', bytes: 10008 },
  },
};

export const mnist = new IdxImageDataset(MNIST_SPEC);
export const fashionMnist = new IdxImageDataset(FASHION_MNIST_SPEC);
