// Byte-level BPE on tinyshakespeare (1.1 MB): training time to a vocabulary of 512 (median of
// rounds), encode throughput with a cold chunk cache (a fresh tokenizer) and a warm one, and the
// compression reached. Lathe alone: no peer tokenizer is installed on the development machine.
//   node bench/bpe.mjs [--data FILE] [--vocab 512] [--rounds 3]
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BPETokenizer } from '../dist/src/data/text/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const file = args.data ?? path.join(process.env.LATHE_DATA ?? path.join(root, '../shared/data'), 'tinyshakespeare', 'input.txt');
const vocab = Number(args.vocab ?? 512);
const rounds = Number(args.rounds ?? 3);
const text = fs.readFileSync(file, 'utf8');
const bytes = Buffer.byteLength(text, 'utf8');
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const time = (fn) => {
  const t0 = performance.now();
  const r = fn();
  return [(performance.now() - t0) / 1000, r];
};

const trainS = [];
const coldS = [];
const warmS = [];
let tok;
let ids;
for (let r = 0; r < rounds; r++) {
  [trainS[r], tok] = time(() => BPETokenizer.train(text, vocab));
  const fresh = BPETokenizer.fromJSON(tok.toJSON());
  [coldS[r], ids] = time(() => fresh.encode(text));
  [warmS[r]] = time(() => fresh.encode(text));
}
const [decodeS, back] = time(() => tok.decode(ids));
if (back !== text) throw new Error('bpe bench: decode(encode(text)) differs from the text');
console.log(JSON.stringify({
  bench: 'bpe',
  file: path.basename(path.dirname(file)) + '/' + path.basename(file),
  mb: +(bytes / 1e6).toFixed(3),
  vocab_size: tok.vocabSize,
  train_s: +median(trainS).toFixed(3),
  encode_cold_mb_s: +(bytes / 1e6 / median(coldS)).toFixed(1),
  encode_warm_mb_s: +(bytes / 1e6 / median(warmS)).toFixed(1),
  decode_mb_s: +(bytes / 1e6 / decodeS).toFixed(1),
  tokens: ids.length,
  tokens_per_char: +(ids.length / text.length).toFixed(4),
  rounds,
}));
