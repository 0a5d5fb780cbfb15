// Reverse-mode autodiff. Every op runs through `apply`, which computes the output and, when an
// input requires a gradient, records a node: the op, its inputs, attrs and anything the forward
// saved. `backward` walks those nodes from the output back to the leaves in reverse topological
// order, asking each op's gradient rule (src/ops/table.ts) for its inputs' gradients.
import { fail, fmtShape } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { sameShape } from '../tensor/shape.js';
import { isFloat } from '../tensor/dtype.js';
import { changedSince, currentGeneration } from '../tensor/inplace.js';

/** Whatever a forward wants to hand its backward beyond inputs and output (e.g. maxPool's argmax). */
export type Saved = Record<string, unknown>;

export interface GradContext<A> {
  inputs: readonly Tensor[];
  out: Tensor;
  attrs: A;
  saved: Saved;
  /** Which inputs want a gradient (PyTorch's needs_input_grad): rules may skip costly ones that don't. */
  needs: readonly boolean[];
}

export interface OpDef<A = any> {
  name: string;
  /** `recording`: whether the result will be recorded for backward, so work only backward needs (max pooling's argmax) can be skipped when not. */
  forward(inputs: readonly Tensor[], attrs: A, saved: Saved, recording: boolean): Tensor;
  /** Gradients of the loss w.r.t. each input, given g = its gradient w.r.t. the output; null where none flows.
   * They may have the output's broadcast shape: the engine sums them down to each input's shape. */
  backward?(g: Tensor, ctx: GradContext<A>): (Tensor | null)[];
}

export interface GradNode {
  op: OpDef;
  inputs: readonly Tensor[] | null; // null once backward has freed the graph
  attrs: unknown;
  saved: Saved | null;
  /** The in-place generation when the node was made (see src/tensor/inplace.ts). */
  generation: number;
}

let gradEnabled = true;
let anomalyMode = false;
let inBackward = false; // anomaly checks inside gradient rules report the rule's op, not its parts

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn without recording the graph, like torch.no_grad(). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** When on, every op's output and every gradient is checked for NaN/Inf, and the first one found
 * throws an error naming the op (like torch.autograd.detect_anomaly). Slow; for debugging. */
export function detectAnomaly(on = true): void {
  anomalyMode = on;
}

export function apply<A>(op: OpDef<A>, inputs: readonly Tensor[], attrs: A): Tensor {
  const backend = inputs[0].backend;
  for (let i = 1; i < inputs.length; i++) {
    if (inputs[i].backend !== backend) {
      fail(op.name, `tensors are on different backends (${backend.name} and ${inputs[i].backend.name}); move one with .to('${backend.name}')`);
    }
  }
  const saved: Saved = {};
  const recording = gradEnabled && op.backward !== undefined && inputs.some((x) => x.requiresGrad);
  // Forwards that compose other ops (logsumexp) must not record those inner steps.
  const prev = gradEnabled;
  gradEnabled = false;
  let out: Tensor;
  try {
    out = op.forward(inputs, attrs, saved, recording);
  } finally {
    gradEnabled = prev;
  }
  if (anomalyMode && !inBackward) checkFinite(op.name, 'output', out);
  if (recording) {
    out.node = { op, inputs, attrs, saved, generation: currentGeneration() };
    out.setRequiresGradUnchecked();
  }
  return out;
}

function checkFinite(op: string, what: string, t: Tensor): void {
  if (!isFloat(t.dtype)) return;
  const data = t.backend.download(t);
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) fail(op, `non-finite ${what} (${data[i]} at flat index ${i} of ${fmtShape(t.shape)}), found by detectAnomaly`);
  }
}

/** Tensors reachable from root through recorded nodes, inputs before the tensors made from them. */
function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>([root]);
  const stack: [Tensor, number][] = [[root, 0]];
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const inputs = top[0].node?.inputs;
    if (top[0].node && !inputs) fail('backward', 'the graph was already freed by an earlier backward(); pass {retainGraph: true} to that call to backward twice');
    if (inputs && top[1] < inputs.length) {
      const next = inputs[top[1]++];
      if (next.requiresGrad && next.node && !seen.has(next)) {
        seen.add(next);
        stack.push([next, 0]);
      }
    } else {
      order.push(top[0]);
      stack.pop();
    }
  }
  return order;
}

