// conv2d, maxPool2d and avgPool2d (NCHW, PyTorch semantics): forward against hand-worked cases
// and naive loops written here, gradients by central differences, and argument errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as lt from '../../src/index.js';
import { assertClose, assertThrowsLathe, gradcheck, onEachBackend, rand64 } from '../helpers.js';

// float64 forward: reference and kernel sum the same <= 50 products in possibly different orders.
const TOL64 = { atol: 1e-12, rtol: 1e-12 };
// float32 forward: inputs are the same float32 values; the result is rounded once (or, for a kernel
// that accumulates in float32, once per term): 1e-5 covers sums of <= 50 terms of size <= 1.
const TOL32 = { atol: 1e-5, rtol: 1e-5 };
// Gradients: conv2d and avgPool2d are linear in each input, and maxPool2d is linear near inputs
// without ties, so central differences have no truncation error; rounding is ~1e-16 |L| / eps ~ 1e-9.
const GRAD = { atol: 1e-6, rtol: 1e-5 };
const EXACT = { atol: 0, rtol: 0 };

type P = number | [number, number];
const pr = (v: P | undefined, d: number): [number, number] => (v === undefined ? [d, d] : typeof v === 'number' ? [v, v] : v);
const data = (t: lt.Tensor) => Array.from(t.dataSync());

interface ConvOpts {
  stride?: P;
  padding?: P;
  dilation?: P;
  activation?: lt.FusedActivation;
  groups?: number;
}

/** conv2d by its definition: out[n,o,i,j] = b[o] + sum_{c,kh,kw} x[n, g*Cg + c, i*s - p + kh*d, j*s - p + kw*d] w[o,c,kh,kw]. */
function refConv(x: lt.Tensor, w: lt.Tensor, bias: lt.Tensor | null, o: ConvOpts): { shape: number[]; data: Float64Array } {
  const [N, C, H, W] = x.shape;
  const [O, Cg, KH, KW] = w.shape;
  const [sh, sw] = pr(o.stride, 1);
  const [ph, pw] = pr(o.padding, 0);
  const [dh, dw] = pr(o.dilation, 1);
  const G = o.groups ?? 1;
  const X = data(x);
  const Wt = data(w);
  const B = bias ? data(bias) : null;
  const OH = Math.floor((H + 2 * ph - dh * (KH - 1) - 1) / sh) + 1;
  const OW = Math.floor((W + 2 * pw - dw * (KW - 1) - 1) / sw) + 1;
  const out = new Float64Array(N * O * OH * OW);
  const opg = O / G;
  for (let n = 0; n < N; n++)
    for (let oc = 0; oc < O; oc++)
      for (let i = 0; i < OH; i++)
        for (let j = 0; j < OW; j++) {
          let s = B ? B[oc] : 0;
          const grp = Math.floor(oc / opg);
          for (let c = 0; c < Cg; c++)
            for (let kh = 0; kh < KH; kh++)
              for (let kw = 0; kw < KW; kw++) {
                const ih = i * sh - ph + kh * dh;
                const iw = j * sw - pw + kw * dw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue; // zero padding
                const ic = grp * Cg + c;
                s += X[((n * C + ic) * H + ih) * W + iw] * Wt[((oc * Cg + c) * KH + kh) * KW + kw];
              }
          out[((n * O + oc) * OH + i) * OW + j] = s;
        }
  assert.equal(C, Cg * G, 'reference: channels');
  return { shape: [N, O, OH, OW], data: out };
}

/** Pooling by direct window loops over the padded input: max pads with -inf, avg divides by kH*kW. */
function refPool(kind: 'max' | 'avg', x: lt.Tensor, kernel: P, o: { stride?: P; padding?: P }): { shape: number[]; data: Float64Array } {
  const [N, C, H, W] = x.shape;
  const [kh, kw] = pr(kernel, 0);
  const [sh, sw] = o.stride === undefined ? [kh, kw] : pr(o.stride, 0);
  const [ph, pw] = pr(o.padding, 0);
  const X = data(x);
  const OH = Math.floor((H + 2 * ph - kh) / sh) + 1;
  const OW = Math.floor((W + 2 * pw - kw) / sw) + 1;
  const out = new Float64Array(N * C * OH * OW);
  for (let nc = 0; nc < N * C; nc++)
    for (let i = 0; i < OH; i++)
      for (let j = 0; j < OW; j++) {
        let m = -Infinity;
        let s = 0;
        for (let a = 0; a < kh; a++)
          for (let b = 0; b < kw; b++) {
            const ih = i * sh - ph + a;
            const iw = j * sw - pw + b;
            const v = ih < 0 || ih >= H || iw < 0 || iw >= W ? (kind === 'max' ? -Infinity : 0) : X[(nc * H + ih) * W + iw];
            m = Math.max(m, v);
            s += v;
          }
        out[(nc * OH + i) * OW + j] = kind === 'max' ? m : s / (kh * kw);
      }
  return { shape: [N, C, OH, OW], data: out };
}

