// ONNX TensorProto -> Lathe tensors. Lathe has float32, float64, int32, int8, uint8 and bool, so:
// float16 and bfloat16 widen to float32; int16/uint16/int64/uint32/uint64 become int32. int8 stays
// int8, so quantized weights keep their type (and their size).
// int64 is how ONNX carries shapes, axes and indices; a value outside int32's range (Slice's
// INT64_MAX "to the end" sentinel, mostly) is kept as a host list of JS numbers (`HostInts`),
// which the ops that read shapes and positions accept, and any other op refuses.
import { fail } from '../../../errors.js';
import { fromArray } from '../../../tensor/create.js';
import type { DType, TypedArray } from '../../../tensor/dtype.js';
import { Tensor } from '../../../tensor/tensor.js';
import { ONNX_DTYPE } from '../schema.js';

/** An int64 tensor whose values do not all fit int32: kept on the host as JS numbers. */
export class HostInts {
  constructor(readonly shape: number[], readonly data: number[]) {}
}

/** A value flowing through an imported graph. */
export type Value = Tensor | HostInts;

/** TensorProto after `toObject(msg, { longs: Number })`: int64 fields are JS numbers, bytes stay Uint8Array. */
export interface TensorProtoObject {
  dims?: number[];
  dataType?: number;
  floatData?: number[];
  int32Data?: number[];
  int64Data?: number[];
  doubleData?: number[];
  uint64Data?: number[];
  stringData?: unknown[];
  rawData?: Uint8Array;
  name?: string;
  externalData?: { key?: string; value?: string }[];
  dataLocation?: number;
}

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

const DTYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(ONNX_DTYPE).map(([k, v]) => [v, k.toLowerCase()]));

export function onnxDTypeName(code: number | undefined): string {
  return DTYPE_NAMES[code ?? 0] ?? `dtype ${code}`;
}

/** The Lathe dtype holding an ONNX element type, or undefined when Lathe has none (string, complex). */
export function latheDType(code: number | undefined): DType | undefined {
  switch (code) {
    case ONNX_DTYPE.FLOAT: case ONNX_DTYPE.FLOAT16: case ONNX_DTYPE.BFLOAT16: return 'float32';
    case ONNX_DTYPE.DOUBLE: return 'float64';
    case ONNX_DTYPE.UINT8: return 'uint8';
    case ONNX_DTYPE.INT8: return 'int8';
    case ONNX_DTYPE.BOOL: return 'bool';
    case ONNX_DTYPE.INT16: case ONNX_DTYPE.UINT16: case ONNX_DTYPE.INT32:
    case ONNX_DTYPE.INT64: case ONNX_DTYPE.UINT32: case ONNX_DTYPE.UINT64: return 'int32';
    default: return undefined;
  }
}

/** IEEE 754 half (binary16) bits to a number. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** bfloat16 bits are the top half of a float32's. */
function bfloat16ToFloat(b: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setUint32(0, (b & 0xffff) << 16);
  return view.getFloat32(0);
}

