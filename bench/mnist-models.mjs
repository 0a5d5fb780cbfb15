// The two models the inference benches run: the brief's MLP 784-128-10 and the CNN of
// examples/mnist-cnn.json, each behind its Rescaling, so uint8 pixels go in as `lathe export`
// writes them.
import * as fs from 'node:fs';
import * as lt from '../dist/src/index.js';

export function mlp() {
  const L = lt.layers;
  return new lt.Sequential([new L.Rescaling(1 / 255, 0, { inputShape: [784] }), new L.Dense(128, { activation: 'relu' }), new L.Dense(10, { activation: 'softmax' })]);
}

export function cnn() {
  const config = JSON.parse(fs.readFileSync(new URL('../examples/mnist-cnn.json', import.meta.url), 'utf8'));
  return lt.Sequential.fromConfig([{ type: 'rescaling', scale: config.dataset.rescale, inputShape: [1, 28, 28] }, ...config.model.layers]);
}
