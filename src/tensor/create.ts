// Creating tensors: from data, filled, ranges, and random draws from a seedable generator.
import type { Backend } from '../backends/backend.js';
import { getBackend } from '../backends/registry.js';
import { fail } from '../errors.js';
import { type DType, type TypedArray, allocArray, castArray, dtypeOfArray, isDType, isFloat, DTYPES } from './dtype.js';
import { type Generator, defaultGenerator } from './random.js';
import { checkShape, sizeOf } from './shape.js';
import { type NestedArray, Tensor } from './tensor.js';

export interface CreateOptions {
  dtype?: DType;
  backend?: string | Backend;
  requiresGrad?: boolean;
}

export interface RandomOptions extends CreateOptions {
  generator?: Generator;
}

function resolveBackend(b: string | Backend | undefined): Backend {
  return typeof b === 'object' ? b : getBackend(b);
}

function checkDType(op: string, dtype: unknown): DType {
  if (!isDType(dtype)) fail(op, `unknown dtype ${JSON.stringify(dtype)} (expected one of ${DTYPES.join(', ')})`);
  return dtype;
}

/**
 * A tensor holding `data`'s values. The array is copied, so later changes to it cannot reach
 * the tensor, unless `owned` says the caller made it for this tensor alone.
 */
export function fromArray(data: TypedArray, shape: readonly number[], options: CreateOptions = {}, op = 'tensor', owned = false): Tensor {
  checkShape(op, shape);
  const dtype = checkDType(op, options.dtype ?? dtypeOfArray(data));
  if (sizeOf(shape) !== data.length) fail(op, `${data.length} values do not fill shape [${shape.join(',')}] (${sizeOf(shape)} elements)`);
  if (!isFloat(dtype) && isFloat(dtypeOfArray(data))) {
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) fail(op, `${data[i]} at flat index ${i} cannot be stored as ${dtype}`);
    }
  }
  const backend = resolveBackend(options.backend);
  const storage = castArray(data, dtype);
  const t = new Tensor([...shape], dtype, backend.upload(storage === data && !owned ? storage.slice() : storage, dtype), backend);
  if (options.requiresGrad) t.requiresGrad = true;
  return t;
}

/** A tensor from nested arrays, a typed array, or a number: lt.tensor([[1, 2], [3, 4]]). Numbers become float32 unless told. */
export function tensor(data: NestedArray | TypedArray, options: CreateOptions & { shape?: readonly number[] } = {}): Tensor {
  if (ArrayBuffer.isView(data)) return fromArray(data, options.shape ?? [data.length], options);
  const shape: number[] = [];
  for (let d: NestedArray = data; Array.isArray(d); d = d[0]) shape.push(d.length);
  const flat: (number | boolean)[] = [];
  const walk = (d: NestedArray, depth: number, path: string): void => {
    if (depth === shape.length) {
      if (Array.isArray(d)) fail('tensor', `ragged nested array: element ${path} is an array, expected a number at depth ${depth}`);
      if (typeof d !== 'number' && typeof d !== 'boolean') fail('tensor', `element ${path} is ${typeof d}, expected a number or boolean`);
      flat.push(d);
      return;
    }
    if (!Array.isArray(d)) fail('tensor', `ragged nested array: element ${path} is a number, expected an array of length ${shape[depth]}`);
    if (d.length !== shape[depth]) fail('tensor', `ragged nested array: element ${path} has length ${d.length}, expected ${shape[depth]}`);
    d.forEach((e, i) => walk(e, depth + 1, `${path}[${i}]`));
  };
  walk(data, 0, 'data');
  if (options.shape) checkShape('tensor', options.shape);
  const dtype = options.dtype ?? (flat.length > 0 && flat.every((v) => typeof v === 'boolean') ? 'bool' : 'float32');
  checkDType('tensor', dtype);
  return fromArray(Float64Array.from(flat, Number), options.shape ?? shape, { dtype, backend: options.backend, requiresGrad: options.requiresGrad }, 'tensor', true);
}

export function full(shape: readonly number[], value: number | boolean, options: CreateOptions = {}): Tensor {
  checkShape('full', shape);
  const dtype = checkDType('full', options.dtype ?? (typeof value === 'boolean' ? 'bool' : 'float32'));
  const v = Number(value);
  if (!isFloat(dtype) && !Number.isFinite(v)) fail('full', `${v} cannot be stored as ${dtype}`);
  const backend = resolveBackend(options.backend);
  const t = new Tensor([...shape], dtype, backend.fill(dtype, sizeOf(shape), dtype === 'bool' ? +(v !== 0) : v), backend);
  if (options.requiresGrad) t.requiresGrad = true;
  return t;
}

