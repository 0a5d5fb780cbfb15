// datasets.mnist / fashionMnist: where the files are looked for and in what order, and the
// checksum policy. Synthetic datasets get a spec whose checksums are their own; the real MNIST
// spec is checked against ../shared/data/mnist (or $LATHE_DATA/mnist) when it exists.
// The download itself is tested in datasets-download.test.ts.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { fashionMnist, IdxImageDataset, mnist } from '../../src/data/datasets/mnist.js';
import { datasetCacheDir, sha256Hex } from '../../src/data/datasets/download.js';
import { loadMnist, loadMnistSplit } from '../../src/data/mnist.js';
import { encodeIdx } from '../../src/data/sources/idx.js';
import { assertThrowsLathe } from '../helpers.js';
import { ALL_GZ, esc, firstPixel, isolate, savedEnv, serveGz, specOf, stub, synth, writeSet, type Key, type Stub } from './mnist-fixtures.js';

const fresh = isolate('lathe-datasets');

describe('where the files are found', () => {
  const own = synth(3);
  const spec = specOf(own); // the cache holds these (the cache is always verified)
  const set = new IdxImageDataset(spec);
  const quiet = { checksum: 'off' as const };

  test('dir wins over LATHE_DATA and the cache', async () => {
    const cache = fresh('cache');
    writeSet(path.join(cache, 'synth'), own);
    const env = fresh('env');
    writeSet(path.join(env, 'synth'), synth(2));
    const dir = writeSet(fresh('dir'), synth(1));
    process.env.LATHE_DATA = env;
    const d = await set.load({ ...quiet, dir, cacheDir: cache });
    assert.equal(firstPixel(d), 1);
    assert.deepEqual(d.source, { kind: 'dir', dir, downloaded: [] });
    const e = await set.load({ ...quiet, cacheDir: cache });
    assert.equal(firstPixel(e), 2);
    assert.equal(e.source.kind, 'LATHE_DATA');
    delete process.env.LATHE_DATA;
    const c = await set.load({ cacheDir: cache });
    assert.equal(firstPixel(c), 3);
    assert.deepEqual(c.source, { kind: 'cache', dir: path.join(cache, 'synth'), downloaded: [] });
  });

  test('LATHE_DATA/<name> missing a file falls through to the cache ($LATHE_CACHE)', async () => {
    const env = fresh('env');
    writeSet(path.join(env, 'synth'), synth(2), { only: ['trainImages', 'trainLabels', 'testImages'] });
    const cache = fresh('cache');
    writeSet(path.join(cache, 'synth'), own, { gzip: false });
    Object.assign(process.env, { LATHE_DATA: env, LATHE_CACHE: cache });
    const d = await set.load(quiet);
    assert.equal(firstPixel(d), 3);
    assert.equal(d.source.kind, 'cache');
  });

  test('the default cache is $XDG_CACHE_HOME or ~/.cache, under lathe/datasets/<name>', async () => {
    const xdg = fresh('xdg');
    writeSet(path.join(xdg, 'lathe', 'datasets', 'synth'), own);
    process.env.XDG_CACHE_HOME = xdg;
    assert.equal(firstPixel(await set.load()), 3);
    delete process.env.XDG_CACHE_HOME;
    assert.equal(datasetCacheDir('mnist'), path.join(os.homedir(), '.cache', 'lathe', 'datasets', 'mnist'));
    process.env.LATHE_CACHE = '/some/cache';
    assert.equal(datasetCacheDir('mnist'), path.join('/some/cache', 'mnist'));
    assert.equal(datasetCacheDir('mnist', '/opt/c'), path.join('/opt/c', 'mnist'));
  });

  test('plain, gzipped and Kaggle-named files mix in one folder', async () => {
    const dir = writeSet(fresh('mix'), own, { gzip: false, only: ['trainImages', 'testLabels'] });
    writeSet(dir, own, { only: ['testImages'] });
    fs.writeFileSync(path.join(dir, 'train-labels.idx1-ubyte'), own.trainLabels);
    const d = await set.load({ dir, checksum: 'error' });
    assert.deepEqual(Array.from(d.train.labels.dataSync()), [3, 4, 5, 6, 7, 8]);
    assert.deepEqual(d.test.images.shape, [4, 28, 28]);
    assert.equal(d.train.images.dtype, 'uint8');
    assert.equal(d.train.labels.dtype, 'int32');
  });

  test('an incomplete dir is an error even with download: true: no cache, no network', async () => {
    const server = await stub(serveGz(own));
    try {
      const cache = fresh('cache');
      writeSet(path.join(cache, 'synth'), own);
      const dir = writeSet(fresh('dir'), own, { only: ['trainImages', 'trainLabels', 'testImages'] });
      await assert.rejects(set.load({ dir, cacheDir: cache, download: true, mirror: server.url }), {
        message: `synth: t10k-labels-idx1-ubyte.gz not found (looked in ${dir}); pass --data DIR with the four Synth files (${ALL_GZ}; gzipped or not)`,
      });
      assert.deepEqual(server.hits, []);
    } finally {
      await server.close();
    }
  });

  test('nothing anywhere and no download: the error says where it looked and how to supply the data; no network', async () => {
    const server = await stub(serveGz(own));
    try {
      const env = fresh('env');
      const cache = fresh('cache');
      process.env.LATHE_DATA = env;
      await assert.rejects(set.load({ cacheDir: cache, mirror: server.url }), {
        message: `synth: train-images-idx3-ubyte.gz not found (looked in ${path.join(env, 'synth')} ($LATHE_DATA/synth); ${path.join(cache, 'synth')} (the cache)); ` +
          `pass --data DIR with the four Synth files (${ALL_GZ}; gzipped or not), or opt in to a download from ${server.url} into the cache (lathe train --download; load({ download: true }) in code)`,
      });
      delete process.env.LATHE_DATA;
      await assert.rejects(fashionMnist.load({ cacheDir: cache }), {
        message: `fashion-mnist: train-images-idx3-ubyte.gz not found (looked in $LATHE_DATA/fashion-mnist (LATHE_DATA is not set); ${path.join(cache, 'fashion-mnist')} (the cache)); ` +
          `pass --data DIR with the four Fashion-MNIST files (${ALL_GZ}; gzipped or not), or opt in to a download from https://storage.googleapis.com/tensorflow/tf-keras-datasets/ into the cache (lathe train --download; load({ download: true }) in code)`,
      });
      assert.deepEqual(server.hits, []);
      assert.deepEqual(fs.readdirSync(cache), []);
    } finally {
      await server.close();
    }
  });
});

