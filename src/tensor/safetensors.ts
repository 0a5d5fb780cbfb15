// The safetensors layout (Hugging Face): an 8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__: {string: string}}, then the
// raw little-endian bytes. Reading validates everything before trusting it: the header size,
// each dtype and shape against its byte range, and that ranges stay inside the data, in order,
// without overlaps or gaps. No code runs on load.
import { fail, fmtShape } from '../errors.js';
import { fromArray } from './create.js';
import { type DType, arrayType } from './dtype.js';
import type { Tensor } from './tensor.js';

const CODES: Record<DType, string> = { float32: 'F32', float64: 'F64', int32: 'I32', int8: 'I8', uint8: 'U8', bool: 'BOOL' };
const FROM_CODE: Record<string, DType> = Object.fromEntries(Object.entries(CODES).map(([d, c]) => [c, d as DType]));
const BYTES: Record<DType, number> = { float32: 4, float64: 8, int32: 4, int8: 1, uint8: 1, bool: 1 };

/** Headers larger than this are refused: the format's own reference reader uses 100 MB. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** Encodes tensors (and string metadata) as chunks to write in order. */
export function encodeSafetensors(tensors: Record<string, Tensor>, metadata: Record<string, string> = {}): Uint8Array[] {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  const bodies: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    if (name === '__metadata__') fail('safetensors', 'a tensor cannot be named __metadata__');
    const data = t.dataSync();
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    Object.defineProperty(header, name, { value: { dtype: CODES[t.dtype], shape: t.shape, data_offsets: [offset, offset + bytes.length] }, enumerable: true });
    bodies.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  // Pads the UTF-8 bytes (not the UTF-16 length: names may be non-ASCII) so the data stays 8-byte aligned.
  json += ' '.repeat((8 - (Buffer.byteLength(json, 'utf8') % 8)) % 8);
  const head = Buffer.from(json, 'utf8');
  const size = new Uint8Array(8);
  new DataView(size.buffer).setBigUint64(0, BigInt(head.length), true);
  return [size, head, ...bodies];
}

export interface Decoded {
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
}

/** Decodes and validates a safetensors file's bytes; `where` (the file name) prefixes errors. */
export function decodeSafetensors(bytes: Uint8Array, where = 'safetensors'): Decoded {
  if (bytes.length < 8) fail(where, `file is ${bytes.length} bytes, too short for a safetensors header`);
  const n64 = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  // compared as a BigInt so that the message shows the length as written, not rounded to a double
  if (n64 > BigInt(MAX_HEADER_BYTES)) fail(where, `header length ${n64} exceeds the limit of ${MAX_HEADER_BYTES} bytes`);
  const n = Number(n64);
  if (8 + n > bytes.length) fail(where, `header length ${n} runs past the end of the ${bytes.length}-byte file`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 8, n).toString('utf8'));
  } catch (e) {
    fail(where, `header is not valid JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) fail(where, 'header must be a JSON object');
  const dataStart = 8 + n;
  const dataLength = bytes.length - dataStart;
  const metadata = readMetadata(header.__metadata__, where);
  const entries = Object.entries(header).filter(([k]) => k !== '__metadata__').map(([name, info]) => ({ name, ...readEntry(name, info, where) }));
  entries.sort((a, b) => a.begin - b.begin);
  let expected = 0;
  const tensors: Record<string, Tensor> = {};
  for (const e of entries) {
    if (e.begin !== expected) fail(where, `tensor "${e.name}" starts at byte ${e.begin}, expected ${expected} (ranges must be contiguous and not overlap)`);
    if (e.end > dataLength) fail(where, `tensor "${e.name}" ends at byte ${e.end}, past the ${dataLength} bytes of data`);
    const count = e.shape.reduce((a, b) => a * b, 1);
    if (count * BYTES[e.dtype] !== e.end - e.begin) {
      fail(where, `tensor "${e.name}": ${e.dtype} ${fmtShape(e.shape)} needs ${count * BYTES[e.dtype]} bytes, its range holds ${e.end - e.begin}`);
    }
    // Copy into an aligned array of the right type (the file's bytes may be unaligned). Not
    // bytes.slice: on a Buffer (what fs.readFileSync returns) that is a view, not a copy.
    const out = new (arrayType(e.dtype))(count);
    new Uint8Array(out.buffer).set(bytes.subarray(dataStart + e.begin, dataStart + e.end));
    // defineProperty, so that a tensor named "__proto__" is stored, not made the object's prototype
    Object.defineProperty(tensors, e.name, { value: fromArray(out, e.shape, { dtype: e.dtype }, where, true), enumerable: true, writable: true, configurable: true });
    expected = e.end;
  }
  if (expected !== dataLength) fail(where, `${dataLength - expected} bytes after the last tensor are not described by the header`);
  return { tensors, metadata };
}

function readMetadata(m: unknown, where: string): Record<string, string> {
  if (m === undefined) return {};
  if (m === null || typeof m !== 'object' || Array.isArray(m) || Object.values(m).some((v) => typeof v !== 'string')) {
    fail(where, '__metadata__ must be an object of strings');
  }
  return m as Record<string, string>;
}

function readEntry(name: string, info: unknown, where: string): { dtype: DType; shape: number[]; begin: number; end: number } {
  const i = info as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (i === null || typeof i !== 'object') fail(where, `tensor "${name}": entry must be an object`);
  const dtype = FROM_CODE[i.dtype as string];
  if (!dtype) fail(where, `tensor "${name}": dtype ${JSON.stringify(i.dtype)} is not supported (expected one of ${Object.keys(FROM_CODE).join(', ')})`);
  const shape = i.shape;
  if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) fail(where, `tensor "${name}": shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  const off = i.data_offsets;
  if (!Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isSafeInteger(o) && o >= 0) || off[1] < off[0]) {
    fail(where, `tensor "${name}": data_offsets must be [begin, end] with 0 <= begin <= end, got ${JSON.stringify(off)}`);
  }
  return { dtype, shape: shape as number[], begin: off[0], end: off[1] };
}
