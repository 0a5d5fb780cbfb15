// Post-training quantization of a Sequential: Dense and Conv2D layers become QuantizedDense and
// QuantizedConv2D (int8 weights per output channel; the input quantized per call, or with a
// range calibrated once), and so do the Dense projections inside attention and transformer
// blocks (their composites are copied, the float model stays as it was). A layer whose int8
// output strays from its float output on the sample (cosine similarity below minCosine,
// measured on the layer alone) stays float, and the report says why, as it does for every
// layer left alone.
import type { InputQuantization } from '../backends/backend.js';
import { noGrad } from '../autograd/engine.js';
import { fail } from '../errors.js';
import { arrayType } from '../tensor/dtype.js';
import { kernelActivation } from '../nn/activations.js';
import type { Layer } from '../nn/layer.js';
import { Conv2D } from '../nn/layers/conv.js';
import { Dense } from '../nn/layers/dense.js';
import { MaxPool2D } from '../nn/layers/pooling.js';
import { layerFromConfig } from '../nn/layers/index.js';
import { type WithProjections, hasProjections } from '../nn/layers/projections.js';
import { type InputQuantizationSpec, QuantizedConv2D, QuantizedDense } from '../nn/layers/quantized.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Json } from '../nn/config.js';
import type { Model } from '../train/model.js';
import { Sequential } from '../train/sequential.js';
import { type CalibrationMethod, RangeObserver } from './calibrate.js';
import { quantizePerChannel } from './weights.js';

export type QuantizationMode = 'dynamic' | 'static';

export interface QuantizeOptions {
  /** 'dynamic' (default): each call quantizes its input from the batch's range. 'static': ranges calibrated once. */
  mode?: QuantizationMode;
  /** Example inputs: static mode's calibration set, and the sample the sensitivity check and the report use. */
  sample?: Tensor;
  method?: CalibrationMethod;
  /** For method 'percentile': the share of values inside the range, 99.99 by default. */
  percentile?: number;
  /** Names of layers to keep in float. */
  keepFloat?: readonly string[];
  /** A layer whose int8 output's cosine similarity to its float output is below this stays float (0.99). */
  minCosine?: number;
  /** A layer with fewer inputs per output stays float (0 quantizes every one). Default: MIN_INPUTS_PER_OUTPUT, except for a conv that a 2x2 max pool follows. */
  minInputsPerOutput?: number;
  batchSize?: number;
}

export interface LayerQuantization {
  /** The model layer's index; a projection inside a composite layer has its parent's, and a path. */
  index: number;
  /** The projection's path inside layers[index] ('attn.qkv'), for sub-layers only. */
  path?: string;
  name: string;
  type: string;
  /** The layer's type in the quantized model. */
  quantizedType: string;
  /** Why the layer stayed float (absent when it was quantized, and for layers without weights). */
  reason?: string;
  input?: InputQuantizationSpec;
  /** The layer alone, fed the float model's input: cosine similarity of its int8 and float outputs. */
  cosineAlone?: number;
  /** Its output in the quantized model against the float model's, from the same model input. */
  cosine?: number;
  /** Bytes of the layer's weights before and after. */
  bytes: { float: number; quantized: number };
}

/**
 * A model other than a Sequential whose Dense projections quantization may replace (a GPT): its
 * class rebuilds it from getConfig(), which lists quantized projections (`quantized`).
 */
export type ModelWithProjections = Model & WithProjections & { getConfig(): Record<string, Json> };

export interface QuantizedModel<M extends Sequential | ModelWithProjections = Sequential> {
  model: M;
  layers: LayerQuantization[];
}

const isQuantizable = (l: Layer): l is Dense | Conv2D => l instanceof Dense || l instanceof Conv2D;

/** A layer quantization may replace: a model layer, or a projection inside one (path set). */
interface Target {
  index: number;
  path?: string;
  layer: Layer;
}

/** The model's layers and, after each composite, its projections: one report row each. */
function targetsOf(layers: readonly Layer[]): Target[] {
  return layers.flatMap((layer, index) => [{ index, layer }, ...(hasProjections(layer) ? layer.projections().map(([path, p]) => ({ index, path, layer: p })) : [])]);
}

