// Weight initialisers, by Keras' names and formulas. Fans follow Keras: a dense kernel [in, out]
// has fanIn = in, fanOut = out; a conv kernel [out, in, kH, kW] multiplies both by kH*kW.
import { fail } from '../errors.js';
import { fromArray } from '../tensor/create.js';
import type { DType } from '../tensor/dtype.js';
import { type Generator, defaultGenerator } from '../tensor/random.js';
import { sizeOf } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';

export interface Fans {
  fanIn: number;
  fanOut: number;
}

type Fill = (out: Float64Array, fans: Fans, g: Generator) => void;

function uniformFill(limit: (f: Fans) => number): Fill {
  return (out, fans, g) => g.fillUniform(out, -limit(fans), limit(fans));
}

/** Normal draws redrawn beyond two standard deviations, as Keras' truncated normal does. */
function truncatedNormalFill(std: (f: Fans) => number): Fill {
  // Keras scales by 1/0.8796... so the truncated distribution keeps the intended variance.
  const TRUNC_STD = 0.87962566103423978;
  return (out, fans, g) => {
    const s = std(fans) / TRUNC_STD;
    const one = new Float64Array(2);
    for (let i = 0; i < out.length; i++) {
      do g.fillNormal(one, 0, 1);
      while (Math.abs(one[0]) > 2);
      out[i] = one[0] * s;
    }
  };
}

export const INITIALIZERS: Record<string, Fill> = {
  zeros: (out) => out.fill(0),
  ones: (out) => out.fill(1),
  glorotUniform: uniformFill(({ fanIn, fanOut }) => Math.sqrt(6 / (fanIn + fanOut))),
  glorotNormal: truncatedNormalFill(({ fanIn, fanOut }) => Math.sqrt(2 / (fanIn + fanOut))),
  heUniform: uniformFill(({ fanIn }) => Math.sqrt(6 / fanIn)),
  heNormal: truncatedNormalFill(({ fanIn }) => Math.sqrt(2 / fanIn)),
  lecunUniform: uniformFill(({ fanIn }) => Math.sqrt(3 / fanIn)),
  lecunNormal: truncatedNormalFill(({ fanIn }) => Math.sqrt(1 / fanIn)),
  /** Keras' RandomNormal default, std 0.05 (also Embedding's default). */
  randomNormal: (out, _f, g) => g.fillNormal(out, 0, 0.05),
  randomUniform: (out, _f, g) => g.fillUniform(out, -0.05, 0.05),
};

export const INITIALIZER_NAMES = Object.keys(INITIALIZERS);

/** Accepts Keras' snake_case spellings too: glorot_uniform, he_normal. `where` prefixes the error. */
export function initializerName(name: string, where = 'initializer'): string {
  const camel = typeof name === 'string' ? name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()) : '';
  if (!Object.hasOwn(INITIALIZERS, camel)) fail(where, `unknown initializer ${JSON.stringify(name)} (expected one of ${INITIALIZER_NAMES.join(', ')})`);
  return camel;
}

/** A new tensor of `shape` drawn by the named initialiser. */
export function initialize(name: string, shape: readonly number[], fans: Fans, options: { dtype?: DType; generator?: Generator } = {}): Tensor {
  const out = new Float64Array(sizeOf(shape));
  INITIALIZERS[initializerName(name)](out, fans, options.generator ?? defaultGenerator);
  return fromArray(out, shape, { dtype: options.dtype ?? 'float32' }, 'initialize', true);
}
