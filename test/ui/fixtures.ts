// Run folders written by hand, to the run-folder contract (src/train/runs/run-format.ts), so the
// dashboard's tests need no training: finished MNIST-like runs with an evaluation and a
// misclassified gallery, a failed run, an old run without run.json, and a run still training.
import * as fs from 'node:fs';
import * as path from 'node:path';
import pngjs from 'pngjs';
import { heatmapPng } from '../../src/explain/heatmap.js';

export const RUN_IDS = {
  mlp: 'mnist-mlp-2025-06-01T10-00-00-000Z',
  cnn: 'mnist-cnn-2025-06-02T09-30-00-000Z',
  failed: 'mnist-mlp-wide-2025-06-03T08-00-00-000Z',
  legacy: 'legacy-mlp-2025-05-20T12-00-00-000Z',
  live: 'live-mlp-2025-06-04T07-00-00-000Z',
} as const;

const STEPS_PER_EPOCH = 469; // 60000 / 128
const LOG_EVERY = 20;

/** A smooth, noisy, decreasing training curve; deterministic (no Math.random). */
function lossAt(step: number, floor: number, seed: number): number {
  const noise = Math.sin(step * 12.9898 + seed * 78.233) * 43758.5453;
  return floor + 2.2 * Math.exp(-step / 180) + 0.25 * Math.exp(-step / 1500) + 0.04 * (noise - Math.floor(noise) - 0.5);
}

export interface CurveOptions {
  epochs: number;
  floor: number;
  seed: number;
  /** Old format: epoch lines without "kind" and no step lines. */
  legacy?: boolean;
}

/** metrics.jsonl lines for epochs [from, to] (1-based). */
export function metricLines(o: CurveOptions, from = 1, to = o.epochs): string[] {
  const lines: string[] = [];
  for (let epoch = from; epoch <= to; epoch++) {
    let sum = 0;
    let n = 0;
    for (let s = (epoch - 1) * STEPS_PER_EPOCH + 1; s <= epoch * STEPS_PER_EPOCH; s++) {
      const loss = lossAt(s, o.floor, o.seed);
      sum += loss;
      n++;
      if (!o.legacy && s % LOG_EVERY === 0) lines.push(JSON.stringify({ kind: 'step', step: s, epoch, loss: +loss.toFixed(5), time: +(s * 0.012).toFixed(3) }));
    }
    const loss = sum / n;
    const acc = Math.min(0.995, 1 - loss / 3.2);
    const epochLine = { epoch, seconds: 5.5 + 0.1 * epoch, loss: +loss.toFixed(5), accuracy: +acc.toFixed(5), val_loss: +(loss * 1.08 + 0.01).toFixed(5), val_accuracy: +(acc - 0.006).toFixed(5) };
    lines.push(JSON.stringify(o.legacy ? epochLine : { kind: 'epoch', ...epochLine }));
  }
  return lines;
}

function runJson(id: string, name: string, status: string, started: string, hyperparameters: Record<string, number | string>, summary: Record<string, number | null> | null) {
  return {
    format: 1,
    id,
    name,
    status,
    started,
    ended: status === 'running' ? null : new Date(Date.parse(started) + 31_000).toISOString(),
    // A running run's writer must be alive, or readers call it stopped: this test process stands in.
    pid: process.pid,
    hyperparameters,
    env: { lathe: '0.1.0', node: 'v20.20.2', backend: 'native', threads: 2, cpu: 'Test CPU @ 2.0GHz', platform: 'linux-x64' },
    summary,
  };
}

/** A 5x7 bitmap font for the digits, enough to draw MNIST-like 28x28 images. */
const FONT: Record<number, string[]> = {
  0: ['01110', '10001', '10011', '10101', '11001', '10001', '01110'],
  1: ['00100', '01100', '00100', '00100', '00100', '00100', '01110'],
  2: ['01110', '10001', '00001', '00010', '00100', '01000', '11111'],
  3: ['11110', '00001', '00001', '01110', '00001', '00001', '11110'],
  4: ['00010', '00110', '01010', '10010', '11111', '00010', '00010'],
  5: ['11111', '10000', '11110', '00001', '00001', '10001', '01110'],
  6: ['00110', '01000', '10000', '11110', '10001', '10001', '01110'],
  7: ['11111', '00001', '00010', '00100', '01000', '01000', '01000'],
  8: ['01110', '10001', '10001', '01110', '10001', '10001', '01110'],
  9: ['01110', '10001', '10001', '01111', '00001', '00010', '01100'],
};

