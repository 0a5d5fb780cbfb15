// The run folder's contract (runs/<id>/), shared by the writer (`lathe train`), the readers
// (`lathe runs`, `lathe compare`) and the dashboard: run.json, config.json, metrics.jsonl,
// evaluation.json, misclassified.json (+ misclassified/*.png), samples.jsonl (language models), model/, checkpoints/.
// Fields may be added; none may be renamed or dropped (format 1).

export const RUN_FORMAT = 1;

export type RunStatus = 'running' | 'finished' | 'failed' | 'stopped';

/** A flat table of scalars, so two runs compare key by key. */
export type Flat = Record<string, string | number | boolean | null>;

/** The final figures of a run; null where the run has none (no validation, no test split). */
export interface RunSummary {
  loss: number | null;
  accuracy: number | null;
  val_loss: number | null;
  val_accuracy: number | null;
  test_loss: number | null;
  test_accuracy: number | null;
  epochs: number;
  median_epoch_seconds: number | null;
  peak_rss_mb: number | null;
  [extra: string]: unknown;
}

/** run.json: written when the run starts (status "running") and again when it ends. */
export interface RunRecord {
  format: number;
  id: string;
  /** The config file's basename, without .json. */
  name: string;
  status: RunStatus;
  started: string;
  ended: string | null;
  pid: number;
  hyperparameters: Flat;
  env: { lathe: string; node: string; backend: string; threads: number; cpu: string; platform: string; [extra: string]: unknown };
  summary: RunSummary | null;
  /** Why a "failed" run failed. */
  error?: string;
  [extra: string]: unknown;
}

/** metrics.jsonl, every `logEvery` batches: the mean training loss of those batches. */
export interface StepRecord {
  kind: 'step';
  /** Global batch number, from 1 (it continues across a resume). */
  step: number;
  /** 1-based. */
  epoch: number;
  loss: number;
  /** Seconds since the run started. */
  time: number;
}

/** metrics.jsonl, once per epoch: the epoch's figures as fit() logs them (loss, accuracy, val_*...). */
export interface EpochRecord {
  kind: 'epoch';
  /** 1-based. */
  epoch: number;
  seconds: number;
  lr?: number;
  time?: number;
  [metric: string]: number | string | undefined;
}

/**
 * metrics.jsonl, a language model's evaluation every evalInterval steps: the mean training loss
 * since the previous one and the loss on evalIterations random validation batches (null without
 * a validation split).
 */
export interface EvalRecord {
  kind: 'eval';
  /** The optimizer step evaluated after, from 1. */
  step: number;
  loss: number;
  val_loss: number | null;
  lr: number;
  ms_per_iter: number;
  time: number;
}

/** samples.jsonl, one line per evaluation of a language model: text sampled from `prompt`. */
export interface SampleRecord {
  step: number;
  prompt: string;
  text: string;
  time: number;
}

/** evaluation.json: the final model on the test split (or the validation data when there is none). */
export interface Evaluation {
  split: 'test' | 'validation';
  /** How many examples were evaluated (the confusion matrix sums to it). */
  examples: number;
  loss: number;
  metrics: Record<string, number>;
  classNames: string[];
  /** Rows are the true class, columns the predicted one. */
  confusion: { labels: string[]; matrix: number[][] };
}

/** One entry of misclassified.json (a JSON array, most confident mistakes first). */
export interface MisclassifiedExample {
  /** The example's index in the evaluated split. */
  index: number;
  /** Class indices; labelName and predictedName are their classNames. */
  label: number;
  predicted: number;
  labelName: string;
  predictedName: string;
  /** The predicted class's probability. */
  confidence: number;
  /** Relative to the run folder: misclassified/<index>.png. */
  image: string;
  /** explanations/<index>.png: integrated gradients of the predicted class over the image (why it said `predicted`); absent when none was drawn. */
  explanation?: string;
}

/** The id `lathe train` gives a run: the config's name and the start time, safe as a folder name. */
export function runId(name: string, started: Date): string {
  return `${name}-${started.toISOString().replace(/[:.]/g, '-')}`;
}

/** The start time and name back from a run id made by runId, or null for another folder name. */
export function parseRunId(id: string): { name: string; started: string } | null {
  const m = /^(.*)-(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})-(\d{3})Z$/.exec(id);
  if (!m) return null;
  return { name: m[1], started: `${m[2]}T${m[3]}:${m[4]}:${m[5]}.${m[6]}Z` };
}

/**
 * The hyperparameters a config.json states, flat: what `lathe compare` lines up. The writer adds
 * what only the built model knows (params, the default learning rate).
 */
export function hyperparametersFromConfig(config: unknown): Flat {
  const c = (config && typeof config === 'object' ? config : {}) as Record<string, any>;
  const compile = c.compile ?? {};
  const fit = c.fit ?? {};
  const dataset = c.dataset ?? {};
  const optimizer = compile.optimizer;
  const optimizerName = typeof optimizer === 'string' ? optimizer : typeof optimizer?.type === 'string' ? optimizer.type : null;
  const rate = typeof optimizer === 'object' && optimizer ? optimizer.learningRate ?? optimizer.lr : undefined;
  const loss = compile.loss;
  const out: Flat = {
    optimizer: optimizerName,
    learning_rate: typeof rate === 'number' ? rate : null,
    batch_size: typeof fit.batchSize === 'number' ? fit.batchSize : 32,
    epochs: typeof fit.epochs === 'number' ? fit.epochs : 1,
    seed: typeof c.seed === 'number' ? c.seed : 0,
    loss: typeof loss === 'string' ? loss : typeof loss?.type === 'string' ? loss.type : null,
    layers: Array.isArray(c.model?.layers) ? layersSummary(c.model.layers) : null,
    dataset: typeof dataset.type === 'string' ? dataset.type : null,
  };
  if (typeof dataset.path === 'string') out.dataset_path = dataset.path;
  if (dataset.validation !== undefined) out.validation = typeof dataset.validation === 'number' || typeof dataset.validation === 'string' ? dataset.validation : null;
  if (typeof dataset.validationSplit === 'number') out.validation = dataset.validationSplit;
  if (typeof fit.shuffle === 'boolean') out.shuffle = fit.shuffle;
  return out;
}

/** "dense(128,relu) > dense(10,softmax)": each layer's type and its defining numbers. */
export function layersSummary(layers: unknown[]): string {
  const KEYS = ['units', 'filters', 'kernelSize', 'poolSize', 'rate', 'targetShape', 'activation'];
  return layers
    .map((l) => {
      const layer = (l && typeof l === 'object' ? l : {}) as Record<string, unknown>;
      const args = KEYS.filter((k) => layer[k] !== undefined).map((k) => (Array.isArray(layer[k]) ? (layer[k] as unknown[]).join('x') : String(layer[k])));
      return `${String(layer.type ?? '?')}${args.length ? `(${args.join(',')})` : ''}`;
    })
    .join(' > ');
}
