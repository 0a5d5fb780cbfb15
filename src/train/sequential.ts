// Sequential: layers applied in order, as in Keras and torch.nn.Sequential. With an input shape
// on the first layer, build() checks that every layer accepts the previous one's output before
// any data flows, and names the layer that does not.
import { isGradEnabled } from '../autograd/engine.js';
import { fail, fmtShape } from '../errors.js';
import { LatheError } from '../errors.js';
import type { Json } from '../nn/config.js';
import type { Layer } from '../nn/layer.js';
import { Layer as LayerClass } from '../nn/layer.js';
import { layerFromConfig } from '../nn/layers/index.js';
import type { Tensor } from '../tensor/tensor.js';
import { Model } from './model.js';

export class Sequential extends Model {
  readonly layers: Layer[] = [];
  built = false;

  constructor(layers: Layer[] = []) {
    super();
    for (const l of layers) this.add(l);
  }

  /** Builds a Sequential from layer configs; `where` names the list in errors (config.model.layers). */
  static fromConfig(layers: unknown, where = 'layers'): Sequential {
    if (!Array.isArray(layers) || layers.length === 0) fail(where, `must be a non-empty array of layer configs, got ${JSON.stringify(layers)}`);
    const model = new Sequential();
    model.where = where;
    layers.forEach((c, i) => model.add(layerFromConfig(c, `${where}[${i}]`)));
    return model;
  }

  private where = 'Sequential';

  add(layer: Layer): this {
    if (!(layer instanceof LayerClass)) fail('Sequential.add', `expected a Layer, got ${layer === null ? 'null' : typeof layer}`);
    if (this.layers.includes(layer)) fail('Sequential.add', `layer ${layer.name} is already in this model`);
    this.layers.push(layer);
    const wasBuilt = this.built;
    this.built = false;
    try {
      if (this.layers[0].inputShape) this.build(this.layers[0].inputShape);
    } catch (e) {
      this.layers.pop(); // a layer that does not fit is refused, and the model stays as it was
      this.built = wasBuilt;
      throw e;
    }
    return this;
  }

  /** Builds every layer for this per-example input shape, checking that the layers chain. */
  build(inputShape: readonly number[]): number[] {
    let shape = [...inputShape];
    this.layers.forEach((layer, i) => {
      try {
        if (!layer.built) layer.build(shape);
        shape = layer.computeOutputShape(shape);
      } catch (e) {
        if (!(e instanceof LatheError)) throw e;
        fail(`${this.where}[${i}] (${layer.type})`, `${e.message.replace(/^[^:]*: /, '')} (the input comes from ${i === 0 ? 'the model input' : `layers[${i - 1}] (${this.layers[i - 1].type})`})`);
      }
    });
    this.built = true;
    return shape;
  }

  /** The per-example input shape, once known. */
  get inputShape(): number[] | undefined {
    return this.layers[0]?.inputShape;
  }

  /** The per-example output shape for the model's input shape. */
  get outputShape(): number[] | undefined {
    const s = this.inputShape;
    return s && this.layers.reduce((shape, l) => l.computeOutputShape(shape), s);
  }

  forward(x: Tensor): Tensor {
    if (this.layers.length === 0) fail('Sequential', 'the model has no layers');
    if (!this.built) this.build(x.shape.slice(1));
    const expected = this.inputShape!;
    if (x.rank !== expected.length + 1 || expected.some((d, i) => d !== x.shape[i + 1])) {
      fail(this.layers[0].name, `expected input [batch,${expected.join(',')}], got ${fmtShape(x.shape)}`);
    }
    // At inference (no gradient, eval mode) each intermediate is garbage once the next layer has
    // read it: its storage goes back to the backend while still in cache. Not the input, nor a
    // layer output that is a view of it (Flatten, an identity Dropout). Runs of layers that a
    // fused kernel covers (Conv2D then MaxPool2D; quantized conv-pool blocks) run as one.
    const inference = !isGradEnabled() && !this.training;
    let y = x;
    for (let i = 0; i < this.layers.length; ) {
      const fused = inference ? this.fusedFrom(i) : null;
      const next = fused ? fused.run(y) : this.layers[i].call(y);
      i += fused ? fused.count : 1;
      if (inference && y.buf !== x.buf && next.buf !== y.buf) y.recycle();
      y = next;
    }
    return y;
  }

  /** The layers from i on that one fused kernel covers at inference: a run first, then a pair; null if none. */
  private fusedFrom(i: number): { run: (x: Tensor) => Tensor; count: number } | null {
    const run = this.layers[i].fuseRun(this.layers, i);
    if (run) return run;
    const pair = i + 1 < this.layers.length ? this.layers[i].fuseWith(this.layers[i + 1]) : null;
    return pair && { run: pair, count: 2 };
  }

  getConfig(): { type: 'sequential'; layers: Record<string, Json>[] } {
    return { type: 'sequential', layers: this.layers.map((l) => l.getConfig()) };
  }

  /** A table of layers, output shapes and parameter counts, as Keras' model.summary(). */
  summary(): string {
    let shape = this.inputShape;
    const rowsOut = this.layers.map((l) => {
      shape = shape && l.computeOutputShape(shape);
      return [`${l.name} (${l.type})`, shape ? `[null,${shape.join(',')}]` : '?', String(l.countParameters())];
    });
    const head = ['Layer (type)', 'Output shape', 'Params'];
    const widths = head.map((h, i) => Math.max(h.length, ...rowsOut.map((r) => r[i].length)));
    const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join('  ');
    return [line(head), ...rowsOut.map(line), `Total params: ${this.countParameters()}`].join('\n');
  }
}
