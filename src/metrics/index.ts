// lt.metrics: Keras-style streaming metrics and the registry compile() resolves names with.
export { Metric, RatioMetric, Mean } from './metric.js';
export { SparseCategoricalAccuracy, CategoricalAccuracy, BinaryAccuracy, SparseTopKCategoricalAccuracy, TopKCategoricalAccuracy } from './accuracy.js';
export { Precision, Recall, F1Score, ConfusionMatrix, type ThresholdOptions } from './classification.js';
export { MeanSquaredError, MeanAbsoluteError } from './regression.js';
export { getMetric, METRIC_NAMES, type GetMetricOptions } from './registry.js';
