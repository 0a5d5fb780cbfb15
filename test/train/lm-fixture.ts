// A small Shakespeare-formatted text for language-model tests: speaker names, verse lines and
// blank lines, varied by a seeded choice so it is not one repeated string, about 8 KB.
import { Generator } from '../../src/tensor/random.js';

const SPEAKERS = ['FIRST CITIZEN', 'MENENIUS', 'CORIOLANUS', 'VOLUMNIA'];
const LINES = [
  'Before we proceed any further, hear me speak.',
  'You are all resolved rather to die than to famish?',
  'We know it, we know it.',
  'Let us kill him, and we will have corn at our own price.',
  'What authority surfeits on would relieve us.',
  'Speak, speak.',
];

export function shakespeareLikeText(chars = 8000, seed = 7): string {
  const g = new Generator(seed);
  let out = '';
  while (out.length < chars) {
    out += `${SPEAKERS[g.nextInt(SPEAKERS.length)]}:\n`;
    const n = 1 + g.nextInt(3);
    for (let i = 0; i < n; i++) out += `${LINES[g.nextInt(LINES.length)]}\n`;
    out += '\n';
  }
  return out;
}

/** A language-model config small enough to train in about a second. */
export function tinyLanguageModelConfig(file: string, fit: Record<string, unknown> = {}): Record<string, any> {
  return {
    seed: 1,
    dataset: { type: 'text', path: file, tokenizer: 'char', validationSplit: 0.1 },
    model: { type: 'gpt', blockSize: 16, nLayer: 1, nHead: 2, nEmbd: 16, dropout: 0 },
    compile: {
      optimizer: {
        type: 'adamw',
        lr: { type: 'cosineDecay', initialLearningRate: 0, warmupTarget: 1e-2, warmupSteps: 5, decaySteps: 25, alpha: 0.1 },
        weightDecay: 0.1,
        globalClipNorm: 1,
      },
    },
    fit: { iterations: 30, batchSize: 8, gradientAccumulation: 1, evalInterval: 10, evalIterations: 4, sampleTokens: 40, ...fit },
  };
}
