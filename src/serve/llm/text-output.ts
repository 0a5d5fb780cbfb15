// Generated tokens to text as it streams: a byte-level BPE token may end inside a UTF-8
// character, so bytes go through a streaming TextDecoder that holds a cut character back; and
// OpenAI's `stop` strings are matched on the text, not the tokens (a stop string may be split
// across tokens in any way). Text that may begin a stop string is held back until it is known not
// to, so the streamed pieces always concatenate to the non-streamed text.
import type { GPTTokenizer } from '../../models/gpt/saved.js';
import { BPETokenizer } from '../../data/text/bpe.js';

export class TextOutput {
  private readonly decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  /** Decoded text not yet released: it may be the start of a stop string. */
  private held = '';
  /** Set once a stop string is found; nothing is released after it. */
  stopped = false;

  constructor(private readonly tokenizer: GPTTokenizer, private readonly stops: readonly string[]) {}

  /** Adds one token; gives the text that can be released now ('' when none). */
  push(id: number): string {
    if (this.stopped) return '';
    const piece = this.tokenizer instanceof BPETokenizer ? this.decoder.decode(this.tokenizer.decodeBytes([id]), { stream: true }) : this.tokenizer.decode([id]);
    return this.release(piece);
  }

  /** The generation ended: releases what was held (a cut character becomes U+FFFD, as decode() gives). */
  finish(): string {
    if (this.stopped) return '';
    const tail = this.tokenizer instanceof BPETokenizer ? this.decoder.decode() : '';
    const out = this.release(tail);
    const rest = this.held;
    this.held = '';
    return out + rest;
  }

  private release(piece: string): string {
    const text = this.held + piece;
    let cut = -1;
    for (const s of this.stops) {
      const i = text.indexOf(s);
      if (i >= 0 && (cut < 0 || i < cut)) cut = i;
    }
    if (cut >= 0) {
      this.stopped = true;
      this.held = '';
      return text.slice(0, cut);
    }
    const keep = heldBack(text, this.stops);
    this.held = text.slice(text.length - keep);
    return text.slice(0, text.length - keep);
  }
}

/** The length of the longest tail of `text` that is a proper prefix of some stop string. */
function heldBack(text: string, stops: readonly string[]): number {
  let best = 0;
  for (const s of stops) {
    for (let len = Math.min(s.length - 1, text.length); len > best; len--) {
      if (text.endsWith(s.slice(0, len))) {
        best = len;
        break;
      }
    }
  }
  return best;
}
