// Fixed-length token windows for language models, as nanoGPT's get_batch: x = tokens[i, i+T),
// y = tokens[i+1, i+T+1), the next token at every position. The corpus's ids live in one array
// (uint16 when the vocabulary fits: half the memory); windows are views, and only a batch copies.
import * as fs from 'node:fs';
import { fail } from '../../errors.js';
import { fromArray } from '../../tensor/create.js';
import { type Generator, defaultGenerator } from '../../tensor/random.js';
import type { Tensor } from '../../tensor/tensor.js';

export type TokenArray = Int32Array | Uint16Array;

/** What TokenWindows needs of a tokenizer: CharTokenizer and BPETokenizer both are one. */
export interface TextTokenizer {
  readonly vocabSize: number;
  encode(text: string): Int32Array;
}

export interface TokenWindowsOptions {
  /** Tokens per window, T. */
  blockSize: number;
  /**
   * The fraction of tokens at the end held out for validation (default 0.1, nanoGPT's): train is
   * the first floor(n * (1 - validationSplit)) tokens, as Keras' validation_split cuts. The
   * split is over tokens, not characters as nanoGPT's prepare.py cuts the text.
   */
  validationSplit?: number;
}

/** A pair of int32 tensors [B, T]: inputs and next-token targets. */
export type TokenBatch = [x: Tensor, y: Tensor];

export class TokenWindows {
  readonly tokens: TokenArray;
  readonly blockSize: number;
  /** The first tokens (90% by default). */
  readonly train: TokenSplit;
  /** The last tokens; may be too short to use when validationSplit is 0 or small. */
  readonly val: TokenSplit;

  constructor(tokens: TokenArray, options: TokenWindowsOptions) {
    const { blockSize, validationSplit = 0.1 } = options;
    if (!(tokens instanceof Int32Array || tokens instanceof Uint16Array)) fail('TokenWindows', 'tokens must be an Int32Array or a Uint16Array');
    if (!Number.isInteger(blockSize) || blockSize < 1) fail('TokenWindows', `blockSize must be a positive integer, got ${blockSize}`);
    if (typeof validationSplit !== 'number' || !(validationSplit >= 0 && validationSplit < 1)) fail('TokenWindows', `validationSplit must be in [0, 1), got ${validationSplit}`);
    this.tokens = tokens;
    this.blockSize = blockSize;
    const cut = Math.floor(tokens.length * (1 - validationSplit));
    this.train = new TokenSplit('train', tokens.subarray(0, cut), blockSize);
    this.val = new TokenSplit('val', tokens.subarray(cut), blockSize);
  }

  /** Encodes `text` once; ids are kept as uint16 when the vocabulary has at most 65536. */
  static fromText(text: string, tokenizer: TextTokenizer, options: TokenWindowsOptions): TokenWindows {
    const ids = tokenizer.encode(text);
    return new TokenWindows(tokenizer.vocabSize <= 65536 ? Uint16Array.from(ids) : ids, options);
  }

  /** Reads a UTF-8 text file whole and encodes it (see fromText). */
  static fromFile(file: string, tokenizer: TextTokenizer, options: TokenWindowsOptions): TokenWindows {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      return fail('TokenWindows.fromFile', `${file}: ${(e as Error).message}`);
    }
    return TokenWindows.fromText(text, tokenizer, options);
  }
}

/** One split's tokens, with random and sequential windows over them. No window runs past its end. */
export class TokenSplit {
  constructor(
    readonly name: string,
    readonly tokens: TokenArray,
    readonly blockSize: number,
  ) {}

  /** Start positions a random window can have: 0 to n - T - 1, as nanoGPT's randint(len(data) - block_size). */
  get numStarts(): number {
    return Math.max(0, this.tokens.length - this.blockSize);
  }

  /** Non-overlapping windows at 0, T, 2T, ...; the tail shorter than T + 1 tokens is left out. */
  get length(): number {
    return this.tokens.length > 0 ? Math.floor((this.tokens.length - 1) / this.blockSize) : 0;
  }

  /** Window i of the non-overlapping ones, as views into the token array (no copy). */
  window(i: number): { x: TokenArray; y: TokenArray } {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) fail(`TokenWindows.${this.name}.window`, `index ${i} is out of range (${this.length} windows)`);
    const s = i * this.blockSize;
    return { x: this.tokens.subarray(s, s + this.blockSize), y: this.tokens.subarray(s + 1, s + this.blockSize + 1) };
  }

  *[Symbol.iterator](): IterableIterator<{ x: TokenArray; y: TokenArray }> {
    for (let i = 0; i < this.length; i++) yield this.window(i);
  }

  /** batchSize windows at uniform random starts drawn from `generator`: [x, y], int32 [B, T]. */
  sampleBatch(batchSize: number, generator: Generator = defaultGenerator): TokenBatch {
    this.checkBatchSize('sampleBatch', batchSize);
    const starts = new Array<number>(batchSize);
    const n = this.usableStarts('sampleBatch');
    for (let b = 0; b < batchSize; b++) starts[b] = generator.nextInt(n);
    return this.batchAt(starts);
  }

  /** The windows starting at `starts` (each in [0, numStarts)): [x, y], int32 [B, T]. */
  batchAt(starts: ArrayLike<number>): TokenBatch {
    const T = this.blockSize;
    const n = this.usableStarts('batchAt');
    const x = new Int32Array(starts.length * T);
    const y = new Int32Array(starts.length * T);
    for (let b = 0; b < starts.length; b++) {
      const s = starts[b];
      if (!Number.isInteger(s) || s < 0 || s >= n) fail(`TokenWindows.${this.name}.batchAt`, `starts[${b}] = ${s} is out of range: a window of ${T} tokens and its target need a start in [0, ${n})`);
      x.set(this.tokens.subarray(s, s + T), b * T);
      y.set(this.tokens.subarray(s + 1, s + T + 1), b * T);
    }
    const shape = [starts.length, T];
    const op = `TokenWindows.${this.name}`;
    return [fromArray(x, shape, { dtype: 'int32' }, op, true), fromArray(y, shape, { dtype: 'int32' }, op, true)];
  }

  /** The non-overlapping windows in order, batchSize at a time (the last batch smaller unless dropRemainder). */
  batches(batchSize: number, options: { dropRemainder?: boolean } = {}): IterableIterator<TokenBatch> {
    // checked here, not inside the generator, so that a bad call fails when made, not when first iterated
    this.checkBatchSize('batches', batchSize);
    this.usableStarts('batches');
    const count = this.length;
    const end = options.dropRemainder ? count - (count % batchSize) : count;
    const T = this.blockSize;
    const split = this;
    return (function* () {
      for (let first = 0; first < end; first += batchSize) {
        yield split.batchAt(Array.from({ length: Math.min(batchSize, end - first) }, (_, k) => (first + k) * T));
      }
    })();
  }

  private checkBatchSize(method: string, batchSize: number): void {
    if (!Number.isInteger(batchSize) || batchSize < 1) fail(`TokenWindows.${this.name}.${method}`, `batchSize must be a positive integer, got ${batchSize}`);
  }

  private usableStarts(method: string): number {
    const n = this.numStarts;
    if (n === 0) fail(`TokenWindows.${this.name}.${method}`, `the ${this.name} split has ${this.tokens.length} tokens; a window of blockSize ${this.blockSize} and its shifted target need at least ${this.blockSize + 1}`);
    return n;
  }
}
