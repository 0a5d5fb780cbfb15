// What quantization cost and bought, measured: weight bytes, accuracy on a named evaluation
// set, latency at batch 1 and 32 (float and int8 taking turns sample by sample in one run,
// medians, so machine noise hits both alike), and per layer the cosine similarity of int8 and
// float outputs.
import * as path from 'node:path';
import { writeFileAtomic } from '../atomic-write.js';
import { getBackend } from '../backends/registry.js';
import { nativeInfo } from '../backends/threads.js';
import { argmax } from '../ops/functions.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Model } from '../train/model.js';
import type { Sequential } from '../train/sequential.js';
import type { LayerQuantization, QuantizationMode } from './quantize-model.js';

export interface QuantizationReport {
  mode: QuantizationMode;
  evaluation: string;
  bytes: { float: number; quantized: number };
  accuracy?: { float: number; quantized: number };
  /** A language model's mean next-token loss (cross-entropy, nats) on the evaluation text. */
  loss?: { float: number; quantized: number };
  /** Median milliseconds per predict() call at each batch size. */
  latencyMs: { batch: number; float: number; quantized: number }[];
  /** The native int8 GEMM the latencies ran on ('avx512vnni', 'avx2', 'portable'); absent on the js backend. */
  int8Kernel?: string;
  layers: LayerQuantization[];
}

/** The report's int8Kernel: the native int8 GEMM, when the native backend is the one in use. */
export function int8KernelInUse(): Pick<QuantizationReport, 'int8Kernel'> {
  const info = getBackend().name === 'native' ? nativeInfo() : null;
  return info ? { int8Kernel: info.qgemmKernel } : {};
}

/**
 * Why int8 may not be faster here. Without VNNI an exact u8 x s8 product needs its bytes widened
 * to 16 bits (vpmaddubsw, which skips that, saturates), so the int8 GEMM runs about as fast as
 * float32's: the model is 4x smaller, not faster.
 */
export function int8KernelNote(kernel: string | undefined): string | null {
  if (kernel === undefined || kernel === 'avx512vnni') return null;
  return `int8 kernel: ${kernel}, without AVX-512 VNNI: exact int8 products need 16-bit widening there, so int8 layers run at about float32 speed; with VNNI they run about 2x faster.`;
}

/** The share of examples whose arg-max prediction equals the label. */
export function accuracyOf(model: Sequential, x: Tensor, y: Tensor, batchSize = 1000): number {
  const predicted = argmax(model.predict(x, { batchSize }), -1).dataSync();
  const labels = y.dataSync();
  let right = 0;
  for (let i = 0; i < labels.length; i++) if (predicted[i] === labels[i]) right++;
  return right / labels.length;
}

/**
 * Median ms of predict() on the first `batch` examples, the two models taking turns sample by
 * sample, so machine noise hits both. A sample is as many calls as fill about 10 ms: a model
 * served is called back to back, its weights and buffers warm. Turns of one call each had every
 * call find the other model's state in cache: the MNIST CNN's int8 model came out 1.81x faster
 * at batch 32 where bench/quantized-inference.mjs, timing samples, measured 2.08-2.14x.
 */
export function compareLatency(a: Model, b: Model, x: Tensor, batch: number, minMs = 400): { a: number; b: number } {
  const input = x.slice([0], [Math.min(batch, x.shape[0])]);
  const run = (m: Model) => m.predict(input, { batchSize: batch });
  for (let i = 0; i < 3; i++) run(a), run(b); // warm up: packing, caches, the JIT
  const callsPerSample = (m: Model) => {
    const t0 = performance.now();
    let calls = 0;
    while (performance.now() - t0 < 10) (run(m), calls++);
    return calls;
  };
  const sample = (m: Model, calls: number) => {
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) run(m);
    return (performance.now() - t0) / calls;
  };
  const [ca, cb] = [callsPerSample(a), callsPerSample(b)];
  const ta: number[] = [];
  const tb: number[] = [];
  const start = performance.now();
  while (ta.length < 7 || (performance.now() - start < minMs && ta.length < 200)) {
    ta.push(sample(a, ca));
    tb.push(sample(b, cb));
  }
  const median = (v: number[]) => v.sort((p, q) => p - q)[v.length >> 1];
  return { a: median(ta), b: median(tb) };
}

/** compareLatency at each batch size, as the report lists it. */
export function latencies(float: Model, quantized: Model, x: Tensor, batches: readonly number[]): QuantizationReport['latencyMs'] {
  return batches.map((batch) => {
    const { a, b } = compareLatency(float, quantized, x, batch);
    return { batch, float: a, quantized: b };
  });
}

/** Writes the report into the int8 model's folder (text and JSON), and prints one of them. */
export function publishReport(report: QuantizationReport, out: string, json: boolean): void {
  const text = formatReport(report);
  writeFileAtomic(path.join(out, 'quantization-report.txt'), text);
  writeFileAtomic(path.join(out, 'quantization-report.json'), `${JSON.stringify(report, null, 2)}\n`);
  if (json) console.log(JSON.stringify(report));
  else process.stdout.write(`${text}\nSaved the int8 model and this report to ${out}\n`);
}

const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

/** The report as the table `lathe quantize` prints and writes. */
export function formatReport(r: QuantizationReport): string {
  const lines = [`int8 quantization (${r.mode}), evaluated on ${r.evaluation}`, ''];
  const rows: string[][] = [['', 'float32', 'int8', 'change']];
  rows.push(['weights', kib(r.bytes.float), kib(r.bytes.quantized), `${(r.bytes.float / r.bytes.quantized).toFixed(2)}x smaller`]);
  if (r.loss) rows.push(['next-token loss', r.loss.float.toFixed(4), r.loss.quantized.toFixed(4), `${r.loss.quantized >= r.loss.float ? '+' : ''}${(r.loss.quantized - r.loss.float).toFixed(4)}`]);
  if (r.accuracy) rows.push(['accuracy', pct(r.accuracy.float), pct(r.accuracy.quantized), `${((r.accuracy.quantized - r.accuracy.float) * 100).toFixed(2)} points`]);
  const speed = (ratio: number) => (ratio >= 1 ? `${ratio.toFixed(2)}x faster` : `${(1 / ratio).toFixed(2)}x slower`);
  for (const l of r.latencyMs) rows.push([`latency, batch ${l.batch}`, `${l.float.toFixed(3)} ms`, `${l.quantized.toFixed(3)} ms`, speed(l.float / l.quantized)]);
  lines.push(...table(rows));
  const note = int8KernelNote(r.int8Kernel);
  if (note) lines.push('', note);
  lines.push('', 'per layer (cosine: int8 output vs float output, same model input; alone: the layer on its float input)', '');
  const layerRows = [['#', 'layer', 'type', 'as', 'input', 'cosine', 'alone', 'note']];
  for (const l of r.layers) { // a projection's row follows its composite's, without an index
    const input = l.input ? (l.input.mode === 'static' ? `static s=${l.input.scale.toPrecision(3)} z=${l.input.zeroPoint}` : 'dynamic') : '';
    layerRows.push([l.path === undefined ? String(l.index) : '', l.name, l.type, l.quantizedType === l.type ? 'float' : 'int8', input, l.cosine?.toFixed(5) ?? '', l.cosineAlone?.toFixed(5) ?? '', l.reason ?? '']);
  }
  lines.push(...table(layerRows));
  return `${lines.join('\n')}\n`;
}

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd());
}
