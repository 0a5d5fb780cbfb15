// The image-folder source: PNG pixels exact for every colour type and depth, JPEG close, the
// channel rules (BT.601 luma as PIL computes it, alpha dropped), Keras' folder layout and label
// order, and every bad file reported by name: corrupt, truncated at each byte, not an image.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import zlib from 'node:zlib';
import * as lt from '../../src/index.js';
import { Dataset } from '../../src/data/dataset.js';
import { decodeImage, decodeImageAsync, decodeImageBytes, imageFolderEntries, loadImageFolder } from '../../src/data/sources/images.js';
import { assertThrowsLathe } from '../helpers.js';
import { GRAY, GRAY_ALPHA, PALETTE, RGB, RGBA, adam7Rows, jpegEncode, pngChunk, pngjsEncode, put, rawPng, scratch, solidPng, toCHW } from './image-fixtures.js';

const fresh = scratch('lathe-images');
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const pixels = (bytes: Uint8Array, options = {}) => Array.from(decodeImageBytes(bytes, 'x.png', options).data);
const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const rejectsLathe = (p: Promise<unknown>, pattern: RegExp) => assert.rejects(p, (e: unknown) => e instanceof lt.LatheError && pattern.test(e.message));

describe('decodeImage: PNG pixels', () => {
  test('gray 8-bit: exact, repeated into RGB, kept as gray', () => {
    const gray = [0, 1, 127, 128, 200, 255];
    const png = pngjsEncode(3, 2, GRAY, gray);
    assert.deepEqual(decodeImageBytes(png, 'g.png', { channels: 1 }), { data: Uint8Array.from(gray), channels: 1, height: 2, width: 3 });
    assert.deepEqual(pixels(png), [...gray, ...gray, ...gray]);
  });

  test('RGB 8-bit: exact in CHW; to gray by BT.601 luma with PIL rounding', () => {
    const rgb = [255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 128, 128, 128];
    const png = pngjsEncode(3, 2, RGB, rgb);
    assert.deepEqual(pixels(png), toCHW(rgb, 2, 3, 3));
    // PIL's convert('L') gives 76, 150, 29 for pure red, green, blue; gray stays gray
    assert.deepEqual(pixels(png, { channels: 1 }), [76, 150, 29, 255, 0, 128]);
  });

  test('RGBA and gray+alpha: alpha dropped, colour kept even where alpha is 0', () => {
    const rgba = [10, 20, 30, 0, 40, 50, 60, 255, 70, 80, 90, 128];
    assert.deepEqual(pixels(pngjsEncode(3, 1, RGBA, rgba)), [10, 40, 70, 20, 50, 80, 30, 60, 90]);
    assert.deepEqual(pixels(pngjsEncode(2, 1, GRAY_ALPHA, [77, 0, 99, 255]), { channels: 1 }), [77, 99]);
  });

  test('16-bit gray and RGB: scaled to 8 bits by round(v / 257)', () => {
    const v = [0, 257, 32768, 65535, 1000, 12345];
    assert.deepEqual(pixels(pngjsEncode(3, 2, GRAY, v, 16), { channels: 1 }), [0, 1, 128, 255, 4, 48]);
    assert.deepEqual(pixels(pngjsEncode(2, 1, RGB, v, 16)), [0, 255, 1, 4, 128, 48]);
  });

  test('palette, 8-bit and 4-bit with an odd width and palette alpha: the palette colours', () => {
    const plte = pngChunk('PLTE', Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 8, 7]));
    const trns = pngChunk('tRNS', Uint8Array.from([0, 128]));
    const p8 = rawPng({ width: 3, height: 2, depth: 8, colorType: PALETTE, rows: [Uint8Array.from([0, 1, 2]), Uint8Array.from([3, 3, 0])], extra: [plte, trns] });
    const p4 = rawPng({ width: 3, height: 2, depth: 4, colorType: PALETTE, rows: [Uint8Array.from([0x01, 0x20]), Uint8Array.from([0x33, 0x00])], extra: [plte] });
    const want = [255, 0, 0, 9, 9, 255, 0, 255, 0, 8, 8, 0, 0, 0, 255, 7, 7, 0];
    assert.deepEqual(pixels(p8), want);
    assert.deepEqual(pixels(p4), want);
  });

  test('1-bit gray: bits unpacked to 0 and 255, row padding ignored', () => {
    const png = rawPng({ width: 10, height: 1, depth: 1, colorType: GRAY, rows: [Uint8Array.from([0b10100000, 0b11000000])] });
    assert.deepEqual(pixels(png, { channels: 1 }), [255, 0, 255, 0, 0, 0, 0, 0, 255, 255]);
  });

  test('Adam7-interlaced gray and RGB, including sizes where some passes are empty', () => {
    for (const [w, h] of [[5, 3], [9, 9], [1, 1], [3, 10]]) {
      const gray = range(w * h).map((i) => (i * 29 + 3) % 256);
      const png = rawPng({ width: w, height: h, depth: 8, colorType: GRAY, rows: adam7Rows(w, h, 1, gray), interlaced: true });
      assert.deepEqual(pixels(png, { channels: 1 }), gray, `${w}x${h}`);
      const rgb = range(w * h * 3).map((i) => (i * 13 + 1) % 256);
      assert.deepEqual(pixels(rawPng({ width: w, height: h, depth: 8, colorType: RGB, rows: adam7Rows(w, h, 3, rgb), interlaced: true })), toCHW(rgb, h, w, 3));
    }
  });

  test('a tRNS colour key on gray and RGB is ignored with alpha (pngjs alone would blacken those pixels)', () => {
    const gray = rawPng({ width: 3, height: 1, depth: 8, colorType: GRAY, rows: [Uint8Array.from([200, 5, 200])], extra: [pngChunk('tRNS', Uint8Array.from([0, 200]))] });
    assert.deepEqual(pixels(gray, { channels: 1 }), [200, 5, 200]);
    const key = pngChunk('tRNS', Uint8Array.from([0, 1, 0, 2, 0, 3]));
    const rgb = rawPng({ width: 2, height: 1, depth: 8, colorType: RGB, rows: [Uint8Array.from([1, 2, 3, 4, 5, 6])], extra: [key] });
    assert.deepEqual(pixels(rgb), [1, 4, 2, 5, 3, 6]);
  });

  test('the format comes from the magic bytes, not the name; decodeImage and decodeImageAsync agree', async () => {
    const dir = fresh();
    const file = put(dir, 'really-a-png.jpg', pngjsEncode(2, 1, RGB, [1, 2, 3, 4, 5, 6]));
    const t = decodeImage(file);
    assert.equal(t.dtype, 'uint8');
    assert.deepEqual(t.shape, [3, 1, 2]);
    assert.deepEqual(Array.from(t.dataSync()), [1, 4, 2, 5, 3, 6]);
    assert.deepEqual(Array.from((await decodeImageAsync(file, { channels: 1 })).dataSync()), Array.from(decodeImage(file, { channels: 1 }).dataSync()));
  });

  test('size resizes while decoding: bilinear, half-pixel centres, rounded half to even', () => {
    const png = pngjsEncode(2, 2, GRAY, [0, 10, 20, 30]);
    const img = decodeImageBytes(png, 'r.png', { channels: 1, size: [4, 4] });
    assert.deepEqual([img.height, img.width], [4, 4]);
    assert.deepEqual(Array.from(img.data), [0, 2, 8, 10, 5, 8, 12, 15, 15, 18, 22, 25, 20, 22, 28, 30]);
  });
});

