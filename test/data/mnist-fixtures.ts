// Shared by the dataset tests: small synthetic MNIST-shaped datasets, a spec whose checksums are
// theirs, scratch folders, an environment cleared of LATHE_* for each test, and a local HTTP
// mirror on 127.0.0.1.
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, afterEach, beforeEach } from 'node:test';
import { gzipSync } from 'node:zlib';
import { MNIST_SPEC, type IdxDatasetSpec } from '../../src/data/datasets/mnist.js';
import { sha256Hex } from '../../src/data/datasets/download.js';
import { encodeIdx } from '../../src/data/sources/idx.js';

const ENV_KEYS = ['LATHE_DATA', 'LATHE_CACHE', 'XDG_CACHE_HOME', 'LATHE_SYNTH_MIRROR', 'LATHE_MNIST_MIRROR'];
/** The environment as the test process found it. */
export const savedEnv = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));

/** Registers hooks so that every test starts with none of ENV_KEYS set (the user's own data and
 * cache are never read) and returns a maker of fresh scratch folders, removed at the end. */
export function isolate(prefix: string): (name?: string) => string {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  beforeEach(() => ENV_KEYS.forEach((k) => delete process.env[k]));
  afterEach(() => ENV_KEYS.forEach((k) => (savedEnv[k] === undefined ? delete process.env[k] : (process.env[k] = savedEnv[k]))));
  let counter = 0;
  return (name = 'd') => fs.mkdtempSync(path.join(tmp, `${counter++}-${name}-`));
}

export const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export type Key = 'trainImages' | 'trainLabels' | 'testImages' | 'testLabels';
export const KEYS: Key[] = ['trainImages', 'trainLabels', 'testImages', 'testLabels'];
export const BASE: Record<Key, string> = { trainImages: 'train-images-idx3-ubyte', trainLabels: 'train-labels-idx1-ubyte', testImages: 't10k-images-idx3-ubyte', testLabels: 't10k-labels-idx1-ubyte' };
export const ALL_GZ = KEYS.map((k) => `${BASE[k]}.gz`).join(', ');

/** Decompressed IDX bytes of a small dataset whose pixels start at `marker`, to tell copies apart. */
export function synth(marker: number, nTrain = 6, nTest = 4): Record<Key, Uint8Array> {
  const images = (n: number) => encodeIdx({ data: new Uint8Array(n * 784).map((_, i) => (marker + i) % 256), shape: [n, 28, 28] });
  const labels = (n: number) => encodeIdx({ data: new Uint8Array(n).map((_, i) => (marker + i) % 10), shape: [n] });
  return { trainImages: images(nTrain), trainLabels: labels(nTrain), testImages: images(nTest), testLabels: labels(nTest) };
}

/** A spec whose checksums are those of `files`; its mirror is never reachable. */
export function specOf(files: Record<Key, Uint8Array>): IdxDatasetSpec {
  const f = (k: Key) => ({ base: BASE[k], sha256: sha256Hex(files[k]), bytes: files[k].length });
  return {
    name: 'synth', title: 'Synth', mirror: 'https://mirror.invalid/synth/', mirrorEnv: 'LATHE_SYNTH_MIRROR',
    classNames: MNIST_SPEC.classNames,
    files: { trainImages: f('trainImages'), trainLabels: f('trainLabels'), testImages: f('testImages'), testLabels: f('testLabels') },
  };
}

export function writeSet(dir: string, files: Record<Key, Uint8Array>, { gzip = true, only = KEYS } = {}): string {
  fs.mkdirSync(dir, { recursive: true });
  for (const k of only) fs.writeFileSync(path.join(dir, gzip ? `${BASE[k]}.gz` : BASE[k]), gzip ? gzipSync(files[k]) : files[k]);
  return dir;
}

export const firstPixel = (d: { train: { images: { dataSync(): ArrayLike<number> } } }) => d.train.images.dataSync()[0];

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
export interface Stub { url: string; hits: string[]; close(): Promise<void> }
export async function stub(handler: Handler): Promise<Stub> {
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    hits,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
/** Serves the .gz of each file at <prefix>/<name>, with a content-length, as S3 does. */
export const serveGz = (files: Record<Key, Uint8Array>, override: Partial<Record<Key, Uint8Array>> = {}, prefix = ''): Handler => {
  const bodies = new Map(KEYS.map((k) => [`${prefix}/${BASE[k]}.gz`, override[k] ?? gzipSync(files[k])]));
  return (req, res) => {
    const body = bodies.get(req.url ?? '');
    if (!body) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-length': body.length }).end(body);
  };
};
