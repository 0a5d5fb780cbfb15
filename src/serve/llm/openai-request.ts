// OpenAI's completion and chat completion request bodies, checked field by field into what the
// decode engine runs. Every error is a 400 in OpenAI's shape naming the parameter; every size a
// client sends is bounded (the prompt by the model's context, max_tokens capped to the room left,
// at most 4 stop strings of 256 characters, 1024 messages).
import { LatheError } from '../../errors.js';
import { CharTokenizer } from '../../data/text/char-tokenizer.js';
import type { SamplingOptions } from '../../models/gpt/sampling.js';
import { HttpError } from '../http/routing.js';
import type { LanguageModel } from './language-model.js';

/** An error in OpenAI's shape: {"error": {"message", "type", "param", "code"}}. */
export class OpenAIError extends HttpError {
  constructor(status: number, message: string, readonly param: string | null = null, readonly code: string | null = null, headers: Record<string, string> = {}) {
    super(status, message, headers);
  }
}

const invalid = (message: string, param: string | null, code: string | null = null) => new OpenAIError(400, message, param, code);

export const MAX_STOPS = 4;
export const MAX_STOP_CHARS = 256;
export const MAX_MESSAGES = 1024;
/** Completions' default max_tokens, as OpenAI's legacy endpoint; chat's default is the room left in the context. */
export const DEFAULT_COMPLETION_TOKENS = 16;

/**
 * The chat template: one line per message, "<role>: <content>\n", then "assistant:" for the
 * model to continue. A line that starts another turn ends the answer, as the template reads it.
 */
export const CHAT_ROLES = ['system', 'developer', 'user', 'assistant'] as const;
export const TURN_STOPS = ['\nuser:', '\nsystem:', '\nassistant:'];
export function chatPrompt(messages: readonly { role: string; content: string }[]): string {
  return `${messages.map((m) => `${m.role}: ${m.content}\n`).join('')}assistant:`;
}

/** What the engine runs and the response reports. */
export interface GenerationPlan {
  model: string;
  prompt: Int32Array;
  maxTokens: number;
  sampling: Required<SamplingOptions>;
  seed?: number;
  stops: string[];
  stream: boolean;
  includeUsage: boolean;
}

type Body = Record<string, unknown>;

const COMMON = ['model', 'max_tokens', 'temperature', 'top_p', 'top_k', 'seed', 'stop', 'stream', 'stream_options', 'n', 'user', 'presence_penalty', 'frequency_penalty', 'logit_bias', 'logprobs'];
const COMPLETION_FIELDS = [...COMMON, 'prompt', 'echo', 'best_of', 'suffix'];
const CHAT_FIELDS = [...COMMON, 'messages', 'max_completion_tokens', 'top_logprobs'];

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'an integer' : 'a decimal';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

function wrongType(param: string, expected: string, got: unknown): OpenAIError {
  return invalid(`Invalid type for '${param}': expected ${expected}, but got ${typeName(got)} instead.`, param, 'invalid_type');
}