/** float64 tensor whose values are a seeded shuffle of 0.1 * (0..n-1) - shifted: no ties, gaps of 0.1. */
function distinct(shape: number[], seed: number): lt.Tensor {
  const n = shape.reduce((p, d) => p * d, 1);
  const keys = data(rand64([n], seed));
  const order = keys.map((_, i) => i).sort((i, j) => keys[i] - keys[j]);
  const vals = new Float64Array(n);
  order.forEach((pos, rank) => (vals[pos] = 0.1 * rank - 0.05 * n));
  return lt.tensor(vals, { shape, dtype: 'float64' });
}

const x3 = () => lt.tensor([[[[1, 2, 3], [4, 5, 6], [7, 8, 9]]]], { dtype: 'float64' }); // 1x1x3x3
const w2 = () => lt.tensor([[[[1, 2], [3, 4]]]], { dtype: 'float64' }); // 1x1x2x2

onEachBackend('conv2d forward', () => {
  test('hand-computed: 1x1x3x3 input, 2x2 kernel', () => {
    // out[i,j] = x[i,j] + 2 x[i,j+1] + 3 x[i+1,j] + 4 x[i+1,j+1]
    assertClose(lt.conv2d(x3(), w2()), [[[[1 + 4 + 12 + 20, 2 + 6 + 15 + 24], [4 + 10 + 21 + 32, 5 + 12 + 24 + 36]]]], EXACT);
    // bias adds per output channel
    assertClose(lt.conv2d(x3(), w2(), lt.tensor([0.5], { dtype: 'float64' })), [[[[37.5, 47.5], [67.5, 77.5]]]], EXACT);
  });

  test('hand-computed: stride 2, padding 1', () => {
    // padded input is 5x5, windows start at rows/cols -1 and 1:
    // [-1..0]x[-1..0]: 1*4; [-1..0]x[1..2]: 2*3 + 3*4; [1..2]x[-1..0]: 4*2 + 7*4; [1..2]x[1..2]: 5+12+24+36
    assertClose(lt.conv2d(x3(), w2(), null, { stride: 2, padding: 1 }), [[[[4, 18], [36, 77]]]], EXACT);
  });

  test('hand-computed: dilation 2, and asymmetric stride/padding pairs', () => {
    // taps at (0,0), (0,2), (2,0), (2,2): 1*1 + 3*2 + 7*3 + 9*4
    assertClose(lt.conv2d(x3(), w2(), null, { dilation: 2 }), [[[[64]]]], EXACT);
    // padding [0,1], stride [1,2]: rows 0..1 / 1..2, cols -1..0 / 1..2
    // out[0,0] = 2*1 + 4*4 (col -1 is padding); out[0,1] = 1*2 + 2*3 + 3*5 + 4*6
    // out[1,0] = 2*4 + 4*7; out[1,1] = 1*5 + 2*6 + 3*8 + 4*9
    assertClose(lt.conv2d(x3(), w2(), null, { stride: [1, 2], padding: [0, 1] }), [[[[18, 47], [36, 77]]]], EXACT);
  });

  test('hand-computed: two channels, groups 2 keeps channels apart', () => {
    const x = lt.tensor([[[[1, 2], [3, 4]], [[10, 20], [30, 40]]]], { dtype: 'float64' }); // 1x2x2x2
    const w = lt.tensor([[[[1, 1], [1, 1]]], [[[1, 0], [0, -1]]]], { dtype: 'float64' }); // 2x1x2x2
    // groups 2: out0 = sum(ch0) = 10; out1 = 10 - 40 = -30
    assertClose(lt.conv2d(x, w, null, { groups: 2 }), [[[[10]], [[-30]]]], EXACT);
    // groups 1 with a 2x2x1x1 weight mixes channels: out = [ch0 + ch1, 2 ch0 - ch1]
    const w1 = lt.tensor([[[[1]], [[1]]], [[[2]], [[-1]]]], { dtype: 'float64' });
    assertClose(lt.conv2d(x, w1), [[[[11, 22], [33, 44]], [[-8, -16], [-24, -32]]]], EXACT);
  });

  const cases: { x: number[]; w: number[]; bias: boolean; o: ConvOpts }[] = [
    { x: [2, 3, 7, 6], w: [4, 3, 3, 2], bias: true, o: {} },
    { x: [1, 2, 7, 8], w: [3, 2, 3, 3], bias: false, o: { stride: 2, padding: 1 } },
    { x: [1, 2, 9, 7], w: [2, 2, 3, 2], bias: true, o: { dilation: 2 } },
    { x: [2, 4, 5, 5], w: [6, 2, 3, 3], bias: true, o: { groups: 2 } },
    { x: [1, 3, 5, 6], w: [6, 1, 3, 3], bias: false, o: { groups: 3, padding: 1 } }, // depthwise, multiplier 2
    { x: [1, 4, 8, 7], w: [4, 2, 3, 3], bias: true, o: { stride: [2, 1], padding: [1, 2], dilation: [2, 1], groups: 2 } },
    { x: [3, 1, 5, 5], w: [2, 1, 1, 1], bias: true, o: { stride: 3 } },
    { x: [1, 2, 4, 4], w: [1, 2, 4, 4], bias: false, o: {} }, // kernel covers the whole input
    { x: [1, 1, 2, 3], w: [1, 1, 3, 3], bias: false, o: { padding: 1, stride: 2 } },
  ];
  for (const dtype of ['float64', 'float32'] as const) {
    test(`against the 7-loop reference, ${dtype}`, () => {
      cases.forEach((c, i) => {
        const x = rand64(c.x, 200 + i).cast(dtype);
        const w = rand64(c.w, 300 + i).cast(dtype);
        const b = c.bias ? rand64([c.w[0]], 400 + i).cast(dtype) : null;
        const y = lt.conv2d(x, w, b, c.o);
        const e = refConv(x, w, b, c.o);
        assert.equal(y.dtype, dtype);
        assert.deepEqual([...y.shape], e.shape, `case ${i} shape`);
        assertClose(y, e.data, dtype === 'float64' ? TOL64 : TOL32, `case ${i}`);
      });
    });
  }
});

