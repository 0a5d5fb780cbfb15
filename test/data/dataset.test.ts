// Dataset (issue 5): sources, map/filter/take/skip/repeat/cache semantics against plain-array
// references, cardinality, and the errors. Shuffle, batch and prefetch have files of their own.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as lt from '../../src/index.js';
import { assertThrowsLathe } from '../helpers.js';

const { Dataset } = lt.data;

/** Resolves when `p` rejects with a LatheError matching `pattern`. */
async function rejectsLathe(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof lt.LatheError, `expected a LatheError, got ${e}`);
    assert.match(e.message, pattern);
    return true;
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('sources', () => {
  test('fromArray yields the items in order, copied so later changes do not reach it', async () => {
    const items = ['a', 'b', 'c'];
    const ds = Dataset.fromArray(items);
    items.push('d');
    assert.deepEqual(await ds.toArray(), ['a', 'b', 'c']);
    assert.deepEqual(await ds.toArray(), ['a', 'b', 'c'], 'a second pass gives the same');
    assert.equal(ds.cardinality(), 3);
  });

  test('range follows Python: range(n), range(start, end), a negative step, an empty range', async () => {
    assert.deepEqual(await Dataset.range(4).toArray(), [0, 1, 2, 3]);
    assert.deepEqual(await Dataset.range(2, 5).toArray(), [2, 3, 4]);
    assert.deepEqual(await Dataset.range(5, 0, -2).toArray(), [5, 3, 1]);
    assert.deepEqual(await Dataset.range(3, 3).toArray(), []);
    assert.equal(Dataset.range(5, 0, -2).cardinality(), 3);
  });

  test('fromTensorSlices slices a tensor, a tuple and an object along axis 0', async () => {
    const x = lt.tensor([[1, 2], [3, 4], [5, 6]]);
    const y = lt.tensor([7, 8, 9], { dtype: 'int32' });
    const rows = await Dataset.fromTensorSlices(x).toArray();
    assert.deepEqual(rows.map((r) => r.toArray()), [[1, 2], [3, 4], [5, 6]]);
    const pairs = await Dataset.fromTensorSlices([x, y]).toArray();
    assert.deepEqual(pairs.map(([a, b]) => [a.toArray(), b.toArray(), b.dtype, b.shape]), [[[1, 2], 7, 'int32', []], [[3, 4], 8, 'int32', []], [[5, 6], 9, 'int32', []]]);
    const dicts = await Dataset.fromTensorSlices({ image: x, label: y }).toArray();
    assert.deepEqual(dicts.map((d) => [Object.keys(d), d.image.toArray(), d.label.item()]), [[['image', 'label'], [1, 2], 7], [['image', 'label'], [3, 4], 8], [['image', 'label'], [5, 6], 9]]);
    assert.equal(Dataset.fromTensorSlices([x, y]).cardinality(), 3);
  });

  test('fromTensors is one element, as in tf.data', async () => {
    const x = lt.tensor([[1, 2], [3, 4]]);
    const [only] = await Dataset.fromTensors(x).toArray();
    assert.equal(only, x);
    const [pair] = await Dataset.fromTensors(x, x).toArray();
    assert.deepEqual(pair, [x, x]);
    assert.equal(Dataset.fromTensors(x).cardinality(), 1);
  });

  test('fromGenerator calls the function afresh each pass with the pass number; sync and async', async () => {
    const calls: number[] = [];
    const sync = Dataset.fromGenerator(({ epoch }) => {
      calls.push(epoch);
      return [epoch, epoch + 10];
    });
    assert.deepEqual(await sync.toArray(), [0, 10]);
    assert.deepEqual(await sync.toArray(), [1, 11]);
    assert.deepEqual(await sync.toArray(7), [7, 17], 'a named pass');
    assert.deepEqual(await sync.toArray(), [8, 18], 'and the count continues from it');
    assert.deepEqual(calls, [0, 1, 7, 8]);
    assert.equal(sync.cardinality(), null);
    const async_ = Dataset.fromGenerator(
      async function* () {
        for (let i = 0; i < 3; i++) {
          await sleep(1);
          yield i * i;
        }
      },
      { cardinality: 3 },
    );
    assert.deepEqual(await async_.toArray(), [0, 1, 4]);
    assert.equal(async_.cardinality(), 3);
  });

  test('for await over a dataset is a new pass each time', async () => {
    const ds = Dataset.fromGenerator(({ epoch }) => [epoch]);
    const seen: number[] = [];
    for (let i = 0; i < 3; i++) for await (const x of ds) seen.push(x);
    assert.deepEqual(seen, [0, 1, 2]);
  });
});

