// Folder-per-class image data in Keras' image_dataset_from_directory layout, dir/<class>/*.png|jpg:
// listing with labels, decoding PNG (pngjs) and JPEG (jpeg-js) to uint8 CHW, and loading a whole
// folder as one uint8 NCHW tensor. A bad file is reported by name and cause, never decoded wrong.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import zlib from 'node:zlib';
import jpeg from 'jpeg-js';
import pngjs from 'pngjs';
import type { Backend } from '../../backends/backend.js';
import { fail } from '../../errors.js';
import { fromArray } from '../../tensor/create.js';
import type { Tensor } from '../../tensor/tensor.js';
import { resizeBilinear } from '../image-transforms.js';

export interface DecodeOptions {
  /**
   * 3 (default): RGB; grayscale is repeated into the three channels. 1: luma by ITU-R BT.601,
   * (19595 R + 38470 G + 7471 B + 32768) >> 16, PIL's fixed-point form of 0.299 R + 0.587 G +
   * 0.114 B, so it matches PIL's convert('L') (Keras' load_img). Alpha is dropped, not composited,
   * in both cases (as PIL's convert does), and a PNG's tRNS colour key is ignored with it.
   */
  channels?: 1 | 3;
  /** [height, width] to resize to, bilinear with half-pixel centres (image-transforms' resize). */
  size?: readonly [number, number];
}

/** A decoded image: `data` holds channels planes of height x width (CHW), uint8. */
export interface DecodedImage {
  data: Uint8Array;
  channels: number;
  height: number;
  width: number;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** Bit depths the PNG spec allows per colour type; anything else is refused before pngjs sees it. */
const PNG_DEPTHS: Record<number, { name: string; depths: number[] }> = {
  0: { name: 'grayscale', depths: [1, 2, 4, 8, 16] },
  2: { name: 'RGB', depths: [8, 16] },
  3: { name: 'palette', depths: [1, 2, 4, 8] },
  4: { name: 'grayscale+alpha', depths: [8, 16] },
  6: { name: 'RGBA', depths: [8, 16] },
};
/** 2^28 pixels (1 GiB as RGBA): a header above this is corrupt or hostile, and is refused before allocating. */
const MAX_PIXELS = 2 ** 28;

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
const ascii = (bytes: Uint8Array, from: number, to: number) => String.fromCharCode(...bytes.subarray(from, to));

/** Magic bytes of formats users may drop into a class folder, to name them in the error. */
const OTHER_FORMATS: [string, (b: Uint8Array) => boolean][] = [
  ['GIF', (b) => ascii(b, 0, 4) === 'GIF8'],
  ['WebP', (b) => ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 12) === 'WEBP'],
  ['TIFF', (b) => ['II*\0', 'MM\0*'].includes(ascii(b, 0, 4))],
  ['BMP', (b) => ascii(b, 0, 2) === 'BM'],
];

/** What the first bytes say when they are neither PNG nor JPEG, for the error. */
function sniff(b: Uint8Array): string {
  if (b.length === 0) return 'the file is empty';
  const kind = OTHER_FORMATS.find(([, test]) => test(b))?.[0];
  return kind ? `it looks like a ${kind} file, which is not supported` : `it starts with ${hex(b.subarray(0, 8))}`;
}

/** CRC-32 as PNG chunks carry it (ISO 3309: reflected polynomial 0xEDB88320), table-driven. */
const CRC_TABLE = Int32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c;
});
function crc32(b: Uint8Array): number {
  let c = -1;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/** Adam7's passes: [x start, y start, x step, y step]. */
const ADAM7 = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]];
const PNG_SAMPLES: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** Bytes of filtered scanlines the header promises: one filter byte plus the packed samples per row, per interlace pass. */
function pngDataSize(width: number, height: number, depth: number, colorType: number, interlaced: boolean): number {
  const rowBytes = (w: number) => 1 + Math.ceil((w * PNG_SAMPLES[colorType] * depth) / 8);
  if (!interlaced) return height * rowBytes(width);
  let size = 0;
  for (const [x0, y0, dx, dy] of ADAM7) {
    const w = Math.ceil((width - x0) / dx);
    const h = Math.ceil((height - y0) / dy);
    if (w > 0 && h > 0) size += h * rowBytes(w);
  }
  return size;
}

