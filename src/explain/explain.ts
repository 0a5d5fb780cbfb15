// One entry point over the methods, and the request-level form that `lathe explain` and the
// server's :explain verb share: a {"instances": [...]} body (raw records for a tabular model)
// in, one JSON-ready explanation per instance out, with attributions per CSV column for
// tabular models.
import { fail } from '../errors.js';
import { requestBatch } from '../io/inference.js';
import type { LoadedModel } from '../io/saved-model.js';
import type { NestedArray, Tensor } from '../tensor/tensor.js';
import type { Model } from '../train/model.js';
import { type IntegratedGradientsOptions, integratedGradientsWithDelta } from './integrated-gradients.js';
import { type SaliencyOptions, saliencyWithTargets } from './saliency.js';
import type { ScoreUsed, Target } from './score.js';
import { type ColumnAttribution, columnAttributions, rankColumns } from './tabular.js';

export type ExplainMethod = 'ig' | 'saliency';
export const EXPLAIN_METHODS: readonly ExplainMethod[] = ['ig', 'saliency'];

export interface ExplainOptions extends Omit<IntegratedGradientsOptions, 'target'>, Omit<SaliencyOptions, 'target'> {
  /** 'ig' (integrated gradients, the default) or 'saliency'. */
  method?: ExplainMethod;
  /** A class index (or one per example); explainRequest also takes a class name. */
  target?: Target | string;
}

export interface Explanation {
  method: ExplainMethod;
  /** What f is: the target's logit, or the model's output. */
  score: ScoreUsed;
  /** Same shape as x. */
  attributions: Tensor;
  targets: Int32Array;
  /** f(x) per example. */
  scores: Float64Array;
  /** Integrated gradients only: f(baseline) and the completeness gap per example. */
  baselineScores?: Float64Array;
  delta?: Float64Array;
}

/** Attributions of x's examples by `options.method`: model + input batch in, attributions of x's shape out, with the classes explained. */
export function explain(model: Model, x: Tensor, options: ExplainOptions = {}): Explanation {
  const method = options.method ?? 'ig';
  if (!EXPLAIN_METHODS.includes(method)) fail('explain', `method must be one of ${EXPLAIN_METHODS.join(', ')}, got ${JSON.stringify(method)}`);
  if (typeof options.target === 'string') fail('explain', `target must be a class index here, got "${options.target}" (explainRequest maps class names)`);
  const o = options as ExplainOptions & { target?: Target };
  if (method === 'saliency') return { method, ...saliencyWithTargets(model, x, o) };
  const r = integratedGradientsWithDelta(model, x, o);
  return { method, ...r };
}

/** What explainRequest needs from a loaded model: lathe.load's result. */
export type ExplainableModel = Pick<LoadedModel, 'preprocessor'> & { model: Model; json: { classNames?: string[] } };

export interface InstanceExplanation {
  /** The class explained, as an index and, when the model has class names, a name. */
  target: number;
  class?: string;
  /** f(x): the target's logit, or output (see the response's "score"). */
  score: number;
  baseline_score?: number;
  /** Integrated gradients: sum(attributions) - (f(x) - f(baseline)). */
  delta?: number;
  /** Attributions in the model input's shape (its features, for a tabular model). */
  attributions: NestedArray;
  /** Tabular models: attribution per input column, largest |attribution| first. */
  columns?: ColumnAttribution[];
}

export interface ExplainResponse {
  method: ExplainMethod;
  score: ScoreUsed;
  explanations: InstanceExplanation[];
}

/** A class name or index as an index, checked against the model's class names when it is a name. */
export function targetIndex(target: Target | string | undefined, classNames: readonly string[] | undefined): Target | undefined {
  if (typeof target !== 'string') return target;
  const k = classNames?.indexOf(target) ?? -1;
  if (k >= 0) return k;
  if (/^\d+$/.test(target)) return Number(target);
  return fail('explain', `target "${target}" is not a class of this model${classNames?.length ? ` (classes: ${classNames.join(', ')})` : ' (it has no class names; give an index)'}`);
}

/** Explains a {"instances": [...]} body, as `lathe predict` takes it, one explanation per instance. */
export function explainRequest(loaded: ExplainableModel, body: unknown, options: ExplainOptions = {}): ExplainResponse {
  const x = requestBatch(loaded as never, body);
  const classNames = loaded.json.classNames ?? loaded.preprocessor?.classNames;
  const e = explain(loaded.model, x, { ...options, target: targetIndex(options.target, classNames) });
  const rows = e.attributions.toArray() as NestedArray[];
  const instances = (body as { instances: unknown[] }).instances;
  const columns = loaded.preprocessor ? columnAttributions(loaded.preprocessor, e.attributions, e.method === 'saliency' ? 'gradient' : 'attribution') : undefined;
  return {
    method: e.method,
    score: e.score,
    explanations: rows.map((attributions, i) => ({
      target: e.targets[i],
      ...(classNames?.[e.targets[i]] !== undefined ? { class: classNames[e.targets[i]] } : {}),
      score: e.scores[i],
      ...(e.baselineScores ? { baseline_score: e.baselineScores[i], delta: e.delta![i] } : {}),
      attributions,
      ...(columns ? { columns: rankColumns(loaded.preprocessor!, instances[i], columns[i]) } : {}),
    })),
  };
}
