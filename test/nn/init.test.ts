// Initialisers against Keras' formulas: uniform limits, truncated-normal bounds and variances on
// large draws, seeded determinism across backends, snake_case names, errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as lt from '../../src/index.js';
import { INITIALIZER_NAMES, initialize, initializerName } from '../../src/nn/init.js';
import { Dense } from '../../src/nn/layers/index.js';
import { assertThrowsLathe, onEachBackend } from '../helpers.js';

const values = (t: lt.Tensor) => Array.from(t.dataSync());
// fanIn != fanOut, so a formula that swaps them is caught; 60000 draws.
const FANS = { fanIn: 200, fanOut: 300 };
const SHAPE = [200, 300];

function moments(v: number[]): { mean: number; variance: number; maxAbs: number } {
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1);
  return { mean, variance, maxAbs: Math.max(...v.map(Math.abs)) };
}

const draw = (name: string, seed = 1) => values(initialize(name, SHAPE, FANS, { dtype: 'float64', generator: new lt.Generator(seed) }));

// Uniform on [-L, L] has variance L^2/3. Over 60000 draws the sample variance's relative standard
// error is sqrt(0.8/n) = 0.37%, so 2% is over 5 sigma (and the seed is fixed).
const UNIFORM: [string, number][] = [
  ['glorotUniform', Math.sqrt(6 / (200 + 300))],
  ['heUniform', Math.sqrt(6 / 200)],
  ['lecunUniform', Math.sqrt(3 / 200)],
  ['randomUniform', 0.05],
];
// Normal draws redrawn beyond 2 std, scaled by 1/0.8796 so the variance is std^2 (Keras'
// VarianceScaling): |w| <= 2 std / 0.87962566. Relative standard error of the variance ~0.5%.
const TRUNC_STD = 0.87962566103423978;
const TRUNCATED: [string, number][] = [
  ['glorotNormal', Math.sqrt(2 / (200 + 300))],
  ['heNormal', Math.sqrt(2 / 200)],
  ['lecunNormal', Math.sqrt(1 / 200)],
];

onEachBackend('initialisers', () => {
  for (const [name, limit] of UNIFORM) {
    test(`${name}: within +-${limit.toPrecision(4)}, reaching it, variance limit^2/3`, () => {
      const { mean, variance, maxAbs } = moments(draw(name));
      assert.ok(maxAbs < limit, `max |w| ${maxAbs} exceeds the limit ${limit}`);
      assert.ok(maxAbs > 0.999 * limit, `max |w| ${maxAbs} is far below the limit ${limit}`);
      assert.ok(Math.abs(mean) < 0.02 * limit, `mean ${mean}`);
      const expected = (limit * limit) / 3;
      assert.ok(Math.abs(variance / expected - 1) < 0.02, `variance ${variance}, expected ${expected}`);
    });
  }

  for (const [name, std] of TRUNCATED) {
    test(`${name}: truncated at 2 std, variance std^2 = ${(std * std).toPrecision(4)}`, () => {
      const { mean, variance, maxAbs } = moments(draw(name));
      const bound = (2 * std) / TRUNC_STD;
      assert.ok(maxAbs <= bound, `max |w| ${maxAbs} is beyond the truncation ${bound}`);
      // about 0.45% of draws land within 2% of the bound, so 60000 draws reach it
      assert.ok(maxAbs > 0.98 * bound, `max |w| ${maxAbs}: the draws do not reach the truncation ${bound}`);
      assert.ok(Math.abs(mean) < 0.02 * std, `mean ${mean}`);
      assert.ok(Math.abs(variance / (std * std) - 1) < 0.03, `variance ${variance}, expected ${std * std}`);
    });
  }

  test('randomNormal: std 0.05, not truncated', () => {
    const { mean, variance, maxAbs } = moments(draw('randomNormal'));
    assert.ok(Math.abs(variance / 0.0025 - 1) < 0.03, `variance ${variance}`);
    assert.ok(Math.abs(mean) < 0.001, `mean ${mean}`);
    assert.ok(maxAbs > 3.5 * 0.05, `max |w| ${maxAbs}: the tails are cut`);
  });

  test('zeros and ones; the default dtype is float32, float64 on request', () => {
    const z = initialize('zeros', [2, 3], FANS);
    assert.equal(z.dtype, 'float32');
    assert.deepEqual(values(z), [0, 0, 0, 0, 0, 0]);
    assert.deepEqual(values(initialize('ones', [3], FANS, { dtype: 'float64' })), [1, 1, 1]);
    assert.equal(initialize('glorotUniform', [3], FANS, { dtype: 'float64' }).dtype, 'float64');
    assert.deepEqual(initialize('heNormal', [4, 5, 1], FANS).shape, [4, 5, 1]);
  });

  test('a seed gives the same draws, here and on every backend; another seed does not', () => {
    const a = draw('heNormal', 7);
    assert.deepEqual(draw('heNormal', 7), a);
    assert.notDeepEqual(draw('heNormal', 8).slice(0, 10), a.slice(0, 10));
    const here = lt.getBackend().name;
    for (const other of lt.listBackends()) {
      lt.setBackend(other);
      try {
        assert.deepEqual(draw('heNormal', 7), a, `backend ${other}`);
      } finally {
        lt.setBackend(here);
      }
    }
  });

  test('manualSeed makes layer weights reproducible', () => {
    lt.manualSeed(123);
    const k1 = values(new Dense(5, { inputShape: [4] }).kernel);
    const k2 = values(new Dense(5, { inputShape: [4] }).kernel);
    lt.manualSeed(123);
    assert.deepEqual(values(new Dense(5, { inputShape: [4] }).kernel), k1);
    assert.deepEqual(values(new Dense(5, { inputShape: [4] }).kernel), k2);
    assert.notDeepEqual(k1, k2);
    lt.manualSeed(124);
    assert.notDeepEqual(values(new Dense(5, { inputShape: [4] }).kernel), k1);
  });

  test("Keras' snake_case names map to the same initialisers", () => {
    assert.equal(initializerName('glorot_uniform'), 'glorotUniform');
    assert.equal(initializerName('he_normal'), 'heNormal');
    assert.equal(initializerName('random_normal'), 'randomNormal');
    assert.deepEqual(draw('lecun_normal', 3), draw('lecunNormal', 3));
    assert.equal(new Dense(2, { kernelInitializer: 'he_uniform', biasInitializer: 'ones' }).kernelInitializer, 'heUniform');
    assert.deepEqual(INITIALIZER_NAMES, ['zeros', 'ones', 'glorotUniform', 'glorotNormal', 'heUniform', 'heNormal', 'lecunUniform', 'lecunNormal', 'randomNormal', 'randomUniform']);
  });

  test('unknown names fail, listing the known ones', () => {
    const list = INITIALIZER_NAMES.join(', ');
    assertThrowsLathe(() => initialize('xavier', [2], FANS), new RegExp(`^initializer: unknown initializer "xavier" \\(expected one of ${list}\\)$`));
    assertThrowsLathe(() => initializerName('hasOwnProperty'), /^initializer: unknown initializer "hasOwnProperty"/);
    assertThrowsLathe(() => initializerName('HeNormal', 'conv_1: kernelInitializer'), /^conv_1: kernelInitializer: unknown initializer "HeNormal"/);
  });
});
