// Seedable random numbers: xoshiro128** seeded through splitmix32, so a run is reproducible from
// its seed on every backend (random tensors are drawn here, on the host, then uploaded).
import { fail } from '../errors.js';

/** PyTorch's default seed, so that an unseeded program is still reproducible run to run. */
export const DEFAULT_SEED = 67280421310721;

export class Generator {
  private readonly s = new Uint32Array(4);

  constructor(seed: number = DEFAULT_SEED) {
    this.manualSeed(seed);
  }

  manualSeed(seed: number): this {
    if (!Number.isSafeInteger(seed) || seed < 0) fail('manualSeed', `seed must be a non-negative integer, got ${seed}`);
    // splitmix32 over both 32-bit halves, so seeds above 2^32 differ too.
    let x = (seed >>> 0) ^ Math.imul(Math.floor(seed / 2 ** 32), 0x9e3779b9);
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      this.s[i] = z ^ (z >>> 16);
    }
    if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1;
    return this;
  }

  /** The generator's state, to save in a checkpoint. */
  getState(): number[] {
    return Array.from(this.s);
  }

  setState(state: readonly number[]): void {
    if (state.length !== 4) fail('Generator.setState', `expected 4 words, got ${state.length}`);
    this.s.set(state);
  }

  /** The next 32 random bits, as an unsigned integer. */
  nextUint32(): number {
    const s = this.s;
    const r = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return r;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  nextFloat64(): number {
    return ((this.nextUint32() >>> 5) * 67108864 + (this.nextUint32() >>> 6)) / 9007199254740992;
  }

  /** Uniform in [0, 1) with 24 random bits, so that it stays below 1 after rounding to float32. */
  nextFloat32(): number {
    return (this.nextUint32() >>> 8) / 16777216;
  }

  /** Fills `out` with uniform values in [low, high). */
  fillUniform(out: Float32Array | Float64Array, low: number, high: number): void {
    const f32 = out instanceof Float32Array;
    const span = high - low;
    for (let i = 0; i < out.length; i++) {
      // Rounding low + span*u can land on high itself; draw again then, so the range stays [low, high).
      do out[i] = low + span * (f32 ? this.nextFloat32() : this.nextFloat64());
      while (out[i] >= high);
    }
  }

  /** Fills `out` with normal values (Box-Muller, both outputs used). */
  fillNormal(out: Float32Array | Float64Array, mean: number, std: number): void {
    for (let i = 0; i < out.length; i += 2) {
      const u1 = 1 - this.nextFloat64(); // in (0, 1], so log(u1) is finite
      const u2 = this.nextFloat64();
      const r = Math.sqrt(-2 * Math.log(u1));
      out[i] = mean + std * r * Math.cos(2 * Math.PI * u2);
      if (i + 1 < out.length) out[i + 1] = mean + std * r * Math.sin(2 * Math.PI * u2);
    }
  }

  /** A uniform integer in [0, n). */
  nextInt(n: number): number {
    return Math.floor(this.nextFloat64() * n);
  }

  /** Shuffles `a` in place (Fisher-Yates from the last element, one nextInt per swap) and returns it. */
  shuffle<A extends { length: number; [i: number]: number }>(a: A): A {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** The generator used when a call names none. */
export const defaultGenerator = new Generator();

/** Seeds the default generator, like torch.manual_seed. */
export function manualSeed(seed: number): void {
  defaultGenerator.manualSeed(seed);
}
