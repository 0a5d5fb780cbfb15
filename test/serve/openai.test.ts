// OpenAI's routes on `lathe serve`, as clients use them: raw HTTP (what curl sends) and the
// official openai npm client pointed at the server's /v1. Completions, chat, streaming (the
// chunks concatenate to the non-streamed text for a seed), /v1/models, a disconnect freeing its
// slot (watched in /metrics), concurrent streams, the queue's 429, the API key, and bad requests.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { startServer, type RunningServer } from '../../src/serve/http/server.js';
import { buildLanguageModelRepository, type LanguageModelFixture } from './openai-fixture.js';

let f: LanguageModelFixture;
let server: RunningServer;
let client: OpenAI;

before(async () => {
  f = await buildLanguageModelRepository();
  server = await startServer({ repository: f.root, port: 0 });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused-without-a-server-key', maxRetries: 0 });
});

after(async () => {
  await server.close();
  fs.rmSync(f.root, { recursive: true, force: true });
});

async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; json: any }> {
  const r = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, headers: r.headers, json: r.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text };
}

/** One series' value in the Prometheus text, or 0. */
async function metric(name: string, model = 'wide'): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{model="${model}",version="1"}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

async function until(what: string, check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A streaming request on a raw socket: resolves with the request once the first event has arrived. */
function openStream(body: unknown): Promise<{ req: http.ClientRequest; firstEvent: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${server.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['content-type']), /^text\/event-stream/);
      res.once('data', (chunk: Buffer) => resolve({ req, firstEvent: chunk.toString() }));
    });
    req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(e)));
    req.end(JSON.stringify(body));
  });
}