/**
 * Calls record(input, output) whenever `layer` runs (composites call their projections'
 * forward directly); returns the undo. The instance's own forward shadows the class's.
 */
function tap(layer: Layer, record: (input: Tensor, output: Tensor) => void): () => void {
  const forward = layer.forward;
  layer.forward = (x: Tensor) => {
    const y = forward.call(layer, x);
    record(x, y);
    return y;
  };
  return () => void delete (layer as { forward?: unknown }).forward;
}

/**
 * Runs the model over one batch and calls visit(t, input, output) for each target that ran: a
 * Sequential's layers as they return, projections (through taps) as their composite calls them.
 */
function walkTargets(model: Sequential | ModelWithProjections, targets: readonly Target[], x: Tensor, visit: (t: number, input: Tensor, output: Tensor) => void): void {
  const ofLayer = new Map(targets.flatMap((t, i) => (t.path === undefined ? [[t.index, i]] : [])));
  const untap = targets.flatMap((t, i) => (t.path === undefined ? [] : [tap(t.layer, (input, output) => visit(i, input, output))]));
  try {
    if (model instanceof Sequential) walk(model.layers, x, (index, input, output) => visit(ofLayer.get(index)!, input, output));
    else noGrad(() => model.call(x));
  } finally {
    untap.forEach((u) => u());
  }
}

/** The targets of a model: a Sequential's layers and their projections, or another model's projections. */
function modelTargets(model: Sequential | ModelWithProjections): Target[] {
  return model instanceof Sequential ? targetsOf(model.layers) : model.projections().map(([path, layer]) => ({ index: 0, path, layer }));
}


function weightBytes(l: Layer): number {
  return [...l.namedParameters(), ...l.namedBuffers()].reduce((n, [, t]) => n + t.size * arrayType(t.dtype).BYTES_PER_ELEMENT, 0);
}

/**
 * Below this many inputs per output (a Dense layer's features, a convolution's C*kH*kW) int8
 * does not pay: the products are too short for the int8 GEMM to make up for quantizing the
 * input and reordering the output (MNIST's first 3x3 convolution on one channel, 9 inputs per
 * output, ran 2x slower in int8 than the float kernel), and the weights are tiny anyway.
 * A stride-1 convolution with a 2x2 max pool after it is the exception (pooledConv): the native
 * backend's pooled int8 kernel (AVX-512 VNNI) runs even MNIST's first one faster than float.
 */
export const MIN_INPUTS_PER_OUTPUT = 32;

/**
 * A stride-1, undilated Conv2D whose activation runs in the kernel (not sigmoid) and that a 2x2,
 * stride-2 MaxPool2D follows: the pooled int8 kernel's case.
 */
function pooledConv(l: Dense | Conv2D, next: Layer | undefined): boolean {
  const pairOf = (p: readonly number[], v: number) => p[0] === v && p[1] === v;
  return l instanceof Conv2D && pairOf(l.strides, 1) && pairOf(l.dilationRate, 1) && kernelActivation(l.activation) !== null && next instanceof MaxPool2D && next.fusable &&
    next.padding === 'valid' && pairOf(next.poolSize, 2) && pairOf(next.strides, 2);
}

/**
 * Why `l` cannot or should not be quantized, or null; next: the layer after it, if any. A pooled
 * conv passes the default bar on inputs per output (MIN_INPUTS_PER_OUTPUT), not one the caller set.
 */
function unsupported(l: Dense | Conv2D, next: Layer | undefined, minInputs: number | undefined): string | null {
  if (l.kernel.dtype !== 'float32') return `float32 weights only (this layer's are ${l.kernel.dtype})`;
  if (l instanceof Conv2D && l.groups !== 1) return 'grouped convolutions stay float';
  const inputs = l.kernel.shape.reduce((a, b) => a * b, 1) / (l instanceof Dense ? l.units : l.filters);
  const few = minInputs === undefined ? inputs < MIN_INPUTS_PER_OUTPUT && !pooledConv(l, next) : inputs < minInputs;
  if (few) return `${inputs} inputs per output: too few for int8 to be faster`;
  return null;
}