onEachBackend('conv2d gradient', () => {
  const conv = (o: ConvOpts) => (x: lt.Tensor, w: lt.Tensor, b: lt.Tensor) => lt.conv2d(x, w, b, o);
  test('input, weight and bias: plain', () => {
    gradcheck(conv({}), [rand64([2, 2, 4, 4], 1), rand64([3, 2, 2, 3], 2), rand64([3], 3)], GRAD);
  });
  test('stride 2, padding 1', () => {
    gradcheck(conv({ stride: 2, padding: 1 }), [rand64([1, 2, 5, 6], 4), rand64([2, 2, 3, 3], 5), rand64([2], 6)], GRAD);
  });
  test('dilation 2', () => {
    gradcheck(conv({ dilation: 2, padding: [1, 0] }), [rand64([1, 2, 5, 6], 7), rand64([2, 2, 2, 2], 8), rand64([2], 9)], GRAD);
  });
  test('groups 2', () => {
    gradcheck(conv({ groups: 2 }), [rand64([1, 4, 4, 4], 10), rand64([4, 2, 2, 2], 11), rand64([4], 12)], GRAD);
  });
  test('everything at once, asymmetric pairs', () => {
    gradcheck(conv({ stride: [2, 1], padding: [1, 2], dilation: [1, 2], groups: 2 }), [rand64([1, 2, 5, 4], 13), rand64([4, 1, 3, 2], 14), rand64([4], 15)], GRAD);
  });
  test('without bias, and used twice in one graph', () => {
    gradcheck((x, w) => lt.conv2d(lt.conv2d(x, w, null, { padding: 1 }), w, null, { padding: 1 }), [rand64([1, 2, 4, 4], 16), rand64([2, 2, 3, 3], 17)], GRAD);
  });
  for (const activation of ['relu', 'sigmoid', 'tanh'] as const) {
    test(`fused ${activation}: through the activation to input, weight and bias`, () => {
      gradcheck(conv({ padding: 1, activation }), [rand64([2, 2, 4, 3], 18), rand64([3, 2, 3, 3], 19), rand64([3], 20)], GRAD);
    });
  }
});

