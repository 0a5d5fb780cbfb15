// The language-model engine under the OpenAI routes, without HTTP: the batched decoding step
// against the model's own forward pass, the engine's tokens against generate()'s, cancellation
// and the queue bound, and the streaming text (stop strings, cut UTF-8 characters).
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as lt from '../../src/index.js';
import { BPETokenizer, CharTokenizer } from '../../src/data/text/index.js';
import { decodeStep, newSequenceCache, prefill } from '../../src/serve/llm/batched-decode.js';
import { DecodeEngine, EngineBusyError, type EndReason, type SequenceRequest } from '../../src/serve/llm/engine.js';
import { TextOutput } from '../../src/serve/llm/text-output.js';
import { parseModelConfig } from '../../src/serve/model-config.js';
import { trainTinyGPT, VOCAB_TEXT } from './openai-fixture.js';

let tokenizer: CharTokenizer;
let tiny: lt.GPT;

before(async () => {
  tokenizer = CharTokenizer.fromText(VOCAB_TEXT);
  tiny = await trainTinyGPT(tokenizer);
});

/** Runs one request on an engine; resolves with its tokens and why it ended. */
function run(engine: DecodeEngine, request: SequenceRequest): Promise<{ tokens: number[]; reason: EndReason }> {
  return new Promise((resolve) => {
    const tokens: number[] = [];
    engine.submit(request, { token: (t) => tokens.push(t), end: (reason) => resolve({ tokens, reason }) });
  });
}

const greedy = { temperature: 0, topK: 0, topP: 1 };

test('a batched decoding step over sequences of different lengths gives each the logits of a full forward pass', () => {
  const m = lt.gpt({ vocabSize: 11, blockSize: 16, nLayer: 2, nHead: 2, nEmbd: 8, seed: 4 });
  m.eval();
  const seqs = [[1, 2, 3], [4], [5, 6, 7, 8, 9, 10, 0]];
  const next = [7, 3, 2];
  const caches = seqs.map(() => newSequenceCache(m));
  const full = (ids: number[]) => {
    const out = m.forward(lt.tensor([ids], { dtype: 'int32' })).dataSync();
    return Array.from(out.slice((ids.length - 1) * 11, ids.length * 11));
  };
  seqs.forEach((s, i) => {
    const row = prefill(m, Int32Array.from(s), caches[i]);
    assert.equal(caches[i].length, s.length);
    Array.from(row).forEach((v, j) => assert.ok(Math.abs(v - full(s)[j]) < 1e-5, `prefill ${i}[${j}]`));
  });
  for (let step = 0; step < 2; step++) {
    const logits = decodeStep(m, seqs.map((_, i) => ({ token: next[i], cache: caches[i] })));
    seqs.forEach((s, i) => {
      s.push(next[i]);
      const want = full(s);
      for (let j = 0; j < 11; j++) assert.ok(Math.abs(logits[i * 11 + j] - want[j]) < 1e-4, `step ${step} seq ${i} logit ${j}: ${logits[i * 11 + j]} vs ${want[j]}`);
      assert.equal(caches[i].length, s.length);
    });
  }
});

test('the engine gives generate()\'s tokens, greedy and sampled with a seed, also when sequences share steps', async () => {
  const engine = new DecodeEngine(tiny, { maxSequences: 4, maxQueueSize: 8 });
  const prompts = ['ab', 'cdef', 'e', 'fabcdefab'].map((p) => tokenizer.encode(p));
  const sampled = { temperature: 1, topK: 0, topP: 0.9 };
  const results = await Promise.all(prompts.flatMap((prompt, i) => [
    run(engine, { prompt, maxTokens: 12, sampling: greedy }),
    run(engine, { prompt, maxTokens: 12, sampling: sampled, seed: 10 + i }),
  ]));
  prompts.forEach((prompt, i) => {
    assert.deepEqual(results[2 * i].tokens, [...lt.generate(tiny, prompt, { maxTokens: 12, temperature: 0 })]);
    assert.deepEqual(results[2 * i + 1].tokens, [...lt.generate(tiny, prompt, { maxTokens: 12, temperature: 1, topP: 0.9, seed: 10 + i })]);
    assert.equal(results[2 * i].reason, 'length');
  });
  assert.equal(tokenizer.decode(results[0].tokens), 'cdefabcdefab');
  const s = engine.stats();
  assert.equal(s.active + s.queued, 0);
  assert.equal(s.generatedTokens, 8 * 12);
  assert.ok(s.steps < 8 * 11, `the 8 sequences shared steps: ${s.steps} steps for ${8 * 11} decoded tokens`);
});

