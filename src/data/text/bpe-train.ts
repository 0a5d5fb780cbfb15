// Learning byte-level BPE merges (Sennrich et al. 2016, GPT-2's byte-level variant, trained like
// minbpe's RegexTokenizer). Counting runs over the unique pre-tokenizer chunks with their
// frequencies, and each merge updates the pair counts only in the chunks that hold the pair, so a
// merge costs the size of its occurrences rather than of the corpus.
import { PairHeap } from './pair-heap.js';

/** Token ids stay below 2^21, so a pair packs into one exact number: a * 2^21 + b < 2^42. */
export const MAX_VOCAB = 1 << 21;

export function pairKey(a: number, b: number): number {
  return a * MAX_VOCAB + b;
}

/**
 * Calls fn on each chunk of `text` the pre-tokenizer `regex` (flags g and u) matches, in order.
 * Text between matches, which the built-in patterns never leave, becomes a chunk too, so no
 * pattern can lose text.
 */
export function forEachChunk(text: string, regex: RegExp, fn: (chunk: string) => void): void {
  regex.lastIndex = 0;
  let last = 0;
  for (let m = regex.exec(text); m !== null; m = regex.exec(text)) {
    if (m.index > last) fn(text.slice(last, m.index));
    if (m[0].length === 0) {
      // an empty match would repeat forever: step over one code point
      regex.lastIndex = m.index + ((text.codePointAt(m.index) ?? 0) > 0xffff ? 2 : 1);
      last = m.index;
      continue;
    }
    fn(m[0]);
    last = m.index + m[0].length;
  }
  if (last < text.length) fn(text.slice(last));
}

/**
 * Learns up to `numMerges` merges from chunk -> frequency counts. Merge i makes id firstId + i.
 * The most frequent pair wins; ties go to the smallest pair (a, then b), as in Hugging Face's
 * trainer, so the result does not depend on the order chunks were counted in. Stops early when
 * no pair is left (every chunk is a single token).
 */
export function learnMerges(chunkCounts: ReadonlyMap<string, number>, numMerges: number, firstId = 256): [number, number][] {
  const encoder = new TextEncoder();
  const words: Int32Array[] = [];
  const freq: number[] = [];
  for (const [chunk, count] of chunkCounts) {
    const bytes = encoder.encode(chunk);
    if (bytes.length < 2) continue; // no pairs, and never will have any
    words.push(Int32Array.from(bytes));
    freq.push(count);
  }

  const pairCount = new Map<number, number>();
  // pair -> the words that held it when it appeared (may list a word twice, or one that lost it)
  const where = new Map<number, number[]>();
  const changed = new Set<number>();
  const add = (key: number, delta: number): void => {
    const v = (pairCount.get(key) ?? 0) + delta;
    if (v === 0) pairCount.delete(key);
    else pairCount.set(key, v);
    changed.add(key);
  };
  const note = (key: number, w: number): void => {
    const list = where.get(key);
    if (list === undefined) where.set(key, [w]);
    else if (list[list.length - 1] !== w) list.push(w);
  };
  for (let w = 0; w < words.length; w++) {
    const ids = words[w];
    for (let k = 0; k + 1 < ids.length; k++) {
      const key = pairKey(ids[k], ids[k + 1]);
      pairCount.set(key, (pairCount.get(key) ?? 0) + freq[w]);
      note(key, w);
    }
  }
  // max-count first: the heap is a min-heap on (-count, key); entries whose count has since
  // changed are stale and skipped, because every change pushes a fresh entry.
  const heap = new PairHeap();
  for (const [key, count] of pairCount) heap.push(-count, key);

  let mark = new Uint8Array(64);
  const mergeWord = (w: number, a: number, b: number, c: number): void => {
    const ids = words[w];
    const n = ids.length;
    if (mark.length < n) mark = new Uint8Array(2 * n);
    mark.fill(0, 0, n);
    let sites = 0;
    for (let i = 0; i + 1 < n; ) {
      if (ids[i] === a && ids[i + 1] === b) {
        mark[i] = mark[i + 1] = 1;
        sites++;
        i += 2; // left to right, non-overlapping: "aaa" with (a,a) gives [c, a]
      } else i++;
    }
    if (sites === 0) return;
    const f = freq[w];
    // Pairs touching a merge site are the only ones that change: drop them all from the old
    // word, then add the new word's pairs that touch a new token c (c occurs nowhere else).
    for (let k = 0; k + 1 < n; k++) if (mark[k] | mark[k + 1]) add(pairKey(ids[k], ids[k + 1]), -f);
    const out = new Int32Array(n - sites);
    for (let i = 0, o = 0; i < n; o++) {
      if (i + 1 < n && ids[i] === a && ids[i + 1] === b) { // the same greedy scan as above
        out[o] = c;
        i += 2;
      } else out[o] = ids[i++];
    }
    for (let m = 0; m + 1 < out.length; m++) {
      if (out[m] === c || out[m + 1] === c) {
        const key = pairKey(out[m], out[m + 1]);
        add(key, f);
        note(key, w);
      }
    }
    words[w] = out;
  };

  const merges: [number, number][] = [];
  const seen = new Int32Array(words.length).fill(-1);
  while (merges.length < numMerges) {
    let key = -1;
    while (heap.size > 0) {
      const count = -heap.topPrimary();
      const k = heap.topSecondary();
      heap.pop();
      if (pairCount.get(k) === count) {
        key = k;
        break;
      }
    }
    if (key < 0) break;
    const a = Math.floor(key / MAX_VOCAB);
    const b = key - a * MAX_VOCAB;
    const c = firstId + merges.length;
    for (const w of where.get(key)!) {
      if (seen[w] === c) continue;
      seen[w] = c;
      mergeWord(w, a, b, c);
    }
    merges.push([a, b]);
    where.delete(key); // (a, b) cannot reappear: merging only ever makes new ids
    for (const k of changed) {
      const count = pairCount.get(k);
      if (count !== undefined) heap.push(-count, k);
    }
    changed.clear();
  }
  return merges;
}
