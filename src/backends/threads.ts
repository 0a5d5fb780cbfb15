// Threads for the native backend's kernels: LATHE_NUM_THREADS at start, or setNumThreads(); and
// ThreadChooser, which runs a call on all of them or on the calling thread alone, whichever it
// has found faster.
import { fail } from '../errors.js';
import { nativeAddon } from './registry.js';

let cachedThreads: number | undefined; // info() builds an object a call

/** Sets how many threads the native kernels use (the calling thread included). */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > 1024) fail('setNumThreads', `expected an integer in 1..1024, got ${n}`);
  nativeAddon?.setThreads(n);
  cachedThreads = undefined;
}

/** Threads the native kernels use; 1 where only the js backend is available. */
export function getNumThreads(): number {
  return (cachedThreads ??= nativeAddon ? nativeAddon.info().threads : 1);
}

/** What the native addon runs: its GEMM kernel family and thread count, or null without it. */
export function nativeInfo(): { gemmKernel: string; qgemmKernel: string; threads: number } | null {
  if (!nativeAddon) return null;
  const { gemmKernel, threads } = nativeAddon.info();
  return { gemmKernel, qgemmKernel: nativeAddon.qgemmKernel(), threads };
}

/** How a call runs its native kernels: 0 on all threads, 1 on the calling thread alone. */
export type Way = 0 | 1;

/** Calls in each epoch of a trial: the way in use, then the other (its first 2 untimed, warming up). */
const EPOCH = 16;
/** Calls from one trial to the next, and while the choice is new (the first 3 trials). */
const PERIOD = 512;
const SEED_PERIOD = 64;
const SEED = 3;
/** Shapes remembered; past this the table starts again (a caller feeding ever-new shapes). */
const MAX_KEYS = 64;
/** The other way takes over when the median of the last 3 trials finds it this much faster (0.07: 7%). */
const MARGIN = 0.07;
/** A way that takes longer than this many ms a call, and is the faster, is not questioned: a split's fixed costs are microseconds. */
const SETTLED_MS = 1;
/** Calls ahead of a trial of all threads that the pool's workers are woken (ThreadPool::wake). */
const WAKE_LEAD = 8;

/**
 * Runs calls with the native kernels on all threads or on the calling thread alone, whichever
 * has been faster for calls with the same key (a model's input shape). A kernel splits its work
 * once it is big enough that the split should pay; near that size, whether it does depends on
 * how fast the other cores take up their shares, which on a shared machine changes from minute
 * to minute (the int8 MLP of bench/quantized-inference.mjs at batch 32, on two vCPUs: split
 * 11.0-11.3 us a predict while the host left the second vCPU alone, 15.7-17.5 while it ran
 * something there, against 13.4-13.8 on one thread either way). No fixed bar is right for long;
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

/**
 * The choice for one key. Every 512 calls, a trial: 16 calls of the way in use, timed, then 16
 * of the other (the first 2 untimed), compared by their means without each epoch's slowest call.
 * The other way takes over when the median of the last 3 trials finds it faster: at all for the
 * first choice (the first 3 trials come 64 calls apart), by 7% after that. Single calls here
 * have heavy tails (the float MLP at batch 32 split: median 25 us, mean 31) and the host's load
 * moves within a second: deciding on single calls, a float model kept switching on bursts and
 * lost 4-7% a predict to the lag; epochs of calls a few microseconds apart see the same host,
 * and a median of 3 ignores one burst. A trial costs 16 calls of the slower way in 512 (0.8%
 * where it is 25% slower). Before a trial of all threads the pool's workers are woken 8 calls
 * ahead: after 2 ms without work they sleep, and a vCPU the host has halted takes 100 us or more
 * to come back, which a way in use does not pay (without it a float model on one thread timed
 * the split at 70 us against 29 and stayed there).
 */
export class WayTimings {
  /** The way in use. */
  best: Way = 0;
  /** The last trials' ratios, the other way's mean time over the way in use's, oldest first. */
  readonly ratios: number[] = [];
  private calls = 0;
  private chosen = false;
  /** The last trial's mean ms a call on the way in use. */
  private anchorMs = 0;
  private readonly anchor: number[] = [];
  private readonly trial: number[] = [];

  /** The way for the next call, whether to time it, and whether to wake the pool's workers first. */
  next(): [Way, boolean, boolean] {
    const best = this.best;
    const other = (1 - best) as Way;
    const seeded = this.ratios.length >= SEED;
    if (seeded && this.ratios[this.ratios.length - 1] > 1 && this.anchorMs > SETTLED_MS) return [best, false, false];
    const period = seeded ? PERIOD : SEED_PERIOD;
    const phase = this.calls++ % period;
    const anchorStart = period - 2 * EPOCH;
    if (phase < anchorStart) return [best, false, other === 0 && phase === anchorStart - WAKE_LEAD];
    if (phase < period - EPOCH) return [best, true, false];
    return [other, phase >= period - EPOCH + 2, false];
  }

  /** A call of `way`, timed as next() said, took `ms`. */
  record(way: Way, ms: number): void {
    if (way === this.best) {
      if (this.anchor.length === EPOCH) this.anchor.length = 0; // a new trial's
      this.anchor.push(ms);
      return;
    }
    this.trial.push(ms);
    if (this.trial.length < EPOCH - 2) return;
    this.anchorMs = mean(this.anchor);
    this.ratios.push(robustMean(this.trial) / robustMean(this.anchor));
    this.trial.length = 0;
    if (this.ratios.length > SEED) this.ratios.shift();
    if (this.ratios.length < SEED) return;
    // The first choice, once 3 trials are in, needs no margin; later ones do.
    const bar = this.chosen ? 1 - MARGIN : 1;
    this.chosen = true;
    if (median(this.ratios) < bar) {
      this.best = way;
      this.anchorMs = 0; // the new way's comes with the next trial
      for (let i = 0; i < this.ratios.length; i++) this.ratios[i] = 1 / this.ratios[i]; // now relative to the new way
      this.anchor.length = 0;
    }
  }
}

function median(v: readonly number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

function mean(v: readonly number[]): number {
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : 0;
}

/** The mean without the largest value (one preempted call). */
function robustMean(v: readonly number[]): number {
  return v.length < 2 ? mean(v) : (v.reduce((a, b) => a + b, 0) - Math.max(...v)) / (v.length - 1);
}
