// The dashboard server's JSON API (src/dashboard/handler.ts) and the metrics event stream.

export interface RunSummary {
  id: string;
  name: string;
  status: string;
  started: string | null;
  ended: string | null;
  hyperparameters: Record<string, number | string>;
  summary: Record<string, number | null>;
  env: Record<string, unknown>;
  hasEvaluation: boolean;
  hasMisclassified: boolean;
}

export interface Evaluation {
  split?: string;
  examples?: number;
  loss?: number;
  metrics?: Record<string, number>;
  classNames?: string[];
  confusion?: { labels: string[]; matrix: number[][] };
}

export interface MisclassifiedExample {
  index: number;
  label: number;
  predicted: number;
  labelName?: string;
  predictedName?: string;
  confidence: number;
  image: string;
  /** A heat map over the image (issue 8's explanations), when the run has one. */
  explanation?: string;
}

export interface RunDetail extends RunSummary {
  config: unknown;
  evaluation: Evaluation | null;
  misclassified: MisclassifiedExample[];
  warnings: string[];
}

export type MetricRecord = Record<string, unknown> & { kind: 'step' | 'epoch' | 'other' };

export interface ServingSnapshot {
  models: Array<{
    name: string;
    versions: Array<{ version: string; state: string; ready?: boolean; labels?: string[] }>;
    requestRate?: number | null;
    latencyMs?: { p50: number | null; p99: number | null } | null;
    meanBatchSize?: number | null;
  }>;
}

export interface Info {
  lathe: string;
  runs: boolean;
  serving: boolean;
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { headers: { accept: 'application/json' } });
  const body = await res.json().catch(() => ({ error: `${res.status} ${res.statusText}` }));
  if (!res.ok) throw new Error((body as { error?: string }).error ?? `${url}: ${res.status}`);
  return body as T;
}

export const api = {
  info: () => getJson<Info>('../api/info'),
  runs: () => getJson<{ runs: RunSummary[]; warnings: string[] }>('../api/runs'),
  run: (id: string) => getJson<RunDetail>(`../api/runs/${encodeURIComponent(id)}`),
  serving: () => getJson<ServingSnapshot>('../api/serving'),
  fileUrl: (id: string, rel: string) => `../api/runs/${encodeURIComponent(id)}/files/${rel.split('/').map(encodeURIComponent).join('/')}`,
};

/**
 * Follows a run's metrics.jsonl: every record so far, then each new one as training appends it.
 * EventSource reconnects by itself and sends Last-Event-ID, so nothing is read twice.
 */
export function followMetrics(
  id: string,
  handlers: { records(r: MetricRecord[]): void; reset(): void; run?(u: { status: string | null; ended: string | null; summary: Record<string, number | null> | null }): void; connected?(open: boolean): void },
): () => void {
  const source = new EventSource(`../api/runs/${encodeURIComponent(id)}/metrics`);
  source.addEventListener('metrics', (e) => handlers.records((JSON.parse((e as MessageEvent).data) as { records: MetricRecord[] }).records));
  source.addEventListener('reset', () => handlers.reset());
  source.addEventListener('run', (e) => handlers.run?.(JSON.parse((e as MessageEvent).data)));
  source.addEventListener('open', () => handlers.connected?.(true));
  source.addEventListener('error', () => handlers.connected?.(false));
  return () => source.close();
}