describe('decodeImage: JPEG', () => {
  const w = 16;
  const h = 8;
  const rgb = Array.from({ length: w * h * 3 }, (_, i) => {
    const [p, c] = [Math.floor(i / 3), i % 3];
    return Math.round(40 + (5 * (p % w) * (c + 1)) / 3 + 10 * Math.floor(p / w)); // smooth ramps up to 185, so quality 100 is close
  });
  const maxDiff = (a: number[], b: number[]) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

  test('RGB at quality 100: within 3 levels of the source', () => {
    const img = decodeImageBytes(jpegEncode(w, h, rgb), 'a.jpg');
    assert.deepEqual([img.channels, img.height, img.width], [3, h, w]);
    assert.ok(maxDiff(Array.from(img.data), toCHW(rgb, h, w, 3)) <= 3, 'pixels within 3');
  });

  test('to gray: within 3 levels of the source luma', () => {
    const luma = Array.from({ length: w * h }, (_, p) => Math.round(0.299 * rgb[3 * p] + 0.587 * rgb[3 * p + 1] + 0.114 * rgb[3 * p + 2]));
    const img = decodeImageBytes(jpegEncode(w, h, rgb), 'a.jpg', { channels: 1 });
    assert.ok(maxDiff(Array.from(img.data), luma) <= 3, 'luma within 3');
  });
});