onEachBackend('conv2d with a fused activation', () => {
  for (const dtype of ['float64', 'float32'] as const) {
    for (const activation of ['relu', 'sigmoid', 'tanh'] as const) {
      for (const withBias of [true, false]) {
        test(`${activation}${withBias ? ' with bias' : ''}, ${dtype}: equals the activation applied after the op`, () => {
          const x = rand64([3, 4, 9, 8], 21).cast(dtype);
          const w = rand64([6, 2, 3, 3], 22).cast(dtype);
          const b = withBias ? rand64([6], 23).cast(dtype) : null;
          const options = { padding: 1, groups: 2 };
          const fused = lt.conv2d(x, w, b, { ...options, activation });
          const apart = lt[activation](lt.conv2d(x, w, b, options));
          assert.equal(fused.dtype, dtype);
          assertClose(fused, apart, dtype === 'float64' ? TOL64 : { atol: 1e-6, rtol: 1e-5 }, activation);
        });
      }
    }
  }
  test('an unknown activation is refused, by name', () => {
    assertThrowsLathe(() => lt.conv2d(rand64([1, 1, 3, 3], 1), rand64([1, 1, 2, 2], 2), null, { activation: 'gelu' as 'relu' }), /conv2d: activation must be one of linear, relu, sigmoid, tanh, got "gelu"/);
  });
});

onEachBackend('maxPool2d', () => {
  test('hand-computed: kernel 2 (stride defaults to the kernel)', () => {
    const x = lt.tensor([[[[1, 5, 2, 0], [3, -1, 8, 4], [0, 9, 6, 7], [2, 1, 3, -5]]]]);
    assertClose(lt.maxPool2d(x, 2), [[[[5, 8], [9, 7]]]], EXACT);
  });

  test('hand-computed: padding counts as -infinity, not zero', () => {
    const x = x3();
    assertClose(lt.maxPool2d(x, 2, { stride: 1, padding: 1 }), [[[[1, 2, 3, 3], [4, 5, 6, 6], [7, 8, 9, 9], [7, 8, 9, 9]]]], EXACT);
    assertClose(lt.maxPool2d(x.neg(), 2, { stride: 1, padding: 1 }), [[[[-1, -1, -2, -3], [-1, -1, -2, -3], [-4, -4, -5, -6], [-7, -7, -8, -9]]]], EXACT);
  });

  test('NaN in a window propagates', () => {
    const y = lt.maxPool2d(lt.tensor([[[[1, NaN], [3, 4]]]]), 2);
    assert.ok(Number.isNaN(y.item()));
  });

  const cases: { x: number[]; k: P; o: { stride?: P; padding?: P } }[] = [
    { x: [2, 3, 6, 6], k: 2, o: {} },
    { x: [1, 2, 7, 5], k: 3, o: { stride: 2, padding: 1 } },
    { x: [1, 1, 5, 7], k: [2, 3], o: { stride: [1, 2], padding: [1, 0] } },
    { x: [2, 1, 5, 5], k: 3, o: { stride: 1 } },
    { x: [1, 2, 7, 7], k: 2, o: {} }, // odd size: last row/col dropped
  ];
  for (const dtype of ['float64', 'float32'] as const) {
    test(`against the window-loop reference, ${dtype}`, () => {
      cases.forEach((c, i) => {
        const x = rand64(c.x, 500 + i).cast(dtype);
        const y = lt.maxPool2d(x, c.k, c.o);
        const e = refPool('max', x, c.k, c.o);
        assert.equal(y.dtype, dtype);
        assert.deepEqual([...y.shape], e.shape, `case ${i} shape`);
        assertClose(y, e.data, EXACT, `case ${i}`); // a max is exact
      });
    });
  }

  test('gradient (inputs without ties, gaps of 0.1 >> eps)', () => {
    gradcheck((x) => lt.maxPool2d(x, 2), [distinct([2, 2, 4, 4], 1)], GRAD);
    gradcheck((x) => lt.maxPool2d(x, 3, { stride: 2, padding: 1 }), [distinct([1, 2, 5, 6], 2)], GRAD);
    // overlapping windows: one input can be the max of several windows, gradients add up
    gradcheck((x) => lt.maxPool2d(x, [2, 3], { stride: 1, padding: [1, 1] }), [distinct([1, 1, 4, 5], 3)], GRAD);
  });

  test('gradient goes to the argmax only, summed over windows', () => {
    const x = lt.tensor([[[[1, 2, 0], [3, 9, 4], [0, 5, 1]]]], { dtype: 'float64' }).requireGrad();
    lt.maxPool2d(x, 2, { stride: 1 }).sum().backward(); // 9 is the max of all four windows
    assertClose(x.grad!, [[[[0, 0, 0], [0, 4, 0], [0, 0, 0]]]], EXACT);
  });
});

