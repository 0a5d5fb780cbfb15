// Triton-style dynamic batching for one model: requests (each one or more examples) wait in a
// bounded FIFO queue and are packed into batches of at most maxBatchSize examples for run().
import { LatheError, fail } from '../errors.js';

export interface DynamicBatcherOptions<In, Out> {
  /** Most examples in one batch. 1 turns batching off: every request runs as soon as a slot is free. */
  maxBatchSize: number;
  /** How long the oldest waiting request may wait for a batch to fill before it runs anyway. */
  maxQueueDelayMicroseconds: number;
  /** Most examples waiting (admitted, not yet started); beyond it submit() rejects at once with 503. */
  maxQueueSize: number;
  /**
   * Default per-request deadline in the queue: a request not started by then is taken out and
   * rejected (504); one already running completes, as Triton's queue policy does. Infinity disables it. Default 30000.
   */
  timeoutMs?: number;
  /** Batches running at once. Default 1: one batch per model, as Triton runs one instance. */
  maxConcurrentBatches?: number;
  /** The Retry-After hint carried by queue-full and closed rejections. Default 1 (the header's unit is whole seconds). */
  retryAfterSeconds?: number;
  /** Names the model in error messages. */
  name?: string;
  /** Runs one batch: returns exactly one output per item, in order. May be async (a native kernel). */
  run: (items: In[]) => Promise<Out[]> | Out[];
  /** Called once per finished batch, for metrics; it must not throw. */
  onBatch?: (batch: { size: number; requests: number; computeMicros: number; error?: unknown }) => void;
}

export interface SubmitOptions {
  /** Overrides the batcher's timeoutMs (the deadline in the queue) for this request. */
  timeoutMs?: number;
  /** Aborting removes the request from the queue (or drops its result if it already started). */
  signal?: AbortSignal;
}

/** One request's outputs, in its rows' order, with the times the metrics split latency into. */
export interface BatchResult<Out> {
  outputs: Out[];
  /** From submit() to the start of its batch. */
  queueMicros: number;
  /** The run() of its batch. */
  computeMicros: number;
  /** Examples in its batch, this request's included. */
  batchSize: number;
}

export type BatcherRejection = 'queue_full' | 'too_large' | 'timeout' | 'aborted' | 'closed' | 'empty';

/** A request the batcher refused or gave up on, with the HTTP status a server should answer. */
export class BatcherError extends LatheError {
  override name = 'BatcherError';
  constructor(message: string, readonly reason: BatcherRejection, readonly status: number, readonly retryAfterSeconds?: number) {
    super(message);
  }
}

export interface BatcherStats {
  /** Queue depth in examples (what maxQueueSize bounds) and in requests. */
  queuedExamples: number;
  queuedRequests: number;
  runningBatches: number;
  batchesRun: number;
  /** Batch size -> number of batches of that size (failed batches included). */
  batchSizeCounts: Record<number, number>;
  completed: number;
  failed: number;
  rejected: Record<BatcherRejection, number>;
}

interface Entry<In, Out> {
  rows: readonly In[];
  enqueuedAt: number;
  resolve: (r: BatchResult<Out>) => void;
  reject: (e: unknown) => void;
  promise: Promise<BatchResult<Out>>;
  timer?: ReturnType<typeof setTimeout>;
  signal?: AbortSignal;
  onAbort?: () => void;
  settled: boolean;
  started: boolean;
  // A doubly linked list, so a timed-out or aborted request leaves the queue in O(1) without tombstones.
  prev?: Entry<In, Out>;
  next?: Entry<In, Out>;
}

const now = (): number => performance.now(); // monotonic, sub-microsecond resolution, in ms

export class DynamicBatcher<In, Out> {
  private readonly opts: Required<Omit<DynamicBatcherOptions<In, Out>, 'onBatch'>> & Pick<DynamicBatcherOptions<In, Out>, 'onBatch'>;
  private head?: Entry<In, Out>;
  private tail?: Entry<In, Out>;
  private queuedExamples = 0;
  private queuedRequests = 0;
  private running = 0;
  private delayTimer?: ReturnType<typeof setTimeout>;
  private delayTimerAt = Infinity;
  private closed = false;
  private readonly admitted = new Set<Entry<In, Out>>();
  private readonly runningBatches = new Set<Promise<void>>();
  private batchesRun = 0;
  private completed = 0;
  private failed = 0;
  private readonly sizeCounts = new Map<number, number>();
  private readonly rejected: Record<BatcherRejection, number> = { queue_full: 0, too_large: 0, timeout: 0, aborted: 0, closed: 0, empty: 0 };

