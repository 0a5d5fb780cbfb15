// `lathe quantize` of a saved GPT: every block's projections (attention's qkv and proj, the
// MLP's fc and mlpProj) in int8, calibrated on windows of the first 90% of the text that --data
// names, and judged by the next-token loss on windows of the last 10% (the split `lathe train`
// makes), float against int8, with the latency of a forward pass over 1 and 32 windows.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { noGrad } from '../autograd/engine.js';
import { TokenWindows } from '../data/text/index.js';
import { fail } from '../errors.js';
import { type GPT, loadGPT, nextTokenLoss, saveGPT } from '../models/gpt/index.js';
import { type QuantizeOptions, quantizeModel } from '../quant/quantize-model.js';
import { type QuantizationReport, int8KernelInUse, latencies, publishReport } from '../quant/report.js';
import { resolveCsvPath } from '../train/run-config.js';
import type { Tensor } from '../tensor/tensor.js';

/** Windows of blockSize tokens, evaluated at most this many at a time. */
const EVAL_BATCH = 32;

/** Mean next-token loss over `windows` [x, y] batches. */
function meanLoss(model: GPT, batches: Iterable<[Tensor, Tensor]>): number {
  let sum = 0;
  let n = 0;
  for (const [x, y] of batches) {
    sum += noGrad(() => nextTokenLoss(model.forward(x), y)).item() * x.shape[0];
    n += x.shape[0];
  }
  return sum / n;
}

export function quantizeGptCommand(source: string, out: string, options: QuantizeOptions & { data?: string; calibrationSize: number; json: boolean }): number {
  const loaded = loadGPT(source);
  if (!loaded.tokenizer) fail('quantize', `${source}: a GPT is quantized with its tokenizer (saved by lathe train), and this folder has none`);
  if (!options.data) fail('quantize', 'a GPT is calibrated and judged on text: pass --data FILE (the text it was trained on; the last 10% is held out for the loss)');
  // As given, else under $LATHE_DATA (as lathe train resolves a config's text).
  const file = path.resolve(fs.existsSync(options.data) ? options.data : resolveCsvPath(options.data, {}));
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) fail('quantize', `--data ${JSON.stringify(options.data)}: ${file} is not a file`);
  const { blockSize } = loaded.model.config;
  const windows = TokenWindows.fromText(fs.readFileSync(file, 'utf8'), loaded.tokenizer, { blockSize, validationSplit: 0.1 });
  if (windows.train.length < 1 || windows.val.length < 1) fail('quantize', `${file} is too short: each split needs a window of ${blockSize} tokens and its target`);
  // Windows spread evenly over the training text.
  const count = Math.min(options.calibrationSize, windows.train.numStarts);
  const calibration = windows.train.batchAt(Array.from({ length: count }, (_, i) => Math.floor((i * windows.train.numStarts) / count)))[0];

  const { model, layers } = quantizeModel(loaded.model, { ...options, sample: calibration });
  if (!layers.some((l) => l.quantizedType !== l.type)) console.warn('lathe quantize: no layer was quantized (see the notes per layer)');
  saveGPT(model, out, { tokenizer: loaded.tokenizer, ...(loaded.json.training?.dataset ? { dataset: loaded.json.training.dataset } : {}) });

  const size = (dir: string) => fs.statSync(path.join(dir, 'weights.safetensors')).size;
  const val = () => windows.val.batches(EVAL_BATCH);
  const evalX = windows.val.batchAt(Array.from({ length: Math.min(EVAL_BATCH, windows.val.numStarts) }, (_, i) => i))[0];
  const report: QuantizationReport = {
    mode: options.mode ?? 'dynamic',
    evaluation: `next-token loss on the last 10% of ${path.basename(file)} (${windows.val.length} windows of ${blockSize})`,
    bytes: { float: size(source), quantized: size(out) },
    loss: { float: meanLoss(loaded.model, val()), quantized: meanLoss(model, val()) },
    latencyMs: latencies(loaded.model, model, evalX, [1, EVAL_BATCH].filter((b) => b <= evalX.shape[0])),
    ...int8KernelInUse(),
    layers,
  };
  publishReport(report, out, options.json);
  return 0;
}
