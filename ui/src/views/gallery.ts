// The misclassified test examples: the image, the true and predicted class, the model's
// confidence, and a slot for an explanation heat map once a run has one (issue 8's explain).
import { api, type MisclassifiedExample } from '../api.js';
import { h } from '../dom.js';

export function renderGallery(runId: string, examples: MisclassifiedExample[], classNames: string[] = []): HTMLElement {
  const name = (i: number, given?: string) => given ?? classNames[i] ?? String(i);
  return h(
    'div',
    { class: 'gallery', id: 'misclassified-gallery' },
    examples.map((e) =>
      h(
        'figure',
        { class: 'example', 'data-index': e.index },
        h('div', { class: 'images' },
          h('img', { src: api.fileUrl(runId, e.image), alt: `example ${e.index}: true ${name(e.label, e.labelName)}, predicted ${name(e.predicted, e.predictedName)}`, loading: 'lazy', width: 84, height: 84 }),
          e.explanation ? h('img', { class: 'explanation', src: api.fileUrl(runId, e.explanation), alt: `explanation of example ${e.index}`, loading: 'lazy', width: 84, height: 84 }) : null),
        h('figcaption', {},
          h('div', {}, h('span', { class: 'muted' }, 'true '), h('b', { class: 'true-label' }, name(e.label, e.labelName))),
          h('div', {}, h('span', { class: 'muted' }, 'predicted '), h('b', { class: 'predicted-label' }, name(e.predicted, e.predictedName))),
          h('div', { class: 'confidence' }, h('span', { class: 'bar', style: `width: ${(e.confidence * 100).toFixed(1)}%` }), `${(e.confidence * 100).toFixed(1)}%`),
          h('div', { class: 'muted small' }, `#${e.index}`)),
      ),
    ),
  );
}
