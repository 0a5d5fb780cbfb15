// Dataset: an immutable, lazily evaluated, async-iterable input pipeline in the manner of
// tf.data. Every node opens a fresh iterator per pass (epoch number), so a seeded shuffle gives a
// new order each pass, and the same order again for the same seed and pass.
import { fail } from '../errors.js';
import { Generator, defaultGenerator } from '../tensor/random.js';
import { type Batched, type RowTable, type TensorStructure, gatheredBatches, rowChunks, rowTable, sliceRow, stackElements } from './batching.js';
import { type ElementContext, type Stream, ShuffleBuffer, mappedParallel, passSeed, prefetched, repeatPass } from './streams.js';

export type { Batched, TensorStructure } from './batching.js';
export type { ElementContext } from './streams.js';

interface Node<T> {
  /** Number of elements: Infinity when endless, null when unknown (filter, generators). */
  card: number | null;
  open(epoch: number): Stream<T>;
  /**
   * Present while the elements are rows of in-memory tensors picked by a stream of row numbers
   * (fromTensorSlices, then any of shuffle, take, skip, repeat, cache, prefetch): batch() then
   * gathers each batch's rows with one indexSelect per component instead of stacking examples.
   * Row numbers travel in chunks, so a pass costs a loop per row rather than a generator step.
   */
  rows?: { table: RowTable; indices(epoch: number): Iterable<Int32Array> };
}

function checkCount(where: string, what: string, n: unknown, allowInfinity = false): number {
  if ((allowInfinity && n === Infinity) || (Number.isInteger(n) && (n as number) >= 0)) return n as number;
  fail(where, `${what} must be a non-negative integer${allowInfinity ? ' or Infinity' : ''}, got ${JSON.stringify(n) ?? String(n)}`);
}

function checkPositive(where: string, what: string, n: unknown): number {
  if (Number.isInteger(n) && (n as number) > 0) return n as number;
  fail(where, `${what} must be a positive integer, got ${JSON.stringify(n) ?? String(n)}`);
}

function checkFn(where: string, fn: unknown): void {
  if (typeof fn !== 'function') fail(where, `expected a function, got ${typeof fn}`);
}

/** An async iterable over node's pass `epoch`, for for-await inside the transforms. */
function pass<T>(node: Node<T>, epoch: number): AsyncIterable<T> {
  return { [Symbol.asyncIterator]: () => node.open(epoch) };
}

export class Dataset<T> implements AsyncIterable<T> {
  private nextEpoch = 0;

  private constructor(private readonly node: Node<T>) {}

  // ---- sources ---------------------------------------------------------------------------------

  /** The items of an array, in order (the array is copied). */
  static fromArray<T>(items: readonly T[]): Dataset<T> {
    if (!Array.isArray(items)) fail('fromArray', `expected an array, got ${typeof items}`);
    const copy = items.slice();
    return new Dataset({ card: copy.length, open: async function* () { yield* copy; } });
  }

  /** One element: the tensor, or the tuple of tensors, given (tf.data.Dataset.from_tensors). */
  static fromTensors<const S extends readonly TensorStructure[]>(...tensors: S): Dataset<S extends readonly [infer One] ? One : S> {
    if (tensors.length === 0) fail('fromTensors', 'expected at least one tensor');
    rowTable('fromTensors', tensors); // checks the leaves are tensors
    const element = (tensors.length === 1 ? tensors[0] : tensors) as S extends readonly [infer One] ? One : S;
    return new Dataset({ card: 1, open: async function* () { yield element; } });
  }

  /** The rows of a tensor, or of each tensor of [x, y] or {image, label}, along axis 0 (tf.data's from_tensor_slices). */
  static fromTensorSlices<const S extends TensorStructure>(tensors: S): Dataset<S> {
    const table = rowTable('fromTensorSlices', tensors);
    return Dataset.rowsNode<S>(table, table.rows, () => rowChunks(table.rows));
  }

  /**
   * Elements from `fn`, called afresh for each pass with that pass's number (so a source with
   * random augmentation can seed itself per pass). `cardinality` may state the count when known.
   */
  static fromGenerator<T>(fn: (c: { epoch: number }) => Iterable<T> | AsyncIterable<T>, options: { cardinality?: number } = {}): Dataset<T> {
    checkFn('fromGenerator', fn);
    const card = options.cardinality === undefined ? null : checkCount('fromGenerator', 'cardinality', options.cardinality, true);
    return new Dataset({
      card,
      open: async function* (epoch) {
        const it = fn({ epoch });
        if (it == null || (typeof (it as AsyncIterable<T>)[Symbol.asyncIterator] !== 'function' && typeof (it as Iterable<T>)[Symbol.iterator] !== 'function')) {
          fail('fromGenerator', `the function must return an iterable or async iterable, got ${it === null ? 'null' : typeof it}`);
        }
        yield* it;
      },
    });
  }

