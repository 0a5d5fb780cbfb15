// Byte-level BPE: merges worked out by hand (Wikipedia's "aaabdaaabac"), training and encoding
// against naive reference implementations (recount everything each merge; minbpe's encode loop),
// exact round trips of random well-formed text across all planes, the pre-tokenizer's chunks,
// and merges that never cross them.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { BPETokenizer, GPT2_SPLIT_PATTERN } from '../../../src/data/text/index.js';
import { Generator } from '../../../src/tensor/random.js';

const utf8 = new TextEncoder();
const ids = (tok: BPETokenizer, text: string) => Array.from(tok.encode(text));

/** Code point ranges to draw from: ASCII, Latin-1, combining marks, several scripts, CJK, emoji, and every astral plane. */
const RANGES: [number, number][] = [
  [0x20, 0x7e], [0x20, 0x7e], [0x20, 0x7e], [0x00, 0x1f], [0xa0, 0xff], [0x300, 0x36f], [0x400, 0x4ff], [0x600, 0x6ff],
  [0x900, 0x97f], [0x3000, 0x303f], [0x4e00, 0x9fff], [0xac00, 0xd7a3], [0xe000, 0xfffd], [0xfeff, 0xfeff],
  [0x1f300, 0x1f6ff], [0x1d400, 0x1d7ff], [0x10000, 0x10ffff],
];

/** A well-formed string of `n` code points from a seeded generator, words separated by spaces and newlines. */
function randomText(g: Generator, n: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const u = g.nextFloat64();
    if (u < 0.12) out.push(u < 0.1 ? ' ' : '\n');
    else {
      const [lo, hi] = RANGES[g.nextInt(RANGES.length)];
      let cp = lo + g.nextInt(hi - lo + 1);
      if (cp >= 0xd800 && cp <= 0xdfff) cp = 0x41; // surrogate code points are not characters
      out.push(String.fromCodePoint(cp));
    }
  }
  return out.join('');
}

/** Reference trainer: every chunk's bytes, pairs recounted from scratch for each merge. */
function referenceMerges(chunks: string[], numMerges: number): [number, number][] {
  const words = chunks.map((c) => Array.from(utf8.encode(c)));
  const merges: [number, number][] = [];
  for (let id = 256; merges.length < numMerges; id++) {
    const counts = new Map<string, number>();
    for (const w of words) for (let k = 0; k + 1 < w.length; k++) counts.set(`${w[k]},${w[k + 1]}`, (counts.get(`${w[k]},${w[k + 1]}`) ?? 0) + 1);
    let best: [number, number] | null = null;
    let bestCount = 0;
    for (const [key, c] of counts) {
      const [a, b] = key.split(',').map(Number);
      if (c > bestCount || (c === bestCount && (a < best![0] || (a === best![0] && b < best![1])))) [best, bestCount] = [[a, b], c];
    }
    if (best === null) break;
    merges.push(best);
    for (let w = 0; w < words.length; w++) words[w] = mergeAll(words[w], best, id);
  }
  return merges;
}

function mergeAll(w: number[], [a, b]: readonly [number, number], id: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < w.length; ) {
    if (i + 1 < w.length && w[i] === a && w[i + 1] === b) {
      out.push(id);
      i += 2;
    } else out.push(w[i++]);
  }
  return out;
}

/** minbpe's encode: merge every occurrence of the lowest-ranked pair present, until none is left. */
function referenceEncode(tok: BPETokenizer, text: string): number[] {
  const rank = new Map(tok.merges.map(([a, b], i) => [`${a},${b}`, i]));
  return tok.splitChunks(text).flatMap((chunk) => {
    let w = Array.from(utf8.encode(chunk));
    for (;;) {
      let best = Infinity;
      for (let k = 0; k + 1 < w.length; k++) best = Math.min(best, rank.get(`${w[k]},${w[k + 1]}`) ?? Infinity);
      if (best === Infinity) return w;
      w = mergeAll(w, tok.merges[best], 256 + best);
    }
  });
}

test('training on "aaabdaaabac" gives the merges worked out by hand', () => {
  // one chunk (all letters); pair counts aa 4, ab 2, others 1. aa -> 256 ("ZabdZabac"); then
  // ab and Za tie at 2 and the smaller pair (97,98) wins -> 257 ("ZYdZYac"); ZY -> 258 ("XdXac");
  // then every pair counts 1: (97,99) ac, (100,258) dX, (258,260), (261,259), one token left
  const tok = BPETokenizer.train('aaabdaaabac', 300);
  assert.deepEqual(tok.merges, [[97, 97], [97, 98], [256, 257], [97, 99], [100, 258], [258, 260], [261, 259]]);
  assert.equal(tok.vocabSize, 263, 'training stops when no pair is left');
  assert.deepEqual(ids(tok, 'aaabdaaabac'), [262]);
  assert.deepEqual(ids(tok, 'aaab'), [258]);
  assert.deepEqual(ids(tok, 'aaaa'), [256, 256]);
  assert.deepEqual(ids(BPETokenizer.train('aaabdaaabac', 259), 'aaabdaaabac'), [258, 100, 258, 97, 99]);
});

