// Token windows for language models: y is x shifted by one, batches are int32 [B, T], random
// starts follow the seeded generator (nanoGPT's randint(len - T)) and reach both ends of the
// range, the validation split starts where Keras/nanoGPT cut, no window crosses a split's end,
// and sequential windows tile the split.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { BPETokenizer, CharTokenizer, TokenWindows, type TextTokenizer } from '../../../src/data/text/index.js';
import { Generator } from '../../../src/tensor/random.js';
import type { Tensor } from '../../../src/tensor/tensor.js';
import { assertThrowsLathe } from '../../helpers.js';

/** Tokens 0..n-1, so that a window's values are its positions. */
const positions = (n: number) => Int32Array.from({ length: n }, (_, i) => i);
const rows = (t: Tensor) => {
  const [B, T] = t.shape;
  const d = Array.from(t.dataSync());
  return Array.from({ length: B }, (_, b) => d.slice(b * T, (b + 1) * T));
};

test('sampleBatch: x and y are int32 [B, T], y is x shifted by one, starts drawn as randint(n - T)', () => {
  const w = new TokenWindows(positions(1000), { blockSize: 8 });
  const [x, y] = w.train.sampleBatch(5, new Generator(42));
  assert.equal(x.dtype, 'int32');
  assert.equal(y.dtype, 'int32');
  assert.deepEqual(x.shape, [5, 8]);
  assert.deepEqual(y.shape, [5, 8]);
  const g = new Generator(42);
  const train = w.train.tokens.length; // 900
  rows(x).forEach((row, b) => {
    const start = g.nextInt(train - 8);
    assert.deepEqual(row, Array.from({ length: 8 }, (_, t) => start + t), `row ${b}`);
    assert.deepEqual(rows(y)[b], row.map((v) => v + 1), `row ${b} target`);
  });
});

test('the same seed gives the same batches; another seed, others', () => {
  const tokens = Uint16Array.from({ length: 5000 }, (_, i) => (i * 7919) % 50);
  const w = new TokenWindows(tokens, { blockSize: 16 });
  const draw = (seed: number) => {
    const g = new Generator(seed);
    return [0, 1, 2].flatMap(() => w.train.sampleBatch(4, g).map((t) => Array.from(t.dataSync())));
  };
  assert.deepEqual(draw(3), draw(3));
  assert.notDeepEqual(draw(3), draw(4));
  // values come from the token array, whatever its type
  const [x] = w.train.sampleBatch(2, new Generator(1));
  for (const v of x.dataSync()) assert.ok(v >= 0 && v < 50);
});

test('validation is the last 10% by default, floor(n * (1 - validationSplit)) as nanoGPT and Keras cut', () => {
  const w = new TokenWindows(positions(1001), { blockSize: 4 });
  assert.equal(w.train.tokens.length, 900); // floor(1001 * 0.9) = 900
  assert.equal(w.val.tokens.length, 101);
  assert.equal(w.val.tokens[0], 900);
  const w2 = new TokenWindows(positions(100), { blockSize: 4, validationSplit: 0.25 });
  assert.deepEqual([w2.train.tokens.length, w2.val.tokens[0], w2.val.tokens.length], [75, 75, 25]);
  const none = new TokenWindows(positions(100), { blockSize: 4, validationSplit: 0 });
  assert.equal(none.train.tokens.length, 100);
  assertThrowsLathe(() => none.val.sampleBatch(1, new Generator(0)), /^TokenWindows\.val\.sampleBatch: the val split has 0 tokens; a window of blockSize 4 and its shifted target need at least 5$/);
});

test('no window crosses its split\'s end, and random starts reach both ends of the range', () => {
  // train = tokens 0..89, val = 90..99; blockSize 6: train starts 0..83, val starts 90..93
  const w = new TokenWindows(positions(100), { blockSize: 6 });
  assert.equal(w.train.numStarts, 84);
  assert.equal(w.val.numStarts, 4);
  const g = new Generator(9);
  for (const [split, lo, hi] of [[w.train, 0, 89], [w.val, 90, 99]] as const) {
    const starts = new Set<number>();
    for (let i = 0; i < 50; i++) {
      const [x, y] = split.sampleBatch(32, g);
      for (const v of x.dataSync()) assert.ok(v >= lo && v < hi, `${split.name}: x ${v}`);
      for (const v of y.dataSync()) assert.ok(v > lo && v <= hi, `${split.name}: y ${v}`);
      for (const row of rows(x)) starts.add(row[0]);
    }
    assert.equal(starts.size, split.numStarts, `${split.name}: every start drawn`);
    assert.ok(starts.has(lo) && starts.has(hi - 6), `${split.name}: first and last start`);
  }
});

test('batchAt takes explicit starts and rejects those whose window or target would run past the end', () => {
  const w = new TokenWindows(positions(100), { blockSize: 6 });
  const [x, y] = w.val.batchAt([0, 3]);
  assert.deepEqual(rows(x), [[90, 91, 92, 93, 94, 95], [93, 94, 95, 96, 97, 98]]);
  assert.deepEqual(rows(y), [[91, 92, 93, 94, 95, 96], [94, 95, 96, 97, 98, 99]]);
  assertThrowsLathe(() => w.val.batchAt([0, 4]), /^TokenWindows\.val\.batchAt: starts\[1\] = 4 is out of range: a window of 6 tokens and its target need a start in \[0, 4\)$/);
  assertThrowsLathe(() => w.val.batchAt([-1]), /starts\[0\] = -1 is out of range/);
  assertThrowsLathe(() => w.train.sampleBatch(0), /batchSize must be a positive integer, got 0/);
});

