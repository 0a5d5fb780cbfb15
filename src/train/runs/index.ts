// Run folders: the contract (run-format), writing them while training, reading them back.
export * from './run-format.js';
export { parseMetricsText, readMetricsFile, type MetricsLog } from './metrics-file.js';
export { RunWriter, prepareRunFolder, runEnvironment } from './run-writer.js';
export { writeRunEvaluation, type RunEvaluationOptions } from './evaluation.js';
export { bestEpoch, isRunFolder, listRuns, processAlive, readRun, summaryFromMetrics, type Run } from './read-runs.js';
