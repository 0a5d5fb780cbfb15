// quantizeModel on small MLPs and CNNs: which layers become int8, calibration, the sensitivity
// check, the report's numbers, and the saved int8 model loading back bit for bit.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import * as lt from '../../src/index.js';
import { assertThrowsLathe, onEachBackend } from '../helpers.js';

const { Sequential, layers: L } = lt;

function mlp(seed: number): lt.Sequential {
  lt.manualSeed(seed);
  return new Sequential([new L.Dense(48, { activation: 'relu', inputShape: [40] }), new L.Dense(32, { activation: 'tanh' }), new L.Dense(5, { activation: 'softmax' })]);
}

function cnn(seed: number): lt.Sequential {
  lt.manualSeed(seed);
  return new Sequential([
    new L.Conv2D(8, 3, { activation: 'relu', inputShape: [4, 12, 12] }),
    new L.MaxPool2D(2),
    new L.Conv2D(6, 3, { padding: 'same', activation: 'relu' }),
    new L.Flatten(),
    new L.Dense(4, { activation: 'softmax' }),
  ]);
}

function cosine(a: lt.Tensor, b: lt.Tensor): number {
  const x = a.dataSync();
  const y = b.dataSync();
  let d = 0, xx = 0, yy = 0;
  for (let i = 0; i < x.length; i++) (d += x[i] * y[i]), (xx += x[i] * x[i]), (yy += y[i] * y[i]);
  return d / Math.sqrt(xx * yy);
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-quant-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

onEachBackend('quantizeModel', (backend) => {
  for (const mode of ['dynamic', 'static'] as const) {
    test(`${mode}: Dense and Conv2D become int8, about 4x smaller, outputs close to float`, () => {
      for (const [make, shape] of [[mlp, [40]], [cnn, [4, 12, 12]]] as const) {
        const model = make(1);
        const sample = lt.rand([64, ...shape], { generator: new lt.Generator(2) });
        const { model: q, layers } = lt.quant.quantizeModel(model, { mode, sample });
        const quantized = layers.filter((l) => l.quantizedType !== l.type);
        assert.deepEqual(quantized.map((l) => l.quantizedType), model.layers.filter((l) => l.type === 'dense' || l.type === 'conv2d').map((l) => `quantized${l.type}`));
        // Tiny layers: their bias and scales stay float32, so well under 4x here; MNIST-sized ones reach 3.95x.
        for (const l of quantized) {
          assert.equal(l.input?.mode, mode);
          if (l.input?.mode === 'static') assert.ok(l.input.scale > 0 && l.input.zeroPoint >= 0 && l.input.zeroPoint <= 255);
          assert.ok(l.bytes.quantized < l.bytes.float / 2, `${l.name}: ${l.bytes.float} -> ${l.bytes.quantized} bytes`);
          assert.ok(l.cosineAlone! > 0.999 && l.cosine! > 0.99, `${l.name}: cosine ${l.cosine}, alone ${l.cosineAlone}`);
        }
        const x = lt.rand([16, ...shape], { generator: new lt.Generator(3) });
        const c = cosine(model.predict(x), q.predict(x));
        assert.ok(c > 0.999, `${make.name} ${mode}: output cosine ${c}`);
        assert.equal(q.predict(x).backend.name, backend);
      }
    });
  }

  test('layers kept float by name, by sensitivity, or because they are grouped, each with the reason', () => {
    const model = mlp(4);
    const sample = lt.rand([32, 40]);
    const kept = lt.quant.quantizeModel(model, { sample, keepFloat: [model.layers[2].name] }).layers;
    assert.equal(kept[2].quantizedType, 'dense');
    assert.match(kept[2].reason!, /kept float as asked/);
    const strict = lt.quant.quantizeModel(model, { sample, minCosine: 1.01 }).layers;
    assert.ok(strict.every((l) => l.quantizedType === l.type && /cosine .* < 1.01/.test(l.reason!)), JSON.stringify(strict.map((l) => l.reason)));
    const grouped = new Sequential([new L.Conv2D(4, 3, { groups: 2, inputShape: [2, 6, 6] })]);
    assert.match(lt.quant.quantizeModel(grouped).layers[0].reason!, /grouped convolutions stay float/);
    const short = new Sequential([new L.Conv2D(4, 3, { inputShape: [1, 6, 6] }), new L.Flatten(), new L.Dense(3)]);
    assert.deepEqual(lt.quant.quantizeModel(short).layers.map((l) => l.reason), ['9 inputs per output: too few for int8 to be faster', undefined, undefined]);
    assert.deepEqual(lt.quant.quantizeModel(short, { minInputsPerOutput: 0 }).layers.map((l) => l.quantizedType), ['quantizedconv2d', 'flatten', 'quantizeddense']);
    // With a 2x2 max pool after it, the same conv is quantized (the pooled int8 kernel); not with a 3x3 one.
    const pooled = (pool: number) => new Sequential([new L.Conv2D(4, 3, { inputShape: [1, 10, 10] }), new L.MaxPool2D(pool), new L.Flatten(), new L.Dense(3)]);
    assert.deepEqual(lt.quant.quantizeModel(pooled(2)).layers.map((l) => l.quantizedType), ['quantizedconv2d', 'maxpool2d', 'flatten', 'quantizeddense']);
    assert.match(lt.quant.quantizeModel(pooled(3)).layers[0].reason!, /9 inputs per output/);
    assert.match(lt.quant.quantizeModel(pooled(2), { minInputsPerOutput: 32 }).layers[0].reason!, /9 inputs per output/, 'a bar the caller sets holds for pooled convs too');
    assertThrowsLathe(() => lt.quant.quantizeModel(model, { keepFloat: ['nope'] }), /--keep-float names no layer "nope"/);
  });

  test('static calibration on an empty set is refused, naming the problem', () => {
    assertThrowsLathe(() => lt.quant.quantizeModel(mlp(5), { mode: 'static', sample: lt.zeros([0, 40]) }), /static quantization needs a calibration set, and it is empty/);
    assertThrowsLathe(() => lt.quant.quantizeModel(mlp(5), { mode: 'static' }), /calibration set, and it is empty/);
  });

  test('a layer with a constant-zero output channel quantizes without NaN', () => {
    const model = mlp(6);
    const dense = model.layers[0] as lt.layers.Dense;
    const k = dense.kernel.dataSync();
    for (let i = 3; i < k.length; i += 48) k[i] = 0; // output channel 3: all zero
    dense.kernel.assign(lt.tensor(k, { shape: dense.kernel.shape }));
    for (const mode of ['dynamic', 'static'] as const) {
      const { model: q } = lt.quant.quantizeModel(model, { mode, sample: lt.rand([8, 40]) });
      const scale = (q.layers[0] as lt.layers.QuantizedDense).kernelScale.dataSync();
      assert.equal(scale[3], 1);
      const y = q.predict(lt.rand([4, 40])).dataSync();
      assert.ok(y.every(Number.isFinite), `${mode}: ${y}`);
      const zeros = q.predict(lt.zeros([2, 40])).dataSync(); // an all-zero input: dynamic scale 0 avoided too
      assert.ok(zeros.every(Number.isFinite));
    }
  });

  // Attention's projections and a transformer block's MLP: Dense sub-layers, quantized inside
  // copies of their composites (the float model keeps its own), saved under the composite's
  // `quantized` config and loaded back as they were.
  test('attention projections and transformer MLPs become int8, in copies, and save and load', () => {
    for (const mode of ['dynamic', 'static'] as const) {
      lt.manualSeed(11);
      const model = new Sequential([
        new L.Dense(32, { inputShape: [6, 16] }),
        new L.TransformerBlock(4, 32),
        new L.MultiHeadAttention(2, 32, { causal: false }),
        new L.Flatten(),
        new L.Dense(3, { activation: 'softmax' }),
      ]);
      const sample = lt.randn([48, 6, 16], { generator: new lt.Generator(12) });
      const { model: q, layers } = lt.quant.quantizeModel(model, { mode, sample, minInputsPerOutput: 16 });
      const inside = layers.filter((l) => l.path !== undefined);
      assert.deepEqual(inside.map((l) => `${l.index}:${l.path}`), ['1:attn.qkv', '1:attn.proj', '1:fc', '1:mlpProj', '2:qkv', '2:proj']);
      for (const l of inside) {
        assert.equal(l.quantizedType, 'quantizeddense', `${l.name}: ${l.reason}`);
        assert.equal(l.input?.mode, mode);
        assert.ok(l.bytes.quantized < l.bytes.float / 2 && l.cosine! > 0.99, `${l.name}: ${JSON.stringify(l)}`);
      }
      const block = model.layers[1] as InstanceType<typeof L.TransformerBlock>;
      assert.equal(block.fc.type, 'dense', 'the float model keeps its float projections');
      assert.equal((q.layers[1] as InstanceType<typeof L.TransformerBlock>).attn.qkv.type, 'quantizeddense');
      const x = lt.randn([8, 6, 16], { generator: new lt.Generator(13) });
      const c = cosine(model.predict(x), q.predict(x));
      assert.ok(c > 0.999, `${mode}: output cosine ${c}`);
      const dir = path.join(tmp, `${backend}-attention-${mode}`);
      lt.save(q, dir);
      const { tensors } = lt.decodeSafetensors(fs.readFileSync(path.join(dir, 'weights.safetensors')));
      assert.equal(tensors['layers.1.attn.qkv.kernel'].dtype, 'int8');
      assert.equal(tensors['layers.2.proj.kernel'].dtype, 'int8');
      const back = lt.load(dir).model;
      assert.deepEqual(Array.from(back.predict(x).dataSync()), Array.from(q.predict(x).dataSync()));
    }
  });

  // A GPT: every block's projections become int8 in a copy of the model, whose config lists them,
  // so saveGPT/loadGPT round-trip; decoding with the KV cache runs through them too.
  test('a GPT\'s projections become int8 in a copy that saves, loads and decodes', () => {
    for (const mode of ['dynamic', 'static'] as const) {
      const gpt = new lt.GPT({ vocabSize: 24, blockSize: 16, nLayer: 2, nHead: 2, nEmbd: 32, seed: 3 });
      const tokens = (n: number, seed: number) => lt.randint(0, 24, [n, 16], { generator: new lt.Generator(seed), dtype: 'int32' });
      const { model: q, layers } = lt.quant.quantizeModel(gpt, { mode, sample: tokens(32, 4), minInputsPerOutput: 16 });
      assert.deepEqual(layers.map((l) => l.path), ['h0.attn.qkv', 'h0.attn.proj', 'h0.fc', 'h0.mlpProj', 'h1.attn.qkv', 'h1.attn.proj', 'h1.fc', 'h1.mlpProj']);
      assert.ok(layers.every((l) => l.quantizedType === 'quantizeddense' && l.cosine! > 0.99), JSON.stringify(layers.map((l) => [l.path, l.reason, l.cosine])));
      assert.equal(gpt.blocks[0].fc.type, 'dense', 'the float GPT keeps its float projections');
      const x = tokens(3, 5);
      const logits = lt.noGrad(() => q.forward(x));
      const c = cosine(lt.noGrad(() => gpt.forward(x)), logits);
      assert.ok(c > 0.999, `${mode}: logits cosine ${c}`);
      const dir = path.join(tmp, `${backend}-gpt-${mode}`);
      lt.saveGPT(q, dir);
      const back = lt.loadGPT(dir).model;
      assert.equal(back.blocks[1].attn.proj.type, 'quantizeddense');
      assert.deepEqual(Array.from(lt.noGrad(() => back.forward(x)).dataSync()), Array.from(logits.dataSync()));
      if (mode === 'static') { // fixed input scales: a decoding step computes what the whole forward did
        const cache = q.newCache();
        const prompt = lt.noGrad(() => q.lastLogits(x.slice([0, 0], [3, 15]), cache));
        const step = lt.noGrad(() => q.lastLogits(x.slice([0, 15], [3, 16]), cache));
        assert.equal(prompt.shape[1], 24);
        const last = lt.noGrad(() => q.forward(x)).slice([0, 15, 0], [3, 16, 24]).reshape([3, 24]);
        assert.ok(cosine(step, last) > 0.99999, 'the cached step matches the full forward');
      }
    }
  });

  test('a quantized projection that does not fit its place is refused, naming it', () => {
    const config = { type: 'multiheadattention', numHeads: 2, embedDim: 8, quantized: { qkv: { type: 'quantizeddense', units: 8, inputFeatures: 8 } } };
    assertThrowsLathe(() => lt.Sequential.fromConfig([config]), /qkv maps 8 features to 24; the replacement maps 8 to 8/);
    assertThrowsLathe(() => lt.Sequential.fromConfig([{ ...config, quantized: { out: {} } }]), /no sub-layer "out" \(expected one of qkv, proj\)/);
    assertThrowsLathe(() => lt.Sequential.fromConfig([{ ...config, quantized: { qkv: { type: 'dense', units: 24 } } }]), /expected type "quantizeddense", got "dense"/);
  });

  // At inference a QuantizedConv2D and the MaxPool2D after it run as one kernel (native pools 2x2
  // windows before its output leaves channels-last; other windows from a per-image scratch; one
  // image splits over the threads): the same values as the layers called one by one.
  test('a quantized conv and the max pooling after it run as one at inference, with the same values', () => {
    for (const mode of ['dynamic', 'static'] as const) {
      lt.manualSeed(21);
      const model = new Sequential([
        new L.Conv2D(8, 3, { activation: 'relu', inputShape: [4, 12, 12] }),
        new L.MaxPool2D(2),
        new L.Conv2D(6, 3, { padding: 'same', activation: 'tanh' }),
        new L.MaxPool2D(3, { strides: 1 }),
        new L.Flatten(),
        new L.Dense(4, { activation: 'softmax' }),
      ]);
      const { model: q } = lt.quant.quantizeModel(model, { mode, sample: lt.rand([32, 4, 12, 12], { generator: new lt.Generator(22) }), minInputsPerOutput: 16 });
      assert.deepEqual(q.layers.map((l) => l.type).slice(0, 4), ['quantizedconv2d', 'maxpool2d', 'quantizedconv2d', 'maxpool2d']);
      for (const n of [1, 5]) {
        const x = lt.rand([n, 4, 12, 12], { generator: new lt.Generator(23 + n) });
        const oneByOne = lt.noGrad(() => q.layers.reduce((h, l) => l.call(h), x));
        assert.deepEqual(Array.from(q.predict(x).dataSync()), Array.from(oneByOne.dataSync()), `${mode}, batch ${n}`);
      }
    }
  });

  // Rescaling then QuantizedDense at inference: uint8 pixels go to the int8 GEMM through a table
  // of the 256 rescaled, quantized values. A huge scale sends most pixels to infinity: their rows
  // come out NaN as unfused (the kernel takes the general path then).
  test('predict fuses Rescaling into the quantized Dense after it, with the same values', () => {
    for (const mode of ['dynamic', 'static'] as const) {
      for (const [scale, offset] of [[1 / 255, 0], [-0.02, 1.5], [1e38, 0]]) {
        lt.manualSeed(31);
        const model = new Sequential([new L.Rescaling(scale, offset, { inputShape: [300] }), new L.Dense(24, { activation: 'relu' }), new L.Dense(3)]);
        const sample = lt.randint(0, 4, [16, 300], { generator: new lt.Generator(32) }).cast('float32');
        const { model: q } = lt.quant.quantizeModel(model, { mode, sample, minCosine: -1 });
        assert.equal(q.layers[1].type, 'quantizeddense');
        const x = lt.randint(0, 256, [41, 300], { generator: new lt.Generator(33) }).cast('uint8'); // 12,300 pixels: the vector lookups and a tail of 12
        const oneByOne = lt.noGrad(() => q.layers.reduce((h, l) => l.call(h), x));
        assert.deepEqual(Array.from(q.predict(x).dataSync()), Array.from(oneByOne.dataSync()), `${mode}, scale ${scale}, offset ${offset}`);
        if (scale > 1) assert.ok(Array.from(oneByOne.dataSync()).some(Number.isNaN), 'rows with infinite inputs are NaN');
      }
    }
  });

  // Rescaling then quantized conv-pool blocks at inference: the first conv quantizes the uint8
  // pixels through the same kind of table, with no float copy; one block or two, static or dynamic.
  test('predict fuses Rescaling into the quantized conv-pool blocks after it, with the same values', () => {
    for (const blocks of [1, 2]) {
      for (const mode of ['dynamic', 'static'] as const) {
        for (const [scale, offset] of [[1 / 255, 0], [-0.02, 1.5], [1e38, 0]]) {
          lt.manualSeed(41);
          const layers = [new L.Rescaling(scale, offset, { inputShape: [1, 14, 14] }), new L.Conv2D(8, 3, { activation: 'relu' }), new L.MaxPool2D(2)];
          if (blocks === 2) layers.push(new L.Conv2D(16, 3, { activation: 'relu' }), new L.MaxPool2D(2));
          const model = new Sequential([...layers, new L.Flatten(), new L.Dense(3)]);
          const sample = lt.randint(0, 4, [16, 1, 14, 14], { generator: new lt.Generator(42) }).cast('float32');
          const { model: q } = lt.quant.quantizeModel(model, { mode, sample, minCosine: -1 });
          assert.equal(q.layers[1].type, 'quantizedconv2d');
          const x = lt.randint(0, 256, [5, 1, 14, 14], { generator: new lt.Generator(43) }).cast('uint8');
          const oneByOne = lt.noGrad(() => q.layers.reduce((h, l) => l.call(h), x));
          let fused = 0;
          const conv = q.layers[1] as unknown as { fuseRescaledRun: (...a: unknown[]) => unknown };
          const own = conv.fuseRescaledRun.bind(conv);
          conv.fuseRescaledRun = (...a: unknown[]) => {
            const run = own(...a);
            if (run) fused++;
            return run;
          };
          const what = `${blocks} block(s), ${mode}, scale ${scale}, offset ${offset}`;
          assert.deepEqual(Array.from(q.predict(x).dataSync()), Array.from(oneByOne.dataSync()), what);
          assert.equal(fused, 1, `${what}: the Rescaling ran in the blocks' op`);
          if (scale > 1) assert.ok(Array.from(oneByOne.dataSync()).some(Number.isNaN), 'images with infinite inputs are NaN');
        }
      }
    }
  });

  test('the int8 model saves with int8 tensors and loads back, predicting bit for bit', () => {
    for (const mode of ['dynamic', 'static'] as const) {
      const model = cnn(7);
      const { model: q } = lt.quant.quantizeModel(model, { mode, sample: lt.rand([16, 4, 12, 12]) });
      const dir = path.join(tmp, `${backend}-${mode}`);
      lt.save(q, dir);
      const { tensors } = lt.decodeSafetensors(fs.readFileSync(path.join(dir, 'weights.safetensors')));
      assert.equal(tensors['layers.0.kernel'].dtype, 'int8');
      assert.equal(tensors['layers.0.kernelScale'].dtype, 'float32');
      const back = lt.load(dir).model;
      assert.deepEqual(back.layers.map((l) => l.type), ['quantizedconv2d', 'maxpool2d', 'quantizedconv2d', 'flatten', 'quantizeddense']);
      const x = lt.rand([5, 4, 12, 12]);
      assert.deepEqual(Array.from(back.predict(x).dataSync()), Array.from(q.predict(x).dataSync()));
    }
  });
});

describe('quantized layer configs', () => {
  test('bad inputQuantization fields are named', () => {
    const base = { type: 'quantizeddense', units: 2, inputFeatures: 3 };
    assertThrowsLathe(() => lt.Sequential.fromConfig([{ ...base, inputQuantization: { mode: 'static', scale: -1, zeroPoint: 0 } }]), /inputQuantization: "scale" must be positive/);
    assertThrowsLathe(() => lt.Sequential.fromConfig([{ ...base, inputQuantization: { mode: 'static', scale: 1, zeroPoint: 300 } }]), /"zeroPoint" must be in 0..255/);
    assertThrowsLathe(() => lt.Sequential.fromConfig([{ ...base, inputQuantization: { mode: 'fancy' } }]), /"mode" must be one of "dynamic", "static"/);
    assertThrowsLathe(() => lt.Sequential.fromConfig([{ type: 'quantizeddense', units: 2 }]), /"inputFeatures" is required/);
  });
});
