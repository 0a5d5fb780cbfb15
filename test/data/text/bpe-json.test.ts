// The BPE tokenizer's saved form: toJSON/fromJSON and save/load give identical encodings; the
// file is plain JSON, written atomically; every malformed entry is rejected by name.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { BPETokenizer, GPT2_SPLIT_PATTERN, GPT4_SPLIT_PATTERN } from '../../../src/data/text/index.js';
import { assertThrowsLathe } from '../../helpers.js';

const corpus = 'The quick brown fox jumps over the lazy dog. Thé quick 日本語 fox! 😀😀 12345\n'.repeat(30) + 'aaabdaaabac '.repeat(20);
const sample = 'the quickest dog 日本 😀 aaab <|endoftext|> 9876543210 never seen: Ωμέγα\n';
let dir: string;
before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-bpe-'))));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('toJSON is plain data: format, pattern, merges in order, special ids', () => {
  const tok = BPETokenizer.train('aaabdaaabac', 259, { specialTokens: ['<|endoftext|>'] });
  assert.deepEqual(JSON.parse(JSON.stringify(tok)), {
    format: 'lathe-bpe',
    version: 1,
    pattern: GPT4_SPLIT_PATTERN,
    merges: [[97, 97], [97, 98], [256, 257]],
    specialTokens: { '<|endoftext|>': 259 },
  });
});

test('fromJSON(toJSON()) and load(save()) encode and decode identically', () => {
  for (const options of [{}, { pattern: GPT2_SPLIT_PATTERN, specialTokens: ['<|endoftext|>', '<|pad|>'] }]) {
    const tok = BPETokenizer.train(corpus, 256 + 120, options);
    const expected = Array.from(tok.encode(sample));
    const fromJson = BPETokenizer.fromJSON(JSON.parse(JSON.stringify(tok.toJSON())));
    assert.deepEqual(Array.from(fromJson.encode(sample)), expected);
    assert.deepEqual(fromJson.toJSON(), tok.toJSON());
    const file = path.join(dir, 'nested', 'tokenizer.json');
    tok.save(file);
    assert.deepEqual(fs.readdirSync(path.dirname(file)), ['tokenizer.json'], 'no temporary file left beside it');
    const loaded = BPETokenizer.load(file);
    assert.deepEqual(Array.from(loaded.encode(sample)), expected);
    assert.equal(loaded.decode(expected), sample);
    assert.equal(loaded.vocabSize, tok.vocabSize);
    // the file is ordinary JSON, one merge a line
    assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), JSON.parse(JSON.stringify(tok)));
    assert.equal(fs.readFileSync(file, 'utf8').split('\n').length, tok.merges.length + 3);
  }
});

test('saving over a file replaces it whole', () => {
  const file = path.join(dir, 'over.json');
  BPETokenizer.train(corpus, 300).save(file);
  const small = BPETokenizer.train(corpus, 260);
  small.save(file);
  assert.equal(BPETokenizer.load(file).vocabSize, 260);
});

const good = () => ({ format: 'lathe-bpe', version: 1, pattern: GPT4_SPLIT_PATTERN, merges: [[97, 97], [97, 98], [256, 257]] as unknown[], specialTokens: {} as Record<string, unknown> });