export function isObject(v: unknown): v is Body {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The body must be an object of known fields; gives the model's name. */
export function requestModel(body: unknown, chat: boolean): string {
  if (!isObject(body)) throw invalid(`The request body must be a JSON object, got ${typeName(body)}.`, null);
  const known = chat ? CHAT_FIELDS : COMPLETION_FIELDS;
  const unknown = Object.keys(body).find((k) => !known.includes(k));
  if (unknown !== undefined) throw invalid(`Unrecognized request argument supplied: ${unknown.slice(0, 64)}`, unknown.slice(0, 64), 'unrecognized_argument');
  if (typeof body.model !== 'string') throw body.model === undefined ? invalid('you must provide a model parameter', 'model', 'missing_required_parameter') : wrongType('model', 'a string', body.model);
  return body.model;
}

/** POST /v1/completions: the prompt is a string (or a list of one string). */
export function planCompletion(body: Body, lm: LanguageModel): GenerationPlan {
  let prompt = body.prompt;
  if (Array.isArray(prompt) && prompt.length === 1 && typeof prompt[0] === 'string') prompt = prompt[0];
  if (Array.isArray(prompt)) throw invalid('this server takes one prompt per request: a string (or a list of exactly one string)', 'prompt', 'unsupported_value');
  if (typeof prompt !== 'string') throw prompt === undefined ? invalid('you must provide a prompt parameter', 'prompt', 'missing_required_parameter') : wrongType('prompt', 'a string', prompt);
  for (const [k, ok] of [['echo', (v: unknown) => v === false], ['best_of', (v: unknown) => v === 1], ['suffix', (v: unknown) => v === '']] as const) {
    if (body[k] !== undefined && body[k] !== null && !ok(body[k])) throw invalid(`'${k}' is not supported by this server`, k, 'unsupported_parameter');
  }
  if (body.logprobs !== undefined && body.logprobs !== null && body.logprobs !== 0) throw invalid("'logprobs' is not supported by this server", 'logprobs', 'unsupported_parameter');
  const ids = encode(lm, prompt, 'prompt');
  return plan(body, lm, ids, 'prompt', readMaxTokens(body, 'max_tokens') ?? DEFAULT_COMPLETION_TOKENS, []);
}

/** POST /v1/chat/completions: messages through the chat template. */
export function planChat(body: Body, lm: LanguageModel): GenerationPlan {
  const { messages } = body;
  if (!Array.isArray(messages)) throw messages === undefined ? invalid('you must provide a messages parameter', 'messages', 'missing_required_parameter') : wrongType('messages', 'an array', messages);
  if (messages.length === 0) throw invalid("'messages' must contain at least one message", 'messages', 'empty_array');
  if (messages.length > MAX_MESSAGES) throw invalid(`'messages' has ${messages.length} messages; at most ${MAX_MESSAGES}`, 'messages', 'array_above_max_length');
  const turns = messages.map((m, i) => {
    const where = `messages[${i}]`;
    if (!isObject(m)) throw wrongType(where, 'an object', m);
    if (typeof m.role !== 'string') throw wrongType(`${where}.role`, 'a string', m.role);
    if (!(CHAT_ROLES as readonly string[]).includes(m.role)) throw invalid(`Invalid value: '${m.role.slice(0, 40)}'. Supported roles are: ${CHAT_ROLES.join(', ')}.`, `${where}.role`, 'invalid_value');
    const content = messageText(m.content, `${where}.content`, m.role === 'assistant');
    // A character tokenizer cannot encode what its corpus lacked: name the message that has it.
    if (lm.tokenizer instanceof CharTokenizer) encode(lm, content, `${where}.content`);
    return { role: m.role === 'developer' ? 'system' : m.role, content };
  });
  if (body.top_logprobs !== undefined && body.top_logprobs !== null) throw invalid("'top_logprobs' is not supported by this server", 'top_logprobs', 'unsupported_parameter');
  if (body.logprobs !== undefined && body.logprobs !== null && body.logprobs !== false) throw invalid("'logprobs' is not supported by this server", 'logprobs', 'unsupported_parameter');
  const ids = encode(lm, chatPrompt(turns), 'messages');
  const requested = readMaxTokens(body, 'max_completion_tokens') ?? readMaxTokens(body, 'max_tokens');
  return plan(body, lm, ids, 'messages', requested ?? Infinity, TURN_STOPS);
}

function messageText(content: unknown, param: string, optional: boolean): string {
  if (typeof content === 'string') return content;
  if ((content === null || content === undefined) && optional) return '';
  if (!Array.isArray(content)) throw wrongType(param, 'a string or an array of text parts', content);
  return content
    .map((part, j) => {
      if (!isObject(part) || part.type !== 'text' || typeof part.text !== 'string') throw invalid(`${param}[${j}]: only {"type": "text", "text": "..."} parts are supported`, `${param}[${j}]`, 'unsupported_value');
      return part.text;
    })
    .join('');
}

/** The text's token ids; a character outside a char tokenizer's vocabulary is a 400 naming it. */
function encode(lm: LanguageModel, text: string, param: string): Int32Array {
  if (text.length > lm.maxPromptChars) throw contextExceeded(lm, `more than ${lm.contextLength}`, param);
  try {
    return lm.tokenizer.encode(text);
  } catch (e) {
    if (e instanceof LatheError) throw invalid(`${param}: ${e.message.replace(/^CharTokenizer\.encode: /, '').replace('the vocabulary', "this model's vocabulary").replace(/; build the tokenizer .*$/, '')}`, param, 'invalid_value');
    throw e;
  }
}

function contextExceeded(lm: LanguageModel, tokens: string, param: string): OpenAIError {
  return invalid(`This model's maximum context length is ${lm.contextLength} tokens. However, your ${param === 'prompt' ? 'prompt is' : 'messages are'} ${tokens} tokens, leaving no room for a completion.`, param, 'context_length_exceeded');
}

function readMaxTokens(body: Body, param: string): number | undefined {
  const v = body[param];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw wrongType(param, 'an integer', v);
  if (v < 1) throw invalid(`Invalid '${param}': integer below minimum value. Expected a value >= 1, but got ${v} instead.`, param, 'integer_below_min_value');
  return v;
}

function optionalNumber(body: Body, param: string, min: number, max: number, minOpen = false): number | undefined {
  const v = body[param];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw wrongType(param, 'a number', v);
  if ((minOpen ? v <= min : v < min) || v > max) throw invalid(`Invalid '${param}': expected a number ${minOpen ? '>' : '>='} ${min} and <= ${max}, but got ${v} instead.`, param, 'invalid_value');
  return v;
}

function readStops(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list)) throw wrongType('stop', 'a string or an array of strings', v);
  if (list.length > MAX_STOPS) throw invalid(`Invalid 'stop': at most ${MAX_STOPS} stop sequences, got ${list.length}.`, 'stop', 'array_above_max_length');
  return list.map((s, i) => {
    if (typeof s !== 'string') throw wrongType(`stop[${i}]`, 'a string', s);
    if (s.length === 0 || s.length > MAX_STOP_CHARS) throw invalid(`Invalid 'stop[${i}]': a stop sequence has 1 to ${MAX_STOP_CHARS} characters, got ${s.length}.`, 'stop', 'invalid_value');
    return s;
  });
}

