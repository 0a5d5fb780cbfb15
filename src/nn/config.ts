// Reading declarative configs (layer options, training configs): each check names the field,
// what was expected and what came, so a bad config fails before any training starts.
import { fail } from '../errors.js';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export class ConfigReader {
  constructor(readonly where: string, readonly obj: Record<string, unknown>) {
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) fail(where, `expected an object, got ${JSON.stringify(obj)}`);
  }

  private got(key: string): string {
    return JSON.stringify(this.obj[key]);
  }

  has(key: string): boolean {
    return this.obj[key] !== undefined;
  }

  /** Fails on keys no reader asked for, which are usually typos. */
  rejectUnknown(known: readonly string[]): void {
    for (const k of Object.keys(this.obj)) {
      if (!known.includes(k)) fail(this.where, `unknown field "${k}" (expected one of: ${known.join(', ')})`);
    }
  }

  positiveInt(key: string, dflt?: number): number {
    const v = this.obj[key] ?? dflt;
    if (v === undefined) fail(this.where, `"${key}" is required (a positive integer)`);
    if (!Number.isInteger(v) || (v as number) < 1) fail(this.where, `"${key}" must be a positive integer, got ${this.got(key)}`);
    return v as number;
  }

  int(key: string, dflt: number, min = 0): number {
    const v = this.obj[key] ?? dflt;
    if (!Number.isInteger(v) || (v as number) < min) fail(this.where, `"${key}" must be an integer >= ${min}, got ${this.got(key)}`);
    return v as number;
  }

  number(key: string, dflt?: number, range: [number, number] = [-Infinity, Infinity]): number {
    const v = this.obj[key] ?? dflt;
    if (v === undefined) fail(this.where, `"${key}" is required (a number)`);
    if (typeof v !== 'number' || !Number.isFinite(v) || v < range[0] || v > range[1]) {
      fail(this.where, `"${key}" must be ${range[0] === -Infinity && range[1] === Infinity ? 'a finite number' : `a number in [${range[0]}, ${range[1]}]`}, got ${this.got(key)}`);
    }
    return v;
  }

  bool(key: string, dflt: boolean): boolean {
    const v = this.obj[key] ?? dflt;
    if (typeof v !== 'boolean') fail(this.where, `"${key}" must be true or false, got ${this.got(key)}`);
    return v;
  }

  string(key: string, dflt?: string): string {
    const v = this.obj[key] ?? dflt;
    if (typeof v !== 'string') fail(this.where, `"${key}" must be a string, got ${this.got(key) ?? 'nothing'}`);
    return v;
  }

  oneOf<T extends string>(key: string, choices: readonly T[], dflt?: T): T {
    const v = this.obj[key] ?? dflt;
    if (!choices.includes(v as T)) fail(this.where, `"${key}" must be one of ${choices.map((c) => JSON.stringify(c)).join(', ')}, got ${this.got(key) ?? 'nothing'}`);
    return v as T;
  }

  /** An integer or a pair of integers (kernel sizes, strides). */
  pair(key: string, dflt?: number | [number, number], min = 1): [number, number] {
    const v = this.obj[key] ?? dflt;
    const p = typeof v === 'number' ? [v, v] : v;
    if (!Array.isArray(p) || p.length !== 2 || p.some((d) => !Number.isInteger(d) || d < min)) {
      fail(this.where, `"${key}" must be an integer >= ${min} or a pair of them, got ${this.got(key) ?? 'nothing'}`);
    }
    return [p[0], p[1]];
  }

  /** A shape: an array of positive integers (or null for "any"). */
  shape(key: string, allowNull = false): number[] {
    const v = this.obj[key];
    if (!Array.isArray(v) || v.some((d) => !(Number.isInteger(d) && d > 0) && !(allowNull && (d === null || d === -1)))) {
      fail(this.where, `"${key}" must be an array of positive integers, got ${this.got(key) ?? 'nothing'}`);
    }
    return v as number[];
  }

  optionalShape(key: string): number[] | undefined {
    return this.has(key) ? this.shape(key) : undefined;
  }
}
