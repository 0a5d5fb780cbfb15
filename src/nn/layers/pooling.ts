// Pooling over height and width of NCHW input: MaxPool2D and AvgPool2D (Keras: poolSize 2,
// strides = poolSize, 'valid' or 'same'), their PyTorch spellings, and the global poolings.
// Keras' 'same' leaves padding out of both the max and the average's divisor (TensorFlow's
// rule); explicit integer padding follows PyTorch (-inf for max, zeros counted for the average).
import { fail, fmtShape } from '../../errors.js';
import { avgPool2d, cast, max, maxPool2d, mean, ones } from '../../ops/functions.js';
import { isFloat } from '../../tensor/dtype.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { ConfigReader, Json } from '../config.js';
import { Layer, type LayerOptions } from '../layer.js';
import { readLayerOptions } from './layer-config.js';
import { type AxisPlan, type Padding, type PaddingSpec, checkPadding, checkPair, padSpatial, paddingFromConfig, paddingJson, planAxes } from './padding.js';

export interface Pooling2DOptions extends LayerOptions {
  /** Defaults to poolSize. */
  strides?: number | [number, number];
  padding?: Padding;
}

abstract class Pooling2D extends Layer {
  readonly poolSize: [number, number];
  readonly strides: [number, number];
  readonly padding: PaddingSpec;

  constructor(poolSize: number | [number, number] = 2, options: Pooling2DOptions = {}) {
    super(options);
    this.poolSize = checkPair(this.name, 'poolSize', poolSize);
    this.strides = checkPair(this.name, 'strides', options.strides ?? this.poolSize);
    this.padding = checkPadding(this.name, options.padding ?? 'valid');
    const p = this.padding;
    if (Array.isArray(p) && (2 * p[0] > this.poolSize[0] || 2 * p[1] > this.poolSize[1])) {
      fail(this.name, `padding ${fmtShape(p)} must be at most half the pool size ${fmtShape(this.poolSize)}`);
    }
    if (this.inputShape) this.build(this.inputShape);
  }

  protected static readOptions(r: ConfigReader): [[number, number], Pooling2DOptions] {
    const base = readLayerOptions(r, ['poolSize', 'strides', 'padding']);
    const poolSize = r.pair('poolSize', 2);
    return [poolSize, { ...base, strides: r.pair('strides', poolSize), padding: paddingFromConfig(r) }];
  }

  protected plans(inputShape: readonly number[]): [AxisPlan, AxisPlan] {
    return planAxes(inputShape, this.poolSize, this.strides, [1, 1], this.padding);
  }

  computeOutputShape(inputShape: readonly number[]): number[] {
    if (inputShape.length !== 3) this.shapeError(inputShape, '[channels, height, width]');
    const [h, w] = this.plans(inputShape);
    if (h.out < 1 || w.out < 1) fail(this.name, `pool ${fmtShape(this.poolSize)} does not fit per-example input ${fmtShape(inputShape)} with padding ${JSON.stringify(paddingJson(this.padding))}`);
    return [inputShape[0], h.out, w.out];
  }

  forward(x: Tensor): Tensor {
    if (x.rank !== 4) fail(this.name, `expected input [batch, channels, height, width], got ${fmtShape(x.shape)}`);
    this.computeOutputShape(x.shape.slice(1));
    const [h, w] = this.plans(x.shape.slice(1));
    return this.pool(isFloat(x.dtype) ? x : cast(x, 'float32'), h, w);
  }

  protected abstract pool(x: Tensor, h: AxisPlan, w: AxisPlan): Tensor;

  override getConfig(): Record<string, Json> {
    return { ...super.getConfig(), poolSize: [...this.poolSize], strides: [...this.strides], padding: paddingJson(this.padding) };
  }
}

export class MaxPool2D extends Pooling2D {
  readonly type = 'maxpool2d';

  static fromConfig(r: ConfigReader): MaxPool2D {
    return new MaxPool2D(...Pooling2D.readOptions(r));
  }

  protected pool(x: Tensor, h: AxisPlan, w: AxisPlan): Tensor {
    // The op pads symmetrically with -inf; 'same' may need one more row or column after.
    if (this.padding === 'same') return maxPool2d(padSpatial(x, h, w, -Infinity), this.poolSize, { stride: this.strides });
    return maxPool2d(x, this.poolSize, this.opOptions(x.shape.slice(1))!);
  }

  /** maxPool2d's options for this per-example input shape; null for 'same', which pads by hand. */
  opOptions(inputShape: readonly number[]): { stride: [number, number]; padding: [number, number] } | null {
    if (this.padding === 'same') return null;
    const [h, w] = this.plans(inputShape);
    return { stride: this.strides, padding: [h.before, w.before] };
  }

  /** Whether a conv before it may run the two as one kernel (conv2dMaxPool): built, not 'same' (padded by hand), its forward not replaced. */
  get fusable(): boolean {
    return this.built && this.padding !== 'same' && this.forward === MaxPool2D.prototype.forward;
  }

