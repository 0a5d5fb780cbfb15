// Flatten and Reshape (Keras): per-example layout changes that keep the batch axis. Both are
// reshapes of contiguous storage, so they cost no copy.
import { fail, fmtShape } from '../../errors.js';
import { reshape } from '../../ops/functions.js';
import { sizeOf } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { ConfigReader, Json } from '../config.js';
import { Layer, type LayerOptions } from '../layer.js';
import { readLayerOptions } from './layer-config.js';

/** [N, d1, d2, ...] -> [N, d1*d2*...]; a per-example scalar becomes [N, 1], as in Keras. */
export class Flatten extends Layer {
  readonly type = 'flatten';

  constructor(options: LayerOptions = {}) {
    super(options);
    if (this.inputShape) this.build(this.inputShape);
  }

  static fromConfig(r: ConfigReader): Flatten {
    return new Flatten(readLayerOptions(r, []));
  }

  computeOutputShape(inputShape: readonly number[]): number[] {
    return [sizeOf(inputShape)];
  }

  forward(x: Tensor): Tensor {
    if (x.rank < 1) fail(this.name, `expected input with a batch axis, got a scalar`);
    return reshape(x, [x.shape[0], sizeOf(x.shape.slice(1))]);
  }
}

/** Per-example reshape to targetShape (without the batch axis); one entry may be -1, inferred. */
export class Reshape extends Layer {
  readonly type = 'reshape';
  readonly targetShape: number[];

  constructor(targetShape: readonly number[], options: LayerOptions = {}) {
    super(options);
    if (!Array.isArray(targetShape) || targetShape.some((d) => !Number.isInteger(d) || (d < 1 && d !== -1)) || targetShape.filter((d) => d === -1).length > 1) {
      fail(this.name, `targetShape must be an array of positive integers with at most one -1, got ${JSON.stringify(targetShape)}`);
    }
    this.targetShape = [...targetShape];
    if (this.inputShape) this.build(this.inputShape);
  }

  static fromConfig(r: ConfigReader): Reshape {
    const base = readLayerOptions(r, ['targetShape']);
    // Keras' saved configs may spell the inferred axis null.
    return new Reshape(r.shape('targetShape', true).map((d) => d ?? -1), base);
  }

  computeOutputShape(inputShape: readonly number[]): number[] {
    const n = sizeOf(inputShape);
    const inferred = this.targetShape.indexOf(-1);
    const known = sizeOf(this.targetShape.filter((d) => d !== -1));
    const out = [...this.targetShape];
    if (inferred >= 0 && known > 0 && n % known === 0) out[inferred] = n / known;
    if (sizeOf(out) !== n || out.includes(-1)) {
      fail(this.name, `cannot reshape per-example shape ${fmtShape(inputShape)} (${n} elements) into ${fmtShape(this.targetShape)} (${inferred >= 0 ? `a multiple of ${known}` : known} elements)`);
    }
    return out;
  }

  forward(x: Tensor): Tensor {
    if (x.rank < 1) fail(this.name, `expected input with a batch axis, got a scalar`);
    return reshape(x, [x.shape[0], ...this.computeOutputShape(x.shape.slice(1))]);
  }

  override getConfig(): Record<string, Json> {
    return { ...super.getConfig(), targetShape: [...this.targetShape] };
  }
}
