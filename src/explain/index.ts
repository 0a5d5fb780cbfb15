// Explanations: attributions of a model's predictions to its input features by Lathe's autodiff
// (`lathe.explain.saliency`, `lathe.explain.integratedGradients`), per CSV column for tabular
// models, and heat maps for image models.
export { type Target, type ScoreKind, type ScoreOptions, type ScoreUsed } from './score.js';
export { type SaliencyOptions, type Attribution, saliency, saliencyWithTargets } from './saliency.js';
export { type IntegratedGradientsOptions, type IntegratedGradientsResult, integratedGradients, integratedGradientsWithDelta } from './integrated-gradients.js';
export {
  type ExplainMethod, type ExplainOptions, type Explanation, type ExplainableModel, type InstanceExplanation, type ExplainResponse,
  EXPLAIN_METHODS, explain, explainRequest, targetIndex,
} from './explain.js';
export { type ColumnAttribution, columnAttributions, rankColumns } from './tabular.js';
export { type HeatmapPanel, type HeatmapOptions, heatmapPng } from './heatmap.js';
export { type ImageLayout, imageLayout, imageBatch, heatmapPanels, takesRawPixels } from './image-input.js';