describe('map and filter', () => {
  test('map applies fn in order, awaiting async results, and passes the pass and index', async () => {
    const ds = Dataset.range(5).map(async (x, c) => {
      await sleep(5 - x); // later elements finish first; order must still hold
      return `${x * x}@${c.epoch}:${c.index}`;
    });
    assert.deepEqual(await ds.toArray(), ['0@0:0', '1@0:1', '4@0:2', '9@0:3', '16@0:4']);
    assert.deepEqual(await ds.toArray(), ['0@1:0', '1@1:1', '4@1:2', '9@1:3', '16@1:4']);
    assert.equal(ds.cardinality(), 5);
  });

  test('map {parallel: k} keeps k calls in flight and the results in input order', async () => {
    let running = 0;
    let peak = 0;
    const ds = Dataset.range(12).map(
      async (x) => {
        peak = Math.max(peak, ++running);
        await sleep((x * 7) % 5); // completions out of order
        running--;
        return x * 10;
      },
      { parallel: 4 },
    );
    assert.deepEqual(await ds.toArray(), Array.from({ length: 12 }, (_, i) => i * 10));
    assert.equal(peak, 4, `at most and at least 4 calls at once, saw ${peak}`);
  });

  test('map {parallel} rethrows a failing call at its position', async () => {
    const seen: number[] = [];
    const ds = Dataset.range(10).map(
      async (x) => {
        await sleep(1);
        if (x === 5) throw new Error('bad element 5');
        return x;
      },
      { parallel: 3 },
    );
    await assert.rejects(async () => {
      for await (const x of ds) seen.push(x);
    }, /bad element 5/);
    assert.deepEqual(seen, [0, 1, 2, 3, 4]);
  });

  test('filter keeps the elements where the (possibly async) predicate holds; cardinality becomes unknown', async () => {
    const ds = Dataset.range(10).filter(async (x) => x % 3 === 0);
    assert.deepEqual(await ds.toArray(), [0, 3, 6, 9]);
    assert.equal(ds.cardinality(), null);
    assert.equal(Dataset.range(0).filter(() => true).cardinality(), 0);
  });
});

/** take/skip/repeat on a plain array, the reference. */
function reference(n: number, ops: [string, number | undefined][]): number[] {
  let xs = Array.from({ length: n }, (_, i) => i);
  for (const [op, k] of ops) {
    if (op === 'take') xs = xs.slice(0, k);
    if (op === 'skip') xs = xs.slice(k);
    if (op === 'repeat') xs = Array.from({ length: k! }, () => xs).flat();
  }
  return xs;
}