onEachBackend('avgPool2d', () => {
  test('hand-computed: kernel 2', () => {
    const x = lt.tensor([[[[1, 5, 2, 0], [3, -1, 8, 4], [0, 9, 6, 7], [2, 1, 3, -5]]]]);
    assertClose(lt.avgPool2d(x, 2), [[[[2, 3.5], [3, 2.75]]]], EXACT);
  });

  test('hand-computed: padding counts toward the divisor (count_include_pad)', () => {
    assertClose(
      lt.avgPool2d(x3(), 2, { stride: 1, padding: 1 }),
      [[[[0.25, 0.75, 1.25, 0.75], [1.25, 3, 4, 2.25], [2.75, 6, 7, 3.75], [1.75, 3.75, 4.25, 2.25]]]],
      EXACT,
    );
  });

  const cases: { x: number[]; k: P; o: { stride?: P; padding?: P } }[] = [
    { x: [2, 3, 6, 6], k: 2, o: {} },
    { x: [1, 2, 7, 5], k: 3, o: { stride: 2, padding: 1 } },
    { x: [1, 1, 5, 7], k: [2, 3], o: { stride: [1, 2], padding: [1, 0] } },
    { x: [2, 1, 5, 5], k: 3, o: { stride: 1 } },
    { x: [1, 2, 7, 7], k: 2, o: {} },
  ];
  for (const dtype of ['float64', 'float32'] as const) {
    test(`against the window-loop reference, ${dtype}`, () => {
      cases.forEach((c, i) => {
        const x = rand64(c.x, 600 + i).cast(dtype);
        const y = lt.avgPool2d(x, c.k, c.o);
        const e = refPool('avg', x, c.k, c.o);
        assert.equal(y.dtype, dtype);
        assert.deepEqual([...y.shape], e.shape, `case ${i} shape`);
        assertClose(y, e.data, dtype === 'float64' ? TOL64 : TOL32, `case ${i}`);
      });
    });
  }

  test('gradient', () => {
    gradcheck((x) => lt.avgPool2d(x, 2), [rand64([2, 2, 4, 4], 1)], GRAD);
    gradcheck((x) => lt.avgPool2d(x, 3, { stride: 2, padding: 1 }), [rand64([1, 2, 5, 6], 2)], GRAD);
    gradcheck((x) => lt.avgPool2d(x, [2, 3], { stride: 1, padding: [1, 1] }), [rand64([1, 1, 4, 5], 3)], GRAD);
  });
});

