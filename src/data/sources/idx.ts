// The IDX format (LeCun's MNIST container) for any element type and rank, gzipped or not.
// Layout: bytes 0-1 zero, byte 2 the element type, byte 3 the rank, then one big-endian uint32
// per dimension, then the elements, big-endian, row-major. Every check names the file and the
// byte offset (in the decompressed data for a .gz), because a truncated download must fail
// loudly, never load as short data.
import * as fs from 'node:fs';
import { gunzipSync, gzipSync, gunzip as gunzipCb } from 'node:zlib';
import { promisify } from 'node:util';
import { writeFileAtomic } from '../../atomic-write.js';
import { fail, fmtShape } from '../../errors.js';
import { fromArray, type CreateOptions } from '../../tensor/create.js';
import type { DType, TypedArray } from '../../tensor/dtype.js';
import { Tensor } from '../../tensor/tensor.js';

const gunzipAsync = promisify(gunzipCb);

/** The IDX element types. int8 and int16 have no Lathe dtype and are widened to int32 when read. */
export type IdxType = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';

interface IdxTypeInfo { code: number; size: number; dtype: DType; min: number; max: number }
const TYPES: Record<IdxType, IdxTypeInfo> = {
  uint8: { code: 0x08, size: 1, dtype: 'uint8', min: 0, max: 255 },
  int8: { code: 0x09, size: 1, dtype: 'int32', min: -128, max: 127 },
  int16: { code: 0x0b, size: 2, dtype: 'int32', min: -32768, max: 32767 },
  int32: { code: 0x0c, size: 4, dtype: 'int32', min: -(2 ** 31), max: 2 ** 31 - 1 },
  float32: { code: 0x0d, size: 4, dtype: 'float32', min: -Infinity, max: Infinity },
  float64: { code: 0x0e, size: 8, dtype: 'float64', min: -Infinity, max: Infinity },
};
const BY_CODE = new Map(Object.entries(TYPES).map(([name, t]) => [t.code, name as IdxType]));
const hex = (n: number, width = 2) => `0x${n.toString(16).padStart(width, '0').toUpperCase()}`;
const CODE_LIST = Object.values(TYPES).map((t) => hex(t.code)).join(', ');

export interface IdxArray {
  /** The element type stored in the file. */
  idxType: IdxType;
  /** The Lathe dtype of `data`: the file's type, int32 for int8/int16. */
  dtype: DType;
  shape: number[];
  /** Host-endian elements; for uint8 a view into the (decompressed) file bytes, not a copy. */
  data: TypedArray;
}

export interface IdxReadOptions {
  /** Refuse more than this many bytes after gunzip (a guard against gzip bombs). */
  maxBytes?: number;
}

const isGzip = (b: Uint8Array) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
// Output chunks of the whole decompressed size, which gzip's trailer states (ISIZE, mod 2^32):
// zlib then fills one buffer and never concatenates chunks, so MNIST's 47 MB of training images
// need 47 MB, not twice that, at their peak (a training run's RSS must stay under 250 MB).
// Chunks of at least 1 MiB (not zlib's 16 KiB): 90 ms instead of 130 ms sync, 110 instead of 240 async.
const MAX_CHUNK = 1 << 30;
function zlibOptions(bytes: Uint8Array, maxBytes?: number) {
  const isize = bytes.length >= 18 ? new DataView(bytes.buffer, bytes.byteOffset + bytes.length - 4, 4).getUint32(0, true) : 0;
  // ISIZE is the file's claim: never allocate beyond deflate's best ratio (1032:1) for these bytes.
  const chunkSize = Math.max(64, Math.min(MAX_CHUNK, maxBytes ?? MAX_CHUNK, bytes.length * 1032 + (1 << 20), Math.max(1 << 20, isize + 1)));
  return { chunkSize, ...(maxBytes ? { maxOutputLength: maxBytes } : {}) };
}

function gunzipError(file: string, e: unknown, maxBytes: number | undefined): never {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'ERR_BUFFER_TOO_LARGE') fail('idx', `${file}: more than ${maxBytes} bytes after gunzip`);
  fail('idx', `${file}: corrupt or truncated gzip data (zlib: ${err.message})`);
}

