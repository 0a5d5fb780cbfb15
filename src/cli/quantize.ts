// `lathe quantize <model_dir> --out <dir>`: an int8 copy of a saved model (Dense and Conv2D
// layers, and the projections inside attention; a GPT folder goes to quantize-gpt.ts), saved like any model (lathe serve, evaluate and predict take it), with a report of
// what it cost and bought: printed, and written to the output folder.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fail } from '../errors.js';
import { loadModel, saveModel } from '../io/saved-model.js';
import type { CalibrationMethod } from '../quant/calibrate.js';
import { type QuantizationMode, type QuantizeOptions, quantizeModel } from '../quant/quantize-model.js';
import { type QuantizationReport, accuracyOf, int8KernelInUse, latencies, publishReport } from '../quant/report.js';
import { isSavedGPT } from '../models/gpt/index.js';
import { parseArgs } from './args.js';
import { quantizeGptCommand } from './quantize-gpt.js';
import { loadLabelledSet } from './labelled-data.js';

const USAGE = 'Usage: lathe quantize <model_dir> --out DIR [--mode dynamic|static] [--calibration-data DIR|FILE] [--calibration-size N] '
  + '[--method minmax|percentile] [--percentile P] [--keep-float NAME,NAME] [--min-cosine C] [--min-inputs N] [--data DIR|FILE] [--download] [--json]';

export async function quantizeCommand(argv: string[]): Promise<number> {
  const { flags, positional } = parseArgs('quantize', argv, {
    out: 'string', mode: 'string', 'calibration-data': 'string', 'calibration-size': 'int', method: 'string', percentile: 'number',
    'keep-float': 'string', 'min-cosine': 'number', 'min-inputs': 'number', data: 'string', download: 'flag', json: 'flag',
  });
  if (positional.length !== 1 || typeof flags.out !== 'string') fail('quantize', USAGE);
  const source = positional[0];
  const out = path.resolve(flags.out);
  if (path.resolve(source) === out) fail('quantize', '--out must differ from the model folder: the float model stays as it is');
  const mode = (flags.mode ?? 'dynamic') as QuantizationMode;
  if (mode !== 'dynamic' && mode !== 'static') fail('quantize', `--mode must be dynamic or static, got ${JSON.stringify(flags.mode)}`);
  const method = (flags.method ?? 'minmax') as CalibrationMethod;
  if (method !== 'minmax' && method !== 'percentile') fail('quantize', `--method must be minmax or percentile, got ${JSON.stringify(flags.method)}`);
  const calibrationSize = (flags['calibration-size'] as number | undefined) ?? 1000;
  if (calibrationSize < 1) fail('quantize', `--calibration-size must be at least 1, got ${calibrationSize}`);

  const common: QuantizeOptions = {
    mode,
    method,
    ...(flags.percentile !== undefined ? { percentile: flags.percentile as number } : {}),
    ...(typeof flags['keep-float'] === 'string' ? { keepFloat: flags['keep-float'].split(',').map((s) => s.trim()).filter(Boolean) } : {}),
    ...(flags['min-cosine'] !== undefined ? { minCosine: flags['min-cosine'] as number } : {}),
    ...(flags['min-inputs'] !== undefined ? { minInputsPerOutput: flags['min-inputs'] as number } : {}),
  };
  if (isSavedGPT(source)) {
    // Windows of blockSize tokens: 64 of them calibrate a char-GPT in seconds.
    const windows = (flags['calibration-size'] as number | undefined) ?? 64;
    return quantizeGptCommand(source, out, { ...common, json: Boolean(flags.json), calibrationSize: windows, ...(typeof flags.data === 'string' ? { data: flags.data } : {}) });
  }
  const loaded = loadModel(source);
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const download = Boolean(flags.download);
  const evaluation = await loadLabelledSet(loaded, 'test', str(flags.data), download, 'quantize');
  // Calibrate on training data (never the evaluation set, whose score would then flatter).
  const calibration = await loadLabelledSet(loaded, 'train', str(flags['calibration-data']) ?? str(flags.data), download, 'quantize');
  const sample = calibration.x.slice([0], [Math.min(calibrationSize, calibration.x.shape[0])]);

  const { model, layers } = quantizeModel(loaded.model, { ...common, sample });
  if (!layers.some((l) => l.quantizedType !== l.type)) console.warn('lathe quantize: no layer was quantized (see the notes per layer)');

  const { json } = loaded;
  const training = json.training && { ...(json.training.loss !== undefined ? { loss: json.training.loss } : {}), ...(json.training.metrics ? { metrics: json.training.metrics } : {}), ...(json.training.dataset ? { dataset: json.training.dataset } : {}) };
  saveModel(model, out, { ...(json.classNames ? { classNames: json.classNames } : {}), ...(loaded.preprocessor ? { preprocessing: loaded.preprocessor } : {}), ...(training ? { training } : {}) });

  const size = (dir: string) => fs.statSync(path.join(dir, 'weights.safetensors')).size;
  const labelsAreClasses = evaluation.y.dtype === 'int32' || evaluation.y.dtype === 'uint8';
  const report: QuantizationReport = {
    mode,
    evaluation: evaluation.name,
    bytes: { float: size(source), quantized: size(out) },
    ...(labelsAreClasses ? { accuracy: { float: accuracyOf(loaded.model, evaluation.x, evaluation.y), quantized: accuracyOf(model, evaluation.x, evaluation.y) } } : {}),
    latencyMs: latencies(loaded.model, model, evaluation.x, [1, 32]),
    ...int8KernelInUse(),
    layers,
  };
  publishReport(report, out, Boolean(flags.json));
  return 0;
}
