// Image transforms for input pipelines: resize, normalise, and seeded augmentation (crop, flip,
// rotation) of one image [C,H,W] or a batch [N,C,H,W], uint8 or float. They run on the host over
// the pixels of one batch, outside autograd: they prepare inputs, so no gradient is wanted.
import { fail, fmtShape } from '../errors.js';
import { fromArray } from '../tensor/create.js';
import { type Generator, defaultGenerator } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';

type PixelDType = 'uint8' | 'float32' | 'float64';
/** Where transforms write: uint8 results go through Uint8ClampedArray, which rounds to nearest (ties to even) and clamps to [0, 255]. */
type PixelArray = Uint8ClampedArray | Float32Array | Float64Array;

interface Images {
  x: Tensor;
  src: ArrayLike<number>;
  dtype: PixelDType;
  n: number;
  c: number;
  h: number;
  w: number;
}

function readImages(op: string, x: Tensor): Images {
  if (x.dtype !== 'uint8' && x.dtype !== 'float32' && x.dtype !== 'float64') fail(op, `expected a uint8, float32 or float64 image, got ${x.dtype}`);
  if (x.rank !== 3 && x.rank !== 4) fail(op, `expected an image [C,H,W] or a batch [N,C,H,W], got shape ${fmtShape(x.shape)}`);
  const [n, c, h, w] = x.rank === 4 ? x.shape : [1, ...x.shape];
  return { x, src: x.dataSync(), dtype: x.dtype, n, c, h, w };
}

function alloc(dtype: PixelDType, size: number): PixelArray {
  return dtype === 'uint8' ? new Uint8ClampedArray(size) : dtype === 'float32' ? new Float32Array(size) : new Float64Array(size);
}

/** The result tensor, with the input's rank and backend; `data` is fresh, so it is handed over uncopied. */
function output(op: string, img: Images, data: PixelArray, h = img.h, w = img.w): Tensor {
  const shape = img.x.rank === 4 ? [img.n, img.c, h, w] : [img.c, h, w];
  const stored = data instanceof Uint8ClampedArray ? new Uint8Array(data.buffer, data.byteOffset, data.length) : data;
  return fromArray(stored, shape, { backend: img.x.backend }, op, true);
}

function checkSize(op: string, size: unknown): [number, number] {
  if (!Array.isArray(size) || size.length !== 2 || !size.every((s) => Number.isInteger(s) && s > 0)) {
    fail(op, `size must be [height, width], two positive integers, got ${JSON.stringify(size)}`);
  }
  return [size[0], size[1]];
}

function checkFill(op: string, fill: unknown, dtype: PixelDType): number {
  if (typeof fill !== 'number' || !Number.isFinite(fill) || (dtype === 'uint8' && (fill < 0 || fill > 255))) {
    fail(op, `fill must be a finite number${dtype === 'uint8' ? ' in [0, 255] for a uint8 image' : ''}, got ${fill}`);
  }
  return fill;
}

function checkProbability(op: string, p: unknown): number {
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) fail(op, `p must be a probability in [0, 1], got ${p}`);
  return p;
}

// ---- resize ----------------------------------------------------------------------------------

export interface ResizeOptions {
  /**
   * false (the default): half-pixel centres, source = (dst + 0.5) * in/out - 0.5 clamped to the
   * edge, as PyTorch's F.interpolate(mode='bilinear', align_corners=False) and Keras' resize
   * (tf.image.resize, half_pixel_centers). true: the corner pixels' centres line up, source =
   * dst * (in - 1)/(out - 1), as align_corners=True.
   */
  alignCorners?: boolean;
}

/** Per output position along one axis: the two source taps and the weight of the second. */
function linearTaps(inSize: number, outSize: number, alignCorners: boolean): { i0: Int32Array; i1: Int32Array; t: Float64Array } {
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const t = new Float64Array(outSize);
  for (let d = 0; d < outSize; d++) {
    const src = alignCorners ? (outSize > 1 ? (d * (inSize - 1)) / (outSize - 1) : 0) : Math.max(0, ((d + 0.5) * inSize) / outSize - 0.5);
    const lo = Math.min(Math.floor(src), inSize - 1);
    i0[d] = lo;
    i1[d] = Math.min(lo + 1, inSize - 1);
    t[d] = src - lo;
  }
  return { i0, i1, t };
}

/**
 * Bilinear resize of `planes` planes h x w, stored one after another, into `out` (outH x outW
 * each). No antialiasing, like F.interpolate's default and Keras': shrinking by more than 2x
 * skips pixels. Exported for the image loader, which resizes while decoding.
 */
