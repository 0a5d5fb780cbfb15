// Sequential: an inputShape builds every layer and checks the chain before data flows, errors
// name layers[i] and the layer before; a model without one builds on its first call; summary,
// getConfig/fromConfig, add().
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as lt from '../../src/index.js';
import { Conv2D, Dense, Dropout, Flatten, MaxPool2D, ReLU, Rescaling } from '../../src/nn/layers/index.js';
import { assertClose, assertThrowsLathe, onEachBackend, rand64 } from '../helpers.js';

const values = (t: lt.Tensor) => Array.from(t.dataSync());
const EXACT = { atol: 0, rtol: 0 };

const convNet = () =>
  new lt.Sequential([
    new Conv2D(2, 3, { inputShape: [1, 5, 5], name: 'c' }),
    new MaxPool2D(2, { name: 'p', padding: 'same' }),
    new Flatten({ name: 'f' }),
    new Dense(4, { name: 'd', activation: 'relu' }),
    new Dense(3, { name: 'out' }),
  ]);

onEachBackend('Sequential build', () => {
  test('an inputShape on the first layer builds every layer at once', () => {
    const model = convNet();
    assert.equal(model.built, true);
    assert.deepEqual(model.layers.map((l) => l.built), [true, true, true, true, true]);
    assert.deepEqual(model.layers.map((l) => l.inputShape), [[1, 5, 5], [2, 3, 3], [2, 2, 2], [8], [4]]);
    assert.deepEqual(model.inputShape, [1, 5, 5]);
    assert.deepEqual(model.outputShape, [3]);
    assert.deepEqual(model.namedParameters().map(([n, t]) => [n, [...t.shape]]), [
      ['layers.0.kernel', [2, 1, 3, 3]], ['layers.0.bias', [2]],
      ['layers.3.kernel', [8, 4]], ['layers.3.bias', [4]],
      ['layers.4.kernel', [4, 3]], ['layers.4.bias', [3]],
    ]);
    assert.equal(model.countParameters(), 20 + 36 + 15);
    assert.deepEqual(model.call(lt.zeros([6, 1, 5, 5])).shape, [6, 3]);
  });

  test('the forward is the layers applied in order', () => {
    const model = convNet();
    const x = rand64([3, 1, 5, 5], 1).cast('float32');
    const byHand = model.layers.reduce((y, l) => l.call(y), x);
    assertClose(model.call(x), byHand, EXACT);
  });

  test('layers that do not chain: the error names layers[i] and where its input comes from', () => {
    assertThrowsLathe(
      () => new lt.Sequential([new Dense(4, { inputShape: [3] }), new Conv2D(2, 3)]),
      /^Sequential\[1\] \(conv2d\): expected input \[channels, height, width\], got per-example shape \[4\] \(the input comes from layers\[0\] \(dense\)\)$/,
    );
    assertThrowsLathe(
      () => new lt.Sequential([new Flatten({ inputShape: [2, 3] }), new Dense(2), new Conv2D(1, 1)]),
      /^Sequential\[2\] \(conv2d\): expected input \[channels, height, width\], got per-example shape \[2\] \(the input comes from layers\[1\] \(dense\)\)$/,
    );
    assertThrowsLathe(
      () => new lt.Sequential([new Conv2D(2, 3, { inputShape: [1, 5, 5] }), new Conv2D(2, 5)]),
      /^Sequential\[1\] \(conv2d\): kernel \[5,5\].*does not fit per-example input \[2,3,3\].*\(the input comes from layers\[0\] \(conv2d\)\)$/,
    );
    // from a config, errors use the config's path
    assertThrowsLathe(
      () => lt.Sequential.fromConfig([{ type: 'dense', units: 2, inputShape: [3] }, { type: 'maxpool2d', poolSize: 2 }], 'config.model.layers'),
      /^config\.model\.layers\[1\] \(maxpool2d\): expected input .*got per-example shape \[2\] \(the input comes from layers\[0\] \(dense\)\)$/,
    );
    assertThrowsLathe(() => lt.Sequential.fromConfig([{ type: 'conv2d', filters: 1, kernelSize: 1 }], 'cfg').build([7]), /^cfg\[0\] \(conv2d\): .*\[7\] \(the input comes from the model input\)$/);
  });

  test('without an inputShape the model builds from its first call', () => {
    const l1 = new Dense(4, { name: 'l1', activation: 'tanh' });
    const l2 = new Dense(2, { name: 'l2' });
    const model = new lt.Sequential([l1, l2]);
    assert.equal(model.built, false);
    assert.equal(model.inputShape, undefined);
    assert.equal(model.outputShape, undefined);
    assert.deepEqual(model.parameters(), []);
    const x = lt.tensor([[1, 2, 3], [-1, 0.5, 2]]);
    const y = model.call(x);
    assert.equal(model.built, true);
    assert.deepEqual(model.inputShape, [3]);
    assert.deepEqual(model.outputShape, [2]);
    assert.deepEqual([l1.kernel.shape, l2.kernel.shape], [[3, 4], [4, 2]]);
    assertClose(y, l2.call(l1.call(x)), EXACT);
    assert.equal(model.countParameters(), 16 + 10);
  });

  test('an input of another shape than the model was built for is refused at call time', () => {
    const model = new lt.Sequential([new Dense(4, { name: 'l1' }), new Dense(2)]);
    model.call(lt.ones([2, 3]));
    assertThrowsLathe(() => model.call(lt.ones([2, 5])), /^l1: expected input \[batch,3\], got \[2,5\]$/);
    assertThrowsLathe(() => model.call(lt.ones([2, 3, 1])), /^l1: expected input \[batch,3\], got \[2,3,1\]$/);
    assertThrowsLathe(() => model.call(lt.ones([3])), /^l1: expected input \[batch,3\], got \[3\]$/);
    assertThrowsLathe(() => convNet().call(lt.ones([1, 1, 6, 5])), /^c: expected input \[batch,1,5,5\], got \[1,1,6,5\]$/);
    assertThrowsLathe(() => new lt.Sequential().call(lt.ones([1, 2])), /^Sequential: the model has no layers$/);
  });
});