describe('take, skip, repeat', () => {
  const cases: [number, [string, number | undefined][]][] = [
    [10, [['take', 3]]],
    [10, [['take', 0]]],
    [10, [['take', 20]]],
    [10, [['skip', 4]]],
    [10, [['skip', 10]]],
    [10, [['skip', 12]]],
    [5, [['repeat', 3]]],
    [5, [['repeat', 0]]],
    [10, [['skip', 2], ['take', 5], ['repeat', 2]]],
    [10, [['repeat', 2], ['skip', 7], ['take', 6]]],
    [4, [['take', 3], ['repeat', 3], ['skip', 1]]],
    [7, [['repeat', 3], ['take', 10], ['skip', 9], ['repeat', 2]]],
  ];
  for (const [n, ops] of cases) {
    const label = `range(${n}).${ops.map(([o, k]) => `${o}(${k})`).join('.')}`;
    test(`${label} equals the array reference, and its cardinality is the length`, async () => {
      let ds: lt.data.Dataset<number> = Dataset.range(n);
      for (const [op, k] of ops) ds = op === 'take' ? ds.take(k!) : op === 'skip' ? ds.skip(k!) : ds.repeat(k);
      const expected = reference(n, ops);
      assert.deepEqual(await ds.toArray(), expected);
      assert.equal(ds.cardinality(), expected.length);
    });
  }

  test('repeat() is endless: take(n) after it ends the pass; an empty dataset repeated ends at once', async () => {
    const ds = Dataset.range(3).repeat();
    assert.equal(ds.cardinality(), Infinity);
    assert.deepEqual(await ds.take(8).toArray(), [0, 1, 2, 0, 1, 2, 0, 1]);
    assert.equal(ds.take(8).cardinality(), 8);
    assert.deepEqual(await Dataset.range(0).repeat().toArray(), []);
    assert.deepEqual(await Dataset.range(4).filter(() => false).repeat().toArray(), []);
    await rejectsLathe(ds.toArray(), /toArray: the dataset is endless/);
  });

  test('take(n) never computes element n, and closes its input', async () => {
    const computed: number[] = [];
    let closed = false;
    const src = Dataset.fromGenerator(function* () {
      try {
        for (let i = 0; ; i++) yield i;
      } finally {
        closed = true;
      }
    });
    const ds = src.map((x) => (computed.push(x), x)).take(3);
    assert.deepEqual(await ds.toArray(), [0, 1, 2]);
    assert.deepEqual(computed, [0, 1, 2]);
    assert.ok(closed, 'the generator was closed');
  });

  test('repeat(k) reads k consecutive passes of its input', async () => {
    const ds = Dataset.fromGenerator(({ epoch }) => [epoch]).repeat(3);
    assert.deepEqual(await ds.toArray(), [0, 1, 2]);
    assert.deepEqual(await ds.toArray(), [3, 4, 5]);
  });
});

describe('cache', () => {
  test('the first full pass is kept: the source is read once, later passes replay it', async () => {
    let reads = 0;
    const ds = Dataset.fromGenerator(({ epoch }) => {
      reads++;
      return [epoch, epoch + 1];
    }).cache();
    assert.deepEqual(await ds.toArray(), [0, 1]);
    assert.deepEqual(await ds.toArray(), [0, 1]);
    assert.deepEqual(await ds.toArray(5), [0, 1]);
    assert.equal(reads, 1);
  });

  test('a pass cut short keeps nothing', async () => {
    let reads = 0;
    const ds = Dataset.fromGenerator(() => (reads++, [1, 2, 3])).cache();
    for await (const x of ds) if (x === 1) break;
    assert.deepEqual(await ds.toArray(), [1, 2, 3]);
    assert.deepEqual(await ds.toArray(), [1, 2, 3]);
    assert.equal(reads, 2);
  });

  test('after a shuffle it freezes the first order (tf.data does the same), for elements and tensor rows alike', async () => {
    const ds = Dataset.range(20).shuffle('full', { seed: 3 });
    const cached = ds.cache();
    const first = await cached.toArray();
    assert.deepEqual(await cached.toArray(), first);
    assert.deepEqual(first, await ds.toArray(0), 'the cached order is pass 0');
    assert.notDeepEqual(await ds.toArray(1), first);
    const x = lt.arange(0, 20);
    const rows = Dataset.fromTensorSlices(x).shuffle('full', { seed: 3 }).cache().batch(20);
    const [b0] = await rows.toArray();
    const [b1] = await rows.toArray();
    assert.deepEqual(b0.toArray(), first);
    assert.deepEqual(b1.toArray(), first);
  });
});