describe('decodeImage: bad files are reported by name and cause', () => {
  const good = pngjsEncode(4, 3, RGB, Array.from({ length: 36 }, (_, i) => i * 7));
  const bad = (bytes: Uint8Array, pattern: RegExp) => assertThrowsLathe(() => decodeImageBytes(bytes, 'cat/img.png'), pattern);

  test('not an image: text, a GIF, an empty file', () => {
    bad(Buffer.from('hello, world'), /^decodeImage: cat\/img\.png: not a PNG or JPEG: it starts with 68 65 6c 6c 6f 2c 20 77$/);
    bad(Buffer.from('GIF89a\x01\x00\x01\x00', 'latin1'), /not a PNG or JPEG: it looks like a GIF file, which is not supported/);
    bad(new Uint8Array(0), /cat\/img\.png: not a PNG or JPEG: the file is empty/);
  });

  test('truncated PNG: at a chunk, before IEND, and at every length in between', () => {
    bad(good.subarray(0, 50), /truncated PNG: chunk IDAT at byte 33 declares \d+ bytes of data, 5 are present/);
    bad(good.subarray(0, 40), /truncated PNG: a chunk header at byte 33 \(file is 40 bytes\)/);
    bad(good.subarray(0, good.length - 12), new RegExp(`truncated PNG: no IEND chunk at byte ${good.length - 12}`));
    for (let n = 0; n < good.length; n++) bad(good.subarray(0, n), /cat\/img\.png: (truncated PNG|not a PNG or JPEG)/);
  });

  test('image data that stops short of the header size', () => {
    const short = rawPng({ width: 2, height: 4, depth: 8, colorType: GRAY, rows: [Uint8Array.from([1, 2]), Uint8Array.from([3, 4])] });
    bad(short, /truncated PNG: the image data inflates to 6 bytes, the header's image needs 12/);
  });

  test('corrupt PNG: a bad checksum, and any one byte changed anywhere', () => {
    const crc = Buffer.from(good);
    crc[32] ^= 1; // the IHDR chunk's CRC, bytes 29-32
    bad(crc, /cat\/img\.png: corrupt PNG: chunk IHDR at byte 8 fails its CRC \(stored [0-9a-f]+, computed [0-9a-f]+\)/);
    for (let i = 8; i < good.length; i++) {
      const b = Buffer.from(good);
      b[i] ^= 0x5a;
      bad(b, /cat\/img\.png: (corrupt|truncated|unsupported|image of)/);
    }
  });

  test('unsupported bit depths and colour types, empty and giant headers', () => {
    const header = (depth: number, colorType: number, w = 1, h = 1) => rawPng({ width: w, height: h, depth, colorType, rows: [new Uint8Array(1)] });
    bad(header(3, GRAY), /unsupported PNG bit depth 3 for colour type 0 \(grayscale; allowed: 1, 2, 4, 8, 16\)/);
    bad(header(4, RGB), /unsupported PNG bit depth 4 for colour type 2 \(RGB/);
    bad(header(16, PALETTE), /unsupported PNG bit depth 16 for colour type 3 \(palette/);
    bad(header(8, 5), /unsupported PNG colour type 5/);
    const laced = Buffer.from(header(8, GRAY));
    laced[28] = 2; // interlace method, then the IHDR CRC over type and data redone
    laced.writeUInt32BE(zlib.crc32(laced.subarray(12, 29)), 29);
    bad(laced, /unsupported PNG interlace method 2/);
    bad(header(8, GRAY, 0, 1), /corrupt PNG: the header gives a 0x1 image/);
    bad(header(8, GRAY, 65536, 65536), /image of 65536x65536 is over the 268435456-pixel limit/);
  });

  test('truncated JPEG at every length; one byte changed gives pixels or a LatheError, never another error', () => {
    const jpg = jpegEncode(8, 8, Array.from({ length: 192 }, (_, i) => (i * 5) % 256), 90);
    assertThrowsLathe(() => decodeImageBytes(jpg.subarray(0, jpg.length - 2), 'a.jpg'), /^decodeImage: a\.jpg: truncated JPEG: no end-of-image marker \(FFD9\) after the scan that starts at byte \d+/);
    for (let n = 0; n < jpg.length; n++) assertThrowsLathe(() => decodeImageBytes(jpg.subarray(0, n), 'a.jpg'), /a\.jpg: (truncated|corrupt|not a PNG)/);
    for (let i = 2; i < jpg.length; i++) {
      const b = Buffer.from(jpg);
      b[i] ^= 0x5a;
      try {
        decodeImageBytes(b, 'a.jpg');
      } catch (e) {
        assert.ok(e instanceof lt.LatheError && /^decodeImage: a\.jpg: /.test(e.message), `byte ${i}: ${e}`);
      }
    }
  });

  test('a missing file, and bad options', async () => {
    const missing = path.join(fresh(), 'nope.png');
    assertThrowsLathe(() => decodeImage(missing), new RegExp(`${esc(missing)}: cannot read: ENOENT`));
    await rejectsLathe(decodeImageAsync(missing), /cannot read: ENOENT/);
    assertThrowsLathe(() => decodeImageBytes(good, 'x.png', { channels: 4 as 3 }), /channels must be 1 or 3, got 4/);
    assertThrowsLathe(() => decodeImageBytes(good, 'x.png', { size: [0, 3] }), /size must be \[height, width\], two positive integers, got \[0,3\]/);
  });
});

describe('image folders', () => {
  /** Classes created out of order, a nested folder, files that are skipped, and a uniquely coloured image per file. */
  function zoo(): string {
    const dir = fresh('zoo');
    put(dir, 'c_zebra/z1.png', solidPng(2, 3, [30, 0, 0]));
    put(dir, 'a_cat/b.png', solidPng(2, 3, [11, 0, 0]));
    put(dir, 'a_cat/a.JPG', jpegEncode(3, 2, new Array(18).fill(100)));
    put(dir, 'a_cat/sub/c.png', solidPng(2, 3, [12, 0, 0]));
    put(dir, 'a_cat/notes.txt', 'not an image, skipped by its extension');
    put(dir, 'b_dog/d.jpeg', jpegEncode(3, 2, new Array(18).fill(200)));
    put(dir, '.ipynb_checkpoints/x.png', solidPng(2, 3, [99, 0, 0]));
    put(dir, 'stray.png', solidPng(2, 3, [98, 0, 0]));
    return dir;
  }

  test('classes sorted, labels in class order, files sorted by folder then name', () => {
    const dir = zoo();
    const { images, labels, classNames, paths } = loadImageFolder(dir);
    assert.deepEqual(classNames, ['a_cat', 'b_dog', 'c_zebra']);
    assert.deepEqual(paths.map((p) => path.relative(dir, p)), ['a_cat/a.JPG', 'a_cat/b.png', 'a_cat/sub/c.png', 'b_dog/d.jpeg', 'c_zebra/z1.png']);
    assert.equal(images.dtype, 'uint8');
    assert.deepEqual(images.shape, [5, 3, 2, 3]);
    assert.equal(labels.dtype, 'int32');
    assert.deepEqual(Array.from(labels.dataSync()), [0, 0, 0, 1, 2]);
    const red = Array.from(images.dataSync()).filter((_, i) => i % 18 === 0); // each image's first red pixel
    assert.ok(Math.abs(red[0] - 100) <= 2 && Math.abs(red[3] - 200) <= 2, `jpeg pixels ${red}`);
    assert.deepEqual([red[1], red[2], red[4]], [11, 12, 30]);
  });

  test("files in Keras' order: by folder, then by name, in code-unit order", () => {
    const dir = fresh('order');
    for (const rel of ['k/z.png', 'k/sub-x/a.png', 'k/sub/b.png', 'k/a.png', 'k/B.png', 'k/sub/a.png']) put(dir, rel, solidPng(1, 1, [0, 0, 0]));
    const rels = imageFolderEntries(dir).entries.map((e) => path.relative(path.join(dir, 'k'), e.path));
    // a plain path sort would put sub-x/ before sub/ ('-' < '/'), and a name sort would mix the folders
    assert.deepEqual(rels, ['B.png', 'a.png', 'z.png', 'sub/a.png', 'sub/b.png', 'sub-x/a.png']);
  });

  test('classNames orders the labels and must name every class folder once', () => {
    const dir = zoo();
    const { labels, classNames, paths } = loadImageFolder(dir, { classNames: ['c_zebra', 'a_cat', 'b_dog'] });
    assert.equal(path.basename(paths[0]), 'z1.png');
    assert.deepEqual(classNames, ['c_zebra', 'a_cat', 'b_dog']);
    assert.deepEqual(Array.from(labels.dataSync()), [0, 1, 1, 1, 2]); // files follow the class order, as in Keras
    for (const given of [['a_cat', 'b_dog'], ['a_cat', 'b_dog', 'cow'], ['a_cat', 'a_cat', 'b_dog']]) {
      assertThrowsLathe(() => imageFolderEntries(dir, { classNames: given }), /classNames must name each class folder once; folders: \["a_cat","b_dog","c_zebra"\]/);
    }
  });

  test('extensions, channels, and sizes that differ unless resized', () => {
    const dir = zoo();
    assert.deepEqual(imageFolderEntries(dir, { extensions: ['PNG', 'jpeg'] }).entries.map((e) => path.basename(e.path)), ['b.png', 'c.png', 'd.jpeg', 'z1.png']);
    assert.deepEqual(loadImageFolder(dir, { channels: 1 }).images.shape, [5, 1, 2, 3]);
    const big = put(dir, 'b_dog/e.png', solidPng(4, 4, [1, 2, 3]));
    assertThrowsLathe(() => loadImageFolder(dir), new RegExp(`${esc(big)} is 4x4 but ${esc(path.join(dir, 'a_cat/a.JPG'))} is 2x3; pass size`));
    const { images, paths } = loadImageFolder(dir, { size: [5, 6] });
    assert.deepEqual(images.shape, [6, 3, 5, 6]);
    const row = paths.indexOf(big);
    assert.deepEqual(Array.from(images.dataSync().subarray(row * 90, (row + 1) * 90)), Array.from(decodeImage(big, { size: [5, 6] }).dataSync()));
  });

  test('no classes, an empty class, not a folder, and a bad file named in the error', () => {
    const empty = fresh('empty');
    assertThrowsLathe(() => loadImageFolder(empty), new RegExp(`${esc(empty)}: no class folders; expected`));
    put(empty, 'x.png', solidPng(1, 1, [0, 0, 0]));
    put(empty, '.hidden/x.png', solidPng(1, 1, [0, 0, 0]));
    assertThrowsLathe(() => loadImageFolder(empty), /no class folders/);
    const dir = zoo();
    put(dir, 'd_empty/readme.txt', 'no images here');
    assertThrowsLathe(() => loadImageFolder(dir), /d_empty: class folder 'd_empty' has no \.png\/\.jpg\/\.jpeg files/);
    assertThrowsLathe(() => imageFolderEntries(path.join(dir, 'stray.png')), /stray\.png: not a directory/);
    const dir2 = zoo();
    const broken = put(dir2, 'b_dog/broken.png', 'this is text, not a PNG');
    assertThrowsLathe(() => loadImageFolder(dir2), new RegExp(`^decodeImage: ${esc(broken)}: not a PNG or JPEG`));
  });

  test('the lazy path, entries mapped through decodeImageAsync and batched, equals loadImageFolder', async () => {
    const dir = zoo();
    const whole = loadImageFolder(dir);
    const { entries, classNames } = imageFolderEntries(dir);
    assert.deepEqual(classNames, whole.classNames);
    const ds = Dataset.fromArray(entries)
      .map(async (e) => [await decodeImageAsync(e.path), lt.tensor([e.label], { dtype: 'int32' }).reshape([])] as const, { parallel: 3 })
      .batch(2);
    const batches = await ds.toArray();
    assert.deepEqual(batches.map(([x]) => x.shape[0]), [2, 2, 1]);
    assert.deepEqual(batches.flatMap(([x]) => Array.from(x.dataSync())), Array.from(whole.images.dataSync()));
    assert.deepEqual(batches.flatMap(([, y]) => Array.from(y.dataSync())), Array.from(whole.labels.dataSync()));
  });
});