describe('checksums', () => {
  const official = synth(3);
  const set = new IdxImageDataset(specOf(official));
  const other = synth(9); // a user's different copy, e.g. a subset or a relabelled set

  test("a user's folder that differs: warn and use it (default), refuse with 'error', skip with 'off'", async () => {
    const dir = writeSet(fresh('user'), other, { only: ['trainImages'] });
    writeSet(dir, official, { only: ['trainLabels', 'testImages', 'testLabels'] });
    const file = path.join(dir, 'train-images-idx3-ubyte.gz');
    const msg = `synth: ${file}: sha256 mismatch (expected ${sha256Hex(official.trainImages)}, got ${sha256Hex(other.trainImages)})`;
    const warnings: string[] = [];
    const d = await set.load({ dir, onWarning: (m) => warnings.push(m) });
    assert.equal(firstPixel(d), 9);
    assert.deepEqual(warnings, [`${msg}; using it as given (checksum: 'error' refuses it)`]);
    await assert.rejects(set.load({ dir, checksum: 'error' }), { message: `${msg}; pass --data DIR with the four Synth files (${ALL_GZ}; gzipped or not)` });
    warnings.length = 0;
    await set.load({ dir, checksum: 'off', onWarning: (m) => warnings.push(m) });
    assert.deepEqual(warnings, []);
    // without onWarning, the warning goes through process.emitWarning
    const seen = new Promise<Error>((resolve) => process.once('warning', resolve));
    await set.load({ dir });
    const w = await seen;
    assert.equal(w.name, 'LatheWarning');
    assert.match(w.message, new RegExp(`^${esc(msg)}`));
  });

  test("a cached file that differs is refused whatever 'checksum' says", async () => {
    const cache = fresh('cache');
    writeSet(path.join(cache, 'synth'), official, { only: ['trainImages', 'trainLabels', 'testImages'] });
    writeSet(path.join(cache, 'synth'), other, { only: ['testLabels'] });
    const file = path.join(cache, 'synth', 't10k-labels-idx1-ubyte.gz');
    await assert.rejects(set.load({ cacheDir: cache, checksum: 'off' }), {
      name: 'LatheError',
      message: `synth: ${file}: sha256 mismatch (expected ${sha256Hex(official.testLabels)}, got ${sha256Hex(other.testLabels)}); ` +
        `delete it to download it again, or pass --data DIR with the four Synth files (${ALL_GZ}; gzipped or not)`,
    });
    // a cached file that inflates past the official size is stopped there, not read into memory
    fs.writeFileSync(file, gzipSync(new Uint8Array(official.testLabels.length + 1)));
    await assert.rejects(set.load({ cacheDir: cache }), { name: 'LatheError', message: `idx: ${file}: more than ${official.testLabels.length} bytes after gunzip` });
  });

  test('shapes and labels are checked, in the async loader and the sync one', async () => {
    const bad = (patch: Partial<Record<Key, Uint8Array>>) => writeSet(fresh('bad'), { ...official, ...patch }, { gzip: false });
    const cases: [Partial<Record<Key, Uint8Array>>, string, (dir: string) => string][] = [
      [{ trainImages: encodeIdx({ data: new Uint8Array(6 * 28 * 27), shape: [6, 28, 27] }) }, 'mnist', (d) => `${d}/train-images-idx3-ubyte: expected uint8 images [N,28,28], got uint8 [6,28,27]`],
      [{ trainImages: encodeIdx({ data: new Float32Array(6 * 784), shape: [6, 28, 28] }) }, 'mnist', (d) => `${d}/train-images-idx3-ubyte: expected uint8 images [N,28,28], got float32 [6,28,28]`],
      [{ trainLabels: encodeIdx({ data: new Uint8Array(5), shape: [5] }) }, 'mnist', (d) => `${d}/train-labels-idx1-ubyte: expected uint8 labels [6] to match ${d}/train-images-idx3-ubyte [6,28,28], got uint8 [5]`],
      [{ trainLabels: encodeIdx({ data: new Uint8Array([0, 1, 2, 10, 4, 5]), shape: [6] }) }, 'mnist', (d) => `${d}/train-labels-idx1-ubyte: label 3 is 10, expected 0..9 (byte 11)`],
    ];
    for (const [patch, where, message] of cases) {
      const dir = bad(patch);
      await assert.rejects(set.load({ dir, checksum: 'off' }), { message: `synth: ${message(dir)}` });
      assertThrowsLathe(() => loadMnistSplit(dir, 'train'), new RegExp(`^${where}: ${esc(message(dir))}$`));
    }
  });
});

