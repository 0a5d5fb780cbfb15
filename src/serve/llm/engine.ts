// The decode engine of one served GPT: continuous batching (Orca, Yu et al. 2022; vLLM). Each
// tick admits queued sequences up to maxSequences (prefilling their prompts, within a token
// budget so a burst of arrivals cannot stall the running ones), then advances every running
// sequence by one token in one batched step (batched-decode.ts). Sequences join and leave between
// ticks; the engine yields to the event loop after each tick (setImmediate), so new requests,
// disconnects and /metrics are served between steps. A cancelled sequence leaves at once: its
// slot is free before the next step.
import type { GPT } from '../../models/gpt/gpt.js';
import type { FinishReason } from '../../models/gpt/generate.js';
import { type SamplingOptions, sampleToken } from '../../models/gpt/sampling.js';
import { Generator as RandomGenerator, defaultGenerator } from '../../tensor/random.js';
import { decodeStep, newSequenceCache, prefill } from './batched-decode.js';
import type { SequenceCache } from './sequence-cache.js';

export interface EngineOptions {
  /** Sequences decoding at once: the batch of a step. */
  maxSequences: number;
  /** Sequences waiting for a slot; one more is refused (EngineBusyError). */
  maxQueueSize: number;
  /** Prompt tokens prefilled per tick at most (at least one sequence is); default the model's context. */
  prefillTokensPerTick?: number;
}

export interface SequenceRequest {
  /** Token ids, 1..blockSize - maxTokens of them: the caller checks the context. */
  prompt: Int32Array;
  /** Tokens to generate at most, >= 1. */
  maxTokens: number;
  sampling: Required<SamplingOptions>;
  /** Seeds this sequence's sampling (as generate() does); drawn from the default generator when absent. */
  seed?: number;
}

/** Why a sequence ended: the model's own reasons, or the client's cancel, or an engine failure. */
export type EndReason = FinishReason | 'cancelled' | 'error';

export interface SequenceSink {
  /** Each sampled token, in order. The sink may call stop() or cancel() from here. */
  token(id: number): void;
  /** Called once, last. */
  end(reason: EndReason, error?: Error): void;
}

/** The queue is full: the client should retry later (429 with Retry-After). */
export class EngineBusyError extends Error {}
/** The engine was closed (the version is unloading): no new sequences. */
export class EngineClosedError extends Error {}

export class Sequence {
  generated = 0;
  cache?: SequenceCache;
  /** The last token sampled, fed at the next step. */
  next = -1;
  done = false;
  readonly rng: RandomGenerator;

  constructor(private readonly engine: DecodeEngine, readonly request: SequenceRequest, readonly sink: SequenceSink) {
    this.rng = new RandomGenerator(request.seed ?? defaultGenerator.nextUint32());
  }

  /** The client went away: drop the sequence now, wherever it is. */
  cancel(): void {
    this.engine.end(this, 'cancelled');
  }

  /** The caller found a stop sequence in the text: end with finish_reason "stop". */
  stop(): void {
    this.engine.end(this, 'stop');
  }
}

export interface EngineStats {
  active: number;
  queued: number;
  /** Since the engine started. */
  promptTokens: number;
  generatedTokens: number;
  steps: number;
  cancelled: number;
  rejected: number;
}

export class DecodeEngine {
  private readonly queue: Sequence[] = [];
  private active: Sequence[] = [];
  private scheduled = false;
  private closed = false;
  private idle: (() => void)[] = [];
  private readonly counts = { promptTokens: 0, generatedTokens: 0, steps: 0, cancelled: 0, rejected: 0 };

  constructor(readonly model: GPT, readonly options: EngineOptions) {
    model.eval();
  }