test('pair counts add up over chunks with their frequencies, and merges stay inside a chunk', () => {
  // chunks "ab", " ab", " ab": (a,b) 3 times, then (space, ab) twice; "b a" spans two chunks, never merged
  const tok = BPETokenizer.train('ab ab ab', 1000);
  assert.deepEqual(tok.merges, [[97, 98], [32, 256]]);
  assert.deepEqual(ids(tok, 'ab ab'), [256, 257]);
  // several texts are counted together, each split on its own
  assert.deepEqual(BPETokenizer.train(['ab ab', ' ab'], 1000).merges, tok.merges);
  assert.deepEqual(BPETokenizer.train(['ab a', 'b ab'], 1000).merges, [[32, 97], [97, 98], [256, 98]]);
});

test('training matches a reference that recounts every pair for each merge', () => {
  const g = new Generator(7);
  const words = ['the', 'then', 'there', 'ther', 'é', 'thé', '日本', '日本語', '😀😀', 'aaaa', 'aaa', 'x1234', 'a\u0301'];
  const parts: string[] = [];
  for (let i = 0; i < 3000; i++) parts.push(words[g.nextInt(words.length)], g.nextFloat64() < 0.8 ? ' ' : ',\n');
  const text = parts.join('') + randomText(g, 2000);
  const tok = BPETokenizer.train(text, 256 + 150);
  assert.equal(tok.merges.length, 150);
  assert.deepEqual(tok.merges, referenceMerges(tok.splitChunks(text), 150));
  assert.deepEqual(ids(tok, text), referenceEncode(tok, text));
});

test('encode matches minbpe\'s merge loop, long chunks and runs of one byte included', () => {
  const g = new Generator(11);
  const corpus = randomText(g, 3000) + ' ' + 'ab'.repeat(300) + ' aaaaaaaaaaaaaaaaaaaaa ' + '中文字'.repeat(100);
  const tok = BPETokenizer.train(corpus, 256 + 200);
  for (const text of [corpus, randomText(new Generator(12), 3000), 'a'.repeat(1001), 'ab'.repeat(777) + 'a', '中文字中'.repeat(500)]) {
    assert.deepEqual(ids(tok, text), referenceEncode(tok, text));
  }
});

test('decode(encode(s)) === s for random well-formed strings over all planes', () => {
  const g = new Generator(2024);
  const tok = BPETokenizer.train(randomText(g, 20000), 256 + 300);
  // merged tokens span characters, and some cut through one: the round trip must still be exact
  assert.ok(tok.merges.length === 300);
  for (let trial = 0; trial < 40; trial++) {
    const s = (trial % 4 === 0 ? '\uFEFF' : '') + randomText(g, 1 + g.nextInt(400));
    const e = tok.encode(s);
    assert.equal(tok.decode(e), s, `trial ${trial}`);
    assert.deepEqual(tok.decodeBytes(e), utf8.encode(s), `trial ${trial}: bytes`);
  }
  for (const s of ['', ' ', '\n\n', '\uFEFF', 'e\u0301\u0301', '👩‍👩‍👧', '\u{10FFFF}\0', 'ﷺ', 'Ǆ', '\r\n\t \u00A0\u3000x']) assert.equal(tok.decode(tok.encode(s)), s, JSON.stringify(s));
  // an untrained tokenizer is the bytes themselves
  const bytes = new BPETokenizer([]);
  assert.deepEqual(ids(bytes, 'é😀'), Array.from(utf8.encode('é😀')));
});

test('lone surrogates are not UTF-8: they encode as U+FFFD, as TextEncoder does', () => {
  const tok = BPETokenizer.train('abc', 260);
  assert.equal(tok.decode(tok.encode('a\uD800b\uDC00')), 'a\uFFFDb\uFFFD');
  // a token sequence that cuts a character decodes with U+FFFD; decodeBytes gives the bytes
  const cut = new BPETokenizer([]).encode('é').subarray(0, 1);
  assert.equal(tok.decode(cut), '\uFFFD');
  assert.deepEqual(Array.from(tok.decodeBytes(cut)), [0xc3]);
});

