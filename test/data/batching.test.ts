// Dataset.batch (issue 5): what stacks into what, the remainder, the errors, and the fast path
// for tensor rows (one indexSelect per component per batch), which must equal stacking exactly.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as lt from '../../src/index.js';
import { assertThrowsLathe, onEachBackend } from '../helpers.js';

const { Dataset } = lt.data;
type Kernel = 'indexSelect' | 'readView' | 'writeView';

async function rejectsLathe(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof lt.LatheError && pattern.test(e.message));
}

/** Runs fn counting calls of the backend's layout and indexing kernels. */
async function countKernels(on: lt.Backend, fn: () => Promise<void>): Promise<Record<Kernel, number>> {
  const backend = on as unknown as Record<Kernel, (...a: unknown[]) => unknown>;
  const counts = { indexSelect: 0, readView: 0, writeView: 0 };
  const saved = { ...backend };
  for (const k of Object.keys(counts) as Kernel[]) {
    backend[k] = (...a: unknown[]) => {
      counts[k]++;
      return saved[k](...a);
    };
  }
  try {
    await fn();
  } finally {
    for (const k of Object.keys(counts) as Kernel[]) backend[k] = saved[k];
  }
  return counts;
}

/** A batch as plain data: every tensor as [dtype, shape, values], so deepEqual compares all three exactly. */
function plain(b: unknown): unknown {
  if (b instanceof lt.Tensor) return [b.dtype, [...b.shape], Array.from(b.dataSync())];
  if (Array.isArray(b)) return b.map(plain);
  return Object.fromEntries(Object.entries(b as object).map(([k, v]) => [k, plain(v)]));
}

describe('batch', () => {
  test('numbers become float32 vectors; the last batch is smaller unless dropRemainder', async () => {
    const batches = await Dataset.range(7).batch(3).toArray();
    assert.deepEqual(batches.map(plain), [['float32', [3], [0, 1, 2]], ['float32', [3], [3, 4, 5]], ['float32', [1], [6]]]);
    const dropped = await Dataset.range(7).batch(3, { dropRemainder: true }).toArray();
    assert.deepEqual(dropped.map(plain), [['float32', [3], [0, 1, 2]], ['float32', [3], [3, 4, 5]]]);
    assert.deepEqual(await Dataset.range(6).batch(3, { dropRemainder: true }).toArray().then((b) => b.length), 2);
    assert.deepEqual(await Dataset.range(2).batch(3, { dropRemainder: true }).toArray(), []);
  });

  test('tensors stack on a new axis 0 keeping their dtype; booleans and typed arrays too', async () => {
    const imgs = [0, 1, 2].map((i) => lt.tensor(new Uint8Array([i, 10 + i, 20 + i, 250])).reshape([2, 2]));
    assert.deepEqual((await Dataset.fromArray(imgs).batch(3).toArray()).map(plain), [['uint8', [3, 2, 2], [0, 10, 20, 250, 1, 11, 21, 250, 2, 12, 22, 250]]]);
    assert.deepEqual((await Dataset.fromArray([true, false, true]).batch(2).toArray()).map(plain), [['bool', [2], [1, 0]], ['bool', [1], [1]]]);
    const rows = [Int32Array.of(1, 2), Int32Array.of(3, 4)];
    assert.deepEqual((await Dataset.fromArray(rows).batch(2).toArray()).map(plain), [['int32', [2, 2], [1, 2, 3, 4]]]);
  });

  test('tuples stack elementwise, objects per key, nested structures all the way down', async () => {
    const items = [0, 1, 2].map((i) => ({ image: lt.full([2], i, { dtype: 'uint8' }), meta: [i * 2, { flag: i % 2 === 1 }] as const }));
    const [b] = await Dataset.fromArray(items).batch(3).toArray();
    assert.deepEqual(plain(b), {
      image: ['uint8', [3, 2], [0, 0, 1, 1, 2, 2]],
      meta: [['float32', [3], [0, 2, 4]], { flag: ['bool', [3], [0, 1, 0]] }],
    });
    const pairs = await Dataset.fromArray([[lt.tensor([1, 2]), 5], [lt.tensor([3, 4]), 6]] as [lt.Tensor, number][]).batch(2).toArray();
    assert.deepEqual(pairs.map(plain), [[['float32', [2, 2], [1, 2, 3, 4]], ['float32', [2], [5, 6]]]]);
  });

  test('a batch of batches adds another axis', async () => {
    const b = await Dataset.range(8).batch(2).batch(2).toArray();
    assert.deepEqual(b.map(plain), [['float32', [2, 2], [0, 1, 2, 3]], ['float32', [2, 2], [4, 5, 6, 7]]]);
  });

  test('errors name the element (counted from the start of the pass) and what differs', async () => {
    const shapes = [[2, 4], [2, 4], [2, 4], [2, 3]].map((s) => lt.zeros(s));
    await rejectsLathe(Dataset.fromArray(shapes).batch(4).toArray(), /^batch: element 3 has shape \[2,3\], element 0 had \[2,4\]$/);
    await rejectsLathe(Dataset.fromArray(shapes).batch(2).toArray(), /^batch: element 3 has shape \[2,3\], element 2 had \[2,4\]$/);
    const pairs = [[lt.zeros([2]), 1], [lt.zeros([3]), 2]];
    await rejectsLathe(Dataset.fromArray(pairs).batch(2).toArray(), /^batch: element 1\[0\] has shape \[3\], element 0\[0\] had \[2\]$/);
    await rejectsLathe(Dataset.fromArray([lt.zeros([2]), lt.zeros([2], { dtype: 'int32' })]).batch(2).toArray(), /batch: element 1 is int32, element 0 was float32/);
    await rejectsLathe(Dataset.fromArray([[1, 2], [1]]).batch(2).toArray(), /batch: element 1 is an array of 1, element 0 was an array of 2/);
    await rejectsLathe(Dataset.fromArray([{ a: 1 }, { b: 1 }]).batch(2).toArray(), /batch: element 1 has keys \[b\], element 0 had \[a\]/);
    await rejectsLathe(Dataset.fromArray([1, lt.zeros([1])]).batch(2).toArray(), /batch: element 1 is a float32 tensor \[1\], element 0 was a number/);
    await rejectsLathe(Dataset.fromArray(['a', 'b']).batch(2).toArray(), /batch: element 0 is a string; batch stacks tensors, numbers/);
    assertThrowsLathe(() => Dataset.range(3).batch(-1), /batch: size must be a positive integer, got -1/);
  });
});

