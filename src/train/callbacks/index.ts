// lt.callbacks: hooks into fit().
export { Callback, type Logs, type StepInfo } from './callback.js';
export { EarlyStopping, Monitor, type MonitorOptions } from './early-stopping.js';
export { ModelCheckpoint, BackupAndRestore } from './checkpoint.js';
export { NanGuard, NonFiniteError } from './nan-guard.js';
export { JsonLinesLogger, CsvLogger, StepLogger } from './loggers.js';
export { ReduceLROnPlateau } from './reduce-lr.js';
export { ProgressLogger } from './progress.js';
