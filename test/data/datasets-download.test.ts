// The opt-in download, served by a local HTTP stub on 127.0.0.1 (never the network): checksums
// verified before anything is written, no partial file after any failure, the cache reused,
// the size cap, redirects (https only) and timeouts.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { IdxImageDataset } from '../../src/data/datasets/mnist.js';
import { sha256Hex } from '../../src/data/datasets/download.js';
import { ALL_GZ, BASE, firstPixel, isolate, KEYS, serveGz, specOf, stub, synth, writeSet, type Handler, type Stub } from './mnist-fixtures.js';

const fresh = isolate('lathe-download');

describe('download (local stub mirror)', () => {
  const files = synth(5);
  const spec = specOf(files);
  const set = new IdxImageDataset(spec);
  let server: Stub | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });
  const gzNames = KEYS.map((k) => `${BASE[k]}.gz`).sort();

  test('downloads, verifies and caches the four files; the second load uses the cache only', async () => {
    server = await stub(serveGz(files));
    const cache = fresh('cache');
    const d = await set.load({ cacheDir: cache, download: true, mirror: server.url });
    assert.equal(firstPixel(d), 5);
    assert.deepEqual(server.hits.sort(), gzNames.map((n) => `/${n}`));
    assert.deepEqual(d.source.downloaded, KEYS.map((k) => path.join(cache, 'synth', `${BASE[k]}.gz`)));
    assert.deepEqual(fs.readdirSync(path.join(cache, 'synth')).sort(), gzNames);
    const again = await set.load({ cacheDir: cache, download: true, mirror: server.url });
    assert.equal(server.hits.length, 4);
    assert.deepEqual(again.source, { kind: 'cache', dir: path.join(cache, 'synth'), downloaded: [] });
  });

  test('only missing files are fetched; the mirror may come from the spec\'s environment variable', async () => {
    server = await stub(serveGz(files));
    const cache = fresh('cache');
    writeSet(path.join(cache, 'synth'), files, { only: ['trainImages', 'testImages', 'testLabels'] });
    process.env.LATHE_SYNTH_MIRROR = server.url;
    const d = await set.load({ cacheDir: cache, download: true });
    assert.deepEqual(server.hits, ['/train-labels-idx1-ubyte.gz']);
    assert.deepEqual(d.source.downloaded, [path.join(cache, 'synth', 'train-labels-idx1-ubyte.gz')]);
  });

  const advice = `pass --data DIR with the four Synth files (${ALL_GZ}; gzipped or not)`;
  /** Asserts the load fails with `message` and leaves the cache folder without any file. */
  async function failsCleanly(handler: Handler, message: (url: string) => string | RegExp, extra = {}) {
    const mirror = await stub(handler);
    try {
      const cache = fresh('cache');
      const run = set.load({ cacheDir: cache, download: true, mirror: mirror.url, ...extra });
      const m = message(`${mirror.url}train-images-idx3-ubyte.gz`);
      await assert.rejects(run, typeof m === 'string' ? { name: 'LatheError', message: m } : m);
      const left = fs.existsSync(path.join(cache, 'synth')) ? fs.readdirSync(path.join(cache, 'synth')) : [];
      assert.deepEqual(left, [], 'no partial or temporary file is left');
    } finally {
      await mirror.close();
    }
  }

  test('a file whose decompressed sha256 differs is refused and not written', async () => {
    const tampered = Uint8Array.from(files.trainImages);
    tampered[100] ^= 1;
    await failsCleanly(serveGz(files, { trainImages: gzipSync(tampered) }), (url) =>
      `synth: ${url}: sha256 mismatch (expected ${sha256Hex(files.trainImages)}, got ${sha256Hex(tampered)}); nothing was written; ${advice}`);
  });

  test('a stream killed halfway is an error and leaves no file', async () => {
    const gz = gzipSync(files.trainImages);
    await failsCleanly((_req, res) => {
      res.writeHead(200, { 'content-length': gz.length });
      res.write(gz.subarray(0, 100), () => setTimeout(() => res.socket?.destroy(), 20));
    }, () => /^LatheError: download: http:\/\/127\.0\.0\.1:\d+\/train-images-idx3-ubyte\.gz: connection closed after 100 bytes \(aborted\)$/);
  });

  test('a truncated gzip without a content-length fails in gunzip and leaves no file', async () => {
    const gz = gzipSync(files.trainImages);
    await failsCleanly((_req, res) => res.write(gz.subarray(0, gz.length - 20), () => res.end()), (url) =>
      `synth: ${url}: corrupt or truncated gzip data (zlib: unexpected end of file); nothing was written; ${advice}`);
  });

  test('a file that inflates past the expected size is refused', async () => {
    const big = gzipSync(new Uint8Array(files.trainImages.length + 1));
    await failsCleanly(serveGz(files, { trainImages: big }), (url) =>
      `synth: ${url}: decompresses to more than the expected ${files.trainImages.length} bytes; nothing was written; ${advice}`);
  });

  test('the size cap applies to the declared length and to the bytes that arrive', async () => {
    const gz = gzipSync(files.trainImages);
    await failsCleanly(serveGz(files), (url) => `download: ${url}: ${gz.length} bytes is over the 100-byte limit`, { maxBytes: 100 });
    // write() then end() sends it chunked, with no content-length to check up front
    await failsCleanly((_req, res) => res.write(gz, () => res.end()), (url) => `download: ${url}: more than the 100-byte limit`, { maxBytes: 100 });
  });

  test('HTTP errors, redirects and timeouts', async () => {
    await failsCleanly((_req, res) => res.writeHead(404).end(), (url) => `download: ${url}: HTTP 404 Not Found`);
    let hops = 0;
    await failsCleanly((_req, res) => {
      hops++;
      res.writeHead(302, { location: '/again' }).end();
    }, (url) => `download: ${url}: more than 5 redirects`);
    assert.equal(hops, 6, 'the request and 5 redirects');
    await failsCleanly((_req, res) => res.writeHead(302, { location: 'http://mirror.invalid/x.gz' }).end(), (url) =>
      `download: ${url} redirected to http://mirror.invalid/x.gz: only https downloads are allowed`);
    // the timeouts must fire on time, not merely eventually
    let t0 = Date.now();
    await failsCleanly((_req, res) => void res.writeHead(200, { 'content-length': 10 }).flushHeaders(), (url) => `download: ${url}: no data for 0.2 s`, { idleTimeoutMs: 200 });
    assert.ok(Date.now() - t0 < 2000, `idle timeout took ${Date.now() - t0} ms`);
    t0 = Date.now();
    await failsCleanly((_req, res) => {
      res.writeHead(200);
      const drip = setInterval(() => res.write('x'), 30);
      res.on('close', () => clearInterval(drip));
    }, (url) => `download: ${url}: took longer than the download time limit`, { totalTimeoutMs: 300 });
    assert.ok(Date.now() - t0 < 2000, `total timeout took ${Date.now() - t0} ms`);
    // a loopback redirect is followed
    const moved = serveGz(files, {}, '/moved');
    server = await stub((req, res) => (req.url?.startsWith('/moved/') ? moved(req, res) : res.writeHead(301, { location: `/moved${req.url}` }).end()));
    const d = await set.load({ cacheDir: fresh('cache'), download: true, mirror: server.url });
    assert.equal(d.source.downloaded.length, 4);
  });

  test('plain http is refused for any host but loopback, before any connection', async () => {
    const cache = fresh('cache');
    await assert.rejects(set.load({ cacheDir: cache, download: true, mirror: 'http://mirror.invalid/synth/' }), {
      message: 'download: http://mirror.invalid/synth/train-images-idx3-ubyte.gz: only https downloads are allowed',
    });
  });
});
