// A byte-level BPE tokenizer (GPT-2's scheme, shaped like minbpe's RegexTokenizer): text is UTF-8
// encoded, split into chunks by a pre-tokenizer regex so merges never cross a word boundary, and
// each chunk's bytes are merged by learned rank. Any id sequence decodes; a well-formed string
// round-trips exactly. Saved as plain JSON: the pattern, the merges in order, the special tokens.
import { fail } from '../../errors.js';
import { MAX_VOCAB, forEachChunk, learnMerges, pairKey } from './bpe-train.js';
import { readJsonFile, writeJsonFile } from './json-file.js';
import { PairHeap } from './pair-heap.js';

/**
 * GPT-4's (cl100k) split pattern in JavaScript syntax: contractions ('s 't 'll ...), letters with
 * at most one leading non-letter (" the", "(hello"), numbers of at most 3 digits, punctuation runs
 * with an optional leading space and trailing newlines, newline runs, and whitespace (a run before
 * a word leaves its last space to the word). Spelled for JavaScript: the inline (?i:) group as
 * classes, with U+017F (long s, which case-folds to s); the possessive ?+ and ++ as plain
 * quantifiers (no alternative could backtrack into them); \s as \p{White_Space}, Unicode's
 * property, which Rust's regex (tiktoken) and Python's regex module (minbpe) use, where
 * JavaScript's \s would add U+FEFF and miss U+0085. This split agreed with Python's regex module
 * running the original pattern on 2,300 random strings (scripts, controls, every space character).
 */
export const GPT4_SPLIT_PATTERN =
  String.raw`'(?:[sdmtSDMT\u017F]|[lL][lL]|[vV][eE]|[rR][eE])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\p{White_Space}\p{L}\p{N}]+[\r\n]*|\p{White_Space}*[\r\n]|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+`;

/** GPT-2's split pattern (\s spelled as above): contractions, then a word, a number or a punctuation run with an optional leading space, then whitespace. */
export const GPT2_SPLIT_PATTERN = String.raw`'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\p{White_Space}\p{L}\p{N}]+|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+`;

export const BPE_FORMAT = 'lathe-bpe';
export const BPE_FORMAT_VERSION = 1;

/** The saved form: merge i joins the pair merges[i] into id 256 + i; special tokens follow the merges. */
export interface BPETokenizerJSON {
  format: typeof BPE_FORMAT;
  version: number;
  pattern: string;
  merges: [number, number][];
  specialTokens: Record<string, number>;
}

export interface BPEOptions {
  /** The pre-tokenizer regex source, compiled with flags "gu" (default GPT4_SPLIT_PATTERN). */
  pattern?: string;
  /** Special tokens, each one id after the merges, in this order; they never take part in merges. */
  specialTokens?: readonly string[];
}

export interface EncodeOptions {
  /** "all" (default): a special token's text gives its id; "none": it is encoded as ordinary text. */
  allowedSpecial?: 'all' | 'none';
}

/** Distinct chunks kept in the encode cache; the text of a corpus repeats mostly the same words. */
const CACHE_LIMIT = 1 << 16;
const utf8 = new TextEncoder();
// ignoreBOM: keep a leading U+FEFF, which the default decoder would silently drop
const utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true });

function compilePattern(where: string, pattern: unknown): RegExp {
  if (typeof pattern !== 'string' || pattern === '') fail(where, `pattern must be a non-empty regex source string, got ${JSON.stringify(pattern)}`);
  try {
    return new RegExp(pattern, 'gu');
  } catch (e) {
    return fail(where, `pattern is not a valid regex with flags "gu": ${(e as Error).message}`);
  }
}

function escapeRegex(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&'); // the u flag allows escaping only these
}

export class BPETokenizer {
  readonly pattern: string;
  /** The merges in rank order: merges[i] makes id 256 + i. */
  readonly merges: readonly (readonly [number, number])[];
  /** Special token -> id. */
  readonly specialTokens: ReadonlyMap<string, number>;
  private readonly regex: RegExp;
  private readonly specialRegex: RegExp | null;
  private readonly ranks = new Map<number, number>();
  private readonly mergeA: Int32Array;
  private readonly mergeB: Int32Array;
  /** The bytes each id stands for. */
  private readonly vocab: Uint8Array[] = [];
  private readonly cache = new Map<string, Int32Array>();
  private readonly heap = new PairHeap();

