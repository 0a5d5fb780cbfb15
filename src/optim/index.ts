// lt.optim: optimizers, learning-rate schedules, gradient clipping.
export { readOptimizerConfig } from './config.js';
export { Optimizer, type OptimizerOptions, type OptimizerConfig, type OptimizerState, type OptimizerClass, type Field, type Hyper } from './optimizer.js';
export { Adam, AdamW, type AdamOptions } from './adam.js';
export { SGD, type SGDOptions } from './sgd.js';
export { RMSprop, type RMSpropOptions } from './rmsprop.js';
export { OPTIMIZERS, OPTIMIZER_TYPES, optimizerFromConfig, getOptimizer } from './registry.js';
export { LearningRateSchedule, ExponentialDecay, StepDecay, CosineDecay, Warmup, SCHEDULE_TYPES, scheduleFromConfig, type ScheduleConfig } from './schedules.js';
export { clipGradNorm, clipGradValue } from './clip.js';