test('fromJSON rejects bad merges, naming the entry', () => {
  const withMerges = (...merges: unknown[]) => ({ ...good(), merges });
  const w = '^BPETokenizer\\.fromJSON: ';
  assertThrowsLathe(() => BPETokenizer.fromJSON(withMerges([97, 97], [97, 257])), new RegExp(`${w}merges\\[1\\] = \\[97,257\\] uses id 257, which no earlier merge makes \\(merge 1 makes id 257`));
  assert.equal(BPETokenizer.fromJSON(withMerges([97, 97], [97, 256])).decode([257]), 'aaa', 'an earlier merge\'s id is fine');
  assertThrowsLathe(() => BPETokenizer.fromJSON(withMerges([97, 97], [300, 97])), /merges\[1\] = \[300,97\] uses id 300/);
  assertThrowsLathe(() => BPETokenizer.fromJSON(withMerges([256, 97])), /merges\[0\] = \[256,97\] uses id 256, which no earlier merge makes \(merge 0 makes id 256/);
  assertThrowsLathe(() => BPETokenizer.fromJSON(withMerges([97, 97], [98, 98], [97, 97])), /merges\[2\] = \[97,97\] repeats merges\[0\]/);
  assertThrowsLathe(() => BPETokenizer.fromJSON(withMerges([97, 97], [97])), /merges\[1\] must be a pair of non-negative integer ids, got \[97\]/);
  assertThrowsLathe(() => BPETokenizer.fromJSON(withMerges([97, -1])), /merges\[0\] must be a pair of non-negative integer ids, got \[97,-1\]/);
  assertThrowsLathe(() => BPETokenizer.fromJSON(withMerges([97, 1.5])), /merges\[0\] must be a pair/);
  assertThrowsLathe(() => BPETokenizer.fromJSON(withMerges('ab')), /merges\[0\] must be a pair/);
  assertThrowsLathe(() => BPETokenizer.fromJSON({ ...good(), merges: { 0: [97, 97] } }), /merges must be an array of \[a, b\] pairs/);
});

test('fromJSON rejects a bad format, version, pattern or special token, naming it', () => {
  assertThrowsLathe(() => BPETokenizer.fromJSON(null), /^BPETokenizer\.fromJSON: expected a JSON object, got null$/);
  assertThrowsLathe(() => BPETokenizer.fromJSON({ ...good(), format: 'lathe-char' }), /format must be "lathe-bpe", got "lathe-char"/);
  assertThrowsLathe(() => BPETokenizer.fromJSON({ ...good(), version: 2 }), /version 2 is not supported \(this Lathe reads version 1\)/);
  assertThrowsLathe(() => BPETokenizer.fromJSON({ ...good(), pattern: '(' }), /pattern is not a valid regex with flags "gu"/);
  assertThrowsLathe(() => BPETokenizer.fromJSON({ ...good(), pattern: 42 }), /pattern must be a non-empty regex source string, got 42/);
  const special = (specialTokens: unknown) => BPETokenizer.fromJSON({ ...good(), specialTokens });
  assert.equal(special({ '<|b|>': 260, '<|a|>': 259 }).decode([259, 260]), '<|a|><|b|>', 'special ids in any order');
  assertThrowsLathe(() => special({ '<|endoftext|>': 300 }), /specialTokens\["<\|endoftext\|>"\] = 300: special ids must be the 1 ids after the merges, 259-259/);
  assertThrowsLathe(() => special({ '<|endoftext|>': 260 }), /specialTokens\["<\|endoftext\|>"\] = 260: special ids must be/);
  assertThrowsLathe(() => special({ '<|endoftext|>': 258 }), /specialTokens\["<\|endoftext\|>"\] = 258: special ids must be/);
  assertThrowsLathe(() => special({ '<|a|>': 259, '<|b|>': 259 }), /specialTokens\["<\|b\|>"\] = 259: id already taken by "<\|a\|>"/);
  assertThrowsLathe(() => special({ '<|a|>': '259' }), /specialTokens\["<\|a\|>"\] = "259"/);
  assertThrowsLathe(() => special({ '': 259 }), /specialTokens\[0\] must be a non-empty string/);
  assertThrowsLathe(() => special(['<|a|>']), /specialTokens must be an object of token -> id/);
});

test('load names the file: missing, not JSON, or a bad entry', () => {
  assertThrowsLathe(() => BPETokenizer.load(path.join(dir, 'missing.json')), /^BPETokenizer\.load: .*missing\.json: ENOENT/);
  const file = path.join(dir, 'bad.json');
  fs.writeFileSync(file, '{"format": "lathe-bpe", "merges": [');
  assertThrowsLathe(() => BPETokenizer.load(file), /^BPETokenizer\.load: .*bad\.json: not valid JSON/);
  fs.writeFileSync(file, JSON.stringify({ ...good(), merges: [[97, 97], [97, 999]] }));
  assertThrowsLathe(() => BPETokenizer.load(file), /^BPETokenizer\.load: .*bad\.json: merges\[1\] = \[97,999\] uses id 999/);
});

test('train, encode and decode reject bad arguments', () => {
  assertThrowsLathe(() => BPETokenizer.train('abc', 255), /^BPETokenizer\.train: vocabSize must be an integer from 256 \(the bytes\) to 2097152, got 255$/);
  assertThrowsLathe(() => BPETokenizer.train('abc', 300.5), /vocabSize must be an integer/);
  assertThrowsLathe(() => BPETokenizer.train('abc', 300, { specialTokens: ['<a>', '<a>'] }), /specialTokens\[1\] "<a>" is listed twice/);
  const tok = BPETokenizer.train('aaabdaaabac', 300);
  assertThrowsLathe(() => tok.decode([97, 263]), /^BPETokenizer\.decode: id 263 at position 1 is not in the vocabulary \(ids 0-262\)$/);
  assertThrowsLathe(() => tok.decode([-1]), /id -1 at position 0/);
  assertThrowsLathe(() => tok.encode('a', { allowedSpecial: 'some' as 'all' }), /allowedSpecial must be "all" or "none", got "some"/);
});
