// `lathe generate` as a user runs it (bin/lathe.js, built into dist/): a small GPT trained here on
// a repeating alphabet, saved with its char tokenizer, then sampled greedily, with a seed, with and
// without the KV cache, with a stop sequence, and with bad options.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as lt from '../../src/index.js';
import { CharTokenizer } from '../../src/data/text/index.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const bin = `${root}bin/lathe.js`;
let dir: string;
let modelDir: string;

function lathe(...args: string[]) {
  return spawnSync(process.execPath, [bin, 'generate', modelDir, ...args], { encoding: 'utf8' });
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-generate-'));
  modelDir = path.join(dir, 'model');
  const text = 'abcdef'.repeat(4);
  const tok = CharTokenizer.fromText(text);
  const all = Array.from(tok.encode(text));
  const rows = Array.from({ length: 6 }, (_, s) => all.slice(s, s + 9));
  const m = lt.gpt({ vocabSize: tok.vocabSize, blockSize: 8, nLayer: 1, nHead: 2, nEmbd: 16, seed: 2 });
  m.compile({ optimizer: new lt.AdamW({ lr: 3e-2, weightDecay: 0 }), loss: { type: 'sparseCategoricalCrossentropy', fromLogits: true } });
  const ids = (a: number[][]) => lt.tensor(a, { dtype: 'int32' });
  await m.fit(ids(rows.map((r) => r.slice(0, 8))), ids(rows.map((r) => r.slice(1))), { epochs: 60, batchSize: 6, verbose: 0, seed: 0 });
  lt.saveGPT(m, modelDir, { tokenizer: tok });
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('lathe generate: greedy continuation of what the model learned, the prompt first', () => {
  const r = lathe('--prompt', 'cd', '--max-tokens', '10', '--temperature', '0');
  assert.equal(r.stderr, '');
  assert.equal(r.status, 0);
  assert.equal(r.stdout, 'cdefabcdefab\n');
});

test('lathe generate: a seed repeats a sampled run, and --no-cache gives the same text', () => {
  const args = ['--prompt', 'a', '--max-tokens', '40', '--temperature', '2', '--seed', '5'];
  const first = lathe(...args);
  assert.equal(first.status, 0, first.stderr);
  assert.equal(first.stdout.length, 1 + 40 + 1);
  assert.equal(lathe(...args).stdout, first.stdout);
  assert.equal(lathe(...args, '--no-cache').stdout, first.stdout);
});

test('lathe generate --json: one line with the text, the count and why it ended; --stop ends before the stop text', () => {
  const r = lathe('--prompt', 'ab', '--max-tokens', '20', '--temperature', '0', '--stop', 'fa', '--json');
  assert.equal(r.status, 0, r.stderr);
  const line = JSON.parse(r.stdout);
  assert.equal(line.text, 'cde');
  assert.equal(line.finish_reason, 'stop');
  assert.equal(line.tokens, 3); // the tokens shown: "fa" was generated but is not part of the text
  const plain = lathe('--prompt', 'ab', '--max-tokens', '4', '--temperature', '0', '--json');
  assert.equal(JSON.parse(plain.stdout).finish_reason, 'length');
});

test('lathe generate: clear errors for a missing folder, text outside the vocabulary and bad options', () => {
  const missing = spawnSync(process.execPath, [bin, 'generate', path.join(dir, 'nope'), '--prompt', 'a'], { encoding: 'utf8' });
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /lathe: load: .*model\.json not found/);
  const unknown = lathe('--prompt', 'xyz');
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /lathe: generate: --prompt: .*character "x" \(U\+0078\) at index 0 is not in the vocabulary/);
  assert.match(lathe('--prompt', 'a', '--top-p', '2').stderr, /lathe: generate: topP must be a number in \(0, 1\], got 2/);
  assert.match(lathe('--prompt', 'a', '--max-tokens', '-3').stderr, /--max-tokens must be a non-negative integer, got -3/);
});
