// POST /v1/models/{m}[/versions/{v}|/labels/{l}]:explain, KServe v1's explain verb, for Lathe
// saved models: a :predict body ({"instances": [...]}) plus "method", "steps", "target" and
// "score", answered by src/explain's explainRequest (attributions per instance, in the input's
// shape, with f(x), f(baseline) and the completeness gap for integrated gradients).
// Integrated gradients costs (steps + 1) x instances forward and backward passes on the event
// loop's thread, so both are capped; a request over a cap is refused (400), never trimmed.
import { EXPLAIN_METHODS, type ExplainMethod, explainRequest, type ExplainOptions } from '../../explain/explain.js';
import type { ScoreKind } from '../../explain/score.js';
import { Model } from '../../train/model.js';
import type { ModelRepository } from '../repository.js';
import { badRequest, servingVersion, type VersionSelector } from './routing.js';
import { checkSignatureName, isObject, unwrapAll } from './tfserving.js';

/** Instances per :explain request. */
export const MAX_EXPLAIN_INSTANCES = 16;
/** Integrated gradients' trapezoid intervals per request (the library's default is 64). */
export const MAX_EXPLAIN_STEPS = 256;

const FIELDS = ['instances', 'method', 'steps', 'target', 'score', 'signature_name'];
const SCORES: readonly ScoreKind[] = ['logits', 'outputs'];

const show = (v: unknown) => JSON.stringify(v)?.slice(0, 60) ?? String(v);

/** The explain options a body asks for, checked field by field (400 naming the field). */
function explainOptions(body: Record<string, unknown>, instances: number): ExplainOptions {
  for (const k of Object.keys(body)) if (!FIELDS.includes(k)) throw badRequest(`unknown field "${k.slice(0, 40)}" (known: ${FIELDS.join(', ')})`);
  const method = (body.method ?? 'ig') as ExplainMethod;
  if (!EXPLAIN_METHODS.includes(method)) throw badRequest(`"method" must be one of ${EXPLAIN_METHODS.map((m) => `"${m}"`).join(', ')}, got ${show(body.method)}`);
  const options: ExplainOptions = { method };
  if (body.steps !== undefined) {
    if (method !== 'ig') throw badRequest(`"steps" applies to method "ig" (integrated gradients), not "${method}"`);
    const s = body.steps;
    if (!Number.isInteger(s) || (s as number) < 1 || (s as number) > MAX_EXPLAIN_STEPS) throw badRequest(`"steps" must be an integer from 1 to ${MAX_EXPLAIN_STEPS}, got ${show(s)}`);
    options.steps = s as number;
  }
  const t = body.target;
  if (t !== undefined) {
    const isIndex = (v: unknown) => Number.isInteger(v) && (v as number) >= 0;
    if (Array.isArray(t)) {
      if (t.length !== instances || !t.every(isIndex)) throw badRequest(`"target" as a list must hold one class index per instance (${instances}), got ${show(t)}`);
    } else if (!isIndex(t) && typeof t !== 'string') {
      throw badRequest(`"target" must be a class index, a class name, or one index per instance, got ${show(t)}`);
    }
    options.target = t as ExplainOptions['target'];
  }
  if (body.score !== undefined) {
    if (!SCORES.includes(body.score as ScoreKind)) throw badRequest(`"score" must be "logits" (the default: the logit before softmax or sigmoid) or "outputs", got ${show(body.score)}`);
    options.score = body.score as ScoreKind;
  }
  return options;
}

/** POST ...:explain: {"instances": [...], "method"?, "steps"?, "target"?, "score"?} gives {"method", "score", "explanations"}. */
export async function tfExplain(repo: ModelRepository, name: string, sel: VersionSelector, body: unknown): Promise<unknown> {
  if (!isObject(body)) throw badRequest('the body must be a JSON object {"instances": [...]}, optionally with "method", "steps" and "target"');
  checkSignatureName(body);
  const sv = servingVersion(repo, name, sel);
  const model = sv.loaded?.model;
  if (sv.platform !== 'lathe' || !(model instanceof Model)) {
    throw badRequest(`explain needs a Lathe model: model "${name}" version ${sv.version} is ${sv.platform === 'onnx' ? 'an ONNX model' : 'not a Lathe saved model'}; :predict serves it`);
  }
  if (!Array.isArray(body.instances)) throw badRequest('the body must have "instances": an array of inputs, as :predict takes');
  const n = body.instances.length;
  if (n === 0 || n > MAX_EXPLAIN_INSTANCES) throw badRequest(`"instances" must hold 1 to ${MAX_EXPLAIN_INSTANCES} inputs per :explain request (each costs a gradient per step), got ${n}`);
  const options = explainOptions(body, n);
  const instances = unwrapAll(sv, body.instances, 'instances');
  const loaded = sv.loaded!;
  return explainRequest({ model, json: loaded.json, preprocessor: loaded.preprocessor }, { instances }, options);
}