  constructor(options: DynamicBatcherOptions<In, Out>) {
    const where = `DynamicBatcher${options.name ? ` ${options.name}` : ''}`;
    const positiveInt = (key: 'maxBatchSize' | 'maxQueueSize' | 'maxConcurrentBatches', v: unknown): void => {
      if (!Number.isInteger(v) || (v as number) < 1) fail(where, `"${key}" must be a positive integer, got ${JSON.stringify(v)}`);
    };
    positiveInt('maxBatchSize', options.maxBatchSize);
    positiveInt('maxQueueSize', options.maxQueueSize);
    positiveInt('maxConcurrentBatches', options.maxConcurrentBatches ?? 1);
    const delay = options.maxQueueDelayMicroseconds;
    if (typeof delay !== 'number' || !(delay >= 0) || !Number.isFinite(delay)) fail(where, `"maxQueueDelayMicroseconds" must be a finite number >= 0, got ${JSON.stringify(delay)}`);
    if (typeof options.run !== 'function') fail(where, '"run" must be a function (items) => outputs');
    // `??`, not a spread over defaults: an explicit `undefined` must still get the default.
    this.opts = {
      ...options,
      timeoutMs: options.timeoutMs ?? 30_000,
      maxConcurrentBatches: options.maxConcurrentBatches ?? 1,
      retryAfterSeconds: options.retryAfterSeconds ?? 1,
      name: options.name ?? '',
    };
  }

  private where(): string {
    return `batcher${this.opts.name ? ` ${this.opts.name}` : ''}`;
  }

  /**
   * Queues one request of one or more examples and resolves with one output per example, in
   * order. Rejects with a BatcherError (status hint included) when it cannot be admitted, when
   * its deadline passes or its signal aborts, and with run()'s own error when its batch fails.
   */
  submit(rows: readonly In[], options: SubmitOptions = {}): Promise<BatchResult<Out>> {
    const { maxQueueSize, retryAfterSeconds } = this.opts;
    const refuse = (reason: BatcherRejection, status: number, message: string, retry?: number): Promise<never> => {
      this.rejected[reason]++;
      return Promise.reject(new BatcherError(`${this.where()}: ${message}`, reason, status, retry));
    };
    if (this.closed) return refuse('closed', 503, 'the model is shutting down and takes no new requests', retryAfterSeconds);
    if (!Array.isArray(rows) || rows.length === 0) return refuse('empty', 400, 'a request needs an array of at least one example');
    // A request that could never fit the queue would otherwise get 503s forever: tell the client it is too large.
    if (rows.length > maxQueueSize) return refuse('too_large', 413, `${rows.length} examples exceed the queue size of ${maxQueueSize}`);
    if (this.queuedExamples + rows.length > maxQueueSize) {
      return refuse('queue_full', 503, `queue full (${this.queuedExamples} of ${maxQueueSize} examples waiting, ${rows.length} more asked)`, retryAfterSeconds);
    }
    if (options.signal?.aborted) return refuse('aborted', 499, 'the request was aborted before it was queued');

    let resolve!: Entry<In, Out>['resolve'];
    let reject!: Entry<In, Out>['reject'];
    const promise = new Promise<BatchResult<Out>>((res, rej) => ((resolve = res), (reject = rej)));
    const entry: Entry<In, Out> = { rows, enqueuedAt: now(), resolve, reject, promise, settled: false, started: false };
    // The deadline covers the wait in the queue only: start() clears the timer, because a batch's
    // compute cannot be taken back and its other requests still want their results. The timer
    // stays ref'd: it is pending work.
    const timeoutMs = options.timeoutMs ?? this.opts.timeoutMs;
    if (Number.isFinite(timeoutMs)) {
      entry.timer = setTimeout(() => {
        entry.timer = undefined;
        if (entry.started || entry.settled) return;
        this.rejected.timeout++;
        this.settle(entry, new BatcherError(`${this.where()}: timed out after ${+timeoutMs.toFixed(3)} ms in the queue (${this.queuedRequests - 1} other requests waiting); ask for a longer timeout or retry later`, 'timeout', 504, retryAfterSeconds));
      }, Math.max(0, timeoutMs));
    }
    if (options.signal) {
      entry.signal = options.signal;
      entry.onAbort = () => {
        this.rejected.aborted++;
        this.settle(entry, new BatcherError(`${this.where()}: the request was aborted`, 'aborted', 499));
      };
      options.signal.addEventListener('abort', entry.onAbort, { once: true });
    }
    this.admitted.add(entry);
    entry.prev = this.tail;
    if (this.tail) this.tail.next = entry;
    else this.head = entry;
    this.tail = entry;
    this.queuedExamples += rows.length;
    this.queuedRequests++;
    this.pump();
    return promise;
  }

  /** Makes every later submit() reject at once (503); what was admitted still runs, without waiting for the delay. */
  close(): void {
    this.closed = true;
    this.pump();
  }

