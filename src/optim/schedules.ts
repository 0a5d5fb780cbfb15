// Learning-rate schedules: the rate as a function of the optimizer's step count (`iterations`,
// the steps already taken), evaluated by the optimizer before each step, as Keras does. Each
// has a JSON config so a saved optimizer can rebuild it (scheduleFromConfig).
import { fail } from '../errors.js';
import { ConfigReader, type Json } from '../nn/config.js';

export type ScheduleConfig = { type: string } & { [k: string]: Json };

export abstract class LearningRateSchedule {
  abstract readonly type: string;
  /** The learning rate for the step that follows `step` steps already taken. */
  abstract at(step: number): number;
  abstract getConfig(): ScheduleConfig;

  protected checkStep(step: number): void {
    if (!(Number.isFinite(step) && step >= 0)) fail(`${this.constructor.name}.at`, `step must be a number >= 0, got ${step}`);
  }
}

function check(where: string, key: string, v: unknown, ok: (x: number) => boolean, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) fail(where, `${key} must be ${what}, got ${JSON.stringify(v) ?? 'nothing'}`);
  return v;
}
const nonNegative = (where: string, key: string, v: unknown) => check(where, key, v, (x) => x >= 0, 'a number >= 0');
const positive = (where: string, key: string, v: unknown) => check(where, key, v, (x) => x > 0, 'a number > 0');

/** Keras ExponentialDecay: initial * decayRate^(step / decaySteps), the exponent floored when staircase. */
export class ExponentialDecay extends LearningRateSchedule {
  readonly type = 'exponentialDecay';
  readonly initialLearningRate: number;
  readonly decaySteps: number;
  readonly decayRate: number;
  readonly staircase: boolean;

  constructor(options: { initialLearningRate: number; decaySteps: number; decayRate: number; staircase?: boolean }) {
    super();
    this.initialLearningRate = nonNegative('ExponentialDecay', 'initialLearningRate', options.initialLearningRate);
    this.decaySteps = positive('ExponentialDecay', 'decaySteps', options.decaySteps);
    this.decayRate = positive('ExponentialDecay', 'decayRate', options.decayRate);
    this.staircase = options.staircase ?? false;
  }

  at(step: number): number {
    this.checkStep(step);
    const p = step / this.decaySteps;
    return this.initialLearningRate * this.decayRate ** (this.staircase ? Math.floor(p) : p);
  }

  getConfig(): ScheduleConfig {
    return { type: this.type, initialLearningRate: this.initialLearningRate, decaySteps: this.decaySteps, decayRate: this.decayRate, staircase: this.staircase };
  }
}

/**
 * PyTorch StepLR: initial * gamma^floor(step / stepSize). Steps here are optimizer steps, not
 * epochs (PyTorch counts scheduler.step() calls): for "every 30 epochs" use 30 * batches per epoch.
 */
export class StepDecay extends LearningRateSchedule {
  readonly type = 'stepDecay';
  readonly initialLearningRate: number;
  readonly stepSize: number;
  readonly gamma: number;

  constructor(options: { initialLearningRate: number; stepSize: number; gamma?: number }) {
    super();
    this.initialLearningRate = nonNegative('StepDecay', 'initialLearningRate', options.initialLearningRate);
    this.stepSize = check('StepDecay', 'stepSize', options.stepSize, (x) => Number.isInteger(x) && x >= 1, 'a positive integer');
    this.gamma = nonNegative('StepDecay', 'gamma', options.gamma ?? 0.1);
  }

  at(step: number): number {
    this.checkStep(step);
    return this.initialLearningRate * this.gamma ** Math.floor(step / this.stepSize);
  }

  getConfig(): ScheduleConfig {
    return { type: this.type, initialLearningRate: this.initialLearningRate, stepSize: this.stepSize, gamma: this.gamma };
  }
}

/**
 * Keras CosineDecay (Loshchilov & Hutter's SGDR without restarts): from `from` down to
 * alpha * from over decaySteps by from * ((1 - alpha) * (1 + cos(pi * s / decaySteps)) / 2 + alpha),
 * then flat. With warmupTarget, it first rises linearly from initialLearningRate to warmupTarget
 * over warmupSteps and decays from warmupTarget after (s counted from the warmup's end).
 */
export class CosineDecay extends LearningRateSchedule {
  readonly type = 'cosineDecay';
  readonly initialLearningRate: number;
  readonly decaySteps: number;
  readonly alpha: number;
  readonly warmupTarget: number | null;
  readonly warmupSteps: number;

  constructor(options: { initialLearningRate: number; decaySteps: number; alpha?: number; warmupTarget?: number | null; warmupSteps?: number }) {
    super();
    this.initialLearningRate = nonNegative('CosineDecay', 'initialLearningRate', options.initialLearningRate);
    this.decaySteps = positive('CosineDecay', 'decaySteps', options.decaySteps);
    this.alpha = check('CosineDecay', 'alpha', options.alpha ?? 0, (x) => x >= 0 && x <= 1, 'a number in [0, 1]');
    this.warmupTarget = options.warmupTarget == null ? null : nonNegative('CosineDecay', 'warmupTarget', options.warmupTarget);
    this.warmupSteps = nonNegative('CosineDecay', 'warmupSteps', options.warmupSteps ?? 0);
    if (this.warmupSteps > 0 && this.warmupTarget === null) fail('CosineDecay', 'warmupSteps needs warmupTarget (the rate the warmup rises to)');
  }