export function resizeBilinear(src: ArrayLike<number>, planes: number, h: number, w: number, out: PixelArray, outH: number, outW: number, alignCorners = false): void {
  const ys = linearTaps(h, outH, alignCorners);
  const xs = linearTaps(w, outW, alignCorners);
  for (let p = 0; p < planes; p++) {
    const base = p * h * w;
    let o = p * outH * outW;
    for (let y = 0; y < outH; y++) {
      const r0 = base + ys.i0[y] * w;
      const r1 = base + ys.i1[y] * w;
      const ty = ys.t[y];
      for (let x = 0; x < outW; x++) {
        const a = xs.i0[x];
        const b = xs.i1[x];
        const tx = xs.t[x];
        const top = src[r0 + a] + (src[r0 + b] - src[r0 + a]) * tx;
        const bottom = src[r1 + a] + (src[r1 + b] - src[r1 + a]) * tx;
        out[o++] = top + (bottom - top) * ty;
      }
    }
  }
}

/** Bilinear resize to size [height, width]; the dtype stays (uint8 results are rounded). */
export function resize(x: Tensor, size: readonly [number, number], options: ResizeOptions = {}): Tensor {
  const [outH, outW] = checkSize('resize', size);
  const img = readImages('resize', x);
  const out = alloc(img.dtype, img.n * img.c * outH * outW);
  resizeBilinear(img.src, img.n * img.c, img.h, img.w, out, outH, outW, options.alignCorners ?? false);
  return output('resize', img, out, outH, outW);
}

// ---- normalise -------------------------------------------------------------------------------

export interface NormalizeOptions {
  /** Per-channel mean, or one value for all channels, in the units after `scale`. */
  mean: number | readonly number[];
  /** Per-channel standard deviation (positive), or one value for all. */
  std: number | readonly number[];
  /**
   * Applied before the mean is taken off. Default 1/255 for uint8 input (torchvision's ToTensor
   * step, so ImageNet's mean [0.485, 0.456, 0.406] applies as published) and 1 for float input.
   */
  scale?: number;
}

/** (x * scale - mean[c]) / std[c] per channel; float32 out (float64 stays float64). */
export function normalize(x: Tensor, options: NormalizeOptions): Tensor {
  if (typeof options !== 'object' || options === null) fail('normalize', 'expected options {mean, std}');
  const img = readImages('normalize', x);
  const perChannel = (name: string, v: unknown): number[] => {
    const list = typeof v === 'number' ? new Array<number>(img.c).fill(v) : Array.isArray(v) ? (v as number[]) : [];
    if (list.length !== img.c || !list.every((e) => typeof e === 'number' && Number.isFinite(e))) {
      fail('normalize', `${name} must be a finite number or ${img.c} of them (one per channel), got ${JSON.stringify(v)}`);
    }
    return list;
  };
  const mean = perChannel('mean', options.mean);
  const std = perChannel('std', options.std);
  if (std.some((s) => s <= 0)) fail('normalize', `std must be positive, got ${JSON.stringify(std)}`);
  const scale = options.scale ?? (img.dtype === 'uint8' ? 1 / 255 : 1);
  if (!Number.isFinite(scale)) fail('normalize', `scale must be a finite number, got ${scale}`);
  const out = alloc(img.dtype === 'float64' ? 'float64' : 'float32', img.src.length);
  const plane = img.h * img.w;
  for (let p = 0; p < img.n * img.c; p++) {
    const m = mean[p % img.c];
    const s = std[p % img.c];
    for (let i = p * plane; i < (p + 1) * plane; i++) out[i] = (img.src[i] * scale - m) / s;
  }
  return output('normalize', img, out);
}

// ---- crop and flip ---------------------------------------------------------------------------

/** Copies the h x w window at (top, left) of every plane of image i; positions outside the image read `fill`. */
function cropImage(img: Images, i: number, top: number, left: number, h: number, w: number, fill: number, out: PixelArray): void {
  for (let ch = 0; ch < img.c; ch++) {
    const base = (i * img.c + ch) * img.h * img.w;
    let o = (i * img.c + ch) * h * w;
    for (let y = top; y < top + h; y++) {
      const inside = y >= 0 && y < img.h;
      for (let x = left; x < left + w; x++) out[o++] = inside && x >= 0 && x < img.w ? img.src[base + y * img.w + x] : fill;
    }
  }
}

/** The window of `size` at (top, left) of every image; parts outside the image are `fill`. */
export function crop(x: Tensor, top: number, left: number, size: readonly [number, number], options: { fill?: number } = {}): Tensor {
  const [h, w] = checkSize('crop', size);
  if (!Number.isInteger(top) || !Number.isInteger(left)) fail('crop', `top and left must be integers, got ${top}, ${left}`);
  const img = readImages('crop', x);
  const fill = checkFill('crop', options.fill ?? 0, img.dtype);
  const out = alloc(img.dtype, img.n * img.c * h * w);
  for (let i = 0; i < img.n; i++) cropImage(img, i, top, left, h, w, fill, out);
  return output('crop', img, out, h, w);
}