  /** Resolves once every request admitted before the call has settled and every batch running then has finished (SIGTERM: close(), then drain()). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.admitted].map((e) => e.promise));
    await Promise.allSettled([...this.runningBatches]);
  }

  stats(): BatcherStats {
    return {
      queuedExamples: this.queuedExamples,
      queuedRequests: this.queuedRequests,
      runningBatches: this.running,
      batchesRun: this.batchesRun,
      batchSizeCounts: Object.fromEntries(this.sizeCounts),
      completed: this.completed,
      failed: this.failed,
      rejected: { ...this.rejected },
    };
  }

  private unlink(entry: Entry<In, Out>): void {
    if (entry.prev) entry.prev.next = entry.next;
    else this.head = entry.next;
    if (entry.next) entry.next.prev = entry.prev;
    else this.tail = entry.prev;
    entry.prev = entry.next = undefined;
    this.queuedExamples -= entry.rows.length;
    this.queuedRequests--;
  }

  /** Ends a request once: clears its timer and abort listener, and takes it out of the queue if it has not started. */
  private settle(entry: Entry<In, Out>, error: unknown, result?: BatchResult<Out>): void {
    if (entry.settled) return;
    entry.settled = true;
    if (entry.timer) clearTimeout(entry.timer);
    if (entry.onAbort) entry.signal!.removeEventListener('abort', entry.onAbort);
    this.admitted.delete(entry);
    if (!entry.started) {
      this.unlink(entry);
      this.pump(); // the head may have changed, and with it the delay deadline
    }
    if (result) entry.resolve(result);
    else entry.reject(error);
  }

  /** Starts every batch that is ready while a slot is free, else arms one timer for the oldest request's deadline. */
  private pump(): void {
    const { maxBatchSize, maxConcurrentBatches, maxQueueDelayMicroseconds } = this.opts;
    while (this.head && this.running < maxConcurrentBatches) {
      // Strict FIFO packing: never skip the head for a smaller request behind it, so nothing starves.
      const batch: Entry<In, Out>[] = [];
      let size = 0;
      for (let e: Entry<In, Out> | undefined = this.head; e && (batch.length === 0 || size + e.rows.length <= maxBatchSize); e = e.next) {
        batch.push(e);
        size += e.rows.length;
      }
      const blocked = batch[batch.length - 1].next !== undefined; // the next request cannot join: waiting gains nothing
      const deadline = this.head.enqueuedAt + maxQueueDelayMicroseconds / 1000;
      if (!(size >= maxBatchSize || blocked || this.closed || now() >= deadline)) {
        this.armDelay(deadline);
        return;
      }
      for (const e of batch) {
        this.unlink(e);
        e.started = true;
        if (e.timer) clearTimeout(e.timer); // running now: it completes (see submit())
        e.timer = undefined;
      }
      this.start(batch, size);
    }
    this.disarmDelay(); // nothing waits, or every slot is busy: a finishing batch pumps again
  }

  private armDelay(deadline: number): void {
    if (this.delayTimer && this.delayTimerAt === deadline) return;
    this.disarmDelay();
    this.delayTimerAt = deadline;
    // Node's timers count whole milliseconds: round up so a batch never starts before the delay.
    this.delayTimer = setTimeout(() => {
      this.delayTimer = undefined;
      this.pump();
    }, Math.max(0, Math.ceil(deadline - now())));
  }

  private disarmDelay(): void {
    if (this.delayTimer) clearTimeout(this.delayTimer);
    this.delayTimer = undefined;
    this.delayTimerAt = Infinity;
  }

  private start(batch: Entry<In, Out>[], size: number): void {
    this.running++;
    this.batchesRun++;
    this.sizeCounts.set(size, (this.sizeCounts.get(size) ?? 0) + 1);
    const items: In[] = [];
    for (const e of batch) for (const r of e.rows) items.push(r);
    const startedAt = now();
    let pending: Promise<Out[]>;
    try {
      pending = Promise.resolve(this.opts.run(items));
    } catch (err) {
      pending = Promise.reject(err);
    }
    const done = pending.then(
      (outputs) => {
        const computeMicros = (now() - startedAt) * 1000;
        if (!Array.isArray(outputs) || outputs.length !== size) {
          throw new LatheError(`${this.where()}: run() returned ${Array.isArray(outputs) ? outputs.length : typeof outputs} outputs for a batch of ${size} examples`);
        }
        this.opts.onBatch?.({ size, requests: batch.length, computeMicros });
        let offset = 0;
        for (const e of batch) {
          const n = e.rows.length;
          if (!e.settled) this.completed++;
          this.settle(e, undefined, { outputs: outputs.slice(offset, offset + n), queueMicros: (startedAt - e.enqueuedAt) * 1000, computeMicros, batchSize: size });
          offset += n;
        }
      },
    ).catch((error: unknown) => {
      // Only this batch's requests see the error; the queue behind it runs on.
      this.opts.onBatch?.({ size, requests: batch.length, computeMicros: (now() - startedAt) * 1000, error });
      for (const e of batch) {
        if (!e.settled) this.failed++;
        this.settle(e, error);
      }
    }).finally(() => {
      this.running--;
      this.runningBatches.delete(done);
      this.pump();
    });
    this.runningBatches.add(done);
  }
}