  /** Checks every merge: [a, b] with a and b ids made before it, and no pair twice. Errors name the entry. */
  constructor(merges: readonly (readonly [number, number])[], options: BPEOptions = {}, where = 'BPETokenizer') {
    this.pattern = options.pattern ?? GPT4_SPLIT_PATTERN;
    this.regex = compilePattern(where, this.pattern);
    if (!Array.isArray(merges)) fail(where, `merges must be an array of [a, b] pairs, got ${typeof merges}`);
    const total = 256 + merges.length + (options.specialTokens?.length ?? 0);
    if (total > MAX_VOCAB) fail(where, `a vocabulary of ${total} ids is over the limit of ${MAX_VOCAB}`);
    for (let i = 0; i < 256; i++) this.vocab.push(Uint8Array.of(i));
    this.mergeA = new Int32Array(merges.length);
    this.mergeB = new Int32Array(merges.length);
    merges.forEach((pair, i) => {
      const id = 256 + i;
      const ok = Array.isArray(pair) && pair.length === 2 && pair.every((x) => Number.isInteger(x) && x >= 0);
      if (!ok) fail(where, `merges[${i}] must be a pair of non-negative integer ids, got ${JSON.stringify(pair)}`);
      const [a, b] = pair;
      if (a >= id || b >= id) fail(where, `merges[${i}] = [${a},${b}] uses id ${Math.max(a, b)}, which no earlier merge makes (merge ${i} makes id ${id}; it may use bytes 0-255 and the ids of earlier merges)`);
      const key = pairKey(a, b);
      const earlier = this.ranks.get(key);
      if (earlier !== undefined) fail(where, `merges[${i}] = [${a},${b}] repeats merges[${earlier}]`);
      this.ranks.set(key, i);
      this.mergeA[i] = a;
      this.mergeB[i] = b;
      const bytes = new Uint8Array(this.vocab[a].length + this.vocab[b].length);
      bytes.set(this.vocab[a]);
      bytes.set(this.vocab[b], this.vocab[a].length);
      this.vocab.push(bytes);
    });
    this.merges = merges.map(([a, b]) => [a, b] as const);
    const specials = new Map<string, number>();
    for (const [k, token] of (options.specialTokens ?? []).entries()) {
      if (typeof token !== 'string' || token === '') fail(where, `specialTokens[${k}] must be a non-empty string, got ${JSON.stringify(token)}`);
      if (specials.has(token)) fail(where, `specialTokens[${k}] ${JSON.stringify(token)} is listed twice`);
      specials.set(token, this.vocab.length);
      this.vocab.push(utf8.encode(token));
    }
    this.specialTokens = specials;
    // longest first, so that of two specials where one is a prefix of the other the longer wins
    const alternatives = [...specials.keys()].sort((x, y) => y.length - x.length).map(escapeRegex);
    this.specialRegex = alternatives.length > 0 ? new RegExp(alternatives.join('|'), 'gu') : null;
  }

  /**
   * Learns merges from `text` (a string, or strings counted together) until the vocabulary has
   * `vocabSize` ids (256 bytes + merges; special tokens come on top), or no pair is left to merge.
   */
  static train(text: string | Iterable<string>, vocabSize: number, options: BPEOptions = {}): BPETokenizer {
    if (!Number.isInteger(vocabSize) || vocabSize < 256 || vocabSize > MAX_VOCAB) fail('BPETokenizer.train', `vocabSize must be an integer from 256 (the bytes) to ${MAX_VOCAB}, got ${vocabSize}`);
    const empty = new BPETokenizer([], options, 'BPETokenizer.train'); // checks the options, splits for us
    const counts = new Map<string, number>();
    const count = (chunk: string) => counts.set(chunk, (counts.get(chunk) ?? 0) + 1);
    for (const t of typeof text === 'string' ? [text] : text) {
      // special tokens are cut out first: they are whole tokens, never parts of merges
      empty.forEachPiece(t, true, (piece, special) => {
        if (special === undefined) forEachChunk(piece, empty.regex, count);
      });
    }
    return new BPETokenizer(learnMerges(counts, vocabSize - 256), options, 'BPETokenizer.train');
  }