export interface RandomCropOptions {
  /** Pixels of `fill` added on every side before cropping (4 for CIFAR's 32x32 recipe), or [vertical, horizontal]. */
  padding?: number | readonly [number, number];
  fill?: number;
  generator?: Generator;
}

/**
 * A window of `size` at a uniformly random place in each image padded by `padding`, torchvision's
 * RandomCrop(size, padding). Each image draws its top, then its left offset.
 */
export function randomCrop(x: Tensor, size: readonly [number, number], options: RandomCropOptions = {}): Tensor {
  const [h, w] = checkSize('randomCrop', size);
  const pad = options.padding ?? 0;
  const [py, px] = typeof pad === 'number' ? [pad, pad] : Array.isArray(pad) && pad.length === 2 ? pad : [NaN, NaN];
  if (![py, px].every((v) => Number.isInteger(v) && v >= 0)) fail('randomCrop', `padding must be a non-negative integer or two of them, got ${JSON.stringify(pad)}`);
  const img = readImages('randomCrop', x);
  const fill = checkFill('randomCrop', options.fill ?? 0, img.dtype);
  const spanY = img.h + 2 * py - h + 1;
  const spanX = img.w + 2 * px - w + 1;
  if (spanY < 1 || spanX < 1) fail('randomCrop', `crop ${h}x${w} is larger than the padded image ${img.h + 2 * py}x${img.w + 2 * px}`);
  const gen = options.generator ?? defaultGenerator;
  const out = alloc(img.dtype, img.n * img.c * h * w);
  for (let i = 0; i < img.n; i++) {
    const top = gen.nextInt(spanY) - py;
    const left = gen.nextInt(spanX) - px;
    cropImage(img, i, top, left, h, w, fill, out);
  }
  return output('randomCrop', img, out, h, w);
}

export type FlipMode = 'horizontal' | 'vertical' | 'horizontal_and_vertical';

/** Mirrors image i's planes left-right and/or top-bottom into out. */
function flipImage(img: Images, i: number, horizontal: boolean, vertical: boolean, out: PixelArray): void {
  for (let ch = 0; ch < img.c; ch++) {
    const base = (i * img.c + ch) * img.h * img.w;
    for (let y = 0; y < img.h; y++) {
      const sy = vertical ? img.h - 1 - y : y;
      for (let x = 0; x < img.w; x++) out[base + y * img.w + x] = img.src[base + sy * img.w + (horizontal ? img.w - 1 - x : x)];
    }
  }
}

function flipAxes(op: string, mode: unknown): [boolean, boolean] {
  if (mode !== 'horizontal' && mode !== 'vertical' && mode !== 'horizontal_and_vertical') {
    fail(op, `mode must be 'horizontal', 'vertical' or 'horizontal_and_vertical', got ${JSON.stringify(mode)}`);
  }
  return [mode !== 'vertical', mode !== 'horizontal'];
}

/** Every image mirrored: 'horizontal' reverses the width axis, 'vertical' the height axis. */
export function flip(x: Tensor, mode: FlipMode = 'horizontal'): Tensor {
  const [hor, ver] = flipAxes('flip', mode);
  const img = readImages('flip', x);
  const out = alloc(img.dtype, img.src.length);
  for (let i = 0; i < img.n; i++) flipImage(img, i, hor, ver, out);
  return output('flip', img, out);
}

/**
 * Each image mirrored with probability p per axis (Keras' RandomFlip modes). Each image draws one
 * number per axis of the mode, horizontal first, so a seed gives the same flips every run.
 */
export function randomFlip(x: Tensor, options: { mode?: FlipMode; p?: number; generator?: Generator } = {}): Tensor {
  const [hor, ver] = flipAxes('randomFlip', options.mode ?? 'horizontal');
  const p = checkProbability('randomFlip', options.p ?? 0.5);
  const gen = options.generator ?? defaultGenerator;
  const img = readImages('randomFlip', x);
  const out = alloc(img.dtype, img.src.length);
  for (let i = 0; i < img.n; i++) {
    const h = hor && gen.nextFloat64() < p;
    const v = ver && gen.nextFloat64() < p;
    flipImage(img, i, h, v, out);
  }
  return output('randomFlip', img, out);
}

// ---- rotation --------------------------------------------------------------------------------

