// Image transforms: bilinear resize against hand-computed half-pixel values, normalise, flips,
// crops and rotations exact where the geometry is (90 degrees, identities), and seeded
// augmentation that repeats under a seed, differs across seeds, and draws in its documented order.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as lt from '../../src/index.js';
import { crop, flip, normalize, randomCrop, randomFlip, randomRotation, resize, rotate } from '../../src/data/image-transforms.js';
import { assertClose, assertThrowsLathe } from '../helpers.js';

const img = (data: number[], shape: number[], dtype: lt.DType = 'float32') => lt.tensor(data, { shape, dtype });
const values = (t: lt.Tensor) => Array.from(t.dataSync());
const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);
/** np.rot90(a) for each n x n plane: counter-clockwise, out[i][j] = a[j][n-1-i]. */
const rot90 = (a: number[], planes: number, n: number) =>
  range(planes * n * n).map((k) => {
    const [p, i, j] = [Math.floor(k / (n * n)), Math.floor((k % (n * n)) / n), k % n];
    return a[p * n * n + j * n + (n - 1 - i)];
  });
/** A batch of distinct images, to see per-image random choices. */
const batch = (n: number, dtype: lt.DType = 'uint8') => img(range(n * 2 * 4 * 4).map((v) => v % 251), [n, 2, 4, 4], dtype);

describe('resize: bilinear', () => {
  test('2x2 -> 4x4 with half-pixel centres (F.interpolate align_corners=False), two channels, batched', () => {
    const x = img([0, 10, 20, 30, 1, 1, 1, 1], [1, 2, 2, 2]);
    const out = resize(x, [4, 4]);
    assert.deepEqual(out.shape, [1, 2, 4, 4]);
    // source = (dst + 0.5) / 2 - 0.5 clamped: columns read 0, 0.25, 0.75, 1 of the way
    const want = [0, 2.5, 7.5, 10, 5, 7.5, 12.5, 15, 15, 17.5, 22.5, 25, 20, 22.5, 27.5, 30];
    assertClose(values(out), [...want, ...new Array(16).fill(1)]);
  });

  test('4x4 -> 2x2 averages each 2x2 block; 3 -> 5 columns', () => {
    assertClose(values(resize(img(range(16), [1, 4, 4]), [2, 2])), [2.5, 4.5, 10.5, 12.5]);
    assertClose(values(resize(img([0, 10, 20], [1, 1, 3]), [1, 5])), [0, 4, 10, 16, 20]);
  });

  test('alignCorners: corner centres line up', () => {
    // source = dst * (in - 1) / (out - 1): thirds of the way here, where half-pixel centres read 0, 1/4, 3/4, 1
    const want = range(16).map((k) => (20 * Math.floor(k / 4)) / 3 + (10 * (k % 4)) / 3);
    assertClose(values(resize(img([0, 10, 20, 30], [1, 2, 2]), [4, 4], { alignCorners: true })), want);
    assertClose(values(resize(img([0, 10, 20], [1, 1, 3]), [1, 5], { alignCorners: true })), [0, 5, 10, 15, 20]);
  });

  test('uint8 stays uint8, rounded half to even; the same size is the identity', () => {
    const out = resize(img([0, 10, 20, 30], [1, 2, 2], 'uint8'), [4, 4]);
    assert.equal(out.dtype, 'uint8');
    assert.deepEqual(values(out), [0, 2, 8, 10, 5, 8, 12, 15, 15, 18, 22, 25, 20, 22, 28, 30]);
    const x = batch(2);
    assert.deepEqual(values(resize(x, [4, 4])), values(x));
    const f = img(range(15).map((v) => v / 7), [1, 3, 5], 'float64');
    assert.deepEqual(values(resize(f, [3, 5])), values(f));
  });

  test('bad input', () => {
    assertThrowsLathe(() => resize(img([1, 2], [1, 2], 'float32'), [2, 2]), /resize: expected an image \[C,H,W\] or a batch \[N,C,H,W\], got shape \[1,2\]/);
    assertThrowsLathe(() => resize(img([1], [1, 1, 1], 'int32'), [2, 2]), /resize: expected a uint8, float32 or float64 image, got int32/);
    assertThrowsLathe(() => resize(img([1], [1, 1, 1]), [2, 0] as [number, number]), /size must be \[height, width\], two positive integers, got \[2,0\]/);
  });
});

