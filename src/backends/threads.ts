// Threads for the native backend's kernels: LATHE_NUM_THREADS at start, or setNumThreads().
import { fail } from '../errors.js';
import { nativeAddon } from './registry.js';

/** Sets how many threads the native kernels use (the calling thread included). */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > 1024) fail('setNumThreads', `expected an integer in 1..1024, got ${n}`);
  nativeAddon?.setThreads(n);
}

/** Threads the native kernels use; 1 where only the js backend is available. */
export function getNumThreads(): number {
  return nativeAddon ? nativeAddon.info().threads : 1;
}

/** What the native addon runs: its GEMM kernel family and thread count, or null without it. */
export function nativeInfo(): { gemmKernel: string; qgemmKernel: string; threads: number } | null {
  if (!nativeAddon) return null;
  const { gemmKernel, threads } = nativeAddon.info();
  return { gemmKernel, qgemmKernel: nativeAddon.qgemmKernel(), threads };
}