function quantizeLayer(l: Dense | Conv2D, input: InputQuantizationSpec): QuantizedDense | QuantizedConv2D {
  const common = { name: l.name, activation: l.activation, useBias: l.useBias, inputQuantization: input, ...(l.inputShape ? { inputShape: l.inputShape } : {}) };
  if (l instanceof Dense) {
    const { q, scale } = quantizePerChannel(l.kernel, 1);
    const layer = new QuantizedDense(l.units, { ...common, inputFeatures: l.kernel.shape[0] });
    layer.setWeights(q, scale, l.bias);
    return layer;
  }
  const { q, scale } = quantizePerChannel(l.kernel, 0);
  const layer = new QuantizedConv2D(l.filters, l.kernelSize, { ...common, inChannels: l.kernel.shape[1], strides: l.strides, padding: l.padding, dilationRate: l.dilationRate });
  layer.setWeights(q, scale, l.bias);
  return layer;
}

/** Batches of x along its first axis. */
function* batches(x: Tensor, batchSize: number): Generator<Tensor> {
  for (let start = 0; start < x.shape[0]; start += batchSize) yield x.slice([start], [Math.min(x.shape[0], start + batchSize)]);
}

/** Runs `layers` over one batch, calling visit(i, input, output) for each layer. */
function walk(layers: readonly Layer[], x: Tensor, visit: (i: number, input: Tensor, output: Tensor) => void): void {
  noGrad(() => {
    let h = x;
    layers.forEach((layer, i) => {
      const out = layer.call(h);
      visit(i, h, out);
      h = out;
    });
  });
}

/** Accumulates cosine similarity between two streams of equally shaped tensors. */
class Cosine {
  private dot = 0;
  private aa = 0;
  private bb = 0;
  add(a: Tensor, b: Tensor): void {
    const x = a.dataSync();
    const y = b.dataSync();
    for (let i = 0; i < x.length; i++) {
      this.dot += x[i] * y[i];
      this.aa += x[i] * x[i];
      this.bb += y[i] * y[i];
    }
  }
  get value(): number {
    if (this.aa === 0 && this.bb === 0) return 1; // both all zero: identical
    return this.dot / Math.sqrt(this.aa * this.bb || Number.MIN_VALUE);
  }
}