function readBytes(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    fail('idx', `${file}: cannot read (${(e as Error).message})`);
  }
}

/** The decompressed bytes of an IDX file (gzip detected by its magic number 1f 8b). */
export function readIdxBytes(file: string, options: IdxReadOptions = {}): Uint8Array {
  const bytes = readBytes(file);
  if (!isGzip(bytes)) return bytes;
  try {
    return gunzipSync(bytes, zlibOptions(bytes, options.maxBytes));
  } catch (e) {
    gunzipError(file, e, options.maxBytes);
  }
}

/** readIdxBytes without blocking the event loop: zlib runs on the thread pool. */
export async function readIdxBytesAsync(file: string, options: IdxReadOptions = {}): Promise<Uint8Array> {
  let bytes: Buffer;
  try {
    bytes = await fs.promises.readFile(file);
  } catch (e) {
    fail('idx', `${file}: cannot read (${(e as Error).message})`);
  }
  if (!isGzip(bytes)) return bytes;
  try {
    return await gunzipAsync(bytes, zlibOptions(bytes, options.maxBytes));
  } catch (e) {
    gunzipError(file, e, options.maxBytes);
  }
}

/** Parses decompressed IDX bytes; `file` is only for messages. */
export function parseIdx(bytes: Uint8Array, file: string): IdxArray {
  if (bytes.length < 4) fail('idx', `${file}: truncated header: ${bytes.length} bytes, expected at least 4 (magic number)`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    fail('idx', `${file}: not an IDX file: bytes 0-1 are ${hex((bytes[0] << 8) | bytes[1], 4)}, expected 0x0000`);
  }
  const idxType = BY_CODE.get(bytes[2]);
  if (!idxType) fail('idx', `${file}: unknown element type ${hex(bytes[2])} at byte 2, expected one of ${CODE_LIST}`);
  const rank = bytes[3];
  const start = 4 + 4 * rank;
  if (bytes.length < start) fail('idx', `${file}: truncated header: rank ${rank} needs ${start} bytes, the file has ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  const info = TYPES[idxType];
  // BigInt so that a corrupt header's huge dims print exactly instead of as a rounded float.
  const need = shape.reduce((a, b) => a * BigInt(b), BigInt(info.size));
  const found = bytes.length - start;
  if (BigInt(found) !== need) {
    const what = BigInt(found) < need ? 'shorter' : 'longer';
    fail('idx', `${file}: data is ${what} than the shape says: ${fmtShape(shape)} ${idxType} needs ${need} bytes from byte ${start}, found ${found}`);
  }
  return { idxType, dtype: info.dtype, shape, data: decode(idxType, view, start, found / info.size) };
}

function decode(type: IdxType, view: DataView, start: number, n: number): TypedArray {
  // uint8 is the common case (images): a view, no copy. Wider types are big-endian on disk, so
  // they are decoded element by element into host order.
  if (type === 'uint8') return new Uint8Array(view.buffer, view.byteOffset + start, n);
  if (type === 'float32') {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = view.getFloat32(start + 4 * i);
    return out;
  }
  if (type === 'float64') {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = view.getFloat64(start + 8 * i);
    return out;
  }
  const out = new Int32Array(n);
  if (type === 'int8') for (let i = 0; i < n; i++) out[i] = view.getInt8(start + i);
  else if (type === 'int16') for (let i = 0; i < n; i++) out[i] = view.getInt16(start + 2 * i);
  else for (let i = 0; i < n; i++) out[i] = view.getInt32(start + 4 * i);
  return out;
}

/** Reads one IDX file, gzipped or not. int8 and int16 elements come back widened to int32. */
export function readIdx(file: string, options: IdxReadOptions = {}): IdxArray {
  return parseIdx(readIdxBytes(file, options), file);
}

export async function readIdxAsync(file: string, options: IdxReadOptions = {}): Promise<IdxArray> {
  return parseIdx(await readIdxBytesAsync(file, options), file);
}

/** Reads one IDX file as a tensor (uint8, int32, float32 or float64). */
export function readIdxTensor(file: string, options: IdxReadOptions & Pick<CreateOptions, 'backend'> = {}): Tensor {
  const { idxType: _, dtype, shape, data } = readIdx(file, options);
  return fromArray(data, shape, { dtype, backend: options.backend }, 'idx', true);
}

type IntArray = Int8Array | Int16Array;
/** What writeIdx accepts: a tensor, a typed array (rank 1), or data with a shape (readIdx's result). */
export type IdxInput = Tensor | TypedArray | IntArray | { data: TypedArray | IntArray | readonly number[]; shape: readonly number[]; idxType?: IdxType };

export interface IdxWriteOptions {
  /** gzip the file (level 6; MNIST's images shrink about 5x). */
  gzip?: boolean;
  /** The element type to store; by default the input's own (bool is stored as uint8). */
  type?: IdxType;
}

function typeOfArray(a: ArrayLike<number>): IdxType {
  if (a instanceof Int8Array) return 'int8';
  if (a instanceof Int16Array) return 'int16';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof Uint8Array) return 'uint8';
  return 'float64'; // plain number arrays keep full precision unless a type is asked for
}

function normalise(value: IdxInput): { data: ArrayLike<number>; shape: readonly number[]; idxType: IdxType } {
  if (value instanceof Tensor) {
    return { data: value.dataSync(), shape: value.shape, idxType: value.dtype === 'bool' ? 'uint8' : (value.dtype as IdxType) };
  }
  if (ArrayBuffer.isView(value)) return { data: value, shape: [value.length], idxType: typeOfArray(value) };
  return { data: value.data, shape: value.shape, idxType: value.idxType ?? typeOfArray(value.data) };
}

/** The IDX bytes of `value` (header and big-endian data), before any gzip. */
export function encodeIdx(value: IdxInput, options: Pick<IdxWriteOptions, 'type'> = {}): Uint8Array {
  const src = normalise(value);
  const type = options.type ?? src.idxType;
  const info = TYPES[type];
  if (!info) fail('idx', `unknown element type "${type}", expected one of ${Object.keys(TYPES).join(', ')}`);
  const { data, shape } = src;
  if (shape.length > 255) fail('idx', `rank ${shape.length} does not fit IDX's one-byte rank (at most 255)`);
  shape.forEach((d, i) => {
    if (!Number.isInteger(d) || d < 0 || d > 0xffffffff) fail('idx', `shape ${fmtShape(shape)}: dimension ${i} must be an integer in [0, 2^32-1]`);
  });
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) fail('idx', `${data.length} values do not fill shape ${fmtShape(shape)} (${count} elements)`);
  const start = 4 + 4 * shape.length;
  const out = new Uint8Array(start + count * info.size);
  const view = new DataView(out.buffer);
  out[2] = info.code;
  out[3] = shape.length;
  shape.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  const isInt = type !== 'float32' && type !== 'float64';
  for (let i = 0; i < count; i++) {
    const v = Number(data[i]);
    // Integer types refuse what they cannot hold instead of wrapping it (300 -> 44 as uint8).
    if (isInt && !(Number.isInteger(v) && v >= info.min && v <= info.max)) {
      fail('idx', `element ${i} is ${v}, which ${type} cannot hold (integers ${info.min}..${info.max})`);
    }
    const at = start + i * info.size;
    if (type === 'uint8') out[at] = v;
    else if (type === 'int8') view.setInt8(at, v);
    else if (type === 'int16') view.setInt16(at, v);
    else if (type === 'int32') view.setInt32(at, v);
    else if (type === 'float32') view.setFloat32(at, v);
    else view.setFloat64(at, v);
  }
  return out;
}

/** Writes an IDX file atomically (temp file, fsync, rename), gzipped when asked. */
export function writeIdx(file: string, value: IdxInput, options: IdxWriteOptions = {}): void {
  const bytes = encodeIdx(value, options);
  writeFileAtomic(file, options.gzip ? gzipSync(bytes) : bytes);
}
