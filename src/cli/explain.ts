// `lathe explain <model_dir> --input FILE`: why the model predicts what it does for an input.
// FILE is a PNG or JPEG (image models: a heat map PNG is written), a CSV of rows (tabular
// models: a ranked feature table), or a {"instances": [...]} body as `lathe predict` takes.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../atomic-write.js';
import { readCsvFile } from '../data/sources/csv.js';
import { fail } from '../errors.js';
import { loadForInference } from '../io/inference.js';
import { tensor } from '../ops/functions.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Model } from '../train/model.js';
import { EXPLAIN_METHODS, type ExplainMethod, type ExplainOptions, type ExplainResponse, type ExplainableModel, explainRequest } from '../explain/explain.js';
import { heatmapPng } from '../explain/heatmap.js';
import { heatmapPanels, imageBatch, imageLayout, takesRawPixels } from '../explain/image-input.js';
import { modelInputShape } from '../explain/score.js';
import { parseArgs } from './args.js';
import { MAX_BODY_BYTES } from './predict.js';

const USAGE = 'Usage: lathe explain <model_dir|model.onnx> --input FILE (PNG, JPEG, CSV or {"instances": [...]} JSON) [--method ig|saliency] [--steps N] [--target CLASS] [--samples N] [--out heatmap.png] [--json]';

export async function explainCommand(argv: string[]): Promise<number> {
  const { flags, positional } = parseArgs('explain', argv, {
    input: 'string', method: 'string', steps: 'int', target: 'string', samples: 'int', out: 'string', json: 'flag', 'batch-size': 'int',
  });
  if (positional.length !== 1 || typeof flags.input !== 'string') fail('explain', USAGE);
  const method = (flags.method ?? 'ig') as ExplainMethod;
  if (!EXPLAIN_METHODS.includes(method)) fail('explain', `--method must be one of ${EXPLAIN_METHODS.join(', ')}, got "${flags.method}"`);
  if (method !== 'ig' && flags.steps !== undefined) fail('explain', '--steps is for --method ig');
  if (method !== 'saliency' && flags.samples !== undefined) fail('explain', '--samples (SmoothGrad) is for --method saliency');
  const options: ExplainOptions = {
    method,
    ...(flags.steps !== undefined ? { steps: flags.steps as number } : {}),
    ...(flags.samples !== undefined ? { samples: flags.samples as number } : {}),
    ...(flags['batch-size'] !== undefined ? { batchSize: flags['batch-size'] as number } : {}),
    ...(typeof flags.target === 'string' ? { target: flags.target } : {}),
  };
  const file = flags.input;
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) fail('explain', `${file} not found`);
  if (fs.statSync(file).size > MAX_BODY_BYTES) fail('explain', `${file} is larger than ${MAX_BODY_BYTES} bytes`);
  const loaded = loadForInference(positional[0]) as unknown as ExplainableModel;
  const shape = modelInputShape(loaded.model);
  const bytes = fs.readFileSync(file);
  const isImage = (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) || (bytes[0] === 0xff && bytes[1] === 0xd8);

  let body: { instances: unknown[] };
  let pixelScale = 1;
  if (isImage) {
    if (loaded.preprocessor) fail('explain', `${file} is an image, but the model was trained on a CSV; give --input a CSV or JSON file`);
    if (!shape) fail('explain', 'the model\'s input shape is not fixed, so an image cannot be fitted to it; give --input a JSON body');
    const raw = takesRawPixels(loaded.model);
    const { x } = imageBatch(bytes, file, shape, raw);
    pixelScale = raw ? 1 : 255;
    body = { instances: x.toArray() as unknown[] };
  } else if (file.toLowerCase().endsWith('.csv')) {
    const table = readCsvFile(file);
    if (table.rows.length === 0) fail('explain', `${file} has a header but no rows`);
    body = { instances: loaded.preprocessor ? table.rows.map((r) => Object.fromEntries(table.header.map((h, k) => [h, r[k]]))) : table.rows.map((r) => r.map(Number)) };
  } else {
    try {
      body = JSON.parse(bytes.toString('utf8'));
    } catch (e) {
      fail(file, `not a PNG, JPEG, CSV or valid JSON file (${(e as Error).message})`);
    }
  }

  const response = explainRequest(loaded, body, options);
  const layout = loaded.preprocessor ? null : imageLayout(shape);
  let heatmap: string | undefined;
  if (layout && (isImage || flags.out !== undefined)) {
    heatmap = typeof flags.out === 'string' ? flags.out : 'heatmap.png';
    const x = tensor(body.instances as never, { dtype: 'float32' }) as Tensor;
    const attributions = tensor(response.explanations.map((e) => e.attributions) as never, { dtype: 'float32' });
    writeFileAtomic(heatmap, heatmapPng(heatmapPanels(x, attributions, layout, pixelScale), layout.height, layout.width));
  } else if (flags.out !== undefined) {
    fail('explain', `--out writes a heat map, but the model's input ${shape ? `[${shape.join(',')}]` : ''} is not an image; use --json for the attributions`);
  }

  if (flags.json) {
    console.log(JSON.stringify({ ...response, ...(heatmap ? { heatmap: path.resolve(heatmap) } : {}) }));
    return 0;
  }
  console.log(report(response, body.instances, loaded, options, heatmap, layout !== null));
  return 0;
}