describe('normalize', () => {
  test('uint8 is scaled by 1/255 first, then (x - mean) / std per channel, to float32', () => {
    const out = normalize(img([0, 255, 51, 102], [2, 1, 2], 'uint8'), { mean: [0.5, 0.2], std: [0.25, 0.1] });
    assert.equal(out.dtype, 'float32');
    assertClose(out, [[[-2, 2]], [[0, 2]]]);
  });

  test('float input unscaled, one mean/std for all channels, an explicit scale, batches', () => {
    assertClose(values(normalize(img([1, 3, 5, 7], [2, 2, 1, 1]), { mean: 4, std: 2 })), [-1.5, -0.5, 0.5, 1.5]);
    assertClose(values(normalize(img([10, 20], [1, 1, 2], 'uint8'), { mean: 15, std: 5, scale: 1 })), [-1, 1]);
    assert.equal(normalize(img([1], [1, 1, 1], 'float64'), { mean: 0, std: 1 }).dtype, 'float64');
  });

  test('bad mean and std', () => {
    const x = img([1, 2], [2, 1, 1]);
    assertThrowsLathe(() => normalize(x, { mean: [0, 0, 0], std: 1 }), /normalize: mean must be a finite number or 2 of them \(one per channel\), got \[0,0,0\]/);
    assertThrowsLathe(() => normalize(x, { mean: 0, std: [1, 0] }), /std must be positive, got \[1,0\]/);
  });
});

describe('flip and crop', () => {
  const x = img([1, 2, 3, 4, 5, 6], [1, 2, 3]);

  test('flip horizontal, vertical, both', () => {
    assert.deepEqual(values(flip(x)), [3, 2, 1, 6, 5, 4]);
    assert.deepEqual(values(flip(x, 'vertical')), [4, 5, 6, 1, 2, 3]);
    assert.deepEqual(values(flip(x, 'horizontal_and_vertical')), [6, 5, 4, 3, 2, 1]);
    assertThrowsLathe(() => flip(x, 'diagonal' as 'vertical'), /flip: mode must be 'horizontal', 'vertical' or 'horizontal_and_vertical', got "diagonal"/);
  });

  test('crop inside and across the edge, which reads the fill value', () => {
    assert.deepEqual(values(crop(x, 0, 1, [2, 2])), [2, 3, 5, 6]);
    assert.deepEqual(values(crop(x, -1, -1, [2, 3], { fill: 9 })), [9, 9, 9, 9, 1, 2]);
    assertThrowsLathe(() => crop(img([1], [1, 1, 1], 'uint8'), 0, 0, [1, 1], { fill: 256 }), /fill must be a finite number in \[0, 255\] for a uint8 image, got 256/);
  });

  test('randomCrop: the CIFAR recipe (padding then crop) draws top then left per image from the generator', () => {
    const xs = batch(6);
    const out = randomCrop(xs, [4, 4], { padding: 1, generator: new lt.Generator(7) });
    const g = new lt.Generator(7);
    for (let i = 0; i < 6; i++) {
      const top = g.nextInt(3) - 1;
      const left = g.nextInt(3) - 1;
      const one = xs.dataSync().subarray(i * 32, (i + 1) * 32);
      const want = values(crop(img(Array.from(one), [2, 4, 4], 'uint8'), top, left, [4, 4]));
      assert.deepEqual(values(out).slice(i * 32, (i + 1) * 32), want, `image ${i}`);
    }
    assert.equal(out.dtype, 'uint8');
    assert.deepEqual(values(randomCrop(xs, [4, 4], { generator: new lt.Generator(1) })), values(xs), 'no padding, full size: identity');
    assertThrowsLathe(() => randomCrop(xs, [7, 4], { padding: 1 }), /randomCrop: crop 7x4 is larger than the padded image 6x6/);
  });

  test('randomCrop reaches every offset', () => {
    const seen = new Set<number>();
    const g = new lt.Generator(3);
    const probe = img([1], [1, 1, 1]);
    for (let k = 0; k < 200; k++) seen.add(values(randomCrop(probe, [3, 3], { padding: 2, generator: g })).indexOf(1));
    assert.deepEqual([...seen].sort(), range(9));
  });

  test('randomFlip: p = 1 always, p = 0 never, mixed at 0.5, seeded', () => {
    const xs = batch(16);
    assert.deepEqual(values(randomFlip(xs, { p: 1 })), values(flip(xs)));
    assert.deepEqual(values(randomFlip(xs, { p: 0, mode: 'horizontal_and_vertical' })), values(xs));
    const a = randomFlip(xs, { generator: new lt.Generator(11) });
    const g = new lt.Generator(11);
    const flipped = values(flip(xs));
    const pick = range(16).flatMap((i) => (g.nextFloat64() < 0.5 ? flipped : values(xs)).slice(i * 32, (i + 1) * 32));
    assert.deepEqual(values(a), pick);
    const orig = values(xs);
    const n = pick.filter((v, k) => v !== orig[k]).length;
    assert.ok(n > 0 && n < xs.size, 'some flipped, some not');
    assertThrowsLathe(() => randomFlip(xs, { p: 1.5 }), /p must be a probability in \[0, 1\], got 1.5/);
  });
});