onEachBackend('Sequential summary, config, add', () => {
  test('summary(): names, types, output shapes with a null batch, parameter counts', () => {
    assert.equal(
      convNet().summary(),
      [
        'Layer (type)   Output shape  Params',
        'c (conv2d)     [null,2,3,3]  20    ',
        'p (maxpool2d)  [null,2,2,2]  0     ',
        'f (flatten)    [null,8]      0     ',
        'd (dense)      [null,4]      36    ',
        'out (dense)    [null,3]      15    ',
        'Total params: 71',
      ].join('\n'),
    );
    const lazy = new lt.Sequential([new Dense(3, { name: 'a' }), new ReLU({ name: 'r' })]);
    assert.equal(lazy.summary(), ['Layer (type)    Output shape  Params', 'a (dense)       ?             0     ', 'r (activation)  ?             0     ', 'Total params: 0'].join('\n'));
    lazy.call(lt.ones([1, 5]));
    assert.match(lazy.summary(), /^a \(dense\) +\[null,3\] +18 *$/m);
    assert.match(lazy.summary(), /Total params: 18$/);
  });

  test('getConfig lists the layer configs; fromConfig rebuilds a model that computes the same', () => {
    const model = convNet();
    const config = model.getConfig();
    assert.equal(config.type, 'sequential');
    assert.deepEqual(config.layers, model.layers.map((l) => l.getConfig()));
    assert.deepEqual(config.layers[3], { type: 'dense', name: 'd', inputShape: [8], units: 4, activation: 'relu', useBias: true, kernelInitializer: 'glorotUniform', biasInitializer: 'zeros' });
    const copy = lt.Sequential.fromConfig(JSON.parse(JSON.stringify(config.layers)));
    assert.equal(copy.built, true);
    assert.deepEqual(copy.getConfig(), config);
    copy.loadStateDict(model.stateDict());
    const x = rand64([2, 1, 5, 5], 2).cast('float32');
    assert.deepEqual(values(copy.call(x)), values(model.call(x)));
    assertThrowsLathe(() => lt.Sequential.fromConfig([], 'cfg'), /^cfg: must be a non-empty array of layer configs, got \[\]$/);
    assertThrowsLathe(() => lt.Sequential.fromConfig({ type: 'dense' }, 'cfg'), /^cfg: must be a non-empty array of layer configs, got \{"type":"dense"\}$/);
  });

  test('add(): returns the model, builds the new layer when the model has an input shape', () => {
    const model = new lt.Sequential([new Dense(4, { inputShape: [3] })]);
    const d = new Dense(2);
    assert.equal(model.add(d), model);
    assert.equal(d.built, true);
    assert.deepEqual(d.kernel.shape, [4, 2]);
    assert.deepEqual(model.outputShape, [2]);
    model.add(new Dropout(0.5));
    assert.deepEqual(model.layers.map((l) => l.type), ['dense', 'dense', 'dropout']);
  });

  test('add(): a non-layer or a layer already in the model is refused', () => {
    const model = new lt.Sequential();
    assertThrowsLathe(() => model.add({} as never), /^Sequential\.add: expected a Layer, got object$/);
    assertThrowsLathe(() => model.add(null as never), /^Sequential\.add: expected a Layer, got null$/);
    assertThrowsLathe(() => model.add('dense' as never), /^Sequential\.add: expected a Layer, got string$/);
    const d = new Dense(2, { name: 'twice' });
    model.add(d);
    assertThrowsLathe(() => model.add(d), /^Sequential\.add: layer twice is already in this model$/);
    assertThrowsLathe(() => new lt.Sequential([d, d]), /^Sequential\.add: layer twice is already in this model$/);
    assert.equal(model.layers.length, 1);
  });

  test('add(): a layer that does not chain is refused and the model stays as it was', () => {
    const model = new lt.Sequential([new Dense(4, { inputShape: [3] })]);
    assertThrowsLathe(() => model.add(new Conv2D(1, 1)), /^Sequential\[1\] \(conv2d\): /);
    assert.equal(model.layers.length, 1);
    assert.equal(model.built, true);
  });

  test('train()/eval() reach the layers; predict runs in eval mode and restores the mode', () => {
    const model = new lt.Sequential([new Dense(8, { inputShape: [4] }), new Dropout(0.9, { seed: 1 })]);
    model.eval();
    assert.ok(model.layers.every((l) => !l.training));
    model.train();
    assert.ok(model.layers.every((l) => l.training));
    const x = lt.ones([16, 4]);
    const ref = model.layers[0].call(x);
    assert.deepEqual(values(model.predict(x)), values(ref));
    assert.equal(model.training, true);
    assert.ok(values(model.call(x)).filter((v) => v === 0).length > values(ref).filter((v) => v === 0).length, 'training mode drops');
  });
});