  /** 256 + merges + special tokens: every id is below this. */
  get vocabSize(): number {
    return this.vocab.length;
  }

  /** The pre-tokenizer's chunks of `text` (special tokens not cut out): merges stay inside one. */
  splitChunks(text: string): string[] {
    const out: string[] = [];
    forEachChunk(text, this.regex, (c) => out.push(c));
    return out;
  }

  /** The ids of `text`. Lone surrogates (not valid UTF-8) are encoded as U+FFFD, as TextEncoder does. */
  encode(text: string, options: EncodeOptions = {}): Int32Array {
    const { allowedSpecial = 'all' } = options;
    if (allowedSpecial !== 'all' && allowedSpecial !== 'none') fail('BPETokenizer.encode', `allowedSpecial must be "all" or "none", got ${JSON.stringify(allowedSpecial)}`);
    let out = new Int32Array(Math.max(16, text.length >> 1));
    let n = 0;
    const push = (ids: Int32Array) => {
      if (n + ids.length > out.length) {
        const grown = new Int32Array(Math.max(2 * out.length, n + ids.length));
        grown.set(out.subarray(0, n));
        out = grown;
      }
      out.set(ids, n);
      n += ids.length;
    };
    const chunk = (c: string) => push(this.encodeChunk(c));
    this.forEachPiece(text, allowedSpecial === 'all', (piece, special) => {
      if (special !== undefined) push(Int32Array.of(special));
      else forEachChunk(piece, this.regex, chunk);
    });
    return out.slice(0, n);
  }

  /** The bytes `ids` stand for; for streaming, where a token may end inside a character. */
  decodeBytes(ids: ArrayLike<number>): Uint8Array {
    let total = 0;
    for (let i = 0; i < ids.length; i++) {
      const bytes = this.vocab[ids[i]];
      if (bytes === undefined) fail('BPETokenizer.decode', `id ${ids[i]} at position ${i} is not in the vocabulary (ids 0-${this.vocab.length - 1})`);
      total += bytes.length;
    }
    const out = new Uint8Array(total);
    for (let i = 0, o = 0; i < ids.length; i++) {
      out.set(this.vocab[ids[i]], o);
      o += this.vocab[ids[i]].length;
    }
    return out;
  }

  /** The text of `ids`; byte sequences that are not valid UTF-8 (a cut character) become U+FFFD. */
  decode(ids: ArrayLike<number>): string {
    return utf8Decoder.decode(this.decodeBytes(ids));
  }

  /** The bytes one id stands for (a copy). */
  tokenBytes(id: number): Uint8Array {
    const bytes = this.vocab[id];
    if (bytes === undefined) fail('BPETokenizer.tokenBytes', `id ${id} is not in the vocabulary (ids 0-${this.vocab.length - 1})`);
    return bytes.slice();
  }

  toJSON(): BPETokenizerJSON {
    return {
      format: BPE_FORMAT,
      version: BPE_FORMAT_VERSION,
      pattern: this.pattern,
      merges: this.merges.map(([a, b]) => [a, b]),
      specialTokens: Object.fromEntries(this.specialTokens),
    };
  }

  /** Reads toJSON()'s form; every error names the entry (merges[12], specialTokens["<|x|>"]) and `where`. */
  static fromJSON(json: unknown, where = 'BPETokenizer.fromJSON'): BPETokenizer {
    if (typeof json !== 'object' || json === null || Array.isArray(json)) fail(where, `expected a JSON object, got ${Array.isArray(json) ? 'an array' : json === null ? 'null' : typeof json}`);
    const j = json as Partial<BPETokenizerJSON>;
    if (j.format !== BPE_FORMAT) fail(where, `format must be "${BPE_FORMAT}", got ${JSON.stringify(j.format)}`);
    if (j.version !== BPE_FORMAT_VERSION) fail(where, `version ${JSON.stringify(j.version)} is not supported (this Lathe reads version ${BPE_FORMAT_VERSION})`);
    if (!Array.isArray(j.merges)) fail(where, `merges must be an array of [a, b] pairs, got ${JSON.stringify(j.merges)}`);
    const specials = j.specialTokens ?? {};
    if (typeof specials !== 'object' || specials === null || Array.isArray(specials)) fail(where, `specialTokens must be an object of token -> id, got ${JSON.stringify(specials)}`);
    // ids must be exactly the ones after the merges, in any order, so that every id decodes
    const first = 256 + j.merges.length;
    const entries = Object.entries(specials);
    const byId: string[] = [];
    for (const [token, id] of entries) {
      const ok = Number.isInteger(id) && id >= first && id < first + entries.length;
      if (!ok) fail(where, `specialTokens[${JSON.stringify(token)}] = ${JSON.stringify(id)}: special ids must be the ${entries.length} ids after the merges, ${first}-${first + entries.length - 1}`);
      if (byId[id - first] !== undefined) fail(where, `specialTokens[${JSON.stringify(token)}] = ${id}: id already taken by ${JSON.stringify(byId[id - first])}`);
      byId[id - first] = token;
    }
    return new BPETokenizer(j.merges, { pattern: j.pattern, specialTokens: byId }, where);
  }