  /** start, start + step, ... up to end (excluded); range(n) is 0..n-1. */
  static range(start: number, end?: number, step = 1): Dataset<number> {
    if (end === undefined) [start, end] = [0, start];
    for (const [k, v] of Object.entries({ start, end, step })) if (!Number.isFinite(v)) fail('range', `${k} must be a finite number, got ${v}`);
    if (step === 0) fail('range', 'step must not be zero');
    const n = Math.max(0, Math.ceil((end - start) / step));
    return new Dataset({ card: n, open: async function* () { for (let i = 0; i < n; i++) yield start + i * step; } });
  }

  private static rowsNode<T>(table: RowTable, card: number | null, indices: (epoch: number) => Iterable<Int32Array>): Dataset<T> {
    return new Dataset<T>({
      card,
      rows: { table, indices },
      open: async function* (epoch) {
        for (const c of indices(epoch)) for (const i of c) yield sliceRow(table, i) as T;
      },
    });
  }

  /** A dataset of the same kind as this one: the row path when this has one and `rowIndices` is given. */
  private derive<U = T>(card: number | null, open: (up: Node<T>, epoch: number) => Stream<U>, rowIndices?: (up: NonNullable<Node<T>['rows']>, epoch: number) => Iterable<Int32Array>): Dataset<U> {
    const up = this.node;
    const rows = up.rows;
    if (rows && rowIndices) return Dataset.rowsNode<U>(rows.table, card, (epoch) => rowIndices(rows, epoch));
    return new Dataset<U>({ card, open: (epoch) => open(up, epoch) });
  }

  // ---- transforms ------------------------------------------------------------------------------

  /** fn applied to every element; fn may be async. With {parallel: k}, k calls run at once and results keep their order. */
  map<U>(fn: (x: T, c: ElementContext) => U | Promise<U>, options: { parallel?: number } = {}): Dataset<Awaited<U>> {
    checkFn('map', fn);
    const k = checkPositive('map', 'parallel', options.parallel ?? 1);
    return this.derive<Awaited<U>>(this.node.card, async function* (up, epoch) {
      if (k > 1) return yield* mappedParallel(up.open(epoch), fn, k, epoch) as Stream<Awaited<U>>;
      let index = 0;
      for await (const x of pass(up, epoch)) yield await fn(x, { epoch, index: index++ });
    });
  }

  /** The elements for which pred is true; pred may be async. */
  filter(pred: (x: T, c: ElementContext) => boolean | Promise<boolean>): Dataset<T> {
    checkFn('filter', pred);
    return this.derive(this.node.card === 0 ? 0 : null, async function* (up, epoch) {
      let index = 0;
      for await (const x of pass(up, epoch)) if (await pred(x, { epoch, index: index++ })) yield x;
    });
  }

  /**
   * Shuffles through a buffer of `bufferSize` elements, or all of them with 'full', like
   * tf.data's shuffle with reshuffle_each_iteration: each pass has its own order, fixed by the
   * seed (drawn from the default generator when not given, so lt.manualSeed fixes it) and the
   * pass number.
   */
  shuffle(bufferSize: number | 'full', options: { seed?: number } = {}): Dataset<T> {
    const size = bufferSize === 'full' ? Infinity : checkPositive('shuffle', 'bufferSize', bufferSize);
    if (size === Infinity && this.node.card === Infinity) fail('shuffle', "'full' needs a finite dataset; this one is endless (shuffle before repeat(), or give a buffer size)");
    const seed = options.seed ?? defaultGenerator.nextUint32();
    if (!Number.isSafeInteger(seed) || seed < 0) fail('shuffle', `seed must be a non-negative integer, got ${seed}`);
    return this.derive(
      this.node.card,
      async function* (up, epoch) {
        const buf = new ShuffleBuffer<T>(size, new Generator(passSeed(seed, epoch)));
        for await (const x of pass(up, epoch)) if (buf.add(x)) yield buf.take();
        while (buf.length > 0) yield buf.take();
      },
      function* (rows, epoch) {
        const buf = new ShuffleBuffer<number>(size, new Generator(passSeed(seed, epoch)));
        for (const c of rows.indices(epoch)) {
          const out = new Int32Array(c.length);
          let k = 0;
          for (const i of c) if (buf.add(i)) out[k++] = buf.take();
          if (k > 0) yield out.subarray(0, k);
        }
        const rest = new Int32Array(buf.length);
        for (let k = 0; k < rest.length; k++) rest[k] = buf.take();
        if (rest.length > 0) yield rest;
      },
    );
  }

  /**
   * Groups `size` consecutive elements into one (see stackElements for what stacks how); the
   * last, smaller group is kept unless dropRemainder. Rows of in-memory tensors are gathered
   * with one indexSelect per component instead.
   */
  batch(size: number, options: { dropRemainder?: boolean } = {}): Dataset<Batched<T>> {
    checkPositive('batch', 'size', size);
    const drop = options.dropRemainder ?? false;
    const n = this.node.card;
    const card = n === null || n === Infinity ? n : drop ? Math.floor(n / size) : Math.ceil(n / size);
    const rows = this.node.rows;
    if (rows) {
      return new Dataset<Batched<T>>({
        card,
        open: async function* (epoch) {
          yield* gatheredBatches(rows.table, rows.indices(epoch), size, drop) as Iterable<Batched<T>>;
        },
      });
    }
    return this.derive<Batched<T>>(card, async function* (up, epoch) {
      let group: T[] = [];
      let first = 0;
      for await (const x of pass(up, epoch)) {
        group.push(x);
        if (group.length === size) {
          yield stackElements(group, first) as Batched<T>;
          first += size;
          group = [];
        }
      }
      if (group.length > 0 && !drop) yield stackElements(group, first) as Batched<T>;
    });
  }

