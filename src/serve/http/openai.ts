// OpenAI's API for the repository's language models (GPT versions): POST /v1/completions,
// POST /v1/chat/completions (chat template in src/serve/llm/openai-request.ts) and GET /v1/models,
// in OpenAI's JSON, with "stream": true as server-sent events (data: {chunk} ... data: [DONE]).
// Requests go to the model's decode engine; a client that disconnects cancels its sequence at
// once. Errors have OpenAI's shape {"error": {"message", "type", "param", "code"}}.
import { randomBytes } from 'node:crypto';
import type * as http from 'node:http';
import { EngineBusyError, EngineClosedError, type EndReason } from '../llm/engine.js';
import type { LanguageModel } from '../llm/language-model.js';
import { NOT_A_TENSOR_MODEL } from '../llm/language-model.js';
import { type GenerationPlan, OpenAIError, planChat, planCompletion, requestModel } from '../llm/openai-request.js';
import { TextOutput } from '../llm/text-output.js';
import { defaultVersion, isValidName, type ModelRepository } from '../repository.js';
import { badRequest, findVersion, HttpError, servingVersion, type VersionSelector } from './routing.js';

export { OpenAIError };

type Endpoint = 'completions' | 'chat' | 'models';

/** Which OpenAI endpoint a path is, if any. (GET /v1/models/{m} stays TF Serving's model status.) */
export function openAIEndpoint(segs: readonly string[]): Endpoint | undefined {
  if (segs[0] !== 'v1') return undefined;
  if (segs.length === 2 && segs[1] === 'completions') return 'completions';
  if (segs.length === 3 && segs[1] === 'chat' && segs[2] === 'completions') return 'chat';
  if (segs.length === 2 && segs[1] === 'models') return 'models';
  return undefined;
}

const ERROR_TYPES: Record<number, string> = { 401: 'invalid_request_error', 404: 'invalid_request_error', 429: 'rate_limit_error', 503: 'server_error' };

/** Any error the server answers, in OpenAI's shape. */
export function openAIErrorBody(e: unknown, status: number, message: string): { error: { message: string; type: string; param: string | null; code: string | null } } {
  const param = e instanceof OpenAIError ? e.param : null;
  let code = e instanceof OpenAIError ? e.code : null;
  if (code === null && status === 401) code = 'invalid_api_key';
  const type = ERROR_TYPES[status] ?? (status < 500 ? 'invalid_request_error' : 'server_error');
  return { error: { message, type, param, code } };
}

/** TF Serving's and KServe's tensor APIs refuse a language model with a 400 that says where to go. */
export function refuseLanguageModel(repo: ModelRepository, name: string, sel: VersionSelector): void {
  const m = repo.model(name);
  if (!m) return; // the handler's own 404
  let sv;
  try {
    sv = findVersion(m, sel) ?? defaultVersion(m);
  } catch {
    return; // the handler's own 400 or 404
  }
  if (sv?.llm) throw badRequest(`model "${name}" version ${sv.version} ${NOT_A_TENSOR_MODEL}`);
}

function languageModel(repo: ModelRepository, name: string): LanguageModel {
  if (!isValidName(name) || !repo.model(name)) throw new OpenAIError(404, `The model '${name.slice(0, 128)}' does not exist`, 'model', 'model_not_found');
  const sv = servingVersion(repo, name, {});
  if (!sv.llm) throw new OpenAIError(400, `The model '${name}' is not a language model: it serves TF Serving's and KServe's predict (/v1/models/${name}:predict)`, 'model', 'model_not_supported');
  return sv.llm;
}

/** GET /v1/models: the language models, each at its latest available version. */
function listModels(repo: ModelRepository): unknown {
  const data = [...repo.models.values()].flatMap((m) => {
    const lm = defaultVersion(m)?.llm;
    return lm ? [{ id: m.name, object: 'model', created: lm.created, owned_by: 'lathe', max_model_len: lm.contextLength }] : [];
  });
  return { object: 'list', data };
}

export interface OpenAIRequest {
  repo: ModelRepository;
  segs: string[];
  req: http.IncomingMessage;
  res: http.ServerResponse;
  /** The body, read within the server's size and depth limits and parsed. */
  readJson: () => Promise<unknown>;
}