  /** Writes toJSON() to `file` atomically: a crash leaves the old file or the new one. One merge a line. */
  save(file: string): void {
    const { merges, ...head } = this.toJSON();
    const body = JSON.stringify(head).slice(0, -1);
    const lines = merges.map(([a, b]) => `[${a},${b}]`).join(',\n');
    writeJsonFile(file, `${body},"merges":[\n${lines}\n]}`);
  }

  static load(file: string): BPETokenizer {
    return BPETokenizer.fromJSON(readJsonFile('BPETokenizer.load', file), `BPETokenizer.load: ${file}`);
  }

  /** Calls fn on the text between special tokens (special undefined) and on each special token's id. */
  private forEachPiece(text: string, allowSpecial: boolean, fn: (piece: string, special?: number) => void): void {
    const re = allowSpecial ? this.specialRegex : null;
    if (re === null) {
      fn(text);
      return;
    }
    let last = 0;
    re.lastIndex = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      if (m.index > last) fn(text.slice(last, m.index));
      fn(m[0], this.specialTokens.get(m[0]));
      last = m.index + m[0].length;
    }
    if (last < text.length) fn(text.slice(last));
  }

  private encodeChunk(chunk: string): Int32Array {
    const hit = this.cache.get(chunk);
    if (hit !== undefined) return hit;
    const ids = this.mergeBytes(utf8.encode(chunk));
    if (this.cache.size < CACHE_LIMIT) this.cache.set(chunk, ids);
    return ids;
  }

  /**
   * Applies the merges to one chunk's bytes, lowest rank first, equal ranks left to right: the
   * same result as minbpe's loop (merge every occurrence of the lowest-ranked pair, repeat), in
   * O(n log n) rather than O(n^2), which matters for long chunks such as unspaced CJK text.
   * A linked list over the bytes; heap entries are (rank, left position), checked when popped.
   */
  private mergeBytes(bytes: Uint8Array): Int32Array {
    const n = bytes.length;
    const ids = Int32Array.from(bytes);
    if (n < 2 || this.merges.length === 0) return ids;
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1;
      prev[i] = i - 1;
    }
    const { heap, ranks, mergeA, mergeB } = this;
    heap.clear();
    for (let i = 0; i + 1 < n; i++) {
      const r = ranks.get(pairKey(ids[i], ids[i + 1]));
      if (r !== undefined) heap.push(r, i);
    }
    let alive = n;
    while (heap.size > 0) {
      const r = heap.topPrimary();
      const i = heap.topSecondary();
      heap.pop();
      const j = next[i];
      if (ids[i] !== mergeA[r] || j >= n || ids[j] !== mergeB[r]) continue; // stale
      ids[i] = 256 + r;
      ids[j] = -1;
      alive--;
      next[i] = next[j];
      if (next[j] < n) prev[next[j]] = i;
      const p = prev[i];
      if (p >= 0) {
        const rl = ranks.get(pairKey(ids[p], ids[i]));
        if (rl !== undefined) heap.push(rl, p);
      }
      if (next[i] < n) {
        const rr = ranks.get(pairKey(ids[i], ids[next[i]]));
        if (rr !== undefined) heap.push(rr, i);
      }
    }
    const out = new Int32Array(alive);
    for (let i = 0, o = 0; i < n; i = next[i]) out[o++] = ids[i];
    return out;
  }
}