/** A 28x28 grayscale PNG of a digit, slanted a little per seed, white on black like MNIST. */
export function digitPng(digit: number, seed: number): Buffer {
  const png = new pngjs.PNG({ width: 28, height: 28, colorType: 0, inputColorType: 0, inputHasAlpha: false });
  const slant = ((seed % 5) - 2) * 0.12;
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      // Sample the 5x7 glyph scaled 3x into the 15x21 box at (6, 3), with a soft edge.
      let v = 0;
      for (const [dx, dy, w] of [[0, 0, 1], [0.5, 0, 0.5], [-0.5, 0, 0.5], [0, 0.5, 0.5], [0, -0.5, 0.5]] as const) {
        const gx = Math.floor((x + dx - 6 - slant * (y - 14)) / 3);
        const gy = Math.floor((y + dy - 3) / 3);
        if (gy >= 0 && gy < 7 && gx >= 0 && gx < 5 && FONT[digit][gy][gx] === '1') v += w;
      }
      png.data[y * 28 + x] = Math.min(255, Math.round((v / 3) * 255));
    }
  }
  return pngjs.PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false });
}

/** A 10-class confusion matrix shaped like a ~97% MNIST MLP's (the usual 4/9, 3/5, 7/2 mix-ups). */
export function mnistConfusion(): number[][] {
  const perClass = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009];
  const mistakes: Array<[number, number, number]> = [[4, 9, 14], [9, 4, 11], [3, 5, 9], [5, 3, 12], [7, 2, 10], [2, 7, 8], [8, 3, 7], [9, 7, 6], [6, 0, 5], [0, 6, 4], [1, 8, 5], [2, 8, 6], [5, 8, 5], [8, 5, 6], [3, 2, 4], [7, 9, 7]];
  const m = perClass.map((n, i) => perClass.map((_, j) => (i === j ? n : 0)));
  for (const [t, p, c] of mistakes) {
    m[t][p] += c;
    m[t][t] -= c;
  }
  return m;
}

export const MISCLASSIFIED: Array<[number, number, number]> = [[4, 9, 0.97], [9, 4, 0.95], [3, 5, 0.93], [5, 3, 0.91], [7, 2, 0.88], [2, 7, 0.84], [8, 3, 0.8], [9, 7, 0.77], [6, 0, 0.74], [1, 8, 0.7], [5, 8, 0.66], [7, 9, 0.61]];

function write(file: string, text: string | Buffer): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
}