/** A transform chain applied to any dataset of the same element type. */
type Chain = <T>(d: lt.data.Dataset<T>) => lt.data.Dataset<T>;
const chains: [string, Chain][] = [
  ['(none)', (d) => d],
  ["shuffle('full')", (d) => d.shuffle('full', { seed: 4 })],
  ['shuffle(7)', (d) => d.shuffle(7, { seed: 4 })],
  ["shuffle('full').repeat(2)", (d) => d.shuffle('full', { seed: 2 }).repeat(2)],
  ['skip(3).take(20)', (d) => d.skip(3).take(20)],
  ['shuffle(5).take(17).repeat(2).skip(4)', (d) => d.shuffle(5, { seed: 9 }).take(17).repeat(2).skip(4)],
  ['repeat().shuffle(10).take(70)', (d) => d.repeat().shuffle(10, { seed: 1 }).take(70)],
  ["shuffle('full').cache().prefetch(2)", (d) => d.shuffle('full', { seed: 6 }).cache().prefetch(2)],
];

/** float32, int32 and uint8 components of 29 rows, made on the current backend. */
function components(): [lt.Tensor, lt.Tensor, lt.Tensor] {
  const n = 29;
  const x = lt.randn([n, 3, 2], { generator: new lt.Generator(17) });
  const y = lt.tensor(Int32Array.from({ length: n }, (_, i) => i));
  const z = lt.tensor(Uint8Array.from({ length: n * 4 }, (_, i) => (i * 37) % 256), { shape: [n, 4] });
  return [x, y, z];
}

onEachBackend('fromTensorSlices then batch: the row-gathering path', (backend) => {

  for (const [name, chain] of chains) {
    for (const [size, dropRemainder] of [[4, false], [7, true], [32, false]] as const) {
      test(`${name}.batch(${size}${dropRemainder ? ', drop' : ''}) equals stacking the examples, over three passes`, async () => {
        const [x, y, z] = components();
        assert.equal(x.backend.name, backend);
        const fast = chain(Dataset.fromTensorSlices([x, { label: y, extra: z }])).batch(size, { dropRemainder });
        const slow = chain(Dataset.fromTensorSlices([x, { label: y, extra: z }]).map((e) => e)).batch(size, { dropRemainder });
        assert.equal(fast.cardinality(), slow.cardinality());
        for (let pass = 0; pass < 3; pass++) {
          const a = (await fast.toArray()).map(plain);
          const b = (await slow.toArray()).map(plain);
          assert.deepEqual(a, b, `pass ${pass}`);
          assert.equal(a.length, fast.cardinality());
        }
      });
    }
  }

  test("shuffle('full').batch: one indexSelect per component per batch, no per-example slices and no stacking", async () => {
    const [x, y, z] = components();
    const ds = Dataset.fromTensorSlices([x, y, z]).shuffle('full', { seed: 1 }).batch(8);
    let batches = 0;
    const counts = await countKernels(x.backend, async () => {
      for await (const [xb, yb, zb] of ds) {
        batches++;
        assert.deepEqual([xb.dtype, yb.dtype, zb.dtype], ['float32', 'int32', 'uint8']);
      }
    });
    assert.equal(batches, 4);
    assert.deepEqual(counts, { indexSelect: 3 * 4, readView: 0, writeView: 0 });
    // the counter sees the generic path's work, so the assertion above can fail
    const stacked = Dataset.fromTensorSlices([x, y, z]).map((e) => e).shuffle('full', { seed: 1 }).batch(8);
    const slow = await countKernels(x.backend, async () => void (await stacked.toArray()));
    assert.ok(slow.readView > 0 && slow.writeView > 0, `the stacking path uses the layout kernels: ${JSON.stringify(slow)}`);
  });
});