/**
 * Walks the PNG's chunks to check the header and the CRCs, and to find truncation with its byte
 * offset (pngjs only says a read went unanswered, and reports a bad CRC as trailing content).
 * Then inflates the image data once to check that it fills the image: pngjs leaves missing rows
 * black without a word. Returns the bytes to decode: up to IEND, without a tRNS colour key on
 * grayscale/RGB images, because pngjs zeroes the colour of keyed pixels too, and alpha is
 * dropped here anyway. Palette tRNS only sets palette alpha, so it stays.
 */
function checkPng(b: Uint8Array, file: string): Uint8Array {
  const bad = (why: string): never => fail('decodeImage', `${file}: ${why}`);
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const keep: Uint8Array[] = [];
  const idat: Uint8Array[] = [];
  let expected = 0;
  for (let pos = 8, start = 0; ; ) {
    if (pos + 12 > b.length) bad(`truncated PNG: ${pos === b.length ? 'no IEND chunk' : 'a chunk header'} at byte ${pos} (file is ${b.length} bytes)`);
    const length = view.getUint32(pos);
    const type = ascii(b, pos + 4, pos + 8);
    const end = pos + 12 + length;
    if (end > b.length) bad(`truncated PNG: chunk ${type} at byte ${pos} declares ${length} bytes of data, ${Math.max(0, b.length - pos - 12)} are present`);
    const [stored, computed] = [view.getUint32(end - 4), crc32(b.subarray(pos + 4, end - 4))];
    if (stored !== computed) bad(`corrupt PNG: chunk ${type} at byte ${pos} fails its CRC (stored ${stored.toString(16)}, computed ${computed.toString(16)})`);
    if (pos === 8) {
      if (type !== 'IHDR' || length !== 13) bad(`corrupt PNG: the first chunk is ${type} of ${length} bytes, expected IHDR of 13`);
      const [width, height, depth, colorType] = [view.getUint32(16), view.getUint32(20), b[24], b[25]];
      const kind = PNG_DEPTHS[colorType];
      if (!kind) bad(`unsupported PNG colour type ${colorType}`);
      if (!kind.depths.includes(depth)) bad(`unsupported PNG bit depth ${depth} for colour type ${colorType} (${kind.name}; allowed: ${kind.depths.join(', ')})`);
      if (b[28] > 1) bad(`unsupported PNG interlace method ${b[28]}`);
      if (width === 0 || height === 0) bad(`corrupt PNG: the header gives a ${width}x${height} image`);
      if (width * height > MAX_PIXELS) bad(`image of ${width}x${height} is over the ${MAX_PIXELS}-pixel limit`);
      expected = pngDataSize(width, height, depth, colorType, b[28] === 1);
    }
    if (type === 'IDAT') idat.push(b.subarray(pos + 8, end - 4));
    if (type === 'tRNS' && (b[25] === 0 || b[25] === 2)) {
      keep.push(b.subarray(start, pos));
      start = end;
    }
    pos = end;
    if (type === 'IEND') {
      keep.push(b.subarray(start, pos));
      break;
    }
  }
  if (idat.length === 0) bad('corrupt PNG: no IDAT chunk (no image data)');
  let got = expected;
  try {
    got = zlib.inflateSync(Buffer.concat(idat), { maxOutputLength: expected }).length;
  } catch (e) {
    // More data than the image needs is harmless (libpng only warns); pngjs reads what it needs.
    if ((e as { code?: string }).code !== 'ERR_BUFFER_TOO_LARGE') bad(`corrupt PNG: image data does not inflate: ${(e as Error).message}`);
  }
  if (got < expected) bad(`truncated PNG: the image data inflates to ${got} bytes, the header's image needs ${expected}`);
  return keep.length === 1 ? keep[0] : Buffer.concat(keep);
}

/** JPEG: a truncated file has no end-of-image marker (FFD9) after its last start-of-scan (FFDA); entropy-coded data cannot hold either, thanks to byte stuffing. */
function checkJpeg(b: Uint8Array, file: string): void {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const sos = buf.lastIndexOf(Buffer.from([0xff, 0xda]));
  const eoi = buf.lastIndexOf(Buffer.from([0xff, 0xd9]));
  if (sos < 0) fail('decodeImage', `${file}: truncated or corrupt JPEG: no start-of-scan marker (FFDA) in ${b.length} bytes`);
  if (eoi < sos) fail('decodeImage', `${file}: truncated JPEG: no end-of-image marker (FFD9) after the scan that starts at byte ${sos} (file is ${b.length} bytes)`);
}