  /** Queues a sequence; throws EngineBusyError when the queue is full, EngineClosedError after close(). */
  submit(request: SequenceRequest, sink: SequenceSink): Sequence {
    if (this.closed) throw new EngineClosedError('the model is unloading and takes no new requests');
    const { blockSize } = this.model.config;
    // The last token sampled is never fed, so the sequence needs prompt + maxTokens - 1 positions.
    if (request.prompt.length < 1 || !(request.maxTokens >= 1) || request.prompt.length + request.maxTokens - 1 > blockSize) {
      throw new RangeError(`a sequence needs 1 to ${blockSize} prompt tokens and maxTokens >= 1 within the context, got ${request.prompt.length} and ${request.maxTokens}`);
    }
    if (this.queue.length >= this.options.maxQueueSize) {
      this.counts.rejected++;
      throw new EngineBusyError(`the model is busy: ${this.active.length} sequences are decoding and ${this.queue.length} are queued (maxQueueSize ${this.options.maxQueueSize}); retry later`);
    }
    const seq = new Sequence(this, request, sink);
    this.queue.push(seq);
    this.schedule();
    return seq;
  }

  stats(): EngineStats {
    return { active: this.active.length, queued: this.queue.length, ...this.counts };
  }

  /** Takes no new sequences; resolves once the queued and running ones have ended. */
  close(): Promise<void> {
    this.closed = true;
    if (this.active.length === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Ends a sequence (idempotent) and frees its slot or queue place at once. */
  end(seq: Sequence, reason: EndReason, error?: Error): void {
    if (seq.done) return;
    seq.done = true;
    seq.cache = undefined;
    const q = this.queue.indexOf(seq);
    if (q >= 0) this.queue.splice(q, 1);
    this.active = this.active.filter((s) => s !== seq);
    if (reason === 'cancelled') this.counts.cancelled++;
    try {
      seq.sink.end(reason, error);
    } catch {
      // a sink that throws (a closed socket) must not stop the other sequences
    }
    if (this.active.length === 0 && this.queue.length === 0) for (const resolve of this.idle.splice(0)) resolve();
  }

  private schedule(): void {
    if (this.scheduled || (this.active.length === 0 && this.queue.length === 0)) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.tick();
      this.schedule();
    });
  }

  /** Admits what fits, then one batched decoding step. A failure ends the sequences it touched, never the process. */
  private tick(): void {
    const budget = this.options.prefillTokensPerTick ?? this.model.config.blockSize;
    let prefilled = 0;
    while (this.queue.length > 0 && this.active.length < this.options.maxSequences && (prefilled === 0 || prefilled + this.queue[0].request.prompt.length <= budget)) {
      const seq = this.queue.shift()!;
      prefilled += seq.request.prompt.length;
      this.active.push(seq);
      try {
        seq.cache = newSequenceCache(this.model);
        const logits = prefill(this.model, seq.request.prompt, seq.cache);
        this.counts.promptTokens += seq.request.prompt.length;
        this.deliver(seq, logits);
      } catch (e) {
        this.end(seq, 'error', e as Error);
      }
    }
    // Those admitted this tick step too: prefill gave their first token, the step gives the second.
    const stepping = this.active.filter((s) => s.generated > 0 && !s.done);
    if (stepping.length === 0) return;
    let logits: Float32Array;
    try {
      logits = decodeStep(this.model, stepping.map((s) => ({ token: s.next, cache: s.cache! })));
    } catch (e) {
      for (const s of stepping) this.end(s, 'error', e as Error);
      return;
    }
    this.counts.steps++;
    const V = this.model.config.vocabSize;
    stepping.forEach((s, i) => {
      if (!s.done) this.deliver(s, logits.subarray(i * V, (i + 1) * V));
    });
  }

  /** Samples the sequence's next token from its logits, hands it to the sink, and ends the sequence at maxTokens. */
  private deliver(seq: Sequence, logits: Float32Array): void {
    try {
      const token = sampleToken(logits, seq.request.sampling, seq.rng);
      seq.next = token;
      seq.generated++;
      this.counts.generatedTokens++;
      seq.sink.token(token);
      if (!seq.done && seq.generated >= seq.request.maxTokens) this.end(seq, 'length');
    } catch (e) {
      this.end(seq, 'error', e as Error);
    }
  }
}