onEachBackend('Sequential inference reuses its intermediates', (backend) => {
  // At batch 64 outputs are whole buffers of their own, at batch 1 slices of a shared slab: the
  // native backend recycles both.
  const net = () =>
    new lt.Sequential([
      new Flatten({ inputShape: [4, 32, 32] }), // a view of the input: it must never be recycled
      new Dense(512, { activation: 'relu' }),
      new Dropout(0.5), // the identity at inference: the same tensor comes back
      new Dense(256, { activation: 'tanh' }),
      new Dense(10, { activation: 'softmax' }),
    ]);

  test('predict equals the recorded forward, repeatedly, and leaves the input intact', () => {
    for (const n of [64, 1]) {
      lt.manualSeed(3);
      const model = net();
      const xs = [lt.randn([n, 4, 32, 32]), lt.randn([n, 4, 32, 32])];
      const before = xs.map(values);
      model.eval();
      const recorded = xs.map((x) => model.call(x)); // gradients on: nothing is recycled
      // Alternating inputs: a recycled intermediate read after its reuse would show.
      for (let i = 0; i < 4; i++) assertClose(model.predict(xs[i % 2]), recorded[i % 2], EXACT, `batch ${n}, predict ${i}`);
      xs.forEach((x, k) => assert.deepEqual(values(x), before[k], `batch ${n}: the input is unchanged and still readable`));
    }
  });

  // Conv2D then MaxPool2D run as one kernel at inference (where the backend has one): the same
  // values as the recorded forward, with the pairs it must not fuse alongside (a sigmoid conv,
  // 'same' pooling, a conv not followed by pooling).
  test('predict fuses Conv2D and MaxPool2D and gives the recorded forward exactly', () => {
    lt.manualSeed(4);
    const model = new lt.Sequential([
      new Conv2D(8, 3, { inputShape: [1, 16, 16], activation: 'relu' }),
      new MaxPool2D(2),
      new Conv2D(8, 3, { activation: 'sigmoid', padding: 'same' }),
      new MaxPool2D(2, { padding: 'same' }),
      new Conv2D(6, 2, { activation: 'tanh' }),
      new MaxPool2D(3, { strides: 1 }),
      new Conv2D(4, 1),
      new Flatten(),
      new Dense(3),
    ]);
    const x = lt.randn([5, 1, 16, 16]);
    model.eval();
    const recorded = model.call(x);
    let fusedCalls = 0;
    const conv = model.layers[4] as Conv2D;
    const fuseWith = conv.fuseWith.bind(conv);
    conv.fuseWith = (next) => {
      const f = fuseWith(next);
      return f && ((t) => (fusedCalls++, f(t)));
    };
    assertClose(model.predict(x), recorded, EXACT, 'predict');
    assert.equal(fusedCalls, 1, 'the tanh conv and its 3x3 pooling ran as one');
  });

  // A quantized CNN's conv-pool blocks at inference: one quantizedConvBlocks op (native, static:
  // each image through both blocks on one thread; dynamic: the batch block by block, kept
  // channels-last), equal bit for bit to the layers called one by one.
  test('predict runs quantized conv-pool blocks as one op and gives the layer-by-layer forward exactly', () => {
    lt.manualSeed(6);
    const float = new lt.Sequential([
      new Conv2D(16, 3, { inputShape: [1, 20, 20], activation: 'relu' }),
      new MaxPool2D(2),
      new Conv2D(24, 3, { activation: 'relu', padding: 'same' }),
      new MaxPool2D(2),
      new Flatten(),
      new Dense(5),
    ]);
    const x = lt.rand([7, 1, 20, 20]);
    for (const mode of ['static', 'dynamic'] as const) {
      const { model } = lt.quant.quantizeModel(float, { mode, sample: lt.rand([16, 1, 20, 20], { generator: new lt.Generator(3) }), minCosine: 0 });
      assert.deepEqual(model.layers.map((l) => l.type).slice(0, 4), ['quantizedconv2d', 'maxpool2d', 'quantizedconv2d', 'maxpool2d']);
      model.eval();
      const oneByOne = lt.noGrad(() => model.layers.reduce((y, l) => l.call(y), x));
      let runs = 0;
      const first = model.layers[0];
      const fuseRun = first.fuseRun.bind(first);
      first.fuseRun = (layers, start) => {
        const f = fuseRun(layers, start);
        if (f) runs++;
        return f;
      };
      assertClose(model.predict(x), oneByOne, EXACT, `${mode}: predict`);
      assert.equal(runs, 1, `${mode}: the blocks ran as one op`);
    }
  });

  // Rescaling then Dense at inference: the GEMM reads the raw input (uint8 pixels or float32)
  // and rescales each block as it reaches it. Sizes cross the GEMM's row and depth blocks (96, 512)
  // and its thread split; the values must equal the recorded forward's bit for bit.
  test('predict fuses Rescaling into the Dense after it and gives the recorded forward exactly', () => {
    lt.manualSeed(5);
    for (const [dtype, scale, offset] of [['uint8', 1 / 255, 0], ['uint8', 0.0123, -1.5], ['float32', -0.37, 0.25]] as const) {
      const model = new lt.Sequential([new Rescaling(scale, offset, { inputShape: [1100] }), new Dense(70, { activation: 'relu' }), new Dense(5, { activation: 'tanh' })]);
      const x = dtype === 'uint8' ? lt.randint(0, 256, [200, 1100]).cast('uint8') : lt.randn([200, 1100], { std: 40 });
      model.eval();
      const recorded = model.call(x);
      let rescaled = 0;
      const dense = model.layers[1] as Dense;
      const rescaledForward = dense.rescaledForward.bind(dense);
      dense.rescaledForward = (...a) => (rescaled++, rescaledForward(...a));
      for (const rows of [200, 7]) {
        const xs = rows === 200 ? x : x.narrow(0, 0, rows).clone();
        assertClose(model.predict(xs), rows === 200 ? recorded : recorded.narrow(0, 0, rows), EXACT, `${dtype} ${scale} ${offset}, ${rows} rows`);
      }
      assert.equal(rescaled, 2, 'Rescaling and Dense ran as one');
    }
  });

  // The native GEMM packs a Dense layer's weights once, from their second predict on, and reuses
  // them until they change (src/backends/native/index.ts, weightsKey): an optimizer's in-place
  // step, new values assigned, and weights of the same shape in another model must all be seen.
  // Inputs of 300 (one block of K) and 1100 (two, so the packed blocks are found by offset).
  test('predict follows weights changed in place or assigned after they were packed once', () => {
    lt.manualSeed(6);
    for (const inputs of [300, 1100]) {
      const make = () => new lt.Sequential([new Dense(70, { activation: 'relu', inputShape: [inputs] }), new Dense(5)]);
      const model = make();
      const x = lt.randn([200, inputs]);
      const check = (m: lt.Sequential, what: string) => {
        m.eval();
        const recorded = m.call(x);
        for (let i = 0; i < 3; i++) assertClose(m.predict(x), recorded, EXACT, `${inputs} inputs, ${what}, predict ${i + 1}`);
      };
      check(model, 'fresh weights');
      model.train();
      const optimizer = new lt.optim.Adam(model.parameters(), { learningRate: 0.05 });
      model.call(x).square().mean().backward();
      optimizer.step();
      check(model, 'after an in-place Adam step');
      const dense = model.layers[0] as Dense;
      dense.kernel!.assign(lt.randn(dense.kernel!.shape));
      check(model, 'after assign');
      check(make(), 'another model');
    }
  });

  test('an intermediate given back is the storage of the next output of its size', { skip: backend !== 'native' && 'only the native backend recycles' }, () => {
    const a = lt.noGrad(() => lt.relu(lt.randn([256, 256])));
    const storage = (a.buf as Float32Array).buffer;
    a.recycle();
    assert.ok(a.isDisposed);
    const b = lt.noGrad(() => lt.tanh(lt.randn([256, 256])));
    assert.equal((b.buf as Float32Array).buffer, storage, 'reused');
    const c = lt.noGrad(() => lt.tanh(lt.randn([256, 256])));
    assert.notEqual((c.buf as Float32Array).buffer, storage, 'handed out once only');
  });

  // V8 keeps typed arrays of 64 bytes or less on its heap and N-API copies them out on every
  // native call: small outputs are slices of a 4 KB slab (pinning no more), scalars own theirs.
  test('small outputs are slices of a small slab, scalars have buffers of their own', { skip: backend !== 'native' && 'only the native backend carves slabs' }, () => {
    const x = lt.randn([4, 10]);
    const [p, q] = lt.noGrad(() => [lt.softmax(x, 1), lt.tanh(x)]);
    for (const t of [p, q]) assert.equal((t.buf as Float32Array).buffer.byteLength, 4096, 'a 160-byte output lies in a 4 KB slab');
    assert.equal((p.buf as Float32Array).buffer, (q.buf as Float32Array).buffer, 'one slab for both');
    assertClose(p.to('js'), lt.softmax(x.to('js'), 1), { atol: 1e-6, rtol: 1e-6 }, 'and holds its own values');
    assertClose(q.to('js'), lt.tanh(x.to('js')), { atol: 1e-6, rtol: 1e-6 });
    const loss = lt.noGrad(() => x.sum());
    assert.equal((loss.buf as Float32Array).buffer.byteLength, 4, 'a scalar pins nothing');
  });

  test('a small intermediate given back is reused where it lies in its slab', { skip: backend !== 'native' && 'only the native backend recycles' }, () => {
    const [x1, x2, x3] = [1, 2, 3].map(() => lt.randn([100])); // 400 bytes: a slab's slice
    const a = lt.noGrad(() => lt.relu(x1));
    const where = (t: lt.Tensor) => [(t.buf as Float32Array).buffer, (t.buf as Float32Array).byteOffset];
    const slice = where(a);
    a.recycle();
    const b = lt.noGrad(() => lt.tanh(x2));
    assert.deepEqual(where(b), slice, 'reused');
    assertClose(b.to('js'), lt.tanh(x2.to('js')), { atol: 1e-6, rtol: 1e-6 }, 'the reused slice holds the new output');
    const c = lt.noGrad(() => lt.tanh(x3));
    assert.notDeepEqual(where(c), slice, 'handed out once only');
  });
});