/** RGBA interleaved (what both decoders give) to `channels` planes. */
function rgbaToPlanes(rgba: Uint8Array, pixels: number, channels: number): Uint8Array {
  const out = new Uint8Array(channels * pixels);
  if (channels === 1) {
    for (let i = 0; i < pixels; i++) out[i] = (19595 * rgba[4 * i] + 38470 * rgba[4 * i + 1] + 7471 * rgba[4 * i + 2] + 32768) >>> 16;
  } else {
    for (let i = 0; i < pixels; i++) {
      out[i] = rgba[4 * i];
      out[pixels + i] = rgba[4 * i + 1];
      out[2 * pixels + i] = rgba[4 * i + 2];
    }
  }
  return out;
}

function checkDecodeOptions(options: DecodeOptions): { channels: number; size: [number, number] | null } {
  const channels = options.channels ?? 3;
  if (channels !== 1 && channels !== 3) fail('decodeImage', `channels must be 1 or 3, got ${JSON.stringify(channels)}`);
  const size = options.size;
  if (size !== undefined && !(Array.isArray(size) && size.length === 2 && size.every((s) => Number.isInteger(s) && s > 0))) {
    fail('decodeImage', `size must be [height, width], two positive integers, got ${JSON.stringify(size)}`);
  }
  return { channels, size: size ? [size[0], size[1]] : null };
}

/** Decodes a PNG or JPEG held in memory; `file` names it in errors. The format is told by the magic bytes, not the name. */
export function decodeImageBytes(bytes: Uint8Array, file: string, options: DecodeOptions = {}): DecodedImage {
  const { channels, size } = checkDecodeOptions(options);
  let rgba: { width: number; height: number; data: Uint8Array };
  if (bytes.length >= 8 && PNG_SIGNATURE.every((v, i) => bytes[i] === v)) {
    const png = checkPng(bytes, file);
    try {
      // 16-bit samples come back scaled to 8 bits, round(v * 255 / 65535); palettes are expanded.
      rgba = pngjs.PNG.sync.read(Buffer.from(png.buffer, png.byteOffset, png.byteLength), { checkCRC: false }); // checked above
    } catch (e) {
      fail('decodeImage', `${file}: corrupt PNG: ${(e as Error).message}`);
    }
  } else if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
    checkJpeg(bytes, file);
    try {
      // EXIF orientation is not applied, as in Keras (PIL) and tf.io.decode_jpeg.
      rgba = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true });
    } catch (e) {
      fail('decodeImage', `${file}: corrupt JPEG: ${(e as Error).message}`);
    }
  } else {
    fail('decodeImage', `${file}: not a PNG or JPEG: ${sniff(bytes)}`);
  }
  const { width, height } = rgba;
  if (rgba.data.length !== width * height * 4) fail('decodeImage', `${file}: decoder returned ${rgba.data.length} bytes for a ${width}x${height} RGBA image`);
  const planes = rgbaToPlanes(rgba.data, width * height, channels);
  if (!size || (size[0] === height && size[1] === width)) return { data: planes, channels, height, width };
  const out = new Uint8ClampedArray(channels * size[0] * size[1]);
  resizeBilinear(planes, channels, height, width, out, size[0], size[1]);
  return { data: new Uint8Array(out.buffer), channels, height: size[0], width: size[1] };
}

function readBytes(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    fail('decodeImage', `${path}: cannot read: ${(e as Error).message}`);
  }
}

function asTensor(img: DecodedImage, backend: string | Backend | undefined): Tensor {
  return fromArray(img.data, [img.channels, img.height, img.width], { dtype: 'uint8', backend }, 'decodeImage', true);
}

/** One image file as a uint8 tensor [C,H,W]. */
export function decodeImage(path: string, options: DecodeOptions & { backend?: string | Backend } = {}): Tensor {
  return asTensor(decodeImageBytes(readBytes(path), path, options), options.backend);
}

/** decodeImage with a non-blocking read, for a Dataset's map({parallel}) over imageFolderEntries. */
export async function decodeImageAsync(path: string, options: DecodeOptions & { backend?: string | Backend } = {}): Promise<Tensor> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    fail('decodeImage', `${path}: cannot read: ${(e as Error).message}`);
  }
  return asTensor(decodeImageBytes(bytes, path, options), options.backend);
}

// ---- folders ---------------------------------------------------------------------------------

export interface ImageFolderOptions {
  /** The classes in label order; must name exactly the class folders (Keras' rule). Default: the folder names sorted. */
  classNames?: readonly string[];
  /** File name endings to read, any case (default .png, .jpg, .jpeg); other files are skipped, as in Keras. */
  extensions?: readonly string[];
}