  /** The first n elements; the (n+1)-th is never computed. */
  take(n: number): Dataset<T> {
    checkCount('take', 'n', n, true);
    const c = this.node.card;
    return this.derive(
      c === null ? (n === 0 ? 0 : null) : Math.min(c, n),
      async function* (up, epoch) {
        if (n === 0) return;
        let i = 0;
        for await (const x of pass(up, epoch)) {
          yield x;
          if (++i >= n) return;
        }
      },
      function* (rows, epoch) {
        let left = n;
        if (left === 0) return;
        for (const c of rows.indices(epoch)) {
          if (c.length >= left) return yield c.subarray(0, left);
          left -= c.length;
          yield c;
        }
      },
    );
  }

  /** All but the first n elements. */
  skip(n: number): Dataset<T> {
    checkCount('skip', 'n', n, true);
    const c = this.node.card;
    return this.derive(
      c === null || c === Infinity ? c : Math.max(0, c - n),
      async function* (up, epoch) {
        let i = 0;
        for await (const x of pass(up, epoch)) if (i++ >= n) yield x;
      },
      function* (rows, epoch) {
        let left = n;
        for (const c of rows.indices(epoch)) {
          if (left >= c.length) left -= c.length;
          else {
            yield left > 0 ? c.subarray(left) : c;
            left = 0;
          }
        }
      },
    );
  }

  /**
   * The dataset `count` times over (endlessly by default), each repetition a new pass of the
   * input, so a shuffle before repeat reshuffles every time. Stops if a repetition is empty.
   */
  repeat(count = Infinity): Dataset<T> {
    checkCount('repeat', 'count', count, true);
    const c = this.node.card;
    const card = count === 0 || c === 0 ? 0 : c === null ? null : c * count;
    return this.derive(
      card,
      async function* (up, epoch) {
        for (let r = 0; r < count; r++) {
          let any = false;
          for await (const x of pass(up, repeatPass(epoch, r, count))) {
            any = true;
            yield x;
          }
          if (!any) return;
        }
      },
      function* (rows, epoch) {
        for (let r = 0; r < count; r++) {
          let any = false;
          for (const c of rows.indices(repeatPass(epoch, r, count))) {
            any ||= c.length > 0;
            yield c;
          }
          if (!any) return;
        }
      },
    );
  }

  /**
   * Keeps the first complete pass in memory and replays it on every later pass (a pass cut
   * short keeps nothing). As in tf.data, a cache after a shuffle freezes the first order.
   */
  cache(): Dataset<T> {
    if (this.node.card === Infinity) fail('cache', 'the dataset is endless; cache before repeat()');
    let elements: T[] | null = null;
    let rowNumbers: Int32Array[] | null = null;
    return this.derive(
      this.node.card,
      async function* (up, epoch) {
        if (elements) return yield* elements;
        const seen: T[] = [];
        for await (const x of pass(up, epoch)) {
          seen.push(x);
          yield x;
        }
        elements ??= seen;
      },
      function* (rows, epoch) {
        if (rowNumbers) return yield* rowNumbers;
        const seen: Int32Array[] = [];
        for (const c of rows.indices(epoch)) {
          seen.push(c); // chunks are never written after they are yielded
          yield c;
        }
        rowNumbers ??= seen;
      },
    );
  }

  /** Prepares up to n elements ahead of the consumer (see prefetched for what overlaps in Node). */
  prefetch(n = 1): Dataset<T> {
    checkPositive('prefetch', 'n', n);
    const up = this.node;
    // Rows already in memory need no prefetching, so a batch() after this keeps the row path.
    return new Dataset({ ...up, open: (epoch) => prefetched(up.open(epoch), n) });
  }

  // ---- reading ---------------------------------------------------------------------------------

  /** The number of elements: Infinity when endless, null when unknown (after filter, or from a generator). */
  cardinality(): number | null {
    return this.node.card;
  }

  /**
   * Iterates pass `epoch`; without it, the pass after the last one started. A for-await over
   * the dataset is iterate(): passes 0, 1, 2, ... Naming the pass resumes a run at that epoch.
   */
  iterate(epoch?: number): Stream<T> {
    const e = epoch === undefined ? this.nextEpoch : checkCount('iterate', 'epoch', epoch);
    this.nextEpoch = e + 1;
    return this.node.open(e);
  }

  [Symbol.asyncIterator](): Stream<T> {
    return this.iterate();
  }

  /** All elements of one pass, in an array. */
  async toArray(epoch?: number): Promise<T[]> {
    if (this.node.card === Infinity) fail('toArray', 'the dataset is endless; take(n) first');
    const out: T[] = [];
    for await (const x of this.iterate(epoch)) out.push(x);
    return out;
  }
}