export function quantizeModel<M extends Sequential | ModelWithProjections>(model: M, options: QuantizeOptions = {}): QuantizedModel<M> {
  const mode = options.mode ?? 'dynamic';
  if (mode !== 'dynamic' && mode !== 'static') fail('quantize', `mode must be "dynamic" or "static", got ${JSON.stringify(mode)}`);
  const sequential = model instanceof Sequential;
  if (sequential ? !model.built : !hasProjections(model)) fail('quantize', 'expected a built Sequential model, or a model with projections (a GPT)');
  const { sample } = options;
  if (mode === 'static' && (!sample || sample.shape[0] === 0)) fail('quantize', 'static quantization needs a calibration set, and it is empty: pass example inputs (--calibration-data) to measure each layer\'s input range');
  const batchSize = options.batchSize ?? 256;
  const minCosine = options.minCosine ?? 0.99;
  const targets = modelTargets(model);
  const keep = new Set(options.keepFloat ?? []);
  for (const name of keep) if (!targets.some((t) => t.layer.name === name)) fail('quantize', `--keep-float names no layer "${name}" (the layers: ${targets.map((t) => t.layer.name).join(', ')})`);
  model.eval();

  const report: LayerQuantization[] = targets.map(({ index, path, layer: l }) => ({ index, ...(path ? { path } : {}), name: l.name, type: l.type, quantizedType: l.type, bytes: { float: weightBytes(l), quantized: weightBytes(l) } }));
  const candidates = new Map<number, Dense | Conv2D>();
  targets.forEach(({ layer: l }, t) => {
    if (!isQuantizable(l)) return;
    const next = sequential && targets[t].path === undefined ? (model as Sequential).layers[targets[t].index + 1] : undefined;
    const why = keep.has(l.name) ? 'kept float as asked' : unsupported(l, next, options.minInputsPerOutput);
    if (why) report[t].reason = why;
    else candidates.set(t, l);
  });
  // A composite's own row counts only what is not in its projections' rows.
  targets.forEach((t, i) => {
    if (t.path === undefined && hasProjections(t.layer)) {
      const inside = t.layer.projections().reduce((n, [, p]) => n + weightBytes(p), 0);
      report[i].bytes = { float: report[i].bytes.float - inside, quantized: report[i].bytes.float - inside };
    }
  });

  // Static: each candidate's input range over the calibration set.
  const inputs = new Map<number, InputQuantizationSpec>();
  if (mode === 'static') {
    const observers = new Map([...candidates.keys()].map((t) => [t, new RangeObserver(options.method ?? 'minmax', options.percentile)]));
    for (const x of batches(sample!, batchSize)) walkTargets(model, targets, x, (t, input) => observers.get(t)?.observe(input.dataSync()));
    for (const [t, o] of observers) inputs.set(t, { mode: 'static', ...(o.quantization() as InputQuantization) });
  }
  const quantized = new Map([...candidates].map(([t, l]) => [t, quantizeLayer(l, inputs.get(t) ?? { mode: 'dynamic' })]));

  // Sensitivity: each quantized layer alone, on the float model's input to it.
  if (sample && sample.shape[0] > 0) {
    const alone = new Map([...quantized.keys()].map((t) => [t, new Cosine()]));
    for (const x of batches(sample, batchSize)) {
      walkTargets(model, targets, x, (t, input, output) => {
        const q = quantized.get(t);
        if (q) alone.get(t)!.add(output, noGrad(() => q.call(input)));
      });
    }
    for (const [t, c] of alone) {
      report[t].cosineAlone = c.value;
      if (c.value < minCosine) {
        report[t].reason = `int8 output cosine ${c.value.toFixed(4)} < ${minCosine} on the sample`;
        quantized.delete(t);
      }
    }
  }

  const result = sequential ? quantizedSequential(model as Sequential, targets, quantized) : quantizedCopy(model as ModelWithProjections, targets, quantized);
  result.eval();
  for (const [t, q] of quantized) {
    report[t].quantizedType = q.type;
    report[t].input = { ...q.inputQuantization }; // a copy: the layer's own never changes after it is made
    report[t].bytes.quantized = weightBytes(q);
  }

  // The report's per-layer error: both models from the same input, layer by layer.
  if (sample && sample.shape[0] > 0) {
    const quantizedTargets = modelTargets(result);
    const cos = targets.map(() => new Cosine());
    for (const x of batches(sample, batchSize)) {
      const floatOutputs: Tensor[] = [];
      walkTargets(model, targets, x, (t, _input, output) => (floatOutputs[t] = output));
      walkTargets(result, quantizedTargets, x, (t, _input, output) => cos[t].add(floatOutputs[t], output));
    }
    cos.forEach((c, t) => (report[t].cosine = c.value));
  }
  return { model: result as M, layers: report };
}

type Quantized = Map<number, QuantizedDense | QuantizedConv2D>;

/** Model layers replaced; composites with a projection replaced are copies, so the float model keeps its own. */
function quantizedSequential(model: Sequential, targets: readonly Target[], quantized: Quantized): Sequential {
  const layers = model.layers.map((l, index) => {
    const own = targets.findIndex((t) => t.index === index && t.path === undefined);
    const inside = targets.flatMap((t, i) => (t.index === index && t.path !== undefined && quantized.has(i) ? [[t.path, quantized.get(i)!] as const] : []));
    if (inside.length === 0) return quantized.get(own) ?? l;
    const copy = layerFromConfig(l.getConfig(), `quantize: ${l.name}`) as Layer & WithProjections;
    noGrad(() => copy.loadStateDict(l.stateDict()));
    for (const [path, q] of inside) copy.setProjection(path, q as QuantizedDense);
    return copy;
  });
  return new Sequential(layers);
}

/** A copy of the model, rebuilt from its config with its weights, the quantized projections in place. */
function quantizedCopy(model: ModelWithProjections, targets: readonly Target[], quantized: Quantized): ModelWithProjections {
  const rebuild = (model.constructor as { fromConfig?(config: unknown): ModelWithProjections }).fromConfig;
  if (typeof rebuild !== 'function') fail('quantize', `${model.constructor.name} has no fromConfig to copy it with`);
  const copy = rebuild(model.getConfig());
  noGrad(() => copy.loadStateDict(model.stateDict()));
  for (const [t, q] of quantized) copy.setProjection(targets[t].path!, q as QuantizedDense);
  return copy;
}
