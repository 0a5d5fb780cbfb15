// ONNX layout, indexing, shape and constant ops, written with Lathe's layout ops (views,
// indexSelect, gather, pad, concat) so gradients flow through them. Shape-computation
// subgraphs (Shape -> Gather -> Unsqueeze -> Concat -> Reshape, as PyTorch exports Flatten)
// run on small int32 tensors, which live in host memory on every Lathe backend.
import { fail } from '../../../errors.js';
import * as F from '../../../ops/functions.js';
import { broadcastShapes } from '../../../tensor/shape.js';
import type { Tensor } from '../../../tensor/tensor.js';
import { type NodeContext, type OpFn, input, optInts, scalarOf } from './ops.js';
import { HostInts, type Value, intsOf, intsValue, latheDType, onnxDTypeName, tensorOf } from './tensors.js';

const norm = (a: number, rank: number) => (a < 0 ? a + rank : a);
/** int64 sentinels such as INT64_MAX ("to the end") clamp into a range Lathe's slice takes. */
const clampPos = (v: number) => Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, v));

/** Axes from the attribute before `since`, from input `i` from then on. */
function axesOf(inputs: (Value | undefined)[], ctx: NodeContext, since: number, i = 1): number[] | undefined {
  return ctx.opset < since ? ctx.attrs.ints('axes') : optInts(inputs, i, ctx);
}

function reshapeOp(inputs: (Value | undefined)[], ctx: NodeContext): Value[] {
  const v = inputs[0] ?? fail(ctx.where, 'input 0 is required');
  const spec = optInts(inputs, 1, ctx) ?? fail(ctx.where, 'input 1 (shape) is required');
  const allowZero = ctx.attrs.int('allowzero', 0) === 1;
  // 0 copies the input's dimension (unless allowzero); -1 is inferred by reshape.
  const shape = spec.map((d, i) => (d === 0 && !allowZero ? v.shape[i] : d));
  if (v instanceof HostInts) return [new HostInts(F.reshape(F.zeros(v.shape), shape).shape as number[], v.data)];
  return [F.reshape(v, shape)];
}

function gatherOp(inputs: (Value | undefined)[], ctx: NodeContext): Value[] {
  const v = inputs[0] ?? fail(ctx.where, 'input 0 is required');
  const idxValue = inputs[1] ?? fail(ctx.where, 'input 1 (indices) is required');
  const axis = norm(ctx.attrs.int('axis', 0), v.shape.length);
  const dim = v.shape[axis];
  const idx = intsOf(idxValue, `${ctx.where}: indices`).map((k) => (k < 0 ? k + dim : k));
  const outShape = [...v.shape.slice(0, axis), ...idxValue.shape, ...v.shape.slice(axis + 1)];
  if (v instanceof HostInts) {
    if (v.shape.length !== 1) fail(ctx.where, 'int64 values beyond int32 are supported only in 1-D index lists');
    return [intsValue(outShape, idx.map((k) => v.data[k]))];
  }
  return [F.reshape(F.indexSelect(v, axis, idx), outShape)];
}

function sliceOp(inputs: (Value | undefined)[], ctx: NodeContext): Value[] {
  const x = input(inputs, 0, ctx);
  const old = ctx.opset < 10;
  const starts = (old ? ctx.attrs.ints('starts') : optInts(inputs, 1, ctx)) ?? fail(ctx.where, 'starts are required');
  const ends = (old ? ctx.attrs.ints('ends') : optInts(inputs, 2, ctx)) ?? fail(ctx.where, 'ends are required');
  const axes = (old ? ctx.attrs.ints('axes') : optInts(inputs, 3, ctx)) ?? starts.map((_, i) => i);
  const steps = (old ? undefined : optInts(inputs, 4, ctx)) ?? starts.map(() => 1);
  const begin: (number | null)[] = x.shape.map(() => null);
  const end: (number | null)[] = x.shape.map(() => null);
  const step = x.shape.map(() => 1);
  axes.forEach((a, i) => {
    const d = norm(a, x.rank);
    begin[d] = clampPos(starts[i]);
    end[d] = clampPos(ends[i]);
    step[d] = steps[i];
  });
  return [F.slice(x, begin, end, step)];
}