/** Answers an OpenAI route; resolves once the response has ended (a stream's last event, or the client gone). */
export async function handleOpenAI({ repo, segs, req, res, readJson }: OpenAIRequest): Promise<void> {
  const endpoint = openAIEndpoint(segs)!;
  const method = endpoint === 'models' ? 'GET' : 'POST';
  if (req.method !== method && !(method === 'GET' && req.method === 'HEAD')) throw new HttpError(405, `${req.method} is not allowed here; use ${method}`, { allow: method });
  if (endpoint === 'models') return sendJson(res, 200, listModels(repo));
  const body = await readJson();
  const chat = endpoint === 'chat';
  const lm = languageModel(repo, requestModel(body, chat));
  const plan = chat ? planChat(body as Record<string, unknown>, lm) : planCompletion(body as Record<string, unknown>, lm);
  return generate(lm, plan, chat, res);
}

function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** One choice's shape for each endpoint: a whole answer, or a streamed piece. */
function choice(chat: boolean, text: string | undefined, finish: string | null, streamed: boolean): Record<string, unknown> {
  if (!chat) return { index: 0, text: text ?? '', logprobs: null, finish_reason: finish };
  if (streamed) return { index: 0, delta: text === undefined ? {} : { content: text }, logprobs: null, finish_reason: finish };
  return { index: 0, message: { role: 'assistant', content: text ?? '', refusal: null }, logprobs: null, finish_reason: finish };
}

/** Runs the plan on the model's engine, answering JSON or server-sent events. */
function generate(lm: LanguageModel, plan: GenerationPlan, chat: boolean, res: http.ServerResponse): Promise<void> {
  const id = `${chat ? 'chatcmpl' : 'cmpl'}-${randomBytes(12).toString('hex')}`;
  const created = Math.floor(Date.now() / 1000);
  const object = chat ? (plan.stream ? 'chat.completion.chunk' : 'chat.completion') : 'text_completion';
  const head = { id, object, created, model: plan.model, system_fingerprint: null };
  const output = new TextOutput(lm.tokenizer, plan.stops);
  let text = '';
  let completionTokens = 0;
  const usage = () => ({ prompt_tokens: plan.prompt.length, completion_tokens: completionTokens, total_tokens: plan.prompt.length + completionTokens });
  const event = (value: unknown) => res.write(`data: ${JSON.stringify(value)}\n\n`);
  const piece = (t: string | undefined, finish: string | null) => event({ ...head, choices: [choice(chat, t, finish, true)], ...(plan.includeUsage ? { usage: null } : {}) });

  return new Promise<void>((resolve) => {
    const sink = {
      token(tokenId: number) {
        completionTokens++;
        const released = output.push(tokenId);
        if (plan.stream) {
          if (released) piece(released, null);
        } else text += released;
        if (output.stopped) seq.stop();
      },
      end(reason: EndReason, error?: Error) {
        if (reason === 'cancelled' || res.destroyed) {
          if (!res.writableEnded) res.end();
          return resolve();
        }
        if (reason === 'error') {
          const failure = openAIErrorBody(error, 500, `internal error: ${error?.message ?? 'generation failed'}`);
          if (plan.stream) {
            event(failure);
            res.end('data: [DONE]\n\n');
          } else sendJson(res, 500, failure);
          return resolve();
        }
        const finish = output.stopped ? 'stop' : reason;
        const tail = output.finish();
        if (!plan.stream) {
          sendJson(res, 200, { ...head, choices: [choice(chat, text + tail, finish, false)], usage: usage() });
          return resolve();
        }
        if (tail) piece(tail, null);
        piece(undefined, finish);
        if (plan.includeUsage) event({ ...head, choices: [], usage: usage() });
        res.end('data: [DONE]\n\n');
        resolve();
      },
    };
    let seq: ReturnType<LanguageModel['engine']['submit']>;
    try {
      seq = lm.engine.submit({ prompt: plan.prompt, maxTokens: plan.maxTokens, sampling: plan.sampling, ...(plan.seed !== undefined ? { seed: plan.seed } : {}) }, sink);
    } catch (e) {
      if (e instanceof EngineBusyError) throw new OpenAIError(429, e.message, null, 'rate_limit_exceeded', { 'retry-after': '1' });
      if (e instanceof EngineClosedError) throw new OpenAIError(503, e.message, null, 'model_unloading', { 'retry-after': '1' });
      throw e;
    }
    // The client went away (a closed tab, a cancelled fetch): free the slot now, not at max_tokens.
    res.once('close', () => {
      if (!res.writableFinished) seq.cancel();
    });
    if (plan.stream) {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
      res.flushHeaders();
      if (chat) event({ ...head, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }], ...(plan.includeUsage ? { usage: null } : {}) });
    }
  });
}