// The real files, when this checkout has them: the hard-coded MNIST checksums must match.
const root = fileURLToPath(new URL('../../../', import.meta.url));
const realRoot = savedEnv.LATHE_DATA ? path.resolve(savedEnv.LATHE_DATA) : path.join(root, '../shared/data');
const hasReal = fs.existsSync(path.join(realRoot, 'mnist', 'train-images-idx3-ubyte.gz'));
describe('the real MNIST', { skip: hasReal ? false : 'no mnist/ under LATHE_DATA or ../shared/data' }, () => {
  let server: Stub | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });
  test('LATHE_DATA/mnist loads with checksum "error" and matches the known first labels', async () => {
    process.env.LATHE_DATA = realRoot;
    const d = await mnist.load({ checksum: 'error', cacheDir: fresh('unused') });
    assert.equal(d.source.kind, 'LATHE_DATA');
    assert.deepEqual(d.train.images.shape, [60000, 28, 28]);
    assert.equal(d.train.images.dtype, 'uint8');
    assert.deepEqual(d.test.images.shape, [10000, 28, 28]);
    assert.deepEqual(Array.from(d.train.labels.dataSync().subarray(0, 5)), [5, 0, 4, 1, 9]);
    assert.deepEqual(Array.from(d.test.labels.dataSync().subarray(0, 5)), [7, 2, 1, 0, 4]);
    const legacy = loadMnist(path.join(realRoot, 'mnist'));
    assert.deepEqual(legacy.test.labels.dataSync(), d.test.labels.dataSync());
  });

  test('served by a local mirror (LATHE_MNIST_MIRROR), the official files pass the download checks', async () => {
    const dir = path.join(realRoot, 'mnist');
    server = await stub((req, res) => {
      const file = path.join(dir, path.basename(req.url ?? ''));
      if (!fs.existsSync(file)) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-length': fs.statSync(file).size });
      fs.createReadStream(file).pipe(res);
    });
    process.env.LATHE_MNIST_MIRROR = server.url;
    const cache = fresh('cache');
    const d = await mnist.load({ cacheDir: cache, download: true });
    assert.equal(d.source.downloaded.length, 4);
    assert.deepEqual(Array.from(d.train.labels.dataSync().subarray(0, 3)), [5, 0, 4]);
  });
});