/** Pads: constant via Lathe's pad, edge/reflect/wrap by picking source positions with indexSelect. */
function padOp(inputs: (Value | undefined)[], ctx: NodeContext): Value[] {
  let x = input(inputs, 0, ctx);
  const mode = ctx.attrs.str('mode', 'constant');
  const old = ctx.opset < 11;
  const raw = (old ? ctx.attrs.ints('pads') : optInts(inputs, 1, ctx)) ?? fail(ctx.where, 'pads are required');
  const value = (old ? ctx.attrs.float('value', 0) : scalarOf(inputs[2], ctx)) ?? 0;
  const axes = (optInts(inputs, 3, ctx) ?? x.shape.map((_, i) => i)).map((a) => norm(a, x.rank));
  if (raw.length !== 2 * axes.length) fail(ctx.where, `expected ${2 * axes.length} pads, got ${raw.length}`);
  const pairs: [number, number][] = x.shape.map(() => [0, 0]);
  axes.forEach((a, i) => (pairs[a] = [raw[i], raw[i + axes.length]]));
  // Negative pads crop first.
  if (pairs.some(([b, e]) => b < 0 || e < 0)) {
    x = F.slice(x, pairs.map(([b]) => Math.max(0, -b)), pairs.map(([, e], d) => x.shape[d] - Math.max(0, -e)));
  }
  const pos = pairs.map(([b, e]) => [Math.max(0, b), Math.max(0, e)] as [number, number]);
  if (mode === 'constant') return [F.pad(x, pos, value)];
  for (let d = 0; d < x.rank; d++) {
    const [b, e] = pos[d];
    if (b === 0 && e === 0) continue;
    const n = x.shape[d];
    const src = Array.from({ length: n + b + e }, (_, k) => {
      const i = k - b;
      if (mode === 'edge') return Math.min(Math.max(i, 0), n - 1);
      if (mode === 'wrap') return ((i % n) + n) % n;
      if (mode !== 'reflect') fail(ctx.where, `mode "${mode}" is not supported (constant, edge, reflect, wrap)`);
      const period = 2 * (n - 1);
      const r = period === 0 ? 0 : ((i % period) + period) % period;
      return r < n ? r : period - r;
    });
    x = F.indexSelect(x, d, src);
  }
  return [x];
}

function splitOp(inputs: (Value | undefined)[], ctx: NodeContext): Value[] {
  const x = input(inputs, 0, ctx);
  const axis = norm(ctx.attrs.int('axis', 0), x.rank);
  let sizes = ctx.opset < 13 ? ctx.attrs.ints('split') : optInts(inputs, 1, ctx);
  if (!sizes || sizes.length === 0) {
    const n = ctx.attrs.has('num_outputs') ? ctx.attrs.int('num_outputs') : ctx.outputCount;
    const each = Math.ceil(x.shape[axis] / n);
    sizes = Array.from({ length: n }, (_, i) => Math.max(0, Math.min(each, x.shape[axis] - i * each)));
  }
  return F.split(x, sizes, axis);
}

function castTo(x: Tensor, code: number, ctx: NodeContext): Tensor {
  const dtype = latheDType(code) ?? fail(ctx.where, `cannot cast to ${onnxDTypeName(code)}`);
  return F.cast(x, dtype);
}

