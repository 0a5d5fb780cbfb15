// Language models for the OpenAI route tests, in a temp model repository: "tiny" is a GPT
// trained in about a second to continue the cycle abcdef (context 32), "wide" an untrained one
// with a 512-token context whose long generations keep a slot busy (limits in config.json), and
// "mlp" a tensor model the OpenAI routes refuse. Both GPTs share a character vocabulary that
// holds the chat template's letters.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as lt from '../../src/index.js';
import { CharTokenizer } from '../../src/data/text/index.js';
import { Dense } from '../../src/nn/layers/index.js';

export const VOCAB_TEXT = 'abcdef :\nusertyminopl';

export interface LanguageModelFixture {
  root: string;
  tokenizer: CharTokenizer;
  tiny: lt.GPT;
}

export async function trainTinyGPT(tokenizer: CharTokenizer): Promise<lt.GPT> {
  const blockSize = 32;
  const cycle = Array.from(tokenizer.encode('abcdef'.repeat(8)));
  const rows = Array.from({ length: 6 }, (_, s) => cycle.slice(s, s + blockSize + 1));
  const m = lt.gpt({ vocabSize: tokenizer.vocabSize, blockSize, nLayer: 1, nHead: 2, nEmbd: 16, seed: 2 });
  m.compile({ optimizer: new lt.AdamW({ lr: 3e-2, weightDecay: 0 }), loss: { type: 'sparseCategoricalCrossentropy', fromLogits: true } });
  const ids = (a: number[][]) => lt.tensor(a, { dtype: 'int32' });
  await m.fit(ids(rows.map((r) => r.slice(0, blockSize))), ids(rows.map((r) => r.slice(1))), { epochs: 60, batchSize: 6, verbose: 0, seed: 0 });
  m.eval();
  return m;
}

export async function buildLanguageModelRepository(): Promise<LanguageModelFixture> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-openai-'));
  const tokenizer = CharTokenizer.fromText(VOCAB_TEXT);
  const tiny = await trainTinyGPT(tokenizer);
  lt.saveGPT(tiny, path.join(root, 'tiny', '1'), { tokenizer });
  fs.writeFileSync(path.join(root, 'tiny', 'config.json'), JSON.stringify({ generation: { maxSequences: 4, maxQueueSize: 16 } }));
  const wide = lt.gpt({ vocabSize: tokenizer.vocabSize, blockSize: 512, nLayer: 2, nHead: 4, nEmbd: 64, seed: 3 });
  lt.saveGPT(wide, path.join(root, 'wide', '1'), { tokenizer });
  fs.writeFileSync(path.join(root, 'wide', 'config.json'), JSON.stringify({ generation: { maxSequences: 1, maxQueueSize: 1 } }));
  lt.save(new lt.Sequential([new Dense(2, { inputShape: [3] })]), path.join(root, 'mlp', '1'));
  return { root, tokenizer, tiny };
}