describe('rotate', () => {
  for (const dtype of ['uint8', 'float32', 'float64'] as const) {
    for (const interpolation of ['nearest', 'bilinear'] as const) {
      test(`${dtype} ${interpolation}: 90 is np.rot90 (counter-clockwise), 0 and 360 are the identity, 180 flips both axes`, () => {
        for (const n of [3, 4]) {
          const data = range(2 * n * n, 1);
          const x = img(data, [2, n, n], dtype);
          assert.deepEqual(values(rotate(x, 90, { interpolation })), rot90(data, 2, n));
          assert.deepEqual(values(rotate(x, -270, { interpolation })), rot90(data, 2, n));
          assert.deepEqual(values(rotate(x, 0, { interpolation })), data);
          assert.deepEqual(values(rotate(x, 360, { interpolation })), data);
          assert.deepEqual(values(rotate(x, 180, { interpolation })), values(flip(x, 'horizontal_and_vertical')));
        }
      });
    }
  }

  test('45 degrees: the centre stays, the top edge turns to the left, taps outside read the fill', () => {
    const x = img(range(9, 1), [1, 3, 3], 'uint8');
    // corner (0,0) samples (x 1, y 1 - sqrt 2) -> nearest (0, 1): the top middle, 2
    assert.deepEqual(values(rotate(x, 45, { fill: 99 })), [2, 3, 6, 1, 5, 9, 4, 7, 8]);
    const big = rotate(img(new Array(25).fill(10), [1, 5, 5]), 45, { fill: 0, interpolation: 'bilinear' });
    const v = values(big);
    assert.equal(v[12], 10);
    // corner (0,0) samples y = 2 - 2 sqrt 2, between the fill row above and row 0; (1,0) samples y = 2 - 3/sqrt 2
    assertClose([v[0], v[1]], [10 * (3 - 2 * Math.SQRT2), 10 * (3 - 3 * Math.SQRT1_2)], { atol: 1e-5 });
  });

  test('non-square 90: the size stays, the middle row becomes the middle column', () => {
    const x = img(range(15), [1, 3, 5]);
    const out = values(rotate(x, 90, { fill: -1 }));
    // centre (2, 1): output (x 2, y 0..2) reads source (x 1..3, y 1), reversed by the turn
    assert.deepEqual([out[2], out[7], out[12]], [8, 7, 6]);
    assert.equal(out[0], -1);
  });

  test('randomRotation: seeded, repeatable, seeds differ; a [90, 90] range is rotate(90)', () => {
    const xs = batch(8, 'float32');
    const a = values(randomRotation(xs, 30, { generator: new lt.Generator(5), interpolation: 'bilinear' }));
    assert.deepEqual(values(randomRotation(xs, 30, { generator: new lt.Generator(5), interpolation: 'bilinear' })), a);
    assert.notDeepEqual(values(randomRotation(xs, 30, { generator: new lt.Generator(6), interpolation: 'bilinear' })), a);
    const g = new lt.Generator(5);
    const angles = range(8).map(() => -30 + 60 * g.nextFloat64());
    const one = (i: number) => img(values(xs).slice(i * 32, (i + 1) * 32), [2, 4, 4]);
    assertClose(a, range(8).flatMap((i) => values(rotate(one(i), angles[i], { interpolation: 'bilinear' }))), { atol: 1e-6 });
    assert.deepEqual(values(randomRotation(xs, [90, 90])), values(rotate(xs, 90)));
    assert.deepEqual(values(randomRotation(xs, 0)), values(xs));
    assertThrowsLathe(() => randomRotation(xs, [10, -10]), /degrees must be a non-negative number or \[min, max\] with min <= max, got \[10,-10\]/);
  });
});

describe('seeded augmentation as a whole', () => {
  const augment = (x: lt.Tensor, seed: number) => {
    const generator = new lt.Generator(seed);
    return randomRotation(randomFlip(randomCrop(x, [4, 4], { padding: 2, generator }), { generator }), 15, { generator });
  };

  test('the same seed gives the same batch; other seeds give others; the input is untouched', () => {
    const xs = batch(8);
    const before = values(xs);
    const a = values(augment(xs, 1));
    assert.deepEqual(values(augment(xs, 1)), a);
    for (const seed of [2, 3]) assert.notDeepEqual(values(augment(xs, seed)), a);
    assert.deepEqual(values(xs), before);
    assert.equal(augment(xs, 1).backend, xs.backend);
  });
});