export const LAYOUT: Record<string, OpFn> = {
  Reshape: reshapeOp,
  Flatten: (inputs, ctx) => {
    const x = input(inputs, 0, ctx);
    const axis = norm(ctx.attrs.int('axis', 1), x.rank);
    const outer = x.shape.slice(0, axis).reduce((a, b) => a * b, 1);
    return [F.reshape(x, [outer, x.size === 0 ? 0 : x.size / outer])];
  },
  Transpose: (inputs, ctx) => {
    const x = input(inputs, 0, ctx);
    return [F.permute(x, ctx.attrs.ints('perm') ?? x.shape.map((_, i) => x.rank - 1 - i))];
  },
  Concat: (inputs, ctx) => {
    const values = inputs.filter((v): v is Value => v !== undefined);
    const axis = ctx.attrs.int('axis');
    if (values.some((v) => v instanceof HostInts)) {
      if (values.some((v) => v.shape.length !== 1)) fail(ctx.where, 'int64 values beyond int32 are supported only in 1-D lists');
      const data = values.flatMap((v) => intsOf(v, ctx.where));
      return [intsValue([data.length], data)];
    }
    const ts = values.map((v) => tensorOf(v, ctx.where));
    const a = norm(axis, ts[0].rank);
    const kept = ts.filter((t) => t.shape[a] > 0);
    return [kept.length === 0 ? ts[0] : F.concat(kept, a)];
  },
  Gather: gatherOp,
  GatherElements: (inputs, ctx) => {
    const x = input(inputs, 0, ctx);
    const axis = norm(ctx.attrs.int('axis', 0), x.rank);
    const idx = input(inputs, 1, ctx);
    const fixed = F.where(idx.lt(0), idx.add(x.shape[axis]), idx);
    return [F.gather(x, axis, fixed)];
  },
  Unsqueeze: (inputs, ctx) => {
    const v = inputs[0] ?? fail(ctx.where, 'input 0 is required');
    const axes = axesOf(inputs, ctx, 13) ?? fail(ctx.where, 'axes are required');
    const rank = v.shape.length + axes.length;
    const at = new Set(axes.map((a) => norm(a, rank)));
    const shape: number[] = [];
    for (let i = 0, j = 0; i < rank; i++) shape.push(at.has(i) ? 1 : v.shape[j++]);
    return [v instanceof HostInts ? new HostInts(shape, v.data) : F.reshape(v, shape)];
  },
  Squeeze: (inputs, ctx) => {
    const v = inputs[0] ?? fail(ctx.where, 'input 0 is required');
    const axes = axesOf(inputs, ctx, 13)?.map((a) => norm(a, v.shape.length));
    for (const a of axes ?? []) if (v.shape[a] !== 1) fail(ctx.where, `cannot squeeze axis ${a} of size ${v.shape[a]}`);
    const shape = v.shape.filter((d, i) => (axes ? !axes.includes(i) : d !== 1));
    return [v instanceof HostInts ? new HostInts(shape, v.data) : F.reshape(v, shape)];
  },
  Slice: sliceOp,
  Shape: (inputs, ctx) => {
    const v = inputs[0] ?? fail(ctx.where, 'input 0 is required');
    const r = v.shape.length;
    const clamp = (a: number) => Math.min(Math.max(norm(a, r), 0), r);
    const dims = v.shape.slice(clamp(ctx.attrs.int('start', 0)), clamp(ctx.attrs.int('end', r)));
    return [intsValue([dims.length], dims)];
  },
  Size: (inputs, ctx) => [intsValue([], [(inputs[0] ?? fail(ctx.where, 'input 0 is required')).shape.reduce((a, b) => a * b, 1)])],
  Expand: (inputs, ctx) => {
    const x = input(inputs, 0, ctx);
    const shape = optInts(inputs, 1, ctx) ?? fail(ctx.where, 'input 1 (shape) is required');
    return [F.expand(x, broadcastShapes(ctx.where, x.shape, shape))];
  },
  Tile: (inputs, ctx) => {
    const x = input(inputs, 0, ctx);
    const reps = optInts(inputs, 1, ctx) ?? fail(ctx.where, 'input 1 (repeats) is required');
    // A repeat axis before each axis, broadcast, then merged: the whole block repeats.
    const inter = x.shape.flatMap((d) => [1, d]);
    const big = x.shape.flatMap((d, i) => [reps[i], d]);
    return [F.reshape(F.expand(F.reshape(x, inter), big), x.shape.map((d, i) => d * reps[i]))];
  },
  Constant: (_inputs, ctx) => {
    const a = ctx.attrs;
    if (a.has('value')) return [a.raw('value') as Value];
    if (a.has('value_float')) return [F.tensor([a.float('value_float', 0)], { dtype: 'float32' }).reshape([])];
    if (a.has('value_floats')) return [F.tensor(a.floats('value_floats')!, { dtype: 'float32' })];
    if (a.has('value_int')) return [intsValue([], [a.int('value_int')])];
    if (a.has('value_ints')) return [intsValue([a.ints('value_ints')!.length], a.ints('value_ints')!)];
    return fail(ctx.where, 'only value, value_float(s) and value_int(s) constants are supported');
  },
  ConstantOfShape: (inputs, ctx) => {
    const shape = optInts(inputs, 0, ctx) ?? fail(ctx.where, 'input 0 (shape) is required');
    const v = ctx.attrs.raw('value') as Value | undefined;
    const t = v ? tensorOf(v, ctx.where) : undefined;
    return [F.full(shape, t ? t.dataSync()[0] : 0, { dtype: t?.dtype ?? 'float32' })];
  },
  Range: (inputs, ctx) => {
    const [start, limit, delta] = [0, 1, 2].map((i) => scalarOf(inputs[i], ctx)!);
    const n = Math.max(Math.ceil((limit - start) / delta), 0);
    const dtype = input(inputs, 0, ctx).dtype;
    return [F.tensor(Array.from({ length: n }, (_, i) => start + i * delta), { dtype }).reshape([n])];
  },
  Split: splitOp,
  Pad: padOp,
  Cast: (inputs, ctx) => [castTo(input(inputs, 0, ctx), ctx.attrs.int('to'), ctx)],
  CastLike: (inputs, ctx) => [F.cast(input(inputs, 0, ctx), input(inputs, 1, ctx).dtype)],
  Identity: (inputs) => [inputs[0]],
  Dropout: (inputs, ctx) => {
    // Inference only: Dropout is the identity, and its mask all true.
    const ratio = ctx.opset >= 12 ? scalarOf(inputs[1], ctx) ?? 0.5 : 0;
    if (ctx.opset >= 12 && scalarOf(inputs[2], ctx) && ratio > 0) fail(ctx.where, 'training_mode is not supported; Lathe runs Dropout as the identity');
    const x = inputs[0] ?? fail(ctx.where, 'input 0 is required');
    return [x, F.full(x.shape, true, { dtype: 'bool' })];
  },
  DepthToSpace: (inputs, ctx) => {
    const x = input(inputs, 0, ctx);
    const bs = ctx.attrs.int('blocksize');
    const [n, c, h, w] = x.shape;
    const crd = ctx.attrs.str('mode', 'DCR') === 'CRD';
    const y = crd
      ? F.permute(F.reshape(x, [n, c / (bs * bs), bs, bs, h, w]), [0, 1, 4, 2, 5, 3])
      : F.permute(F.reshape(x, [n, bs, bs, c / (bs * bs), h, w]), [0, 3, 4, 1, 5, 2]);
    return [F.reshape(y, [n, c / (bs * bs), h * bs, w * bs])];
  },
  SpaceToDepth: (inputs, ctx) => {
    const x = input(inputs, 0, ctx);
    const bs = ctx.attrs.int('blocksize');
    const [n, c, h, w] = x.shape;
    const y = F.permute(F.reshape(x, [n, c, h / bs, bs, w / bs, bs]), [0, 3, 5, 1, 2, 4]);
    return [F.reshape(y, [n, c * bs * bs, h / bs, w / bs])];
  },
};