  /** The fused kernel's pooling arguments for the conv's per-example output shape, after this layer's own check of it. */
  fusedArguments(convShape: readonly number[]): [[number, number], { stride: [number, number]; padding: [number, number] }] {
    this.computeOutputShape(convShape);
    return [this.poolSize, this.opOptions(convShape)!];
  }
}

export class AvgPool2D extends Pooling2D {
  readonly type = 'avgpool2d';

  static fromConfig(r: ConfigReader): AvgPool2D {
    return new AvgPool2D(...Pooling2D.readOptions(r));
  }

  protected pool(x: Tensor, h: AxisPlan, w: AxisPlan): Tensor {
    const options = { stride: this.strides };
    if (this.padding !== 'same') return avgPool2d(x, this.poolSize, { stride: this.strides, padding: [h.before, w.before] });
    const sums = avgPool2d(padSpatial(x, h, w), this.poolSize, options);
    if (h.before + h.after + w.before + w.after === 0) return sums;
    // The op divides by the whole window; the same pooling of ones gives the fraction of each
    // window inside the image, so the ratio divides by the count of real pixels, as Keras does.
    const inside = avgPool2d(padSpatial(ones([1, 1, x.shape[2], x.shape[3]], { dtype: x.dtype, backend: x.backend }), h, w), this.poolSize, options);
    return sums.div(inside);
  }
}

/** PyTorch's spelling: new MaxPool2d(kernelSize, { stride, padding }), padding an integer (-inf) by default 0. */
export class MaxPool2d extends MaxPool2D {
  constructor(kernelSize: number | [number, number], options: Omit<LayerOptions, 'inputShape'> & { stride?: number | [number, number]; padding?: number | [number, number] } = {}) {
    const { stride, padding, ...rest } = options;
    super(kernelSize, { ...rest, strides: stride, padding: padding ?? 0 });
  }
}

/** PyTorch's spelling: new AvgPool2d(kernelSize, { stride, padding }); padded zeros count in the divisor. */
export class AvgPool2d extends AvgPool2D {
  constructor(kernelSize: number | [number, number], options: Omit<LayerOptions, 'inputShape'> & { stride?: number | [number, number]; padding?: number | [number, number] } = {}) {
    const { stride, padding, ...rest } = options;
    super(kernelSize, { ...rest, strides: stride, padding: padding ?? 0 });
  }
}

export interface GlobalPooling2DOptions extends LayerOptions {
  /** Keep height and width as size-1 axes: [N, C, 1, 1] instead of [N, C]. */
  keepdims?: boolean;
}

abstract class GlobalPooling2D extends Layer {
  readonly keepdims: boolean;

  constructor(options: GlobalPooling2DOptions = {}) {
    super(options);
    this.keepdims = options.keepdims ?? false;
    if (this.inputShape) this.build(this.inputShape);
  }

  protected static readOptions(r: ConfigReader): GlobalPooling2DOptions {
    return { ...readLayerOptions(r, ['keepdims']), keepdims: r.bool('keepdims', false) };
  }

  computeOutputShape(inputShape: readonly number[]): number[] {
    if (inputShape.length !== 3) this.shapeError(inputShape, '[channels, height, width]');
    return this.keepdims ? [inputShape[0], 1, 1] : [inputShape[0]];
  }

  forward(x: Tensor): Tensor {
    if (x.rank !== 4) fail(this.name, `expected input [batch, channels, height, width], got ${fmtShape(x.shape)}`);
    this.computeOutputShape(x.shape.slice(1));
    return this.reduce(isFloat(x.dtype) ? x : cast(x, 'float32'));
  }

  protected abstract reduce(x: Tensor): Tensor;

  override getConfig(): Record<string, Json> {
    return { ...super.getConfig(), keepdims: this.keepdims };
  }
}

/** Mean over height and width: [N, C, H, W] -> [N, C]. */
export class GlobalAveragePooling2D extends GlobalPooling2D {
  readonly type = 'globalaveragepooling2d';

  static fromConfig(r: ConfigReader): GlobalAveragePooling2D {
    return new GlobalAveragePooling2D(GlobalPooling2D.readOptions(r));
  }

  protected reduce(x: Tensor): Tensor {
    return mean(x, [2, 3], this.keepdims);
  }
}

/** Max over height and width: [N, C, H, W] -> [N, C]. */
export class GlobalMaxPooling2D extends GlobalPooling2D {
  readonly type = 'globalmaxpooling2d';

  static fromConfig(r: ConfigReader): GlobalMaxPooling2D {
    return new GlobalMaxPooling2D(GlobalPooling2D.readOptions(r));
  }

  protected reduce(x: Tensor): Tensor {
    return max(x, [2, 3], this.keepdims);
  }
}
