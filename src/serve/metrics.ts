// Prometheus metrics for `lathe serve`, through prom-client (a well-kept client library), on a
// registry of the server's own: request counts by API, model, version and outcome; latency
// histograms for the queue, the compute and the whole request; batch sizes; queue depth, loaded
// models and the process's memory. Model labels come only from the repository's own names, so a
// client cannot grow the label set by inventing names (those count as model "").
import client from 'prom-client';
import { RecentStats } from './recent-stats.js';
import type { ModelRepository } from './repository.js';

const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** A response's outcome by its status: what dashboards split request counts by. */
export function outcomeOf(status: number): string {
  if (status < 400) return 'success';
  if (status === 504) return 'timeout'; // a deadline passed in the batching queue
  if (status === 429 || status === 503) return 'rejected';
  if (status < 500) return 'client_error';
  return 'server_error';
}

export class ServingMetrics {
  readonly registry = new client.Registry();
  private readonly requests = new client.Counter({ name: 'lathe_requests_total', help: 'Requests answered, by API, model, version and outcome', labelNames: ['api', 'model', 'version', 'outcome', 'code'], registers: [this.registry] });
  private readonly total = new client.Histogram({ name: 'lathe_request_duration_seconds', help: 'Whole-request latency', labelNames: ['api', 'model'], buckets: LATENCY_BUCKETS, registers: [this.registry] });
  readonly queue = new client.Histogram({ name: 'lathe_queue_duration_seconds', help: 'Time a request waited in its model\'s batching queue', labelNames: ['model', 'version'], buckets: LATENCY_BUCKETS, registers: [this.registry] });
  readonly compute = new client.Histogram({ name: 'lathe_compute_duration_seconds', help: 'Time the model computed a request\'s batch', labelNames: ['model', 'version'], buckets: LATENCY_BUCKETS, registers: [this.registry] });
  /** The last seconds of each model's traffic, for the dashboard's serving view. */
  readonly recent = new RecentStats();
  readonly batchSize = new client.Histogram({ name: 'lathe_batch_size', help: 'Requests in the batch each batched request ran in', labelNames: ['model', 'version'], buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256], registers: [this.registry] });

  constructor(repo: ModelRepository) {
    client.collectDefaultMetrics({ register: this.registry, prefix: 'lathe_' });
    this.watch(repo);
    new client.Gauge({
      name: 'lathe_queue_depth', help: 'Requests waiting in each model version\'s batching queue', labelNames: ['model', 'version'], registers: [this.registry],
      collect() {
        for (const m of repo.models.values()) for (const v of m.versions.values()) if (v.batcher) this.set({ model: m.name, version: String(v.version) }, v.batcher.stats().queuedRequests);
      },
    });
    new client.Gauge({
      name: 'lathe_models_loaded', help: 'Model versions AVAILABLE', registers: [this.registry],
      collect() {
        let n = 0;
        for (const m of repo.models.values()) for (const v of m.versions.values()) if (v.state === 'AVAILABLE') n++;
        this.set(n);
      },
    });
  }

  /** Hooks the queue, compute and batch-size series into every version (again after a poll loads new ones). */
  watch(repo: ModelRepository): void {
    for (const m of repo.models.values()) {
      for (const v of m.versions.values()) {
        if (v.onResult) continue;
        const labels = { model: m.name, version: String(v.version) };
        v.onResult = (r) => {
          this.queue.observe(labels, r.queueMicros / 1e6);
          this.compute.observe(labels, r.computeMicros / 1e6);
          this.batchSize.observe(labels, r.batchSize);
          this.recent.batch(m.name, r.batchSize);
        };
      }
    }
  }

  /** Counts one answered request; `model` must already be a repository name or "". */
  request(api: string, model: string, version: string, status: number, seconds: number): void {
    this.requests.inc({ api, model, version, outcome: outcomeOf(status), code: String(status) });
    this.total.observe({ api, model }, seconds);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
