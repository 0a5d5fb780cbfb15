// Learned absolute position embeddings (GPT-2's wpe): a trainable table [sequenceLength, C] whose
// rows 0..T-1 are added to an input [B, T, C]. addAt(x, offset) adds rows offset..offset+T-1, for
// the new tokens of a decoding step that follow `offset` cached ones.
import { fail, fmtShape } from '../../errors.js';
import { narrow } from '../../ops/functions.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { ConfigReader, Json } from '../config.js';
import { initialize, initializerName } from '../init.js';
import { Layer, type LayerOptions } from '../layer.js';
import { readLayerOptions } from './layer-config.js';

export interface PositionEmbeddingOptions extends LayerOptions {
  /** Default: Keras' randomUniform, as Embedding's. */
  embeddingsInitializer?: string;
}

export class PositionEmbedding extends Layer {
  readonly type = 'positionembedding';
  /** The longest sequence it has positions for: the model's context (block size). */
  readonly sequenceLength: number;
  readonly outputDim: number;
  readonly embeddingsInitializer: string;
  embeddings!: Tensor;

  constructor(sequenceLength: number, outputDim: number, options: PositionEmbeddingOptions = {}) {
    super(options);
    for (const [k, v] of [['sequenceLength', sequenceLength], ['outputDim', outputDim]] as const) {
      if (!Number.isInteger(v) || v < 1) fail(this.name, `${k} must be a positive integer, got ${JSON.stringify(v)}`);
    }
    this.sequenceLength = sequenceLength;
    this.outputDim = outputDim;
    this.embeddingsInitializer = initializerName(options.embeddingsInitializer ?? 'randomUniform');
    const fans = { fanIn: sequenceLength, fanOut: outputDim };
    this.addParameter('embeddings', initialize(this.embeddingsInitializer, [sequenceLength, outputDim], fans, { generator: this.generator, dtype: this.dtype })).name = `${this.name}.embeddings`;
    this.built = true;
  }

  static fromConfig(r: ConfigReader): PositionEmbedding {
    const base = readLayerOptions(r, ['sequenceLength', 'outputDim', 'embeddingsInitializer']);
    return new PositionEmbedding(r.positiveInt('sequenceLength'), r.positiveInt('outputDim'), { ...base, embeddingsInitializer: r.string('embeddingsInitializer', 'randomUniform') });
  }

  computeOutputShape(inputShape: readonly number[]): number[] {
    if (inputShape.length !== 2 || inputShape[1] !== this.outputDim || inputShape[0] > this.sequenceLength) {
      this.shapeError(inputShape, `[time <= ${this.sequenceLength}, ${this.outputDim}]`);
    }
    return [...inputShape];
  }

  override build(inputShape: readonly number[]): void {
    this.computeOutputShape(inputShape);
    this.built = true;
  }

  forward(x: Tensor): Tensor {
    return this.addAt(x, 0);
  }

  /** x [B, T, C] plus the position vectors offset..offset+T-1. */
  addAt(x: Tensor, offset: number): Tensor {
    if (x.rank !== 3 || x.shape[2] !== this.outputDim) fail(this.name, `expected input [batch, time, ${this.outputDim}], got ${fmtShape(x.shape)}`);
    const T = x.shape[1];
    if (!Number.isInteger(offset) || offset < 0 || offset + T > this.sequenceLength) {
      fail(this.name, `positions ${offset}..${offset + T - 1} are beyond the ${this.sequenceLength} this model has (its context length)`);
    }
    const rows = offset === 0 && T === this.sequenceLength ? this.embeddings : narrow(this.embeddings, 0, offset, T);
    return x.add(rows);
  }

  override getConfig(): Record<string, Json> {
    return { ...super.getConfig(), sequenceLength: this.sequenceLength, outputDim: this.outputDim, embeddingsInitializer: this.embeddingsInitializer };
  }
}