export const zeros = (shape: readonly number[], options?: CreateOptions) => full(shape, 0, options);
export const ones = (shape: readonly number[], options?: CreateOptions) => full(shape, 1, options);
export const fullLike = (x: Tensor, value: number, options: CreateOptions = {}) =>
  full(x.shape, value, { dtype: x.dtype, backend: x.backend, ...options });
export const zerosLike = (x: Tensor, options?: CreateOptions) => fullLike(x, 0, options);
export const onesLike = (x: Tensor, options?: CreateOptions) => fullLike(x, 1, options);

/** Values from start up to (not including) end by step; int32 when all three are integers, as in numpy. */
export function arange(start: number, end?: number, step = 1, options: CreateOptions = {}): Tensor {
  if (end === undefined) [start, end] = [0, start];
  for (const [k, v] of Object.entries({ start, end, step })) {
    if (!Number.isFinite(v)) fail('arange', `${k} must be a finite number, got ${v}`);
  }
  if (step === 0) fail('arange', 'step must not be zero');
  const n = Math.max(0, Math.ceil((end - start) / step));
  const dtype = options.dtype ?? ([start, end, step].every(Number.isInteger) ? 'int32' : 'float32');
  const data = allocArray(checkDType('arange', dtype), n);
  for (let i = 0; i < n; i++) data[i] = start + i * step;
  return fromArray(data, [n], { dtype, backend: options.backend, requiresGrad: options.requiresGrad }, 'arange', true);
}

/** `steps` evenly spaced values from start to end, both included. */
export function linspace(start: number, end: number, steps: number, options: CreateOptions = {}): Tensor {
  if (!Number.isInteger(steps) || steps < 0) fail('linspace', `steps must be a non-negative integer, got ${steps}`);
  const data = new Float64Array(steps);
  for (let i = 0; i < steps; i++) data[i] = steps === 1 ? start : start + ((end - start) * i) / (steps - 1);
  return fromArray(data, [steps], { dtype: 'float32', ...options }, 'linspace', true);
}

/** The n x m identity matrix. */
export function eye(n: number, m = n, options: CreateOptions = {}): Tensor {
  checkShape('eye', [n, m]);
  const data = new Float64Array(n * m);
  for (let i = 0; i < Math.min(n, m); i++) data[i * m + i] = 1;
  return fromArray(data, [n, m], { dtype: 'float32', ...options }, 'eye', true);
}

function randomFloat(op: string, shape: readonly number[], options: RandomOptions, draw: (g: Generator, out: Float32Array | Float64Array) => void): Tensor {
  checkShape(op, shape);
  const dtype = checkDType(op, options.dtype ?? 'float32');
  if (!isFloat(dtype)) fail(op, `expected a float dtype, got ${dtype}`);
  const data = allocArray(dtype, sizeOf(shape)) as Float32Array | Float64Array;
  draw(options.generator ?? defaultGenerator, data);
  return fromArray(data, shape, { dtype, backend: options.backend, requiresGrad: options.requiresGrad }, op, true);
}

function checkFiniteArgs(op: string, args: Record<string, number>): void {
  for (const [k, v] of Object.entries(args)) if (!Number.isFinite(v)) fail(op, `${k} must be a finite number, got ${v}`);
}

/** Uniform in [low, high). */
export function uniform(shape: readonly number[], low = 0, high = 1, options: RandomOptions = {}): Tensor {
  checkFiniteArgs('uniform', { low, high });
  if (!(low < high)) fail('uniform', `expected low < high, got ${low} and ${high}`);
  return randomFloat('uniform', shape, options, (g, out) => g.fillUniform(out, low, high));
}

/** Uniform in [0, 1), like torch.rand. */
export const rand = (shape: readonly number[], options: RandomOptions = {}) => uniform(shape, 0, 1, options);

/** Normal with the given mean and standard deviation (standard normal by default), like torch.randn. */
export function randn(shape: readonly number[], options: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  const { mean = 0, std = 1 } = options;
  checkFiniteArgs('randn', { mean, std });
  if (std < 0) fail('randn', `std must be non-negative, got ${std}`);
  return randomFloat('randn', shape, options, (g, out) => g.fillNormal(out, mean, std));
}

/** Integers uniform in [low, high), int32. */
export function randint(low: number, high: number, shape: readonly number[], options: RandomOptions = {}): Tensor {
  if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low || low < -(2 ** 31) || high > 2 ** 31) {
    fail('randint', `expected integers low < high within the int32 range, got ${low} and ${high}`);
  }
  checkShape('randint', shape);
  const g = options.generator ?? defaultGenerator;
  const data = new Int32Array(sizeOf(shape));
  for (let i = 0; i < data.length; i++) data[i] = low + g.nextInt(high - low);
  return fromArray(data, shape, { dtype: options.dtype ?? 'int32', backend: options.backend, requiresGrad: options.requiresGrad }, 'randint', true);
}