test('a cancelled sequence leaves its slot at once and gets no more tokens; the queue refuses past its bound', async () => {
  // Nothing is admitted before the engine's first tick: A and B fill the queue of 2, C is refused.
  const engine = new DecodeEngine(tiny, { maxSequences: 1, maxQueueSize: 2 });
  const prompt = tokenizer.encode('ab');
  let aTokens = 0;
  let statsAtCancel: ReturnType<DecodeEngine['stats']> | undefined;
  const aEnded = new Promise<EndReason>((resolve) => {
    const a = engine.submit({ prompt, maxTokens: 20, sampling: greedy }, {
      token: () => {
        if (++aTokens === 3) {
          a.cancel();
          statsAtCancel = engine.stats();
        }
      },
      end: resolve,
    });
  });
  const b = run(engine, { prompt, maxTokens: 5, sampling: greedy });
  assert.throws(() => engine.submit({ prompt, maxTokens: 5, sampling: greedy }, { token() {}, end() {} }), EngineBusyError);
  assert.equal(await aEnded, 'cancelled');
  assert.deepEqual([statsAtCancel?.active, statsAtCancel?.queued], [0, 1]);
  assert.equal((await b).tokens.length, 5);
  assert.equal(aTokens, 3);
  assert.equal(engine.stats().cancelled, 1);
  assert.equal(engine.stats().rejected, 1);
  await engine.close();
  assert.throws(() => engine.submit({ prompt, maxTokens: 5, sampling: greedy }, { token() {}, end() {} }), /unloading/);
});

test('streamed text: a stop string split across tokens ends the text before it; text that may begin one is held back', () => {
  const out = new TextOutput(tokenizer, ['fab', 'cx']);
  const pieces = [...'cdefabcd'].map((c) => out.push(tokenizer.encode(c)[0]));
  // "c" may begin "cx": held until "d" shows it does not; "f", "fa" may begin "fab".
  assert.deepEqual(pieces, ['', 'cd', 'e', '', '', '', '', '']);
  assert.equal(out.stopped, true);
  assert.equal(out.finish(), '');
  const open = new TextOutput(tokenizer, ['fab']);
  assert.equal([...'cdef'].map((c) => open.push(tokenizer.encode(c)[0])).join('') + open.finish(), 'cdef');
});

test('streamed text from byte-level BPE: a character cut between tokens comes out whole', () => {
  const bpe = BPETokenizer.train('hello world', 256); // no merges: one token per byte
  const out = new TextOutput(bpe, []);
  const ids = Array.from(bpe.encode('é!'));
  assert.equal(ids.length, 3);
  assert.deepEqual(ids.map((id) => out.push(id)), ['', 'é', '!']);
  const cut = new TextOutput(bpe, []);
  cut.push(ids[0]);
  assert.equal(cut.finish(), '\uFFFD');
});

test('config.json "generation": the engine\'s limits, checked field by field', () => {
  assert.deepEqual(parseModelConfig({ generation: { maxSequences: 8 } }, 'c.json').generation, { maxSequences: 8, maxQueueSize: 128 });
  assert.throws(() => parseModelConfig({ generation: { maxSequences: 0 } }, 'c.json'), /c\.json: generation\.maxSequences: must be an integer from 1 to 65536, got 0/);
  assert.throws(() => parseModelConfig({ generation: { maxSeqs: 4 } }, 'c.json'), /unknown field "maxSeqs" \(known: maxSequences, maxQueueSize\)/);
});