describe('cardinality', () => {
  test('follows each transform', () => {
    const ds = Dataset.range(10);
    const cases: [lt.data.Dataset<unknown>, number | null][] = [
      [ds.map((x) => x), 10],
      [ds.shuffle(3, { seed: 0 }), 10],
      [ds.batch(3), 4],
      [ds.batch(3, { dropRemainder: true }), 3],
      [ds.batch(5, { dropRemainder: true }), 2],
      [ds.take(4), 4],
      [ds.skip(4), 6],
      [ds.skip(40), 0],
      [ds.repeat(3), 30],
      [ds.repeat(), Infinity],
      [ds.repeat().skip(3), Infinity],
      [ds.repeat().batch(4), Infinity],
      [ds.cache(), 10],
      [ds.prefetch(2), 10],
      [ds.filter(() => true), null],
      [ds.filter(() => true).take(3), null],
      [ds.filter(() => true).take(0), 0],
      [ds.filter(() => true).batch(2), null],
      [ds.filter(() => true).repeat(0), 0],
      [Dataset.fromGenerator(() => []), null],
    ];
    cases.forEach(([d, n], i) => assert.equal(d.cardinality(), n, `case ${i}`));
  });
});

describe('errors name the transform and the problem', () => {
  const ds = Dataset.range(4);
  test('bad arguments are refused when the pipeline is built', () => {
    assertThrowsLathe(() => ds.batch(0), /^batch: size must be a positive integer, got 0$/);
    assertThrowsLathe(() => ds.batch(2.5), /batch: size must be a positive integer, got 2.5/);
    assertThrowsLathe(() => ds.take(-1), /take: n must be a non-negative integer or Infinity, got -1/);
    assertThrowsLathe(() => ds.skip(1.5), /skip: n must be a non-negative integer or Infinity, got 1.5/);
    assertThrowsLathe(() => ds.repeat(-2), /repeat: count must be a non-negative integer or Infinity, got -2/);
    assertThrowsLathe(() => ds.shuffle(0), /shuffle: bufferSize must be a positive integer, got 0/);
    assertThrowsLathe(() => ds.shuffle(4, { seed: -1 }), /shuffle: seed must be a non-negative integer, got -1/);
    assertThrowsLathe(() => ds.repeat().shuffle('full'), /shuffle: 'full' needs a finite dataset/);
    assertThrowsLathe(() => ds.repeat().cache(), /cache: the dataset is endless/);
    assertThrowsLathe(() => ds.prefetch(0), /prefetch: n must be a positive integer, got 0/);
    assertThrowsLathe(() => ds.map(3 as never), /map: expected a function, got number/);
    assertThrowsLathe(() => ds.map((x) => x, { parallel: 0 }), /map: parallel must be a positive integer, got 0/);
    assertThrowsLathe(() => ds.filter(null as never), /filter: expected a function, got object/);
    assertThrowsLathe(() => ds.iterate(-1), /iterate: epoch must be a non-negative integer, got -1/);
    assertThrowsLathe(() => Dataset.range(0, 5, 0), /range: step must not be zero/);
    assertThrowsLathe(() => Dataset.range(NaN), /range: end must be a finite number, got NaN/);
    assertThrowsLathe(() => Dataset.fromArray('abc' as never), /fromArray: expected an array, got string/);
    assertThrowsLathe(() => Dataset.fromTensors(), /fromTensors: expected at least one tensor/);
    assertThrowsLathe(() => Dataset.fromGenerator(() => [], { cardinality: -3 }), /fromGenerator: cardinality must be a non-negative integer or Infinity, got -3/);
  });

  test('fromTensorSlices checks its components', () => {
    const x = lt.zeros([3, 2]);
    assertThrowsLathe(() => Dataset.fromTensorSlices([x, lt.zeros([4])]), /fromTensorSlices: components must have the same number of rows: \[1\] has shape \[4\], the first \[3,2\]/);
    assertThrowsLathe(() => Dataset.fromTensorSlices(lt.tensor(3)), /fromTensorSlices: component \(the tensor\) is a scalar/);
    assertThrowsLathe(() => Dataset.fromTensorSlices({ a: x, b: [1, 2, 3] as never }), /fromTensorSlices: component \.b\[0\] is a number/);
    assertThrowsLathe(() => Dataset.fromTensorSlices([] as never), /fromTensorSlices: component \(the argument\) is an array of 0/);
  });

  test('a generator function that returns no iterable fails when read', async () => {
    await rejectsLathe(Dataset.fromGenerator(() => 42 as never).toArray(), /fromGenerator: the function must return an iterable or async iterable, got number/);
  });
});
