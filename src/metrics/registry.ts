// Metrics by name, as compile({ metrics: ['accuracy'] }) takes them. 'accuracy' and 'top_k'
// resolve from the loss, as Keras does; without a telling loss, from the first batch's shapes.
import { fail } from '../errors.js';
import { getLoss, lossName, type Loss, type LossFn } from '../nn/losses.js';
import type { Tensor } from '../tensor/tensor.js';
import { BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, SparseTopKCategoricalAccuracy, TopKCategoricalAccuracy } from './accuracy.js';
import { ConfusionMatrix, F1Score, Precision, Recall } from './classification.js';
import { Metric, checkTensors } from './metric.js';
import { MeanAbsoluteError, MeanSquaredError } from './regression.js';

export interface GetMetricOptions {
  /** The loss the model trains with: a Loss, or anything getLoss takes. */
  loss?: Loss | string | Record<string, unknown> | LossFn;
  /** For 'confusion_matrix'; else the first batch's predictions fix it. */
  numClasses?: number;
}

/**
 * Keras 3's rule (compile_utils.get_metric) for when the loss does not say: one output is
 * binary; labels of lower rank than yPred, or [..., 1] against C > 1 scores, are sparse.
 */
function kindFromShapes(yTrue: Tensor, yPred: Tensor): 'binary' | 'sparse' | 'categorical' {
  const last = (x: Tensor) => x.shape[x.rank - 1];
  if (last(yPred) === 1) return 'binary';
  return yTrue.rank < yPred.rank || (last(yTrue) === 1 && last(yPred) > 1) ? 'sparse' : 'categorical';
}

/** A metric whose kind the first update's shapes decide; it keeps that kind across resets. */
class ShapeResolvedMetric extends Metric {
  private inner: Metric | undefined;

  constructor(name: string, private readonly choose: (kind: ReturnType<typeof kindFromShapes>) => Metric) {
    super(name);
  }

  override update(yTrue: Tensor, yPred: Tensor, sampleWeight?: Tensor): void {
    if (!this.inner) {
      checkTensors(this.name, yTrue, yPred);
      if (yPred.rank === 0 || yTrue.rank === 0) fail(this.name, 'yTrue and yPred must have at least one axis');
      this.inner = this.choose(kindFromShapes(yTrue, yPred));
    }
    this.inner.update(yTrue, yPred, sampleWeight);
  }

  override result(): number | number[][] {
    return this.inner ? this.inner.result() : 0;
  }

  override reset(): void {
    this.inner?.reset();
  }
}

type Kind = 'binary' | 'sparse' | 'categorical';

function lossKind(loss: GetMetricOptions['loss']): { kind: Kind | undefined; fromLogits: boolean } {
  // A custom loss (a function, or a function's name as Loss.name gives it) says nothing.
  if (loss === undefined || typeof loss === 'function' || (typeof loss === 'string' && !lossName(loss))) return { kind: undefined, fromLogits: false };
  const l = getLoss(loss);
  const kind = ({ binaryCrossentropy: 'binary', sparseCategoricalCrossentropy: 'sparse', categoricalCrossentropy: 'categorical' } as const)[l.name as 'binaryCrossentropy'];
  return { kind, fromLogits: l.fromLogits ?? false };
}

function accuracy(name: string, kind: Kind, fromLogits: boolean): Metric {
  // Keras leaves the threshold at 0.5 even for logits, where it means p > 0.62; 0 is the same cut as p > 0.5.
  if (kind === 'binary') return new BinaryAccuracy({ name, threshold: fromLogits ? 0 : 0.5 });
  return kind === 'sparse' ? new SparseCategoricalAccuracy({ name }) : new CategoricalAccuracy({ name });
}

function topK(name: string, kind: Kind): Metric {
  if (kind === 'binary') fail(name, 'top-k accuracy needs class scores [batch, classes], not a single output');
  return kind === 'sparse' ? new SparseTopKCategoricalAccuracy({ name }) : new TopKCategoricalAccuracy({ name });
}

type Factory = (name: string, o: GetMetricOptions) => Metric;

/** Resolves from the loss, else from the first batch's shapes. */
function byLoss(make: (name: string, kind: Kind, fromLogits: boolean) => Metric): Factory {
  return (name, o) => {
    const { kind, fromLogits } = lossKind(o.loss);
    return kind ? make(name, kind, fromLogits) : new ShapeResolvedMetric(name, (k) => make(name, k, fromLogits));
  };
}

// Keras' identifiers give Keras' default names (Keras 3 logs 'mse' as 'mean_squared_error');
// 'accuracy', 'acc' and our shorthands 'top_k' and 'f1' keep the name they were asked by.
const FACTORIES: Record<string, Factory> = {
  accuracy: byLoss(accuracy),
  acc: byLoss(accuracy),
  top_k: byLoss(topK),
  sparse_categorical_accuracy: () => new SparseCategoricalAccuracy(),
  categorical_accuracy: () => new CategoricalAccuracy(),
  binary_accuracy: (_n, o) => accuracy('binary_accuracy', 'binary', lossKind(o.loss).fromLogits),
  top_k_categorical_accuracy: () => new TopKCategoricalAccuracy(),
  sparse_top_k_categorical_accuracy: () => new SparseTopKCategoricalAccuracy(),
  precision: () => new Precision(),
  recall: () => new Recall(),
  f1_score: () => new F1Score(),
  f1: () => new F1Score({ name: 'f1' }),
  mean_squared_error: () => new MeanSquaredError(),
  mse: () => new MeanSquaredError(),
  mean_absolute_error: () => new MeanAbsoluteError(),
  mae: () => new MeanAbsoluteError(),
  confusion_matrix: (_n, o) => new ConfusionMatrix(o.numClasses),
};

export const METRIC_NAMES: readonly string[] = Object.keys(FACTORIES);

/** snake_case, camelCase and class names (SparseCategoricalAccuracy) fold to one key. */
const fold = (name: string) => name.replace(/_/g, '').toLowerCase();
const BY_KEY = new Map(METRIC_NAMES.map((n) => [fold(n), n]));

/** A Metric from a name ('accuracy', 'sparse_categorical_accuracy', 'f1', 'mse', ...) or a Metric (returned as is). */
export function getMetric(metric: string | Metric, options: GetMetricOptions = {}): Metric {
  if (metric instanceof Metric) return metric;
  const key = typeof metric === 'string' ? BY_KEY.get(fold(metric)) : undefined;
  if (key === undefined) fail('metric', `unknown metric ${JSON.stringify(metric)} (expected one of: ${METRIC_NAMES.join(', ')}, or their camelCase)`);
  return FACTORIES[key](metric as string, options);
}