/** The elements as JS numbers, from raw_data (little-endian, per onnx.proto) or the typed fields. */
function elements(t: TensorProtoObject, count: number, where: string): number[] | TypedArray {
  const code = t.dataType ?? 0;
  const raw = t.rawData;
  if (raw && raw.length > 0) {
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const width: Record<number, number> = { 1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2 };
    const w = width[code] ?? fail(where, `raw_data of ${onnxDTypeName(code)} is not supported`);
    if (raw.length !== count * w) fail(where, `raw_data holds ${raw.length} bytes; shape and ${onnxDTypeName(code)} need ${count * w}`);
    const read: Record<number, (o: number) => number> = {
      1: (o) => view.getFloat32(o, true), 2: (o) => view.getUint8(o), 3: (o) => view.getInt8(o),
      4: (o) => view.getUint16(o, true), 5: (o) => view.getInt16(o, true), 6: (o) => view.getInt32(o, true),
      7: (o) => Number(view.getBigInt64(o, true)), 9: (o) => view.getUint8(o), 10: (o) => halfToFloat(view.getUint16(o, true)),
      11: (o) => view.getFloat64(o, true), 12: (o) => view.getUint32(o, true), 13: (o) => Number(view.getBigUint64(o, true)),
      16: (o) => bfloat16ToFloat(view.getUint16(o, true)),
    };
    const r = read[code];
    const out = new Array<number>(count);
    for (let i = 0; i < count; i++) out[i] = r(i * w);
    return out;
  }
  // Typed fields: float in float_data; (u)int8/16, bool, float16 and bfloat16 bits in int32_data;
  // int64 in int64_data; double in double_data; uint32/uint64 in uint64_data.
  let data: number[];
  if (code === ONNX_DTYPE.FLOAT) data = t.floatData ?? [];
  else if (code === ONNX_DTYPE.DOUBLE) data = t.doubleData ?? [];
  else if (code === ONNX_DTYPE.INT64) data = t.int64Data ?? [];
  else if (code === ONNX_DTYPE.UINT32 || code === ONNX_DTYPE.UINT64) data = t.uint64Data ?? [];
  else if (code === ONNX_DTYPE.FLOAT16) data = (t.int32Data ?? []).map(halfToFloat);
  else if (code === ONNX_DTYPE.BFLOAT16) data = (t.int32Data ?? []).map(bfloat16ToFloat);
  else data = t.int32Data ?? [];
  if (data.length !== count) fail(where, `holds ${data.length} values; its shape [${t.dims ?? []}] needs ${count}`);
  return data;
}

/** A TensorProto as a Lathe tensor (or HostInts for int64 beyond int32). `where` names it in errors. */
export function tensorFromProto(t: TensorProtoObject, where: string): Value {
  if (t.dataLocation === 1 || (t.externalData?.length ?? 0) > 0) {
    fail(where, 'stored as external data (beside the .onnx file); Lathe reads only self-contained models: save it with all tensors inside the file');
  }
  const code = t.dataType ?? 0;
  const dtype = latheDType(code) ?? fail(where, `element type ${onnxDTypeName(code)} is not supported (Lathe has float32, float64, int32, int8, uint8 and bool)`);
  const shape = (t.dims ?? []).map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) fail(where, `invalid dims [${shape}]`);
  const count = shape.reduce((a, b) => a * b, 1);
  const data = elements(t, count, where);
  if (dtype === 'int32') {
    for (let i = 0; i < data.length; i++) {
      if (data[i] < INT32_MIN || data[i] > INT32_MAX) return new HostInts(shape, Array.from(data));
    }
  }
  return fromArray(toTyped(data, dtype), shape);
}

function toTyped(data: number[] | TypedArray, dtype: DType): TypedArray {
  switch (dtype) {
    case 'float32': return Float32Array.from(data);
    case 'float64': return Float64Array.from(data);
    case 'int32': return Int32Array.from(data);
    case 'int8': return Int8Array.from(data);
    default: return Uint8Array.from(data, (v) => (dtype === 'bool' ? (v ? 1 : 0) : v));
  }
}

/** Integer values of a shape/axes/positions input, as JS numbers. */
export function intsOf(v: Value, where: string): number[] {
  if (v instanceof HostInts) return v.data;
  if (v.dtype !== 'int32' && v.dtype !== 'uint8' && v.dtype !== 'int8') fail(where, `expected integers, got ${v.dtype}`);
  return Array.from(v.dataSync());
}

/** The value as a Lathe tensor; an int64 beyond int32's range cannot be one. */
export function tensorOf(v: Value, where: string): Tensor {
  if (v instanceof Tensor) return v;
  const bad = v.data.find((x) => x < INT32_MIN || x > INT32_MAX);
  return fail(where, `int64 value ${bad} is outside int32's range; Lathe holds int64 as int32 and accepts larger values only as shapes, axes and positions`);
}

/** Shape of a Value. */
export function shapeOf(v: Value): number[] {
  return [...v.shape];
}

/** Integers of a computed shape or index as an int32 tensor, or HostInts when one exceeds int32. */
export function intsValue(shape: number[], data: number[]): Value {
  if (data.some((x) => x < INT32_MIN || x > INT32_MAX)) return new HostInts(shape, data);
  return fromArray(Int32Array.from(data), shape);
}