/** The plain-text answer: one header line per instance, then its ranked feature table (tabular and other non-image models). */
function report(r: ExplainResponse, instances: unknown[], loaded: ExplainableModel, options: ExplainOptions, heatmap: string | undefined, image: boolean): string {
  const lines: string[] = [];
  const what = r.method === 'ig' ? `integrated gradients, ${options.steps ?? 64} steps from a zero baseline${loaded.preprocessor ? ' (the training mean of standardised columns)' : ''}` : `saliency${options.samples ? ` (SmoothGrad, ${options.samples} samples)` : ''}, |d ${r.score}/d input|`;
  r.explanations.forEach((e, i) => {
    const cls = e.class !== undefined ? `"${e.class}" (class ${e.target})` : `class ${e.target}`;
    const ig = e.delta !== undefined ? `, baseline ${r.score} ${fmt(e.baseline_score!)}, sum of attributions ${fmt(e.score - e.baseline_score! + e.delta)} (completeness gap ${fmt(e.delta)})` : '';
    lines.push(`instance ${i}: ${cls}, ${r.score} ${fmt(e.score)}${ig}`);
    if (image) return;
    const rows = e.columns
      ? e.columns.map((c) => [c.column, c.value === null ? '(missing)' : String(c.value), fmt(c.attribution)])
      : rankFeatures(flatNumbers(e.attributions), flatNumbers(instances[i]));
    lines.push(...table(['feature', 'value', 'attribution'], rows).map((l) => `  ${l}`));
  });
  lines.push(`method: ${what}`);
  if (heatmap) lines.push(`wrote ${heatmap} (${r.method === 'saliency' ? 'red: larger |gradient|' : 'red: attribution for the class, blue: against it'})`);
  return lines.join('\n');
}

/** A model without column names: features x[k] by |attribution|, at most 20 of them. */
function rankFeatures(attributions: number[], values: number[]): string[][] {
  return attributions
    .map((a, k) => ({ k, a }))
    .sort((p, q) => Math.abs(q.a) - Math.abs(p.a))
    .slice(0, 20)
    .map(({ k, a }) => [`x[${k}]`, String(values[k]), fmt(a)]);
}

function flatNumbers(v: unknown): number[] {
  return Array.isArray(v) ? v.flatMap(flatNumbers) : [Number(v)];
}

function fmt(v: number): string {
  return Math.abs(v) >= 1e-3 || v === 0 ? v.toFixed(4) : v.toExponential(3);
}

function table(head: string[], rows: string[][]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [head, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd());
}
