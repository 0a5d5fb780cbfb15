// Heat maps for a run's misclassified gallery: integrated gradients of the predicted class from
// a black baseline, one PNG per example at the image's own size (the dashboard upscales it with
// crisp pixels beside the example). The predicted class, not the true one, because the gallery
// asks why the model said what it did ("why it said 7"): red pixels pushed it there, blue ones
// held it back.
import { fail } from '../errors.js';
import type { Model } from '../train/model.js';
import type { ExampleExplainer, ExampleImages } from '../train/runs/evaluation.js';
import { heatmapPng } from './heatmap.js';
import { heatmapPanels } from './image-input.js';
import { integratedGradients } from './integrated-gradients.js';

/**
 * Path points per example: 64 examples x 33 points are 2112 forward and backward rows, 0.1 s
 * for the MNIST MLP on 2 cores (the evaluation without them: 0.13 s). Completeness holds within
 * 1.5% at 32 steps there (the worst of 64 mistakes); a gallery's colours need no more.
 */
export const GALLERY_STEPS = 32;

/** An explainer for writeRunEvaluation: integrated gradients of each example's target class. */
export function integratedGradientsHeatmaps(model: Model, steps = GALLERY_STEPS): ExampleExplainer {
  return ({ x, targets, channels, height, width, pixelScale }: ExampleImages) => {
    if (channels !== 1 && channels !== 3) fail('explain', `a heat map needs 1 or 3 channels, got ${channels}`);
    const attributions = integratedGradients(model, x, { target: targets, steps, baseline: 0 });
    const panels = heatmapPanels(x, attributions, { channels, height, width }, pixelScale);
    return panels.map((panel) => heatmapPng([panel], height, width, { scale: 1 }));
  };
}
