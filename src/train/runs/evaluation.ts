// A classifier run's final evaluation: loss and metrics as Model.evaluate gives them, the
// confusion matrix (rows true, columns predicted), and for image data the most confident
// mistakes as PNGs of the raw input pixels, for the dashboard's gallery, each with a heat map
// of why the model predicted what it did when the caller passes an explainer (the explain
// layer sits below train, so `lathe train` hands one in: src/explain/example-heatmaps.ts).
import * as fs from 'node:fs';
import * as path from 'node:path';
import pngjs from 'pngjs';
import { writeFileAtomic } from '../../atomic-write.js';
import { fail } from '../../errors.js';
import { Tensor } from '../../tensor/tensor.js';
import { type Model, rows } from '../model.js';
import type { Evaluation, MisclassifiedExample } from './run-format.js';

export interface RunEvaluationOptions {
  split: Evaluation['split'];
  classNames: string[];
  /** [channels, height, width] of one example, for image data: misclassified.json and its PNGs are written. */
  imageShape?: [number, number, number];
  /** At most this many misclassified examples (default 64). */
  maxMisclassified?: number;
  /** Draws explanations/<index>.png for each misclassified example, explaining its predicted class. */
  explainer?: ExampleExplainer;
}

/** The gallery's examples as evaluated (rows of x) and how their pixels read as an image. */
export interface ExampleImages {
  x: Tensor;
  /** The class to explain per example: the predicted one. */
  targets: Int32Array;
  channels: number;
  height: number;
  width: number;
  /** Multiplies x's values into 0-255 gray levels (255 for [0, 1] floats, else 1). */
  pixelScale: number;
}

/** One PNG (height x width) per example of `images.x`, in order. */
export type ExampleExplainer = (images: ExampleImages) => Uint8Array[];

/** Evaluates the model on [x, y], writes evaluation.json (and the misclassified gallery) into runDir. */
export async function writeRunEvaluation(runDir: string, model: Model, x: Tensor, y: Tensor, options: RunEvaluationOptions): Promise<Evaluation> {
  const { classNames } = options;
  const k = classNames.length;
  const logs = await model.evaluate(x, y);
  const probs = model.predict(x);
  if (probs.rank !== 2 || probs.shape[1] !== k) fail('run evaluation', `expected predictions [n, ${k}] (one score per class), got [${probs.shape}]`);
  const p = probs.dataSync();
  const labels = y.dataSync();
  const n = x.shape[0];
  const matrix = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  const mistakes: { index: number; label: number; predicted: number; confidence: number }[] = [];
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (p[i * k + j] > p[i * k + best]) best = j;
    const label = Number(labels[i]);
    if (!(Number.isInteger(label) && label >= 0 && label < k)) fail('run evaluation', `label ${label} at index ${i} is outside [0, ${k})`);
    matrix[label][best]++;
    if (best !== label) mistakes.push({ index: i, label, predicted: best, confidence: Number(p[i * k + best]) });
  }
  const { loss, ...metrics } = logs;
  const evaluation: Evaluation = { split: options.split, examples: n, loss, metrics, classNames, confusion: { labels: classNames, matrix } };
  writeFileAtomic(path.join(runDir, 'evaluation.json'), `${JSON.stringify(evaluation, null, 2)}\n`);
  if (options.imageShape) writeMisclassified(runDir, x, mistakes, options.imageShape, classNames, options.maxMisclassified ?? 64, options.explainer);
  return evaluation;
}

/** misclassified.json (most confident mistakes first), misclassified/<index>.png and, with an explainer, explanations/<index>.png. */
function writeMisclassified(
  runDir: string,
  x: Tensor,
  mistakes: { index: number; label: number; predicted: number; confidence: number }[],
  [channels, height, width]: [number, number, number],
  classNames: string[],
  max: number,
  explainer: ExampleExplainer | undefined,
): void {
  const chosen = [...mistakes].sort((a, b) => b.confidence - a.confidence || a.index - b.index).slice(0, max);
  // a resumed run's gallery replaces the last one
  for (const folder of ['misclassified', 'explanations']) fs.rmSync(path.join(runDir, folder), { recursive: true, force: true });
  const perExample = channels * height * width;
  const chosenX = chosen.length ? rows(x, Int32Array.from(chosen, (m) => m.index)) : null;
  const pixels = chosenX ? chosenX.dataSync() : new Float32Array(0);
  // Rescaling lives in the model, so x holds raw 0-255 pixels; scale [0, 1] floats should they come.
  let top = 0;
  for (let i = 0; i < pixels.length; i++) top = Math.max(top, Number(pixels[i]));
  const scale = top <= 1 && !(x.dtype === 'uint8') ? 255 : 1;
  const heatmaps = chosenX && explainer ? drawExplanations(explainer, { x: chosenX, targets: Int32Array.from(chosen, (m) => m.predicted), channels, height, width, pixelScale: scale }) : null;
  const entries: MisclassifiedExample[] = chosen.map((m, e) => {
    const image = `misclassified/${m.index}.png`;
    const png = encodePng(pixels, e * perExample, channels, height, width, scale);
    writeFileAtomic(path.join(runDir, image), png);
    const entry: MisclassifiedExample = { index: m.index, label: m.label, predicted: m.predicted, labelName: classNames[m.label], predictedName: classNames[m.predicted], confidence: +m.confidence.toFixed(6), image };
    if (heatmaps) {
      entry.explanation = `explanations/${m.index}.png`;
      writeFileAtomic(path.join(runDir, entry.explanation), heatmaps[e]);
    }
    return entry;
  });
  writeFileAtomic(path.join(runDir, 'misclassified.json'), `${JSON.stringify(entries, null, 2)}\n`);
}

/**
 * The explainer's heat maps, or null with a warning when it fails: the run has trained by now,
 * and its gallery is still worth writing without them.
 */
function drawExplanations(explainer: ExampleExplainer, images: ExampleImages): Uint8Array[] | null {
  try {
    const pngs = explainer(images);
    if (pngs.length !== images.targets.length) fail('run evaluation', `the explainer drew ${pngs.length} heat maps for ${images.targets.length} examples`);
    return pngs;
  } catch (e) {
    console.error(`lathe: warning: the misclassified gallery is written without explanations: ${(e as Error).message}`);
    return null;
  }
}

/** One CHW example as a grayscale (1 channel) or RGB (3 channels) PNG. */
function encodePng(pixels: ArrayLike<number | bigint>, offset: number, channels: number, height: number, width: number, scale: number): Buffer {
  const colour = channels === 3;
  const out = Buffer.alloc(width * height * (colour ? 3 : 1));
  const plane = width * height;
  for (let i = 0; i < plane; i++) {
    if (colour) for (let c = 0; c < 3; c++) out[i * 3 + c] = clampByte(Number(pixels[offset + c * plane + i]) * scale);
    else out[i] = clampByte(Number(pixels[offset + i]) * scale);
  }
  const options = { colorType: colour ? 2 : 0, inputColorType: colour ? 2 : 0, inputHasAlpha: false } as const;
  const png = new pngjs.PNG({ width, height, ...options });
  png.data = out;
  return pngjs.PNG.sync.write(png, options);
}

const clampByte = (v: number) => Math.max(0, Math.min(255, Math.round(v)));
