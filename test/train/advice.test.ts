// The brief's advice on poor results, read from a run's history.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { trainingAdvice } from '../../src/train/advice.js';

const run = (history: Record<string, number[]>) => trainingAdvice({ epoch: history.loss.map((_, i) => i), history });

test('a healthy run gets no advice', () => {
  assert.deepEqual(run({ loss: [0.3, 0.1, 0.07, 0.05], val_loss: [0.15, 0.1, 0.09, 0.085], accuracy: [0.9, 0.97, 0.98, 0.985], val_accuracy: [0.95, 0.97, 0.975, 0.977] }), []);
});

test('a loss that barely falls points at the data, the learning rate and the model', () => {
  const a = run({ loss: [2.30, 2.29, 2.28] });
  assert.equal(a.length, 1);
  assert.match(a[0], /training loss barely fell \(2\.3000 -> 2\.2800\): check the data \(scaling, labels\), try a higher learning rate/);
});

test('validation loss rising while training loss falls is called overfitting, with the epoch it was best', () => {
  const a = run({ loss: [0.5, 0.2, 0.1, 0.05, 0.02], val_loss: [0.4, 0.25, 0.3, 0.35, 0.4] });
  assert.equal(a.length, 1);
  assert.match(a[0], /lowest at epoch 2 \(0\.2500\) and rose to 0\.4000 .* overfits; add Dropout or weight decay, stop early \(EarlyStopping\)/);
});

test('a wide gap between training and validation accuracy is called memorising', () => {
  const a = run({ loss: [0.5, 0.1], accuracy: [0.9, 0.99], val_accuracy: [0.8, 0.85] });
  assert.equal(a.length, 1);
  assert.match(a[0], /training accuracy 99\.0% is far above validation accuracy 85\.0%/);
});
