// Threads for the native backend's kernels: LATHE_NUM_THREADS at start, or setNumThreads(); and
// ThreadChooser, which runs a call on all of them or on the calling thread alone, whichever it
// has found faster.
import { fail } from '../errors.js';
import { nativeAddon } from './registry.js';

let threads: number | undefined; // cached: info() builds an object a call

/** Sets how many threads the native kernels use (the calling thread included). */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > 1024) fail('setNumThreads', `expected an integer in 1..1024, got ${n}`);
  nativeAddon?.setThreads(n);
  threads = undefined;
}

/** Threads the native kernels use; 1 where only the js backend is available. */
export function getNumThreads(): number {
  return (threads ??= nativeAddon ? nativeAddon.info().threads : 1);
}

/** What the native addon runs: its GEMM kernel family and thread count, or null without it. */
export function nativeInfo(): { gemmKernel: string; qgemmKernel: string; threads: number } | null {
  if (!nativeAddon) return null;
  const { gemmKernel, threads } = nativeAddon.info();
  return { gemmKernel, qgemmKernel: nativeAddon.qgemmKernel(), threads };
}

/** How a call runs its native kernels: 0 on all threads, 1 on the calling thread alone. */
export type Way = 0 | 1;

/** Samples of each way before the choice starts. */
const SEED = 3;
/** Shapes remembered; past this the table starts again (a caller feeding ever-new shapes). */
const MAX_KEYS = 64;
/** How much faster the other way must be to take over: the means move with the host, and a switch costs. */
const HYSTERESIS = 0.05;
/** A way whose mean is above this many ms, and faster, is not questioned: a split's fixed costs are microseconds. */
const SETTLED_MS = 1;

/**
 * Runs calls with the native kernels on all threads or on the calling thread alone, whichever
 * has been faster for calls with the same key (a model's input shape). A kernel splits its work
 * once it is big enough that the split should pay; near that size, whether it does depends on
 * how fast the other cores take up their shares, which on a shared machine changes from minute
 * to minute (the int8 MLP of bench/quantized-inference.mjs at batch 32, on two vCPUs: split
 * 10.8-12.5 us a predict while the host left the second vCPU alone, 17.6-20.4 while it ran
 * something there, against 13.1-13.8 on one thread either way). No fixed bar is right for long;
 * WayTimings keeps measuring. The results do not depend on the way: kernels split rows,
 * columns, images, never the terms of a sum.
 */
export class ThreadChooser {
  private readonly timings = new Map<number, WayTimings>();

  run<T>(key: number, fn: () => T): T {
    const addon = nativeAddon;
    if (!addon || getNumThreads() <= 1) return fn();
    let t = this.timings.get(key);
    if (!t) {
      if (this.timings.size >= MAX_KEYS) this.timings.clear();
      this.timings.set(key, (t = new WayTimings()));
    }
    const [way, timed, wake] = t.next();
    if (wake) addon.wakeThreads();
    if (way === 1) addon.setSerial(true);
    const start = timed ? performance.now() : 0;
    try {
      const out = fn();
      if (timed) t.record(way, performance.now() - start);
      return out;
    } finally {
      if (way === 1) addon.setSerial(false);
    }
  }
}

/** Calls ahead of a trial of all threads that the pool's workers are woken (ThreadPool::wake). */
const WAKE_LEAD = 8;

/**
 * The choice for one key. The way in use runs every call; every 64th call (128th while the other
 * way's mean is over 1.5x) the other way runs instead, twice, and the second is timed, as is the
 * call just before the first: the two means compare samples taken a few calls apart, so a burst
 * of load on the host weighs on both (with the way in use timed on every call, a burst of a
 * millisecond pushed a float model onto one thread for hundreds of calls: 34-37 against 29 us a
 * predict). The other way takes over when its mean is over 5% below. Before a trial of all
 * threads the pool's workers are woken 8 calls ahead: after 2 ms without work they sleep, and a
 * vCPU the host has halted takes 100 us or more to come back, which a way in use does not pay
 * (without it a float model that had settled on one thread kept timing the split at 70 us
 * against 29 and stayed on one thread).
 */
export class WayTimings {
  /** ms, by way. */
  readonly mean: [number, number] = [0, 0];
  readonly samples: [number, number] = [0, 0];
  /** The way in use. */
  best: Way = 0;
  private calls = 0;
  /** Calls of `trying` still to run before the one that is timed. */
  private pending = 0;
  private trying: Way = 0;

  /** The way for the next call, whether to time it, and whether to wake the pool's workers first. */
  next(): [Way, boolean, boolean] {
    if (this.pending > 0) return [this.trying, --this.pending === 0, false];
    const [n0, n1] = this.samples;
    if (n0 < SEED || n1 < SEED) return this.tryWay(n1 < n0 ? 1 : 0); // both ways in turn until each has a few samples
    const best = this.best;
    const other = (1 - best) as Way;
    if (this.mean[other] < (1 - HYSTERESIS) * this.mean[best]) {
      this.best = other;
      this.calls = 0;
      return [other, false, false];
    }
    if (this.mean[best] > SETTLED_MS) return [best, false, false];
    const every = this.mean[other] > 1.5 * this.mean[best] ? 128 : 64;
    const phase = ++this.calls % every;
    if (phase === 0) return this.tryWay(other);
    return [best, phase === every - 1, other === 0 && phase === every - WAKE_LEAD];
  }

  /** A call of `way` took `ms`. A sample over twice the mean (a preemption, a garbage collection) counts as twice the mean. */
  record(way: Way, ms: number): void {
    const n = this.samples[way];
    const mean = this.mean[way];
    this.mean[way] = n === 0 ? ms : mean + (Math.min(ms, 2 * mean) - mean) * (n < 8 ? 1 / (n + 1) : 1 / 8);
    this.samples[way] = n + 1;
  }

  private tryWay(way: Way): [Way, boolean, boolean] {
    this.trying = way;
    this.pending = 1;
    return [way, false, false];
  }
}
