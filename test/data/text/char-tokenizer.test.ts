// The character-level tokenizer: vocabulary in code point order (astral characters are one
// token), exact round trips, errors that name the character and its index, the unk token, and
// the JSON form and its checks. With LATHE_DATA, nanoGPT's shakespeare_char figures.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { CharTokenizer, TokenWindows } from '../../../src/data/text/index.js';
import { assertThrowsLathe } from '../../helpers.js';

test('the vocabulary is the distinct code points, sorted by code point like Python\'s sorted(set(text))', () => {
  // U+FF21 (one UTF-16 unit) sorts before U+1F600 (a surrogate pair starting 0xD83D) by code
  // point, after it by UTF-16 units, which is JavaScript's default sort
  const tok = CharTokenizer.fromText('b😀a\uFF21b😀\n');
  assert.deepEqual(tok.chars, ['\n', 'a', 'b', '\uFF21', '😀']);
  assert.equal(tok.vocabSize, 5);
  assert.deepEqual(Array.from(tok.encode('😀ab\n\uFF21')), [4, 1, 2, 0, 3]);
});

test('encode and decode round-trip text over every plane, combining marks and lone surrogates included', () => {
  const text = 'Héllo, wörld! e\u0301 한국어 中文 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 👩‍👩‍👧 \u{10FFFD} \uFEFF\0 x\uD800y\uDC00';
  const tok = CharTokenizer.fromText(text);
  const ids = tok.encode(text);
  assert.ok(ids instanceof Int32Array);
  assert.equal(ids.length, [...text].length, 'one id per code point');
  assert.equal(tok.decode(ids), text);
  assert.equal(tok.decode(Array.from(ids)), text, 'plain arrays decode too');
  assert.equal(tok.encode('').length, 0);
  assert.equal(tok.decode([]), '');
});

test('an unknown character is an error naming it and its string index', () => {
  const tok = CharTokenizer.fromText('abc');
  assertThrowsLathe(() => tok.encode('abxc'), /^CharTokenizer\.encode: character "x" \(U\+0078\) at index 2 is not in the vocabulary \(3 characters\)/);
  // the index counts UTF-16 units, as text.slice does: the emoji before takes two
  assertThrowsLathe(() => tok.encode('a😀b🙂'), /character "😀" \(U\+1F600\) at index 1 /);
  assertThrowsLathe(() => CharTokenizer.fromText('ab😀').encode('ab😀\u0007'), /character U\+0007 at index 4 /);
});

test('with an unk token, unknown characters get its id and decode to its text', () => {
  const tok = CharTokenizer.fromText('abc', { unk: '<unk>' });
  assert.equal(tok.vocabSize, 4);
  assert.equal(tok.unkId, 3);
  assert.deepEqual(Array.from(tok.encode('a😀xb')), [0, 3, 3, 1]);
  assert.equal(tok.decode(tok.encode('a😀xb')), 'a<unk><unk>b');
});

test('decode rejects ids outside the vocabulary, naming the id and its position', () => {
  const tok = CharTokenizer.fromText('abc');
  assertThrowsLathe(() => tok.decode([0, 1, 3]), /^CharTokenizer\.decode: id 3 at position 2 is not in the vocabulary \(ids 0-2\)$/);
  assertThrowsLathe(() => tok.decode([-1]), /id -1 at position 0/);
  assertThrowsLathe(() => tok.decode([1.5]), /id 1\.5 at position 0/);
});

test('toJSON/fromJSON and save/load give the same tokenizer', () => {
  const text = 'to be, or not to be 😀 \uD800';
  const tok = CharTokenizer.fromText(text, { unk: '?' });
  const json = JSON.parse(JSON.stringify(tok.toJSON()));
  assert.deepEqual(json, { format: 'lathe-char', version: 1, chars: tok.chars, unk: '?' });
  const back = CharTokenizer.fromJSON(json);
  assert.deepEqual(back.encode(text + 'Z'), tok.encode(text + 'Z'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-char-'));
  try {
    const file = path.join(dir, 'sub', 'tok.json');
    tok.save(file);
    assert.deepEqual(fs.readdirSync(path.dirname(file)), ['tok.json'], 'no temporary file left');
    const loaded = CharTokenizer.load(file);
    assert.deepEqual(loaded.chars, tok.chars);
    assert.equal(loaded.decode(loaded.encode(text)), text);
    fs.writeFileSync(file, '{"format":"lathe-char",');
    assertThrowsLathe(() => CharTokenizer.load(file), /^CharTokenizer\.load: .*tok\.json: not valid JSON/);
    assertThrowsLathe(() => CharTokenizer.load(path.join(dir, 'none.json')), /none\.json: ENOENT/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('fromJSON rejects bad input, naming the entry', () => {
  const ok = { format: 'lathe-char', version: 1, chars: ['a', 'b'], unk: null };
  assertThrowsLathe(() => CharTokenizer.fromJSON([]), /expected a JSON object, got an array/);
  assertThrowsLathe(() => CharTokenizer.fromJSON({ ...ok, format: 'bpe' }), /format must be "lathe-char", got "bpe"/);
  assertThrowsLathe(() => CharTokenizer.fromJSON({ ...ok, version: 2 }), /version 2 is not supported/);
  assertThrowsLathe(() => CharTokenizer.fromJSON({ ...ok, chars: 'ab' }), /chars must be an array/);
  assertThrowsLathe(() => CharTokenizer.fromJSON({ ...ok, chars: ['a', 'bc'] }), /^CharTokenizer\.fromJSON: chars\[1\] must be exactly one character \(code point\), got "bc"$/);
  assertThrowsLathe(() => CharTokenizer.fromJSON({ ...ok, chars: ['a', 7] }), /chars\[1\] must be exactly one character/);
  assertThrowsLathe(() => CharTokenizer.fromJSON({ ...ok, chars: ['b', 'a'] }), /chars\[1\] "a" \(U\+0061\) is not after chars\[0\] "b" \(U\+0062\): chars must be distinct and sorted/);
  assertThrowsLathe(() => CharTokenizer.fromJSON({ ...ok, chars: ['a', 'a'] }), /chars\[1\] "a" \(U\+0061\) is not after chars\[0\]/);
  assertThrowsLathe(() => CharTokenizer.fromJSON({ ...ok, unk: '' }), /unk must be a non-empty string/);
});

const shakespeare = process.env.LATHE_DATA ? path.join(process.env.LATHE_DATA, 'tinyshakespeare', 'input.txt') : '';
test('tinyshakespeare: nanoGPT shakespeare_char\'s 65 characters and 1,003,854 / 111,540 train/val tokens (LATHE_DATA)', { skip: shakespeare && fs.existsSync(shakespeare) ? false : 'set LATHE_DATA to a folder with tinyshakespeare/input.txt' }, () => {
  const text = fs.readFileSync(shakespeare, 'utf8');
  const tok = CharTokenizer.fromText(text);
  assert.equal(tok.vocabSize, 65);
  assert.equal(tok.chars.join(''), "\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
  const windows = TokenWindows.fromText(text, tok, { blockSize: 256 });
  assert.ok(windows.tokens instanceof Uint16Array);
  assert.equal(windows.train.tokens.length, 1003854);
  assert.equal(windows.val.tokens.length, 111540);
  assert.equal(tok.decode(windows.tokens), text);
});
