// OpenAI-style streaming from `lathe serve` (issue 9, acceptance 4): one stream at a time against
// 32 concurrent streams on a small GPT (the Shakespeare config's shape: 4 layers, 4 heads, 128
// wide, 65 characters; untrained weights time the same), aggregate generated tokens per second.
// The server is its own process; the streams are read here with fetch. One JSON line per case,
// then the ratio (acceptance: 32 concurrent > 3x one stream).
//   node bench/llm-serve.mjs [--block 64] [--rounds 3] [--dist dist]
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const dist = path.resolve(root, args.dist ?? 'dist');
const blockSize = Number(args.block ?? 64);
const rounds = Number(args.rounds ?? 3);
const lt = await import(path.join(dist, 'src/index.js'));
const { CharTokenizer } = await import(path.join(dist, 'src/data/text/index.js'));

const repo = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-llm-bench-'));
const chars = Array.from({ length: 65 }, (_, i) => String.fromCodePoint(32 + i)).join('');
const tokenizer = CharTokenizer.fromText(chars);
lt.saveGPT(lt.gpt({ vocabSize: tokenizer.vocabSize, blockSize, nLayer: 4, nHead: 4, nEmbd: 128, seed: 1 }), path.join(repo, 'gpt', '1'), { tokenizer });
fs.writeFileSync(path.join(repo, 'gpt', 'config.json'), JSON.stringify({ generation: { maxSequences: 32, maxQueueSize: 64 } }));

const serverScript = `import { startServer } from ${JSON.stringify(path.join(dist, 'src/serve/http/server.js'))};
const s = await startServer({ repository: ${JSON.stringify(repo)}, port: 0 });
console.log(s.url);
process.once('SIGTERM', () => s.close().then(() => process.exit(0)));`;
const child = spawn(process.execPath, ['--input-type=module', '-e', serverScript], { stdio: ['ignore', 'pipe', 'inherit'] });
const url = await new Promise((resolve) => child.stdout.once('data', (d) => resolve(String(d).trim())));

const prompt = 'ABCD';
const maxTokens = blockSize - prompt.length;

/** One streamed completion: its tokens (from the usage chunk) and the time to its first text. */
async function stream(seed) {
  const t0 = performance.now();
  const r = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt', prompt, max_tokens: maxTokens, temperature: 1, seed, stream: true, stream_options: { include_usage: true } }),
  });
  if (r.status !== 200) throw new Error(`status ${r.status}: ${await r.text()}`);
  const decoder = new TextDecoder();
  let buffer = '';
  let first;
  let tokens = 0;
  for await (const bytes of r.body) {
    first ??= performance.now() - t0;
    buffer += decoder.decode(bytes, { stream: true });
    let cut;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(6, cut);
      buffer = buffer.slice(cut + 2);
      if (event !== '[DONE]') tokens = JSON.parse(event).usage?.completion_tokens ?? tokens;
    }
  }
  return { tokens, firstMs: first };
}

async function measure(concurrency) {
  await Promise.all(Array.from({ length: concurrency }, (_, i) => stream(1000 + i))); // warm-up
  let tokens = 0;
  let ms = 0;
  const firsts = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    const results = await Promise.all(Array.from({ length: concurrency }, (_, i) => stream(r * 100 + i)));
    ms += performance.now() - t0;
    for (const x of results) {
      tokens += x.tokens;
      firsts.push(x.firstMs);
    }
  }
  if (tokens !== rounds * concurrency * maxTokens) throw new Error(`expected ${rounds * concurrency * maxTokens} tokens, got ${tokens}`);
  firsts.sort((a, b) => a - b);
  const line = { bench: 'llm-serve', model: `gpt 4x128 block ${blockSize}`, streams: concurrency, tokens_per_stream: maxTokens, rounds, tokens_per_s: +((tokens / ms) * 1000).toFixed(1), per_stream_tokens_per_s: +((tokens / ms) * 1000 / concurrency).toFixed(1), ttft_ms_p50: +firsts[Math.floor(firsts.length / 2)].toFixed(1) };
  console.log(JSON.stringify(line));
  return line.tokens_per_s;
}

try {
  const one = await measure(1);
  const many = await measure(32);
  console.log(JSON.stringify({ bench: 'llm-serve', ratio_32_vs_1: +(many / one).toFixed(2), acceptance: 'ratio > 3', pass: many / one > 3, cpus: os.cpus().length, node: process.version }));
} finally {
  child.kill('SIGTERM');
  fs.rmSync(repo, { recursive: true, force: true });
}
