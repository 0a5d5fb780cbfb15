// The misclassified test examples: the image, the true and predicted class, the model's
// confidence, and beside the image, when the run drew one, a heat map of why the model said
// what it did (integrated gradients of the predicted class, src/explain/example-heatmaps.ts).
import { api, type MisclassifiedExample } from '../api.js';
import { h } from '../dom.js';

export function renderGallery(runId: string, examples: MisclassifiedExample[], classNames: string[] = []): HTMLElement {
  const name = (i: number, given?: string) => given ?? classNames[i] ?? String(i);
  const explained = examples.some((e) => e.explanation);
  return h(
    'div',
    { id: 'misclassified-gallery' },
    explained
      ? h('p', { class: 'muted small gallery-legend' },
        'Beside each example: why the model predicted its class (integrated gradients from a black image). ',
        h('span', { class: 'key positive' }, 'red'), ' pixels pushed it toward that class, ',
        h('span', { class: 'key negative' }, 'blue'), ' ones away from it.')
      : null,
    h(
      'div',
      { class: explained ? 'gallery with-explanations' : 'gallery' },
      examples.map((e) => {
        const truth = name(e.label, e.labelName);
        const predicted = name(e.predicted, e.predictedName);
        return h(
          'figure',
          { class: 'example', 'data-index': e.index },
          h('div', { class: 'images' },
            h('div', { class: 'panel' },
              h('img', { src: api.fileUrl(runId, e.image), alt: `example ${e.index}: true ${truth}, predicted ${predicted}`, loading: 'lazy', width: 84, height: 84 }),
              explained ? h('div', { class: 'panel-caption muted' }, 'input') : null),
            e.explanation
              ? h('div', { class: 'panel' },
                h('img', { class: 'explanation', src: api.fileUrl(runId, e.explanation), alt: `why example ${e.index} was predicted ${predicted}: integrated gradients heat map`, loading: 'lazy', width: 84, height: 84 }),
                h('div', { class: 'panel-caption explanation-caption' }, `why it said ${predicted}`))
              : null),
          h('figcaption', {},
            h('div', {}, h('span', { class: 'muted' }, 'true '), h('b', { class: 'true-label' }, truth)),
            h('div', {}, h('span', { class: 'muted' }, 'predicted '), h('b', { class: 'predicted-label' }, predicted)),
            h('div', { class: 'confidence' }, h('span', { class: 'bar', style: `width: ${(e.confidence * 100).toFixed(1)}%` }), `${(e.confidence * 100).toFixed(1)}%`),
            h('div', { class: 'muted small' }, `#${e.index}`)),
        );
      }),
    ),
  );
}
