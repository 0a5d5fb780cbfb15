// The webgpu backend for a test file: set up once (Dawn on lavapipe in CI), or the reason the
// file's tests skip (no `webgpu` package, no adapter).
import * as lt from '../../src/index.js';
import type { WebGPUBackend } from '../../src/backends/webgpu/index.js';

export let gpu: WebGPUBackend | null = null;
export let skip: string | false = false;
try {
  gpu = (await lt.initWebGPU()) as WebGPUBackend;
} catch (e) {
  skip = `webgpu unavailable: ${(e as Error).message}`;
}