export interface ImageFolderEntry {
  path: string;
  label: number;
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The files under a class folder, at any depth, in Keras' order: sorted by folder, then by name. */
function classFiles(root: string, extensions: readonly string[]): string[] {
  const found: [string, string][] = [];
  const walk = (rel: string) => {
    for (const d of readdirSync(join(root, rel), { withFileTypes: true })) {
      const relPath = rel ? `${rel}/${d.name}` : d.name;
      if (d.isDirectory()) walk(relPath);
      else if (extensions.includes(extname(d.name).toLowerCase())) found.push([rel, d.name]);
    }
  };
  walk('');
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0); // code-unit order, as Python's sorted
  found.sort((a, b) => cmp(a[0], b[0]) || cmp(a[1], b[1]));
  return found.map(([rel, name]) => join(root, rel, name));
}

/**
 * Lists dir/<class>/**\/<image>: each file with its class's label (int), and the class names.
 * Classes are the subfolders not starting with '.', sorted (Keras' rule) unless classNames
 * orders them. An empty class folder or a folder without classes is an error.
 */
export function imageFolderEntries(dir: string, options: ImageFolderOptions = {}): { entries: ImageFolderEntry[]; classNames: string[] } {
  if (!isDir(dir)) fail('imageFolder', `${dir}: not a directory`);
  const extensions = (options.extensions ?? ['.png', '.jpg', '.jpeg']).map((e) => {
    if (typeof e !== 'string' || e.length === 0) fail('imageFolder', `extensions must be non-empty strings, got ${JSON.stringify(e)}`);
    return (e.startsWith('.') ? e : `.${e}`).toLowerCase();
  });
  const folders = readdirSync(dir).filter((name) => !name.startsWith('.') && isDir(join(dir, name))).sort();
  if (folders.length === 0) fail('imageFolder', `${dir}: no class folders; expected ${dir}/<class>/<image>.png, one folder per class`);
  let classNames = folders;
  if (options.classNames !== undefined) {
    const given = options.classNames;
    const same = Array.isArray(given) && given.length === folders.length && new Set(given).size === given.length && given.every((c) => folders.includes(c));
    if (!same) fail('imageFolder', `${dir}: classNames must name each class folder once; folders: ${JSON.stringify(folders)}, given: ${JSON.stringify(given)}`);
    classNames = [...given];
  }
  const entries: ImageFolderEntry[] = [];
  classNames.forEach((name, label) => {
    const files = classFiles(join(dir, name), extensions);
    if (files.length === 0) fail('imageFolder', `${join(dir, name)}: class folder '${name}' has no ${extensions.join('/')} files`);
    for (const path of files) entries.push({ path, label });
  });
  return { entries, classNames };
}

export interface ImageFolder {
  /** uint8 [N, C, H, W]. */
  images: Tensor;
  /** int32 [N], indices into classNames. */
  labels: Tensor;
  classNames: string[];
  /** The file of each row. */
  paths: string[];
}

/**
 * Every image of dir/<class>/... decoded into one uint8 tensor [N,C,H,W] (a quarter of float32's
 * memory; scale per batch), with int32 labels. All images must share a size unless `size` resizes
 * them. For folders too big for memory, map decodeImageAsync over imageFolderEntries instead.
 */
export function loadImageFolder(dir: string, options: ImageFolderOptions & DecodeOptions & { backend?: string | Backend } = {}): ImageFolder {
  checkDecodeOptions(options);
  const { entries, classNames } = imageFolderEntries(dir, options);
  // entries is never empty (imageFolderEntries refuses empty classes), so the first image sets the size
  const first = decodeImageBytes(readBytes(entries[0].path), entries[0].path, options);
  const per = first.data.length;
  const pixels = new Uint8Array(entries.length * per);
  pixels.set(first.data);
  for (let i = 1; i < entries.length; i++) {
    const { path } = entries[i];
    const img = decodeImageBytes(readBytes(path), path, options);
    if (img.height !== first.height || img.width !== first.width) {
      fail('loadImageFolder', `${path} is ${img.height}x${img.width} but ${entries[0].path} is ${first.height}x${first.width}; pass size: [height, width] to resize every image`);
    }
    pixels.set(img.data, i * per);
  }
  return {
    images: fromArray(pixels, [entries.length, first.channels, first.height, first.width], { dtype: 'uint8', backend: options.backend }, 'loadImageFolder', true),
    labels: fromArray(Int32Array.from(entries, (e) => e.label), [entries.length], { dtype: 'int32', backend: options.backend }, 'loadImageFolder', true),
    classNames,
    paths: entries.map((e) => e.path),
  };
}