/** The fields both endpoints share, and the context check: prompt plus max_tokens fit, max_tokens capped to the room left. */
function plan(body: Body, lm: LanguageModel, prompt: Int32Array, param: string, requestedTokens: number, templateStops: string[]): GenerationPlan {
  if (prompt.length === 0) throw invalid(`'${param}' must not be empty: the model needs at least one token to continue`, param, 'invalid_value');
  if (prompt.length >= lm.contextLength) throw contextExceeded(lm, String(prompt.length), param);
  const temperature = optionalNumber(body, 'temperature', 0, 2) ?? 1;
  const topP = optionalNumber(body, 'top_p', 0, 1, true) ?? 1;
  let topK = 0;
  if (body.top_k !== undefined && body.top_k !== null) {
    if (typeof body.top_k !== 'number' || !Number.isInteger(body.top_k)) throw wrongType('top_k', 'an integer', body.top_k);
    if (body.top_k < -1) throw invalid(`Invalid 'top_k': expected -1 or 0 (no limit) or a positive integer, got ${body.top_k}.`, 'top_k', 'invalid_value');
    topK = Math.max(0, Math.min(body.top_k, lm.model.config.vocabSize));
  }
  let seed: number | undefined;
  if (body.seed !== undefined && body.seed !== null) {
    if (typeof body.seed !== 'number' || !Number.isInteger(body.seed)) throw wrongType('seed', 'an integer', body.seed);
    if (body.seed < 0 || !Number.isSafeInteger(body.seed)) throw invalid(`Invalid 'seed': expected an integer from 0 to ${Number.MAX_SAFE_INTEGER}, got ${body.seed}.`, 'seed', 'invalid_value');
    seed = body.seed;
  }
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean') throw wrongType('stream', 'a boolean', body.stream);
  const stream = body.stream === true;
  let includeUsage = false;
  const so = body.stream_options;
  if (so !== undefined && so !== null) {
    if (!stream) throw invalid("The 'stream_options' parameter is only allowed when 'stream' is enabled.", 'stream_options', 'invalid_value');
    if (!isObject(so)) throw wrongType('stream_options', 'an object', so);
    const extra = Object.keys(so).find((k) => k !== 'include_usage');
    if (extra !== undefined) throw invalid(`Unrecognized request argument supplied: stream_options.${extra.slice(0, 64)}`, 'stream_options', 'unrecognized_argument');
    if (so.include_usage !== undefined && typeof so.include_usage !== 'boolean') throw wrongType('stream_options.include_usage', 'a boolean', so.include_usage);
    includeUsage = so.include_usage === true;
  }
  if (body.n !== undefined && body.n !== null && body.n !== 1) throw invalid(`Invalid 'n': this server generates one choice per request (n = 1), got ${JSON.stringify(body.n)?.slice(0, 20)}.`, 'n', 'unsupported_value');
  for (const k of ['presence_penalty', 'frequency_penalty']) {
    if (body[k] !== undefined && body[k] !== null && body[k] !== 0) throw invalid(`'${k}' is not supported by this server (only 0)`, k, 'unsupported_parameter');
  }
  if (body.logit_bias !== undefined && body.logit_bias !== null && !(isObject(body.logit_bias) && Object.keys(body.logit_bias).length === 0)) throw invalid("'logit_bias' is not supported by this server", 'logit_bias', 'unsupported_parameter');
  if (body.user !== undefined && typeof body.user !== 'string') throw wrongType('user', 'a string', body.user);
  const room = lm.contextLength - prompt.length;
  return {
    model: body.model as string,
    prompt,
    maxTokens: Math.min(requestedTokens, room),
    sampling: { temperature, topK, topP },
    ...(seed !== undefined ? { seed } : {}),
    stops: [...readStops(body.stop), ...templateStops],
    stream,
    includeUsage,
  };
}