describe('plain HTTP (curl)', () => {
  test('POST /v1/completions answers OpenAI\'s text_completion with usage', async () => {
    const r = await post('/v1/completions', { model: 'tiny', prompt: 'cd', max_tokens: 10, temperature: 0 });
    assert.equal(r.status, 200);
    assert.match(r.json.id, /^cmpl-[0-9a-f]{24}$/);
    assert.equal(r.json.object, 'text_completion');
    assert.equal(r.json.model, 'tiny');
    assert.ok(Math.abs(r.json.created - Date.now() / 1000) < 60);
    assert.deepEqual(r.json.choices, [{ index: 0, text: 'efabcdefab', logprobs: null, finish_reason: 'length' }]);
    assert.deepEqual(r.json.usage, { prompt_tokens: 2, completion_tokens: 10, total_tokens: 12 });
  });

  test('a stop string ends the text before it with finish_reason "stop"', async () => {
    const r = await post('/v1/completions', { model: 'tiny', prompt: 'ab', max_tokens: 20, temperature: 0, stop: ['fa', 'zz'] });
    assert.equal(r.json.choices[0].text, 'cde');
    assert.equal(r.json.choices[0].finish_reason, 'stop');
  });

  test('GET /v1/models lists the language models with their context, not the tensor models', async () => {
    const r = await (await fetch(`${server.url}/v1/models`)).json();
    assert.equal(r.object, 'list');
    assert.deepEqual(r.data.map((m: any) => [m.id, m.object, m.owned_by, m.max_model_len]), [['tiny', 'model', 'lathe', 32], ['wide', 'model', 'lathe', 512]]);
  });

  test('a stream is server-sent events ending in [DONE], with usage last when asked', async () => {
    const r = await post('/v1/completions', { model: 'tiny', prompt: 'cd', max_tokens: 6, temperature: 0, stream: true, stream_options: { include_usage: true } });
    assert.equal(r.status, 200);
    const events = (r.json as string).split('\n\n').filter(Boolean);
    assert.ok(events.every((e) => e.startsWith('data: ')));
    assert.equal(events.at(-1), 'data: [DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)));
    assert.equal(chunks.map((c) => c.choices[0]?.text ?? '').join(''), 'efabcd');
    assert.equal(chunks.at(-2).choices[0].finish_reason, 'length');
    assert.deepEqual(chunks.at(-1).choices, []);
    assert.deepEqual(chunks.at(-1).usage, { prompt_tokens: 2, completion_tokens: 6, total_tokens: 8 });
    assert.ok(chunks.slice(0, -1).every((c) => c.usage === null && c.object === 'text_completion' && c.id === chunks[0].id));
  });
});

describe('the official openai client', () => {
  test('completions.create and chat.completions.create', async () => {
    const c = await client.completions.create({ model: 'tiny', prompt: 'ab', max_tokens: 4, temperature: 0 });
    assert.equal(c.choices[0].text, 'cdef');
    // The template makes "system: a\nuser: bc\nassistant:", 29 of the 32-token context: max_tokens 5 is capped to 3.
    const chat = await client.chat.completions.create({ model: 'tiny', messages: [{ role: 'system', content: 'a' }, { role: 'user', content: 'bc' }], max_tokens: 5, temperature: 0 });
    assert.equal(chat.object, 'chat.completion');
    assert.equal(chat.choices[0].message.role, 'assistant');
    assert.equal(chat.choices[0].message.content?.length, 3);
    assert.equal(chat.choices[0].finish_reason, 'length');
    assert.deepEqual(chat.usage, { prompt_tokens: 29, completion_tokens: 3, total_tokens: 32 });
  });

  test('streamed chunks concatenate to the non-streamed text for the same seed (completions and chat)', async () => {
    const params = { model: 'wide', prompt: 'abc', max_tokens: 40, temperature: 1, seed: 7 };
    const whole = (await client.completions.create(params)).choices[0].text;
    let streamed = '';
    let finish: string | null = null;
    for await (const chunk of await client.completions.create({ ...params, stream: true })) {
      streamed += chunk.choices[0]?.text ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(whole.length, 40);
    assert.equal(streamed, whole);
    assert.equal(finish, 'length');
    assert.notEqual((await client.completions.create({ ...params, seed: 8 })).choices[0].text, whole, 'another seed, another text');

    const chatParams = { model: 'wide', messages: [{ role: 'user' as const, content: 'abc' }], max_tokens: 30, temperature: 1, seed: 3 };
    const answer = (await client.chat.completions.create(chatParams)).choices[0].message.content;
    let chatStreamed = '';
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of await client.chat.completions.create({ ...chatParams, stream: true, stream_options: { include_usage: true } })) {
      chatStreamed += chunk.choices[0]?.delta?.content ?? '';
      usage = chunk.usage ?? usage;
    }
    assert.equal(chatStreamed, answer);
    assert.equal(usage?.prompt_tokens, 'user: abc\nassistant:'.length);
  });

  test('models.list', async () => {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    assert.deepEqual(ids, ['tiny', 'wide']);
  });

  test('10 concurrent streams on a 4-sequence engine all complete with their own text', async () => {
    const prompts = ['a', 'b', 'c', 'd', 'e', 'f', 'ab', 'bc', 'cd', 'de'];
    const texts = await Promise.all(prompts.map(async (prompt) => {
      let text = '';
      for await (const chunk of await client.completions.create({ model: 'tiny', prompt, max_tokens: 12, temperature: 0, stream: true })) text += chunk.choices[0]?.text ?? '';
      return text;
    }));
    const cycle = 'abcdef'.repeat(4);
    prompts.forEach((p, i) => {
      const last = p.at(-1)!;
      assert.equal(texts[i], cycle.slice(cycle.indexOf(last) + 1, cycle.indexOf(last) + 13), `prompt ${p}`);
    });
  });
});

test('a client that disconnects mid-stream frees its slot at once; a full queue answers 429 with Retry-After', async () => {
  const long = { model: 'wide', prompt: 'ab', max_tokens: 500, temperature: 1, stream: true };
  const tokensBefore = await metric('lathe_llm_generated_tokens_total');
  const a = await openStream(long);
  assert.match(a.firstEvent, /^data: \{/);
  assert.equal(await metric('lathe_llm_active_sequences'), 1);
  // "wide" decodes one sequence at a time with a queue of one: B waits, C is refused.
  const b = openStream(long);
  await until('B queued', async () => (await metric('lathe_llm_queued_sequences')) === 1);
  const c = await post('/v1/completions', { ...long, stream: false });
  assert.equal(c.status, 429);
  assert.equal(c.headers.get('retry-after'), '1');
  assert.equal(c.json.error.type, 'rate_limit_error');
  assert.match(c.json.error.message, /busy/);
  a.req.destroy();
  // B takes A's slot: the next step already runs B alone.
  const { req: bReq } = await b;
  assert.equal(await metric('lathe_llm_cancelled_sequences_total'), 1);
  bReq.destroy();
  await until('both slots free', async () => (await metric('lathe_llm_active_sequences')) === 0 && (await metric('lathe_llm_queued_sequences')) === 0);
  const settled = await metric('lathe_llm_generated_tokens_total');
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(await metric('lathe_llm_generated_tokens_total'), settled, 'no tokens after both left');
  assert.ok(settled - tokensBefore < 2 * 500 - 100, `the cancelled streams stopped early (${settled - tokensBefore} tokens)`);
  assert.equal(await metric('lathe_llm_cancelled_sequences_total'), 2);
});

describe('bad requests get 4xx in OpenAI\'s error shape', () => {
  const bad = async (path: string, body: unknown, status: number, param: string | null, pattern: RegExp) => {
    const r = await post(path, body);
    assert.equal(r.status, status, JSON.stringify(r.json));
    assert.deepEqual(Object.keys(r.json.error).sort(), ['code', 'message', 'param', 'type']);
    assert.equal(r.json.error.param, param);
    assert.match(r.json.error.message, pattern);
    return r.json.error;
  };

  test('a prompt longer than the context, and max_tokens negative, zero or of the wrong type', async () => {
    const e = await bad('/v1/completions', { model: 'tiny', prompt: 'ab'.repeat(20) }, 400, 'prompt', /maximum context length is 32 tokens\. However, your prompt is 40 tokens/);
    assert.equal(e.code, 'context_length_exceeded');
    await bad('/v1/completions', { model: 'tiny', prompt: 'a'.repeat(100_000) }, 400, 'prompt', /maximum context length is 32/);
    await bad('/v1/chat/completions', { model: 'tiny', messages: [{ role: 'user', content: 'abcdef'.repeat(5) }] }, 400, 'messages', /context length/);
    await bad('/v1/completions', { model: 'tiny', prompt: 'ab', max_tokens: -5 }, 400, 'max_tokens', /Expected a value >= 1, but got -5/);
    await bad('/v1/completions', { model: 'tiny', prompt: 'ab', max_tokens: 0 }, 400, 'max_tokens', />= 1/);
    await bad('/v1/completions', { model: 'tiny', prompt: 'ab', max_tokens: 2.5 }, 400, 'max_tokens', /expected an integer, but got a decimal/);
  });

  test('an enormous max_tokens is capped to the room left in the context', async () => {
    const r = await post('/v1/completions', { model: 'tiny', prompt: 'abcd', max_tokens: 1e12, temperature: 0 });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.usage, { prompt_tokens: 4, completion_tokens: 28, total_tokens: 32 });
    assert.equal(r.json.choices[0].finish_reason, 'length');
  });

  test('unknown and non-language models, invalid JSON, wrong types, unknown fields', async () => {
    assert.equal((await bad('/v1/completions', { model: 'nope', prompt: 'a' }, 404, 'model', /The model 'nope' does not exist/)).code, 'model_not_found');
    await bad('/v1/chat/completions', { model: '../etc', messages: [{ role: 'user', content: 'a' }] }, 404, 'model', /does not exist/);
    await bad('/v1/completions', { model: 'mlp', prompt: 'a' }, 400, 'model', /not a language model/);
    await bad('/v1/completions', '{"model": "tiny", "prompt": ', 400, null, /not valid JSON/);
    await bad('/v1/completions', '[1, 2]', 400, null, /must be a JSON object, got an array/);
    await bad('/v1/completions', { prompt: 'a' }, 400, 'model', /must provide a model/);
    await bad('/v1/completions', { model: 'tiny', prompt: 5 }, 400, 'prompt', /Invalid type for 'prompt': expected a string, but got an integer/);
    await bad('/v1/completions', { model: 'tiny', prompt: 'a', temperature: 'hot' }, 400, 'temperature', /expected a number, but got a string/);
    await bad('/v1/completions', { model: 'tiny', prompt: 'a', temperature: 7 }, 400, 'temperature', /<= 2/);
    await bad('/v1/completions', { model: 'tiny', prompt: 'a', top_p: 0 }, 400, 'top_p', /> 0/);
    await bad('/v1/completions', { model: 'tiny', prompt: 'a', stream: 'yes' }, 400, 'stream', /expected a boolean/);
    await bad('/v1/completions', { model: 'tiny', prompt: 'a', stream_options: { include_usage: true } }, 400, 'stream_options', /only allowed when 'stream' is enabled/);
    await bad('/v1/completions', { model: 'tiny', prompt: 'a', stop: ['a', 'b', 'c', 'd', 'e'] }, 400, 'stop', /at most 4/);
    await bad('/v1/completions', { model: 'tiny', prompt: 'a', seed: -1 }, 400, 'seed', /from 0/);
    await bad('/v1/completions', { model: 'tiny', prompt: 'a', n: 2 }, 400, 'n', /one choice/);
    await bad('/v1/completions', { model: 'tiny', prompt: 'a', temprature: 1 }, 400, 'temprature', /Unrecognized request argument supplied: temprature/);
    await bad('/v1/chat/completions', { model: 'tiny', messages: 'hi' }, 400, 'messages', /expected an array, but got a string/);
    await bad('/v1/chat/completions', { model: 'tiny', messages: [] }, 400, 'messages', /at least one/);
    await bad('/v1/chat/completions', { model: 'tiny', messages: [{ role: 'wizard', content: 'a' }] }, 400, 'messages[0].role', /Supported roles/);
    await bad('/v1/chat/completions', { model: 'tiny', messages: [{ role: 'user', content: 42 }] }, 400, 'messages[0].content', /expected a string or an array of text parts/);
  });

  test('a character outside a char tokenizer\'s vocabulary is a 400 naming it', async () => {
    await bad('/v1/completions', { model: 'tiny', prompt: 'abZ' }, 400, 'prompt', /character "Z" \(U\+005A\) at index 2 is not in this model's vocabulary/);
    await bad('/v1/chat/completions', { model: 'tiny', messages: [{ role: 'user', content: 'ab' }, { role: 'user', content: 'é' }] }, 400, 'messages[1].content', /character "é" \(U\+00E9\)/);
  });

  test('wrong method; and TF Serving\'s and KServe\'s predict refuse a language model with a 400 that says where to go', async () => {
    const get = await fetch(`${server.url}/v1/completions`);
    assert.equal(get.status, 405);
    assert.equal((await get.json()).error.type, 'invalid_request_error');
    const tf = await post('/v1/models/tiny:predict', { instances: [[1, 2]] });
    assert.equal(tf.status, 400);
    assert.match(tf.json.error, /language model \(GPT\): it answers POST \/v1\/completions/);
    const ks = await post('/v2/models/tiny/infer', { inputs: [{ name: 'tokens', shape: [1, 2], datatype: 'INT32', data: [1, 2] }] });
    assert.equal(ks.status, 400);
    assert.match(ks.json.error, /language model/);
    assert.equal((await fetch(`${server.url}/v1/models/tiny`)).status, 200, 'TF Serving\'s status still answers');
  });
});

describe('the API key', () => {
  const KEY = 'test-key-0123456789abcdef';
  let guarded: RunningServer;
  before(async () => {
    guarded = await startServer({ repository: server.repository, port: 0, apiKey: KEY });
  });
  after(() => guarded.close());

  test('when set, every route needs it (401 in each API\'s shape), and the openai client passes with it', async () => {
    for (const path of ['/v1/models', '/metrics', '/v2/health/live', '/v1/models/tiny', '/v2/models/mlp', '/ui/']) {
      const r = await fetch(`${guarded.url}${path}`);
      assert.equal(r.status, 401, path);
      assert.match(String(r.headers.get('www-authenticate')), /^Bearer/);
      const wrong = await fetch(`${guarded.url}${path}`, { headers: { authorization: 'Bearer not-the-key-at-all-0000' } });
      assert.equal(wrong.status, 401, path);
    }
    const r = await fetch(`${guarded.url}/v1/completions`, { method: 'POST', body: '{}' });
    assert.equal(r.status, 401);
    const e = (await r.json()).error;
    assert.equal(e.code, 'invalid_api_key');
    assert.match(e.message, /Authorization: Bearer/);
    for (const path of ['/v1/models', '/metrics', '/v2/health/live', '/v1/models/tiny']) {
      assert.equal((await fetch(`${guarded.url}${path}`, { headers: { authorization: `Bearer ${KEY}` } })).status, 200, path);
    }
    const keyed = new OpenAI({ baseURL: `${guarded.url}/v1`, apiKey: KEY, maxRetries: 0 });
    assert.equal((await keyed.completions.create({ model: 'tiny', prompt: 'ab', max_tokens: 2, temperature: 0 })).choices[0].text, 'cd');
    const wrong = new OpenAI({ baseURL: `${guarded.url}/v1`, apiKey: 'wrong-key-0123456789abcdef', maxRetries: 0 });
    await assert.rejects(wrong.models.list(), (err: any) => err.status === 401);
  });

  test('unset, nothing is guarded', async () => {
    for (const path of ['/v1/models', '/metrics', '/v2/health/live', '/v1/models/tiny']) assert.equal((await fetch(`${server.url}${path}`)).status, 200, path);
  });
});