test('the GPT-4 pre-tokenizer splits as cl100k does (expected chunks from Python\'s regex module with the original pattern)', () => {
  const tok = new BPETokenizer([]);
  const cases: [string, string[]][] = [
    ["Hello world's 12345 THEY'RE  x", ['Hello', ' world', "'s", ' ', '123', '45', ' THEY', "'RE", ' ', ' x']],
    ['a\n\n  b!!?\n\n', ['a', '\n\n', ' ', ' b', '!!?\n\n']],
    ['(hello)日本語 café\u0301', ['(hello', ')日本語', ' café', '\u0301']],
    ['\r\n  \t', ['\r\n', '  \t']],
    // whitespace is Unicode's White_Space, as in tiktoken and minbpe: U+FEFF is not, U+0085 is;
    // the contraction group is case-insensitive, long s (U+017F) included (from Python's regex module)
    ['a\uFEFF b', ['a', '\uFEFF', ' b']],
    ["x'\u017F\x85\x85y", ['x', "'\u017F", '\x85', '\x85y']],
    ["it'S 9\u00A0\u3000z", ['it', "'S", ' ', '9', '\u00A0', '\u3000z']],
  ];
  for (const [text, chunks] of cases) assert.deepEqual(tok.splitChunks(text), chunks, JSON.stringify(text));
  const gpt2 = new BPETokenizer([], { pattern: GPT2_SPLIT_PATTERN });
  assert.deepEqual(gpt2.splitChunks("Hello world's 12345  x"), ['Hello', ' world', "'s", ' 12345', ' ', ' x']);
  // a custom pattern that skips text, or matches the empty string, still loses nothing
  assert.deepEqual(new BPETokenizer([], { pattern: 'x*' }).splitChunks('axxb😀'), ['a', 'xx', 'b', '😀']);
  const letters = BPETokenizer.train('abc abc, abd!', 300, { pattern: '[a-z]+' });
  assert.deepEqual(letters.splitChunks('abc, d'), ['abc', ', ', 'd']);
  assert.equal(letters.decode(letters.encode('abc, abd! é')), 'abc, abd! é');
  // the chunks always tile the text, whatever it holds
  const g = new Generator(5);
  for (let i = 0; i < 20; i++) {
    const s = randomText(g, 300);
    assert.equal(tok.splitChunks(s).join(''), s);
  }
});

test('no token crosses a chunk boundary: encoding the text equals encoding each chunk', () => {
  const g = new Generator(99);
  const corpus = Array.from({ length: 4000 }, () => ['the', ' cat', ' sat', '.', '\n', ' 2024', ' on', "'s"][g.nextInt(8)]).join('');
  const tok = BPETokenizer.train(corpus, 256 + 100);
  const text = corpus.slice(0, 5000) + randomText(g, 500);
  const chunks = tok.splitChunks(text);
  assert.deepEqual(ids(tok, text), chunks.flatMap((c) => ids(tok, c)));
  // and so every chunk's end, in bytes, is a token's end
  const tokenEnds = new Set<number>();
  let at = 0;
  for (const id of tok.encode(text)) tokenEnds.add((at += tok.tokenBytes(id).length));
  let end = 0;
  for (const c of chunks) assert.ok(tokenEnds.has((end += utf8.encode(c).length)), `chunk ${JSON.stringify(c)} ends inside a token`);
});

test('special tokens are whole tokens after the merges, never merged, optional at encode', () => {
  const text = 'hello<|endoftext|>hello hello<|endoftext|><|endoftext|>';
  const tok = BPETokenizer.train(text, 256 + 50, { specialTokens: ['<|endoftext|>', '<|end|>'] });
  const eot = 256 + tok.merges.length;
  assert.deepEqual([...tok.specialTokens], [['<|endoftext|>', eot], ['<|end|>', eot + 1]]);
  assert.equal(tok.vocabSize, eot + 2);
  for (const [a, b] of tok.merges) assert.ok(!tok.decode([a, b]).includes('<|'), 'special text never takes part in training');
  const e = ids(tok, 'hello<|endoftext|><|end|>');
  assert.deepEqual(e.slice(-2), [eot, eot + 1]);
  assert.equal(tok.decode(e), 'hello<|endoftext|><|end|>');
  const plain = ids(tok, '<|end|>', );
  assert.deepEqual(plain, [eot + 1]);
  const ordinary = Array.from(tok.encode('<|end|>', { allowedSpecial: 'none' }));
  assert.ok(!ordinary.includes(eot + 1) && ordinary.length > 1);
  assert.equal(tok.decode(ordinary), '<|end|>');
  // of two specials where one starts the other, the longer wins wherever it is listed
  for (const specialTokens of [['<a>', '<a><b>'], ['<a><b>', '<a>']]) {
    const t = new BPETokenizer([], { specialTokens });
    const id = t.specialTokens.get('<a><b>')!;
    assert.deepEqual(ids(t, 'x<a><b><a>'), [120, id, t.specialTokens.get('<a>')!]);
  }
});

const shakespeare = process.env.LATHE_DATA ? path.join(process.env.LATHE_DATA, 'tinyshakespeare', 'input.txt') : '';
test('tinyshakespeare: a vocabulary of 320 on 100 kB round-trips the text at about 1.55 characters a token (LATHE_DATA)', { skip: shakespeare && fs.existsSync(shakespeare) ? false : 'set LATHE_DATA to a folder with tinyshakespeare/input.txt' }, () => {
  const text = fs.readFileSync(shakespeare, 'utf8').slice(0, 100_000);
  const tok = BPETokenizer.train(text, 320);
  assert.equal(tok.vocabSize, 320);
  assert.deepEqual(tok.merges.slice(0, 2), [[32, 116], [104, 101]], "' t' then 'he', as on the whole file");
  const e = tok.encode(text);
  assert.equal(tok.decode(e), text);
  const perToken = text.length / e.length;
  assert.ok(perToken > 1.5 && perToken < 1.6, `${perToken} characters a token`);
});