  at(step: number): number {
    this.checkStep(step);
    const decay = (s: number, from: number) => from * ((1 - this.alpha) * 0.5 * (1 + Math.cos((Math.PI * s) / this.decaySteps)) + this.alpha);
    if (this.warmupTarget === null) return decay(Math.min(step, this.decaySteps), this.initialLearningRate);
    const s = Math.min(step, this.decaySteps + this.warmupSteps);
    if (s < this.warmupSteps) return (this.warmupTarget - this.initialLearningRate) * (s / this.warmupSteps) + this.initialLearningRate;
    return decay(s - this.warmupSteps, this.warmupTarget);
  }

  getConfig(): ScheduleConfig {
    return { type: this.type, initialLearningRate: this.initialLearningRate, decaySteps: this.decaySteps, alpha: this.alpha, warmupTarget: this.warmupTarget, warmupSteps: this.warmupSteps };
  }
}

/**
 * Linear warmup in front of another schedule (or a constant rate): for step < warmupSteps the
 * rate rises from initialLearningRate to the inner schedule's first rate, inner.at(0); after,
 * it is inner.at(step - warmupSteps), so the inner schedule starts when the warmup ends (as
 * Keras CosineDecay's own warmup does).
 */
export class Warmup extends LearningRateSchedule {
  readonly type = 'warmup';
  readonly schedule: LearningRateSchedule | number;
  readonly warmupSteps: number;
  readonly initialLearningRate: number;

  constructor(schedule: LearningRateSchedule | number, options: { warmupSteps: number; initialLearningRate?: number }) {
    super();
    if (!(schedule instanceof LearningRateSchedule)) nonNegative('Warmup', 'schedule', schedule);
    this.schedule = schedule;
    this.warmupSteps = check('Warmup', 'warmupSteps', options.warmupSteps, (x) => Number.isInteger(x) && x >= 1, 'a positive integer');
    this.initialLearningRate = nonNegative('Warmup', 'initialLearningRate', options.initialLearningRate ?? 0);
  }

  private inner(step: number): number {
    return typeof this.schedule === 'number' ? this.schedule : this.schedule.at(step);
  }

  at(step: number): number {
    this.checkStep(step);
    if (step >= this.warmupSteps) return this.inner(step - this.warmupSteps);
    return this.initialLearningRate + (this.inner(0) - this.initialLearningRate) * (step / this.warmupSteps);
  }

  getConfig(): ScheduleConfig {
    const inner = typeof this.schedule === 'number' ? this.schedule : this.schedule.getConfig();
    return { type: this.type, schedule: inner, warmupSteps: this.warmupSteps, initialLearningRate: this.initialLearningRate };
  }
}

const SCHEDULES: Record<string, (r: ConfigReader) => LearningRateSchedule> = {
  exponentialDecay: (r) => {
    r.rejectUnknown(['type', 'initialLearningRate', 'decaySteps', 'decayRate', 'staircase']);
    return new ExponentialDecay({ initialLearningRate: r.number('initialLearningRate', undefined, [0, Infinity]), decaySteps: r.number('decaySteps', undefined, [Number.MIN_VALUE, Infinity]), decayRate: r.number('decayRate', undefined, [Number.MIN_VALUE, Infinity]), staircase: r.bool('staircase', false) });
  },
  stepDecay: (r) => {
    r.rejectUnknown(['type', 'initialLearningRate', 'stepSize', 'gamma']);
    return new StepDecay({ initialLearningRate: r.number('initialLearningRate', undefined, [0, Infinity]), stepSize: r.positiveInt('stepSize'), gamma: r.number('gamma', 0.1, [0, Infinity]) });
  },
  cosineDecay: (r) => {
    r.rejectUnknown(['type', 'initialLearningRate', 'decaySteps', 'alpha', 'warmupTarget', 'warmupSteps']);
    return new CosineDecay({
      initialLearningRate: r.number('initialLearningRate', undefined, [0, Infinity]),
      decaySteps: r.number('decaySteps', undefined, [Number.MIN_VALUE, Infinity]),
      alpha: r.number('alpha', 0, [0, 1]),
      warmupTarget: r.obj.warmupTarget === null || !r.has('warmupTarget') ? null : r.number('warmupTarget', undefined, [0, Infinity]),
      warmupSteps: r.number('warmupSteps', 0, [0, Infinity]),
    });
  },
  warmup: (r) => {
    r.rejectUnknown(['type', 'schedule', 'warmupSteps', 'initialLearningRate']);
    const inner = typeof r.obj.schedule === 'object' && r.obj.schedule !== null ? scheduleFromConfig(r.obj.schedule, `${r.where}.schedule`) : r.number('schedule', undefined, [0, Infinity]);
    return new Warmup(inner, { warmupSteps: r.positiveInt('warmupSteps'), initialLearningRate: r.number('initialLearningRate', 0, [0, Infinity]) });
  },
};

export const SCHEDULE_TYPES: readonly string[] = Object.keys(SCHEDULES);

/** Builds a schedule from its config; `where` names it in errors: config.optimizer.lr. */
export function scheduleFromConfig(config: unknown, where = 'schedule'): LearningRateSchedule {
  const r = new ConfigReader(where, config as Record<string, unknown>);
  const type = r.string('type');
  const make = Object.hasOwn(SCHEDULES, type) ? SCHEDULES[type] : undefined;
  if (!make) fail(where, `unknown schedule type ${JSON.stringify(type)} (expected one of ${SCHEDULE_TYPES.join(', ')})`);
  return make(new ConfigReader(`${where} (${type})`, r.obj));
}