/**
 * Propagates `seed` (dL/droot) back through the graph. `onLeaf` receives the gradient of each
 * tensor that requires grad and has no node, and of non-leaves that asked to retain theirs.
 */
export function propagate(root: Tensor, seed: Tensor, retainGraph: boolean, onLeaf: (t: Tensor, g: Tensor) => void): void {
  if (!root.requiresGrad) fail('backward', 'this tensor does not require grad: no input of the computation that made it had requiresGrad = true');
  if (!sameShape(seed.shape, root.shape)) fail('backward', `gradient shape ${fmtShape(seed.shape)} differs from the tensor's ${fmtShape(root.shape)}`);
  if (!root.node) {
    onLeaf(root, seed);
    return;
  }
  const order = topoOrder(root);
  const grads = new Map<Tensor, Tensor>([[root, seed]]);
  const wasInBackward = inBackward;
  inBackward = true;
  try {
    noGrad(() => walk(order, grads, retainGraph, onLeaf));
  } finally {
    inBackward = wasInBackward;
  }
}

/**
 * Visits nodes from the root back, asking each rule for its inputs' gradients. A non-leaf's
 * gradient is garbage once its rule has run, unless something still holds its storage: its buffer
 * then goes back to the backend (Tensor.recycle), so the next gradient of its size reuses warm
 * memory instead of a fresh buffer (in a GPT step the fresh ones cost two mark-compact collections
 * an iteration, triggered by their external memory).
 */
function walk(order: Tensor[], grads: Map<Tensor, Tensor>, retainGraph: boolean, onLeaf: (t: Tensor, g: Tensor) => void): void {
  const seed = order.length ? grads.get(order[order.length - 1]) : undefined;
  const kept = new Set<unknown>(); // storage handed to leaves (their .grad) or retained
  const keep = (t: Tensor, g: Tensor) => {
    kept.add(g.buf);
    onLeaf(t, g);
  };
  for (let i = order.length - 1; i >= 0; i--) {
    const t = order[i];
    const g = grads.get(t);
    grads.delete(t);
    const node = t.node!;
    if (!g) continue;
    if (t.retainsGrad) keep(t, g);
    const inputs = node.inputs!;
    for (const x of inputs) {
      if (changedSince(x.buf, node.generation)) {
        fail('backward', `an input of ${node.op.name} ${fmtShape(x.shape)} was changed in place (an optimizer step) after the graph was built; run the forward pass again`);
      }
    }
    const needs = inputs.map((x) => x.requiresGrad);
    const inGrads = node.op.backward!(g, { inputs, out: t, attrs: node.attrs, saved: node.saved!, needs });
    for (let j = 0; j < inputs.length; j++) {
      const x = inputs[j];
      let gx = inGrads[j];
      if (!x.requiresGrad || !gx) continue;
      gx = fitGradient(node.op.name, gx, x);
      if (anomalyMode) checkFinite(node.op.name, `gradient for input ${j}`, gx);
      if (x.node) {
        const prev = grads.get(x);
        grads.set(x, prev ? prev.add(gx) : gx);
      } else {
        keep(x, gx);
      }
    }
    if (!retainGraph) {
      node.inputs = null;
      node.saved = null;
      if (g !== seed && !kept.has(g.buf) && !inGrads.some((gx) => gx?.buf === g.buf) && ![...grads.values()].some((p) => p.buf === g.buf)) g.recycle();
    }
  }
}

/** Sums a broadcast gradient down to the input's shape and dtype: the one place broadcasting is undone. */
function fitGradient(op: string, g: Tensor, x: Tensor): Tensor {
  if (!sameShape(g.shape, x.shape)) g = g.sumTo(x.shape);
  if (!sameShape(g.shape, x.shape)) fail(op, `gradient rule gave shape ${fmtShape(g.shape)} for an input of shape ${fmtShape(x.shape)}`);
  return g.dtype === x.dtype ? g : g.cast(x.dtype);
}