onEachBackend('conv2d and pooling errors', () => {
  test('channel mismatch names both shapes', () => {
    assertThrowsLathe(() => lt.conv2d(lt.zeros([1, 3, 5, 5]), lt.zeros([4, 2, 3, 3])), /\[1,3,5,5\].*\[4,2,3,3\]/);
    // with groups: weight [4,2,3,3] x groups 2 expects 4 channels
    assertThrowsLathe(() => lt.conv2d(lt.zeros([1, 6, 5, 5]), lt.zeros([4, 2, 3, 3]), null, { groups: 2 }), /\[1,6,5,5\].*\[4,2,3,3\]/);
  });

  test('non-4-D input or weight', () => {
    assertThrowsLathe(() => lt.conv2d(lt.zeros([3, 5, 5]), lt.zeros([4, 3, 3, 3])), /^conv2d: input must be 4-D .*\[3,5,5\]/);
    assertThrowsLathe(() => lt.conv2d(lt.zeros([1, 3, 5, 5]), lt.zeros([4, 3, 3])), /^conv2d: weight must be 4-D .*\[4,3,3\]/);
    assertThrowsLathe(() => lt.maxPool2d(lt.zeros([5, 5]), 2), /^maxPool2d: input must be 4-D .*\[5,5\]/);
    assertThrowsLathe(() => lt.avgPool2d(lt.zeros([1, 1, 1, 5, 5]), 2), /^avgPool2d: input must be 4-D .*\[1,1,1,5,5\]/);
  });

  test('kernel larger than the padded input', () => {
    assertThrowsLathe(() => lt.conv2d(lt.zeros([1, 1, 3, 3]), lt.zeros([1, 1, 5, 5])), /^conv2d: kernel 5 .*does not fit input \[1,1,3,3\]/);
    // dilation makes a 3x3 kernel span 5
    assertThrowsLathe(() => lt.conv2d(lt.zeros([1, 1, 4, 4]), lt.zeros([1, 1, 3, 3]), null, { dilation: 2 }), /does not fit/);
    // the same kernel fits once padded: 3 + 2 = 5
    assert.deepEqual([...lt.conv2d(lt.zeros([1, 1, 3, 3]), lt.zeros([1, 1, 5, 5]), null, { padding: 1 }).shape], [1, 1, 1, 1]);
    assertThrowsLathe(() => lt.maxPool2d(lt.zeros([1, 1, 3, 3]), 4), /^maxPool2d: kernel 4 .*does not fit/);
    assertThrowsLathe(() => lt.avgPool2d(lt.zeros([1, 1, 3, 2]), [2, 3]), /^avgPool2d: kernel 3 .*does not fit/);
  });

  test('bad groups, bias, dtypes and geometry', () => {
    assertThrowsLathe(() => lt.conv2d(lt.zeros([1, 3, 5, 5]), lt.zeros([4, 1, 3, 3]), null, { groups: 3 }), /^conv2d: groups 3 must divide/);
    assertThrowsLathe(() => lt.conv2d(lt.zeros([1, 2, 5, 5]), lt.zeros([4, 2, 3, 3]), lt.zeros([3])), /^conv2d: bias must have shape \[4\], got \[3\]/);
    assertThrowsLathe(() => lt.conv2d(lt.zeros([1, 2, 5, 5]), lt.zeros([4, 2, 3, 3], { dtype: 'float64' })), /^conv2d: input is float32, weight is float64/);
    assertThrowsLathe(() => lt.conv2d(lt.zeros([1, 2, 5, 5], { dtype: 'int32' }), lt.zeros([4, 2, 3, 3])), /^conv2d: input must be float/);
    assertThrowsLathe(() => lt.conv2d(lt.zeros([1, 2, 5, 5]), lt.zeros([4, 2, 3, 3]), null, { stride: 0 }), /^conv2d: stride must be integers >= 1/);
    assertThrowsLathe(() => lt.conv2d(lt.zeros([1, 2, 5, 5]), lt.zeros([4, 2, 3, 3]), null, { padding: -1 }), /^conv2d: padding must be integers >= 0/);
    assertThrowsLathe(() => lt.maxPool2d(lt.zeros([1, 1, 6, 6]), 2, { padding: 2 }), /^maxPool2d: padding \[2,2\] must be at most half the kernel/);
    // a pair means exactly two numbers (an extra one used to be ignored silently)
    const bad = [1, 2, 3] as unknown as [number, number];
    assertThrowsLathe(() => lt.conv2d(lt.zeros([1, 2, 5, 5]), lt.zeros([4, 2, 3, 3]), null, { stride: bad }), /^conv2d: stride must be a number or a pair, got \[1,2,3\]$/);
    assertThrowsLathe(() => lt.maxPool2d(lt.zeros([1, 1, 6, 6]), [2] as unknown as [number, number]), /^maxPool2d: kernelSize must be a number or a pair, got \[2\]$/);
    // bias must match the input's dtype, like the weight (it used to promote the output silently)
    assertThrowsLathe(() => lt.conv2d(lt.zeros([1, 2, 5, 5]), lt.zeros([4, 2, 3, 3]), lt.zeros([4], { dtype: 'float64' })), /^conv2d: bias is float64, input is float32$/);
  });
});