/** Writes the fixture runs into runsDir and returns it. */
export function writeFixtureRuns(runsDir: string): string {
  const classNames = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
  const finished = (id: string, name: string, started: string, hp: Record<string, number | string>, curve: CurveOptions, withGallery: boolean) => {
    const dir = path.join(runsDir, id);
    const lines = metricLines(curve);
    const last = JSON.parse(lines[lines.length - 1]);
    const matrix = mnistConfusion();
    const examples = matrix.flat().reduce((a, b) => a + b, 0);
    const correct = matrix.reduce((n, row, i) => n + row[i], 0);
    write(path.join(dir, 'metrics.jsonl'), `${lines.join('\n')}\n`);
    write(path.join(dir, 'run.json'), JSON.stringify(runJson(id, name, 'finished', started, hp, { loss: last.loss, accuracy: last.accuracy, val_loss: last.val_loss, val_accuracy: last.val_accuracy, test_loss: +(last.val_loss * 1.02).toFixed(5), test_accuracy: correct / examples, epochs: curve.epochs, median_epoch_seconds: 5.8, peak_rss_mb: 412.5 }), null, 2));
    write(path.join(dir, 'config.json'), JSON.stringify({ dataset: { type: 'mnist' }, compile: { optimizer: hp.optimizer, loss: 'sparse_categorical_crossentropy' }, fit: { epochs: curve.epochs, batchSize: 128 } }, null, 2));
    write(path.join(dir, 'evaluation.json'), JSON.stringify({ split: 'test', examples, loss: +(last.val_loss * 1.02).toFixed(5), metrics: { accuracy: correct / examples }, classNames, confusion: { labels: classNames, matrix } }, null, 2));
    if (!withGallery) return;
    const entries = MISCLASSIFIED.map(([label, predicted, confidence], i) => {
      const index = 100 + i * 737;
      write(path.join(dir, 'misclassified', `${index}.png`), digitPng(label, i));
      write(path.join(dir, 'explanations', `${index}.png`), explanationPng(label, predicted, i));
      return { index, label, predicted, labelName: classNames[label], predictedName: classNames[predicted], confidence, image: `misclassified/${index}.png`, explanation: `explanations/${index}.png` };
    });
    write(path.join(dir, 'misclassified.json'), JSON.stringify(entries, null, 2));
  };
  const hp = (o: Record<string, number | string>) => ({ 'model.layers': 'dense(128,relu)-dense(10,softmax)', optimizer: 'adam', lr: 0.001, batch_size: 128, epochs: 5, seed: 42, ...o });
  finished(RUN_IDS.mlp, 'mnist-mlp', '2025-06-01T10:00:00.000Z', hp({}), { epochs: 5, floor: 0.05, seed: 1 }, true);
  finished(RUN_IDS.cnn, 'mnist-cnn', '2025-06-02T09:30:00.000Z', hp({ 'model.layers': 'conv(32)-pool-dense(10)', lr: 0.0005, epochs: 6 }), { epochs: 6, floor: 0.02, seed: 2 }, false);

  const failedDir = path.join(runsDir, RUN_IDS.failed);
  write(path.join(failedDir, 'metrics.jsonl'), `${metricLines({ epochs: 2, floor: 0.12, seed: 3 }).join('\n')}\n{"kind":"step","step":9`);
  write(path.join(failedDir, 'run.json'), JSON.stringify({ ...runJson(RUN_IDS.failed, 'mnist-mlp-wide', 'failed', '2025-06-03T08:00:00.000Z', hp({ lr: 0.1, 'model.layers': 'dense(1024,relu)-dense(10)' }), null), error: 'nan-guard: loss became NaN at step 950' }));

  const legacyDir = path.join(runsDir, RUN_IDS.legacy);
  write(path.join(legacyDir, 'config.json'), JSON.stringify({ dataset: { type: 'mnist' }, compile: { optimizer: { type: 'sgd', learningRate: 0.01 } }, fit: { epochs: 3, batchSize: 64 }, seed: 7 }));
  write(path.join(legacyDir, 'metrics.jsonl'), `${metricLines({ epochs: 3, floor: 0.15, seed: 4, legacy: true }).join('\n')}\n`);

  const liveDir = path.join(runsDir, RUN_IDS.live);
  write(path.join(liveDir, 'metrics.jsonl'), `${metricLines(LIVE_CURVE, 1, 1).join('\n')}\n`);
  write(path.join(liveDir, 'run.json'), JSON.stringify(runJson(RUN_IDS.live, 'live-mlp', 'running', new Date().toISOString(), hp({}), null)));
  return runsDir;
}

export const LIVE_CURVE: CurveOptions = { epochs: 5, floor: 0.06, seed: 5 };

/**
 * A stand-in for the heat map `lathe train` draws (src/explain/example-heatmaps.ts), drawn the
 * same way at 28x28: the true digit's ink is red where the predicted digit's glyph has ink too
 * (it "looked like" that class) and blue where it does not.
 */
export function explanationPng(label: number, predicted: number, seed: number): Buffer {
  const gray = (digit: number) => {
    const png = pngjs.PNG.sync.read(digitPng(digit, seed));
    return Array.from({ length: 784 }, (_, p) => png.data[p * 4]);
  };
  const truth = gray(label);
  const other = gray(predicted);
  const attributions = truth.map((v, p) => (v / 255) * (other[p] > 0 ? 1 : -0.6));
  return Buffer.from(heatmapPng([{ gray: truth, attributions }], 28, 28, { scale: 1 }));
}
