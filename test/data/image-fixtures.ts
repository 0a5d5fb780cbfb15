// Image files for the image-folder tests: PNGs written by pngjs (gray, gray+alpha, RGB, RGBA, 8 and
// 16 bits), PNGs assembled chunk by chunk for what pngjs cannot write (palettes, low bit depths,
// tRNS keys, bad headers), JPEGs from jpeg-js, and scratch folders removed at the end.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after } from 'node:test';
import zlib from 'node:zlib';
import jpeg from 'jpeg-js';
import pngjs from 'pngjs';

/** A maker of fresh scratch folders under one temp folder that is removed after the file's tests. */
export function scratch(prefix: string): (name?: string) => string {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  let counter = 0;
  return (name = 'd') => fs.mkdtempSync(path.join(tmp, `${counter++}-${name}-`));
}

/** Writes bytes to dir/rel, creating folders, and returns the path. */
export function put(dir: string, rel: string, bytes: Uint8Array | string): string {
  const file = path.join(dir, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, bytes);
  return file;
}

/** PNG colour types, as the spec numbers them. */
export const GRAY = 0;
export const RGB = 2;
export const PALETTE = 3;
export const GRAY_ALPHA = 4;
export const RGBA = 6;
const SAMPLES: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 };

/** A PNG written by pngjs from interleaved samples (HWC) of `colorType`, 8 or 16 bits. */
export function pngjsEncode(width: number, height: number, colorType: number, samples: ArrayLike<number>, bitDepth: 8 | 16 = 8): Buffer {
  const n = width * height * SAMPLES[colorType];
  if (samples.length !== n) throw new Error(`pngjsEncode: ${samples.length} samples for ${n}`);
  // pngjs reads 16-bit input as native-endian Uint16 words from offset 0 of the buffer
  const data = bitDepth === 16 ? Buffer.from(Uint16Array.from(samples).buffer) : Buffer.from(Uint8Array.from(samples));
  const opts = { colorType, inputColorType: colorType, bitDepth, inputHasAlpha: colorType === RGBA || colorType === GRAY_ALPHA } as pngjs.PackerOptions;
  const png = new pngjs.PNG({ width, height, ...opts } as pngjs.PNGOptions);
  png.data = data;
  return pngjs.PNG.sync.write(png, opts);
}

export function pngChunk(type: string, data: Uint8Array): Buffer {
  const b = Buffer.alloc(12 + data.length);
  b.writeUInt32BE(data.length, 0);
  b.write(type, 4, 'latin1');
  b.set(data, 8);
  b.writeUInt32BE(zlib.crc32(b.subarray(4, 8 + data.length)), 8 + data.length);
  return b;
}

export interface RawPng {
  width: number;
  height: number;
  depth: number;
  colorType: number;
  /** Rows of packed samples, without filter bytes (filter 0 is added). */
  rows: Uint8Array[];
  /** Chunks to put between IHDR and IDAT (PLTE, tRNS). */
  extra?: Buffer[];
  /** Adam7-interlaced: `rows` are then the passes' rows, one after another (see adam7Rows). */
  interlaced?: boolean;
}

/** A PNG assembled by hand: independent of pngjs's writer, and able to say what pngjs cannot write. */
export function rawPng({ width, height, depth, colorType, rows, extra = [], interlaced = false }: RawPng): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = depth;
  ihdr[9] = colorType;
  ihdr[12] = interlaced ? 1 : 0;
  const filtered = Buffer.concat(rows.map((r) => Buffer.concat([Buffer.from([0]), r])));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    ...extra,
    pngChunk('IDAT', zlib.deflateSync(filtered)),
    pngChunk('IEND', new Uint8Array(0)),
  ]);
}

/** The rows of Adam7's seven passes over an 8-bit image of `s` samples per pixel (HWC), for rawPng({interlaced: true}). */
export function adam7Rows(width: number, height: number, s: number, samples: ArrayLike<number>): Uint8Array[] {
  const rows: Uint8Array[] = [];
  for (const [x0, y0, dx, dy] of [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]]) {
    if (x0 >= width) continue; // an empty pass has no rows at all
    for (let y = y0; y < height; y += dy) {
      const row: number[] = [];
      for (let x = x0; x < width; x += dx) for (let c = 0; c < s; c++) row.push(samples[(y * width + x) * s + c]);
      rows.push(Uint8Array.from(row));
    }
  }
  return rows;
}

/** A baseline JPEG of RGB samples (HWC) from jpeg-js at `quality`. */
export function jpegEncode(width: number, height: number, rgb: ArrayLike<number>, quality = 100): Buffer {
  const rgba = Buffer.alloc(width * height * 4, 255);
  for (let i = 0; i < width * height; i++) for (let c = 0; c < 3; c++) rgba[4 * i + c] = rgb[3 * i + c];
  return jpeg.encode({ width, height, data: rgba }, quality).data;
}

/** HWC samples to CHW, the layout the loader returns. */
export function toCHW(hwc: ArrayLike<number>, h: number, w: number, c: number): number[] {
  const out: number[] = [];
  for (let ch = 0; ch < c; ch++) for (let i = 0; i < h * w; i++) out.push(hwc[i * c + ch]);
  return out;
}

/** A single-colour RGB PNG, h x w, to tell files apart by their colour. */
export function solidPng(h: number, w: number, rgb: [number, number, number]): Buffer {
  return pngjsEncode(w, h, RGB, Array.from({ length: h * w }, () => rgb).flat());
}
