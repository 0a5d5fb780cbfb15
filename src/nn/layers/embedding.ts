// Embedding (Keras, PyTorch): a trainable table [inputDim, outputDim] looked up by int32 indices
// of any shape, giving [..., outputDim]. The lookup is indexSelect, whose gradient adds rows back.
import { fail, fmtShape } from '../../errors.js';
import { indexSelect, reshape } from '../../ops/functions.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { ConfigReader, Json } from '../config.js';
import { initialize, initializerName } from '../init.js';
import { Layer, type LayerOptions } from '../layer.js';
import { readLayerOptions } from './layer-config.js';

export interface EmbeddingOptions extends LayerOptions {
  /** Keras' default: uniform in [-0.05, 0.05]. */
  embeddingsInitializer?: string;
}

export class Embedding extends Layer {
  readonly type = 'embedding';
  readonly inputDim: number;
  readonly outputDim: number;
  readonly embeddingsInitializer: string;
  embeddings!: Tensor;

  constructor(inputDim: number, outputDim: number, options: EmbeddingOptions = {}) {
    super(options);
    for (const [k, v] of [['inputDim', inputDim], ['outputDim', outputDim]] as const) {
      if (!Number.isInteger(v) || v < 1) fail(this.name, `${k} must be a positive integer, got ${JSON.stringify(v)}`);
    }
    this.inputDim = inputDim;
    this.outputDim = outputDim;
    this.embeddingsInitializer = initializerName(options.embeddingsInitializer ?? 'randomUniform');
    // The table's shape does not depend on the input's, so it exists from the start, as in PyTorch.
    const fans = { fanIn: inputDim, fanOut: outputDim };
    this.addParameter('embeddings', initialize(this.embeddingsInitializer, [inputDim, outputDim], fans, { generator: this.generator, dtype: this.dtype })).name = `${this.name}.embeddings`;
    if (this.inputShape) this.build(this.inputShape);
  }

  static fromConfig(r: ConfigReader): Embedding {
    const base = readLayerOptions(r, ['inputDim', 'outputDim', 'embeddingsInitializer']);
    return new Embedding(r.positiveInt('inputDim'), r.positiveInt('outputDim'), { ...base, embeddingsInitializer: r.string('embeddingsInitializer', 'randomUniform') });
  }

  computeOutputShape(inputShape: readonly number[]): number[] {
    return [...inputShape, this.outputDim];
  }

  forward(x: Tensor): Tensor {
    if (x.dtype !== 'int32') fail(this.name, `expected int32 indices, got ${x.dtype} ${fmtShape(x.shape)} (cast token ids with .cast('int32'))`);
    const ids = x.dataSync();
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] < 0 || ids[i] >= this.inputDim) fail(this.name, `index ${ids[i]} at flat position ${i} of input ${fmtShape(x.shape)} is out of range [0, ${this.inputDim})`);
    }
    const rows = indexSelect(this.embeddings, 0, reshape(x, [x.size]));
    return reshape(rows, [...x.shape, this.outputDim]);
  }

  override getConfig(): Record<string, Json> {
    return { ...super.getConfig(), inputDim: this.inputDim, outputDim: this.outputDim, embeddingsInitializer: this.embeddingsInitializer };
  }
}
