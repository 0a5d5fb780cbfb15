// `lathe generate <model_dir> --prompt "..."`: text from a saved GPT, streamed to stdout token by
// token as it is sampled (the prompt first, as llama.cpp's main does). The KV cache is on unless
// --no-cache; --seed makes a run repeatable.
import { fail } from '../errors.js';
import { generate } from '../models/gpt/generate.js';
import { type GPTTokenizer, loadGPT } from '../models/gpt/saved.js';
import { parseArgs } from './args.js';

const USAGE = 'Usage: lathe generate <model_dir> --prompt "..." [--max-tokens N] [--temperature T] [--top-k K] [--top-p P] [--seed S] [--stop TEXT] [--no-cache] [--json]';

export async function generateCommand(argv: string[]): Promise<number> {
  const { flags, positional } = parseArgs('generate', argv, {
    prompt: 'string',
    'max-tokens': 'number',
    temperature: 'number',
    'top-k': 'int',
    'top-p': 'number',
    seed: 'number',
    stop: 'string',
    'no-cache': 'flag',
    json: 'flag',
  });
  if (positional.length !== 1) fail('generate', `expected one model folder. ${USAGE}`);
  const maxTokens = (flags['max-tokens'] as number | undefined) ?? 256;
  if (!Number.isInteger(maxTokens) || maxTokens < 0) fail('generate', `--max-tokens must be a non-negative integer, got ${maxTokens}`);
  const { model, tokenizer } = loadGPT(positional[0]);
  if (!tokenizer) fail('generate', `${positional[0]} holds no tokenizer.json: the model's token ids cannot be turned into text`);
  // nanoGPT's sample.py starts from "\n" when given nothing
  const prompt = (flags.prompt as string | undefined) ?? '\n';
  if (prompt === '') fail('generate', '--prompt must not be empty');
  const promptIds = encode(tokenizer, prompt, '--prompt');
  const stop = typeof flags.stop === 'string' ? [Array.from(encode(tokenizer, flags.stop, '--stop'))] : [];
  const started = performance.now();
  const tokens = generate(model, promptIds, {
    maxTokens,
    ...(flags.temperature !== undefined ? { temperature: flags.temperature as number } : {}),
    ...(flags['top-k'] !== undefined ? { topK: flags['top-k'] as number } : {}),
    ...(flags['top-p'] !== undefined ? { topP: flags['top-p'] as number } : {}),
    ...(flags.seed !== undefined ? { seed: flags.seed as number } : {}),
    stop,
    cache: !flags['no-cache'],
  });
  const json = Boolean(flags.json);
  if (!json) process.stdout.write(prompt);
  // Decoding the whole continuation each time and writing what is new keeps a BPE token that ends
  // inside a UTF-8 character back until the character is complete (the decoder gives U+FFFD).
  const generated: number[] = [];
  let written = 0;
  let r = tokens.next();
  while (!r.done) {
    generated.push(r.value);
    const text = tokenizer.decode(generated);
    if (!json && !text.endsWith('\uFFFD')) {
      process.stdout.write(text.slice(written));
      written = text.length;
    }
    r = tokens.next();
  }
  const text = tokenizer.decode(generated);
  const seconds = (performance.now() - started) / 1000;
  if (json) {
    console.log(JSON.stringify({ prompt, text, tokens: generated.length, finish_reason: r.value, seconds: +seconds.toFixed(3), tokens_per_second: +(generated.length / seconds).toFixed(1) }));
  } else {
    process.stdout.write(`${text.slice(written)}\n`);
  }
  return 0;
}

function encode(tokenizer: GPTTokenizer, text: string, flag: string): Int32Array {
  try {
    return tokenizer.encode(text);
  } catch (e) {
    return fail('generate', `${flag}: ${(e as Error).message}`);
  }
}