export interface RotateOptions {
  /** 'nearest' (default, torchvision's) or 'bilinear'. */
  interpolation?: 'nearest' | 'bilinear';
  /** The value of pixels that come from outside the image (default 0). */
  fill?: number;
}

/** cos and sin of an angle in degrees, exact at multiples of 90 so that those rotations move pixels without blending. */
function cosSinDegrees(deg: number): [number, number] {
  const r = ((deg % 360) + 360) % 360;
  if (r === 0) return [1, 0];
  if (r === 90) return [0, 1];
  if (r === 180) return [-1, 0];
  if (r === 270) return [0, -1];
  return [Math.cos((deg * Math.PI) / 180), Math.sin((deg * Math.PI) / 180)];
}

/**
 * Rotates image i by `deg` counter-clockwise as displayed (torchvision's sign), about the centre
 * ((W-1)/2, (H-1)/2), keeping the size. Each output pixel samples the source at the inverse
 * rotation of its position; with y pointing down that is sx = dx cos - dy sin, sy = dx sin + dy cos.
 * Bilinear taps outside the image read `fill`, as if the image lay on an endless canvas of it.
 */
function rotateImage(img: Images, i: number, deg: number, bilinear: boolean, fill: number, out: PixelArray): void {
  const [cos, sin] = cosSinDegrees(deg);
  const cx = (img.w - 1) / 2;
  const cy = (img.h - 1) / 2;
  const at = (base: number, y: number, x: number) => (y >= 0 && y < img.h && x >= 0 && x < img.w ? img.src[base + y * img.w + x] : fill);
  for (let ch = 0; ch < img.c; ch++) {
    const base = (i * img.c + ch) * img.h * img.w;
    let o = base;
    for (let y = 0; y < img.h; y++) {
      const dy = y - cy;
      for (let x = 0; x < img.w; x++) {
        const dx = x - cx;
        const sx = cx + dx * cos - dy * sin;
        const sy = cy + dx * sin + dy * cos;
        if (!bilinear) {
          out[o++] = at(base, Math.round(sy), Math.round(sx));
          continue;
        }
        const x0 = Math.floor(sx);
        const y0 = Math.floor(sy);
        const tx = sx - x0;
        const ty = sy - y0;
        const top = at(base, y0, x0) * (1 - tx) + at(base, y0, x0 + 1) * tx;
        const bottom = at(base, y0 + 1, x0) * (1 - tx) + at(base, y0 + 1, x0 + 1) * tx;
        out[o++] = top * (1 - ty) + bottom * ty;
      }
    }
  }
}

function rotateSetup(op: string, x: Tensor, options: RotateOptions): { img: Images; bilinear: boolean; fill: number; out: PixelArray } {
  const interpolation = options.interpolation ?? 'nearest';
  if (interpolation !== 'nearest' && interpolation !== 'bilinear') fail(op, `interpolation must be 'nearest' or 'bilinear', got ${JSON.stringify(interpolation)}`);
  const img = readImages(op, x);
  const fill = checkFill(op, options.fill ?? 0, img.dtype);
  return { img, bilinear: interpolation === 'bilinear', fill, out: alloc(img.dtype, img.src.length) };
}

/** Every image rotated by `degrees`, counter-clockwise, about its centre; the size stays and uncovered corners are `fill`. */
export function rotate(x: Tensor, degrees: number, options: RotateOptions = {}): Tensor {
  if (typeof degrees !== 'number' || !Number.isFinite(degrees)) fail('rotate', `degrees must be a finite number, got ${degrees}`);
  const { img, bilinear, fill, out } = rotateSetup('rotate', x, options);
  for (let i = 0; i < img.n; i++) rotateImage(img, i, degrees, bilinear, fill, out);
  return output('rotate', img, out);
}

/**
 * Each image rotated by an angle drawn uniformly from [-degrees, degrees], or from [min, max]
 * (torchvision's RandomRotation). One draw per image.
 */
export function randomRotation(x: Tensor, degrees: number | readonly [number, number], options: RotateOptions & { generator?: Generator } = {}): Tensor {
  const [lo, hi] = typeof degrees === 'number' ? [-degrees, degrees] : Array.isArray(degrees) && degrees.length === 2 ? degrees : [NaN, NaN];
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || lo > hi) fail('randomRotation', `degrees must be a non-negative number or [min, max] with min <= max, got ${JSON.stringify(degrees)}`);
  const gen = options.generator ?? defaultGenerator;
  const { img, bilinear, fill, out } = rotateSetup('randomRotation', x, options);
  for (let i = 0; i < img.n; i++) rotateImage(img, i, lo + (hi - lo) * gen.nextFloat64(), bilinear, fill, out);
  return output('randomRotation', img, out);
}