test('sequential windows do not overlap and tile the split; batches keep or drop the remainder', () => {
  const w = new TokenWindows(positions(100), { blockSize: 6, validationSplit: 0.1 });
  // train has 90 tokens: windows at 0, 6, ..., 78 (the last needs token 84 as its target); 84 would need 90
  assert.equal(w.train.length, 14);
  const windows = [...w.train];
  assert.equal(windows.length, 14);
  windows.forEach(({ x, y }, i) => {
    assert.deepEqual(Array.from(x), Array.from({ length: 6 }, (_, t) => 6 * i + t));
    assert.deepEqual(Array.from(y), Array.from({ length: 6 }, (_, t) => 6 * i + t + 1));
    assert.equal(x.buffer, w.tokens.buffer, 'a view, not a copy');
  });
  assert.deepEqual(Array.from(w.train.window(13).y).at(-1), 84);
  assertThrowsLathe(() => w.train.window(14), /^TokenWindows\.train\.window: index 14 is out of range \(14 windows\)$/);
  const sizes = [...w.train.batches(4)].map(([x, y]) => [x.shape[0], y.shape[0]]);
  assert.deepEqual(sizes, [[4, 4], [4, 4], [4, 4], [2, 2]]);
  assert.deepEqual([...w.train.batches(4, { dropRemainder: true })].length, 3);
  const firsts = [...w.train.batches(4)].flatMap(([x]) => rows(x).map((r) => r[0]));
  assert.deepEqual(firsts, Array.from({ length: 14 }, (_, i) => 6 * i));
  // exactly T + 1 tokens make one window
  assert.equal(new TokenWindows(positions(7), { blockSize: 6, validationSplit: 0 }).train.length, 1);
  assert.equal(new TokenWindows(positions(6), { blockSize: 6, validationSplit: 0 }).train.length, 0);
  assertThrowsLathe(() => w.val.batches(0), /batchSize must be a positive integer/);
});

test('fromText and fromFile encode once, as uint16 when the vocabulary fits', () => {
  const text = 'First Citizen:\nBefore we proceed any further, hear me speak.\n'.repeat(20);
  const char = CharTokenizer.fromText(text);
  const w = TokenWindows.fromText(text, char, { blockSize: 8 });
  assert.ok(w.tokens instanceof Uint16Array);
  assert.deepEqual(Array.from(w.tokens), Array.from(char.encode(text)));
  const [x, y] = w.train.sampleBatch(3, new Generator(0));
  assert.equal(char.decode(x.dataSync() as Int32Array).length, 24);
  const xs = rows(x);
  rows(y).forEach((row, b) => assert.deepEqual(row.slice(0, -1), xs[b].slice(1)));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-windows-'));
  try {
    const file = path.join(dir, 'input.txt');
    fs.writeFileSync(file, text);
    const bpe = BPETokenizer.train(text, 300);
    const fw = TokenWindows.fromFile(file, bpe, { blockSize: 4 });
    assert.ok(fw.tokens instanceof Uint16Array);
    assert.deepEqual(Array.from(fw.tokens), Array.from(bpe.encode(text)));
    assert.equal(bpe.decode(fw.tokens), text);
    assertThrowsLathe(() => TokenWindows.fromFile(path.join(dir, 'none.txt'), bpe, { blockSize: 4 }), /^TokenWindows\.fromFile: .*none\.txt: ENOENT/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  // ids 0-65535 fit uint16; a vocabulary of 65537 keeps int32
  const fake = (vocabSize: number): TextTokenizer => ({ vocabSize, encode: () => Int32Array.of(1, vocabSize - 1, 3) });
  const edge = TokenWindows.fromText('', fake(65536), { blockSize: 1, validationSplit: 0 });
  assert.ok(edge.tokens instanceof Uint16Array);
  assert.deepEqual(Array.from(edge.train.batchAt([1])[0].dataSync()), [65535]);
  const big = TokenWindows.fromText('', fake(65537), { blockSize: 1, validationSplit: 0 });
  assert.ok(big.tokens instanceof Int32Array);
  assert.deepEqual(Array.from(big.train.batchAt([1])[0].dataSync()), [65536]);
});

test('options are checked', () => {
  assertThrowsLathe(() => new TokenWindows(positions(10), { blockSize: 0 }), /^TokenWindows: blockSize must be a positive integer, got 0$/);
  assertThrowsLathe(() => new TokenWindows(positions(10), { blockSize: 2, validationSplit: 1 }), /validationSplit must be in \[0, 1\), got 1/);
  assertThrowsLathe(() => new TokenWindows(positions(10), { blockSize: 2, validationSplit: -0.1 }), /validationSplit must be in \[0, 1\)/);
  assertThrowsLathe(() => new TokenWindows([1, 2, 3] as unknown as Int32Array, { blockSize: 2 }), /tokens must be an Int32Array or a Uint16Array/);
});
