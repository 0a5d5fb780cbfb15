// The last few seconds of each model's traffic, for the dashboard's serving view: request rate,
// latency percentiles and mean batch size over a sliding window. Prometheus' histograms are
// cumulative since start and bucketed, so they can give neither "now" nor an exact p99; this
// keeps one slot per second, with a bounded reservoir of latencies, so memory stays fixed at any rate.

/** The window the figures cover, in seconds. */
export const WINDOW_SECONDS = 10;
/** Latencies kept per model and second; beyond it a uniform sample (Vitter's algorithm R) is kept. */
const SAMPLES_PER_SECOND = 1024;

interface Slot {
  second: number;
  requests: number;
  latenciesMs: number[];
  /** Successful requests seen this second (the reservoir's population). */
  successes: number;
  batchSum: number;
  batches: number;
}

export interface RecentFigures {
  /** Requests per second over the window (all outcomes). */
  requestRate: number;
  /** Of the successful requests in the window; null when there were none. */
  latencyMs: { p50: number | null; p99: number | null };
  /** Mean requests per batch for batched requests in the window; null when none ran batched. */
  meanBatchSize: number | null;
}

/**
 * The q-quantile of weighted values sorted by value, by the nearest rank: the first value whose
 * cumulative weight reaches q of the total (with unit weights, HdrHistogram's and numpy's "higher").
 */
function quantile(sorted: Array<[value: number, weight: number]>, total: number, q: number): number | null {
  if (sorted.length === 0) return null;
  const rank = q * total;
  let cum = 0;
  for (const [v, w] of sorted) {
    cum += w;
    if (cum >= rank - 1e-9) return v;
  }
  return sorted[sorted.length - 1][0];
}

export class RecentStats {
  private readonly slots = new Map<string, Slot[]>();
  private readonly startedAt: number;

  /** `now` gives milliseconds; tests pass a clock of their own. */
  constructor(private readonly now: () => number = () => performance.timeOrigin + performance.now()) {
    this.startedAt = now();
  }

  private slot(model: string): Slot {
    const second = Math.floor(this.now() / 1000);
    let ring = this.slots.get(model);
    if (!ring) this.slots.set(model, (ring = []));
    let s = ring[ring.length - 1];
    if (!s || s.second !== second) {
      s = { second, requests: 0, latenciesMs: [], successes: 0, batchSum: 0, batches: 0 };
      ring.push(s);
      while (ring.length > 0 && ring[0].second <= second - WINDOW_SECONDS) ring.shift();
    }
    return s;
  }

  /** Counts one answered request of `model`; its latency counts only when it succeeded (an error's latency says nothing about the model). */
  request(model: string, latencyMs: number, ok: boolean): void {
    const s = this.slot(model);
    s.requests++;
    if (!ok) return;
    s.successes++;
    if (s.latenciesMs.length < SAMPLES_PER_SECOND) s.latenciesMs.push(latencyMs);
    else {
      const k = Math.floor(Math.random() * s.successes);
      if (k < SAMPLES_PER_SECOND) s.latenciesMs[k] = latencyMs;
    }
  }

  /** Counts one batched request that ran in a batch of `size` requests. */
  batch(model: string, size: number): void {
    const s = this.slot(model);
    s.batchSum += size;
    s.batches++;
  }

  /** The figures over the last WINDOW_SECONDS (fewer just after start: the rate divides by the time actually covered). */
  figures(model: string): RecentFigures {
    const t = this.now();
    const second = Math.floor(t / 1000);
    const ring = (this.slots.get(model) ?? []).filter((s) => s.second > second - WINDOW_SECONDS);
    // The window: the current partial second and the WINDOW_SECONDS - 1 whole ones before it.
    const span = Math.max(1e-3, Math.min(t - (second - WINDOW_SECONDS + 1) * 1000, t - this.startedAt) / 1000);
    let requests = 0;
    let batchSum = 0;
    let batches = 0;
    const latencies: Array<[number, number]> = [];
    let weights = 0;
    for (const s of ring) {
      requests += s.requests;
      batchSum += s.batchSum;
      batches += s.batches;
      // A second busier than its reservoir weighs each sample for the successes it stands for.
      const weight = s.latenciesMs.length ? s.successes / s.latenciesMs.length : 0;
      for (const v of s.latenciesMs) latencies.push([v, weight]);
      weights += s.successes;
    }
    latencies.sort((a, b) => a[0] - b[0]);
    return {
      requestRate: requests / span,
      latencyMs: { p50: quantile(latencies, weights, 0.5), p99: quantile(latencies, weights, 0.99) },
      meanBatchSize: batches > 0 ? batchSum / batches : null,
    };
  }

  /** Forgets a model (unloaded), so a name no longer served does not hold memory. */
  forget(model: string): void {
    this.slots.delete(model);
  }
}
