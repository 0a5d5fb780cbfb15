// Data types, their typed-array storage, and the promotion rule binary ops use.

export type DType = 'float32' | 'float64' | 'int32' | 'int8' | 'uint8' | 'bool';
export type FloatDType = 'float32' | 'float64';
export type TypedArray = Float32Array | Float64Array | Int32Array | Int8Array | Uint8Array;

export const DTYPES: readonly DType[] = ['float32', 'float64', 'int32', 'int8', 'uint8', 'bool'];

const ARRAY_TYPES = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
  int8: Int8Array, // quantized weights (src/quant)
  uint8: Uint8Array,
  bool: Uint8Array,
} as const;

export function arrayType(dtype: DType) {
  return ARRAY_TYPES[dtype];
}

export function allocArray(dtype: DType, size: number): TypedArray {
  return new ARRAY_TYPES[dtype](size);
}

export function isFloat(dtype: DType): dtype is FloatDType {
  return dtype === 'float32' || dtype === 'float64';
}

export function isDType(x: unknown): x is DType {
  return typeof x === 'string' && (DTYPES as readonly string[]).includes(x);
}

/** The dtype a typed array stores; Uint8Array maps to uint8 (bool is a label, not a storage). */
export function dtypeOfArray(a: TypedArray): DType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Int8Array) return 'int8';
  return 'uint8';
}

// bool < int8, uint8 < int32 < float32 < float64, as in numpy and PyTorch (without the int16 and
// int64 steps: int8 with uint8 gives int32, as neither holds the other's range).
const RANK: Record<DType, number> = { bool: 0, int8: 1, uint8: 1, int32: 2, float32: 3, float64: 4 };

export function promoteTypes(a: DType, b: DType): DType {
  if (RANK[a] === RANK[b] && a !== b) return 'int32';
  return RANK[a] >= RANK[b] ? a : b;
}

/** The dtype a JS scalar takes next to a tensor of `dtype`: the tensor's own unless that would
 * lose the value (a fraction, or an integer outside the dtype's range), then the next wider one. */
export function scalarDType(value: number | boolean, dtype: DType): DType {
  if (typeof value === 'boolean' || isFloat(dtype)) return dtype;
  if (!Number.isInteger(value)) return 'float32';
  if (dtype === 'uint8' && value >= 0 && value <= 255) return 'uint8';
  if (dtype === 'int8' && value >= -128 && value <= 127) return 'int8';
  return value >= -(2 ** 31) && value < 2 ** 31 ? 'int32' : 'float64';
}

/** `data` as the storage array of `dtype`: the same array when it already is one, else a converted copy. */
export function castArray(data: TypedArray | readonly number[], dtype: DType): TypedArray {
  const Ctor = ARRAY_TYPES[dtype];
  if (data instanceof Ctor && dtype !== 'bool') return data;
  const out = new Ctor(data.length);
  if (dtype === 'bool') for (let i = 0; i < data.length; i++) out[i] = data[i] !== 0 ? 1 : 0; // NaN is true, as in numpy
  else out.set(data as ArrayLike<number>);
  return out;
}
