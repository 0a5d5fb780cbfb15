// The decode engines' figures on the server's Prometheus registry: sequences decoding and queued
// now (a cancelled request leaves both at once, which the tests watch), and running totals of
// prompt and generated tokens, decoding steps, cancellations and queue-full refusals.
import client from 'prom-client';
import type { ModelRepository } from '../repository.js';
import type { EngineStats } from './engine.js';

export function registerGenerationMetrics(registry: client.Registry, repo: ModelRepository): void {
  const each = (f: (labels: { model: string; version: string }, s: EngineStats) => void) => {
    for (const m of repo.models.values()) for (const v of m.versions.values()) if (v.llm && v.state === 'AVAILABLE') f({ model: m.name, version: String(v.version) }, v.llm.engine.stats());
  };
  const gauge = (name: string, help: string, pick: (s: EngineStats) => number) =>
    new client.Gauge({
      name, help, labelNames: ['model', 'version'], registers: [registry],
      collect() {
        this.reset();
        each((labels, s) => this.set(labels, pick(s)));
      },
    });
  gauge('lathe_llm_active_sequences', 'Sequences decoding now, by language model version', (s) => s.active);
  gauge('lathe_llm_queued_sequences', 'Sequences waiting for a decoding slot', (s) => s.queued);
  const counter = (name: string, help: string, pick: (s: EngineStats) => number) =>
    new client.Counter({
      name, help, labelNames: ['model', 'version'], registers: [registry],
      collect() {
        this.reset();
        each((labels, s) => this.inc(labels, pick(s)));
      },
    });
  counter('lathe_llm_prompt_tokens_total', 'Prompt tokens prefilled', (s) => s.promptTokens);
  counter('lathe_llm_generated_tokens_total', 'Tokens generated', (s) => s.generatedTokens);
  counter('lathe_llm_decode_steps_total', 'Batched decoding steps run', (s) => s.steps);
  counter('lathe_llm_cancelled_sequences_total', 'Sequences cancelled by a client that went away', (s) => s.cancelled);
  counter('lathe_llm_rejected_requests_total', 'Requests refused because the queue was full (429)', (s) => s.rejected);
}
