// The stream machinery under Dataset's transforms: the per-pass seeds, tf.data's shuffle buffer,
// prefetching and the parallel map. Kept apart so that the overlap rules are in one place.
import type { Generator } from '../tensor/random.js';

export type Stream<T> = AsyncGenerator<T, void, undefined>;

/** What a map, filter or generator callback is told: the pass and the element's position in its input. */
export interface ElementContext {
  epoch: number;
  index: number;
}

/** The seed of a shuffle's pass `epoch`: both mixed through murmur3's finaliser into 53 bits, so nearby passes get unrelated streams. */
export function passSeed(seed: number, epoch: number): number {
  const mix = (x: number) => {
    x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
    x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
    return (x ^ (x >>> 16)) >>> 0;
  };
  let a = 0x243f6a88;
  let b = 0x85a308d3;
  for (const w of [seed >>> 0, seed / 2 ** 32, epoch >>> 0, epoch / 2 ** 32]) {
    a = mix(a ^ (w >>> 0));
    b = mix((b + (w >>> 0) + 0x9e3779b9) | 0);
  }
  return a * 2 ** 21 + (b >>> 11);
}

/** The upstream pass number of repetition r in pass `epoch`: repeat(3)'s pass 0 reads passes 0, 1, 2, its pass 1 reads 3, 4, 5, as three separate iterations would. */
export function repeatPass(epoch: number, r: number, count: number): number {
  return (Number.isFinite(count) ? epoch * count + r : epoch * 2 ** 32 + r) % 2 ** 53;
}

/**
 * tf.data's shuffle buffer, shared by the element path and the row-number path so that both
 * draw the same numbers and give the same order. An element leaves at a uniformly random slot
 * once `size` are held, so it comes out at most size - 1 places earlier than it went in; with
 * size Infinity ('full') every draw is from all that remain, a uniform permutation.
 */
export class ShuffleBuffer<T> {
  private readonly items: T[] = [];
  constructor(private readonly size: number, private readonly g: Generator) {}
  /** Adds x; returns true when the buffer is full and one element must leave. */
  add(x: T): boolean {
    this.items.push(x);
    return this.items.length >= this.size;
  }
  get length(): number {
    return this.items.length;
  }
  take(): T {
    const j = this.g.nextInt(this.items.length);
    const x = this.items[j];
    this.items[j] = this.items[this.items.length - 1];
    this.items.pop();
    return x;
  }
}

/** Waits for one macrotask turn: every microtask chain queued so far runs to its next real await. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Prefetching. A synchronous training step blocks the JS thread, so nothing JavaScript can run
 * beside it; what overlaps is asynchronous work already started: fs reads, zlib, worker threads,
 * the native addon's async kernels, timers. So the next n elements are requested before element
 * k is handed over, and one macrotask turn lets each request's microtask chain run until it
 * blocks on such work; that work then proceeds during the consumer's step. Requests to an async
 * generator queue, so the producer still makes elements one at a time, in order.
 */
export async function* prefetched<T>(up: Stream<T>, n: number): Stream<T> {
  const ahead: Promise<IteratorResult<T, void>>[] = [];
  const request = () => {
    const p = up.next();
    p.catch(() => {}); // a failure is rethrown in order, when its turn comes; not an unhandled rejection now
    ahead.push(p);
  };
  let ended = false;
  try {
    for (let i = 0; i < n; i++) request();
    for (;;) {
      const r = await ahead.shift()!;
      if (r.done) {
        ended = true;
        return;
      }
      request();
      await turn();
      yield r.value;
    }
  } catch (e) {
    ended = true;
    throw e;
  } finally {
    // An early break closes the producer; its return() waits for the requests in flight.
    if (!ended) await up.return(undefined);
  }
}

/** map with up to k calls of fn in flight, results in input order. */
export async function* mappedParallel<T, U>(up: Stream<T>, fn: (x: T, c: ElementContext) => U | Promise<U>, k: number, epoch: number): Stream<U> {
  const inFlight: Promise<U>[] = [];
  let index = 0;
  let drained = false;
  const fill = async () => {
    while (!drained && inFlight.length < k) {
      const r = await up.next();
      if (r.done) drained = true;
      else {
        const x = r.value;
        const c = { epoch, index: index++ };
        const p = Promise.resolve().then(() => fn(x, c));
        p.catch(() => {});
        inFlight.push(p);
      }
    }
  };
  try {
    await fill();
    while (inFlight.length > 0) {
      const y = await inFlight.shift()!;
      await fill(); // start the next calls before handing this result over
      yield y;
    }
  } finally {
    if (!drained) await up.return(undefined);
  }
}
