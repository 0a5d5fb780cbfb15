// A character-level tokenizer (nanoGPT's shakespeare_char): the vocabulary is the corpus's
// distinct characters sorted by code point, one id each. Characters are Unicode code points, not
// UTF-16 units, so an emoji is one token; a lone surrogate is a code point of its own here.
import { fail } from '../../errors.js';
import { readJsonFile, writeJsonFile } from './json-file.js';

export interface CharTokenizerOptions {
  /** A token for characters outside the vocabulary, given the last id; without it they are an error. */
  unk?: string;
}

export interface CharTokenizerJSON {
  format: 'lathe-char';
  version: 1;
  /** One code point each, strictly increasing. */
  chars: string[];
  unk: string | null;
}

function describe(cp: number): string {
  const hex = `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
  const printable = cp >= 0x20 && cp !== 0x7f && !(cp >= 0xd800 && cp <= 0xdfff);
  return printable ? `${JSON.stringify(String.fromCodePoint(cp))} (${hex})` : hex;
}

export class CharTokenizer {
  /** The characters, by id. */
  readonly chars: readonly string[];
  /** The unknown token's text, or null. */
  readonly unk: string | null;
  /** Its id (chars.length), or -1. */
  readonly unkId: number;
  private readonly ids = new Map<number, number>();

  /** `chars`: distinct single code points in increasing order. Errors name the entry. */
  constructor(chars: readonly string[], options: CharTokenizerOptions = {}, where = 'CharTokenizer') {
    if (!Array.isArray(chars)) fail(where, `chars must be an array of single characters, got ${typeof chars}`);
    let last = -1;
    chars.forEach((c, i) => {
      const cp = typeof c === 'string' ? c.codePointAt(0) : undefined;
      if (cp === undefined || String.fromCodePoint(cp) !== c) fail(where, `chars[${i}] must be exactly one character (code point), got ${JSON.stringify(c)}`);
      if (cp <= last) fail(where, `chars[${i}] ${describe(cp)} is not after chars[${i - 1}] ${describe(last)}: chars must be distinct and sorted by code point`);
      this.ids.set(cp, i);
      last = cp;
    });
    const { unk } = options;
    if (unk !== undefined && unk !== null && (typeof unk !== 'string' || unk === '')) fail(where, `unk must be a non-empty string, got ${JSON.stringify(unk)}`);
    this.chars = [...chars];
    this.unk = unk ?? null;
    this.unkId = this.unk === null ? -1 : chars.length;
  }

  /**
   * The vocabulary of `text`: its distinct code points in code point order, like Python's
   * sorted(set(text)). (JavaScript's default string sort compares UTF-16 units, which puts
   * astral characters before U+E000-U+FFFF.)
   */
  static fromText(text: string, options: CharTokenizerOptions = {}): CharTokenizer {
    const seen = new Set<number>();
    for (let i = 0; i < text.length; ) {
      const cp = text.codePointAt(i)!;
      seen.add(cp);
      i += cp > 0xffff ? 2 : 1;
    }
    const sorted = [...seen].sort((a, b) => a - b);
    return new CharTokenizer(sorted.map((cp) => String.fromCodePoint(cp)), options, 'CharTokenizer.fromText');
  }

  get vocabSize(): number {
    return this.chars.length + (this.unk === null ? 0 : 1);
  }

  /** One id per code point. An unknown character is an error naming it and its string index, unless there is an unk token. */
  encode(text: string): Int32Array {
    const out = new Int32Array(text.length);
    let n = 0;
    for (let i = 0; i < text.length; ) {
      const cp = text.codePointAt(i)!;
      const id = this.ids.get(cp);
      if (id !== undefined) out[n++] = id;
      else if (this.unkId >= 0) out[n++] = this.unkId;
      else fail('CharTokenizer.encode', `character ${describe(cp)} at index ${i} is not in the vocabulary (${this.chars.length} characters); build the tokenizer from text that has it, or pass an unk token`);
      i += cp > 0xffff ? 2 : 1;
    }
    return out.slice(0, n);
  }

  decode(ids: ArrayLike<number>): string {
    const parts: string[] = new Array(ids.length);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (id === this.unkId && this.unk !== null) parts[i] = this.unk;
      else if (Number.isInteger(id) && id >= 0 && id < this.chars.length) parts[i] = this.chars[id];
      else fail('CharTokenizer.decode', `id ${id} at position ${i} is not in the vocabulary (ids 0-${this.vocabSize - 1})`);
    }
    return parts.join('');
  }

  toJSON(): CharTokenizerJSON {
    return { format: 'lathe-char', version: 1, chars: [...this.chars], unk: this.unk };
  }

  static fromJSON(json: unknown, where = 'CharTokenizer.fromJSON'): CharTokenizer {
    if (typeof json !== 'object' || json === null || Array.isArray(json)) fail(where, `expected a JSON object, got ${Array.isArray(json) ? 'an array' : json === null ? 'null' : typeof json}`);
    const j = json as Partial<CharTokenizerJSON>;
    if (j.format !== 'lathe-char') fail(where, `format must be "lathe-char", got ${JSON.stringify(j.format)}`);
    if (j.version !== 1) fail(where, `version ${JSON.stringify(j.version)} is not supported (this Lathe reads version 1)`);
    return new CharTokenizer(j.chars as string[], { unk: j.unk ?? undefined }, where);
  }

  /** Writes toJSON() to `file` atomically. */
  save(file: string): void {
    writeJsonFile(file, JSON.stringify(this.toJSON()));
  }

  static load(file: string): CharTokenizer {
    return CharTokenizer.fromJSON(readJsonFile('CharTokenizer.load', file), `CharTokenizer.load: ${file}`);
  }
}
