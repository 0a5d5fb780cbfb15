// Dense (Keras) / Linear (PyTorch): y = act(x W + b) on the last axis. The kernel is [in, out],
// Keras' layout, so the forward is one GEMM and the bias+activation one fused kernel.
import { fail, fmtShape } from '../../errors.js';
import { linear, matmul, rescale, rescaledLinear } from '../../ops/functions.js';
import type { Tensor } from '../../tensor/tensor.js';
import { ACTIVATIONS, activationName, kernelActivation } from '../activations.js';
import type { ConfigReader, Json } from '../config.js';
import { initialize, initializerName } from '../init.js';
import { Layer, type LayerOptions } from '../layer.js';
import { readLayerOptions } from './layer-config.js';

export interface DenseOptions extends LayerOptions {
  activation?: string;
  useBias?: boolean;
  kernelInitializer?: string;
  biasInitializer?: string;
}

export class Dense extends Layer {
  readonly type = 'dense';
  readonly units: number;
  readonly activation: string;
  readonly useBias: boolean;
  readonly kernelInitializer: string;
  readonly biasInitializer: string;
  kernel!: Tensor;
  bias: Tensor | null = null;

  constructor(units: number, options: DenseOptions = {}) {
    super(options);
    if (!Number.isInteger(units) || units < 1) fail(this.name, `units must be a positive integer, got ${JSON.stringify(units)}`);
    this.units = units;
    this.activation = activationName(options.activation ?? 'linear', this.name);
    this.useBias = options.useBias ?? true;
    this.kernelInitializer = initializerName(options.kernelInitializer ?? 'glorotUniform', `${this.name}: kernelInitializer`);
    this.biasInitializer = initializerName(options.biasInitializer ?? 'zeros', `${this.name}: biasInitializer`);
    if (this.inputShape) this.build(this.inputShape);
  }

  static fromConfig(r: ConfigReader): Dense {
    const base = readLayerOptions(r, ['units', 'activation', 'useBias', 'kernelInitializer', 'biasInitializer']);
    return new Dense(r.positiveInt('units'), {
      activation: r.has('activation') ? r.string('activation') : undefined,
      useBias: r.bool('useBias', true),
      kernelInitializer: r.string('kernelInitializer', 'glorotUniform'),
      biasInitializer: r.string('biasInitializer', 'zeros'),
      ...base,
    });
  }

  computeOutputShape(inputShape: readonly number[]): number[] {
    if (inputShape.length < 1) this.shapeError(inputShape, 'with at least one axis (features)');
    if (this.built && inputShape[inputShape.length - 1] !== this.kernel.shape[0]) {
      this.shapeError(inputShape, `with ${this.kernel.shape[0]} features on the last axis`);
    }
    return [...inputShape.slice(0, -1), this.units];
  }

  override build(inputShape: readonly number[]): void {
    const fanIn = inputShape[inputShape.length - 1];
    const fans = { fanIn, fanOut: this.units };
    this.addParameter('kernel', initialize(this.kernelInitializer, [fanIn, this.units], fans, { generator: this.generator, dtype: this.dtype })).name = `${this.name}.kernel`;
    if (this.useBias) this.addParameter('bias', initialize(this.biasInitializer, [this.units], fans, { generator: this.generator, dtype: this.dtype })).name = `${this.name}.bias`;
    super.build(inputShape);
  }

  forward(x: Tensor): Tensor {
    return this.project(x);
  }

  /**
   * this.call(rescale(x, scale, offset)), for Rescaling.fuseWith at inference: one kernel where
   * the backend rescales x (uint8 pixels, say) block by block as its GEMM reaches it.
   */
  rescaledForward(x: Tensor, scale: number, offset: number): Tensor {
    if (this.forward !== Dense.prototype.forward) return this.call(rescale(x, scale, offset)); // a subclass's own forward
    if (!this.built) this.build(x.shape.slice(1));
    return this.project(x, { scale, offset });
  }

  private project(x: Tensor, rescaling?: { scale: number; offset: number }): Tensor {
    const features = this.kernel.shape[0];
    if (x.shape[x.rank - 1] !== features) fail(this.name, `expected ${features} features on the last axis, got input ${fmtShape(x.shape)}`);
    if (!this.bias) return ACTIVATIONS[this.activation](matmul(rescaling ? rescale(x, rescaling.scale, rescaling.offset) : x, this.kernel));
    // One kernel for the product, bias and activation at inference (the linear op); with
    // gradients recorded, matmul then biasActivation.
    const fused = kernelActivation(this.activation);
    const activation = fused ?? 'linear';
    const y = rescaling ? rescaledLinear(x, rescaling.scale, rescaling.offset, this.kernel, this.bias, activation) : linear(x, this.kernel, this.bias, activation);
    return fused ? y : ACTIVATIONS[this.activation](y);
  }

  override getConfig(): Record<string, Json> {
    return { ...super.getConfig(), units: this.units, activation: this.activation, useBias: this.useBias, kernelInitializer: this.kernelInitializer, biasInitializer: this.biasInitializer };
  }
}

/** PyTorch's spelling: new Linear(inFeatures, outFeatures). */
export class Linear extends Dense {
  constructor(inFeatures: number, outFeatures: number, options: Omit<DenseOptions, 'inputShape'> = {}) {
    super(outFeatures, { ...options, inputShape: [inFeatures] });
  }
}
