// Which backend new tensors go to. The native backend is the default in Node when its addon
// loads; otherwise Lathe uses the js backend and says why, once. LATHE_BACKEND=js|native
// picks explicitly, and setBackend() changes it at run time.
import { fail } from '../errors.js';
import type { Backend } from './backend.js';
import { jsBackend } from './js/index.js';
import { loadAddon, type NativeAddon } from './native/addon.js';
import { createNativeBackend } from './native/index.js';

const backends = new Map<string, Backend>([[jsBackend.name, jsBackend]]);
let current: Backend | null = null;

const loaded = loadAddon();
/** Why the native backend is missing, or null when it loaded. */
export const nativeLoadError: string | null = 'error' in loaded ? loaded.error : null;
/** The loaded addon, for native-only facilities (threads, kernel info). */
export const nativeAddon: NativeAddon | null = 'addon' in loaded ? loaded.addon : null;
if (nativeAddon) backends.set('native', createNativeBackend(nativeAddon));

export function registerBackend(backend: Backend): void {
  backends.set(backend.name, backend);
}

export function listBackends(): string[] {
  return [...backends.keys()];
}

function defaultBackend(): Backend {
  const requested = process.env.LATHE_BACKEND;
  if (requested) return getBackend(requested);
  if (backends.has('native')) return backends.get('native')!;
  console.warn(`lathe: using the slower js backend because the native addon did not load: ${nativeLoadError}. Rebuild it with \`npm rebuild lathe\` (needs a C++ compiler, make and python3).`);
  return jsBackend;
}

/**
 * Sets up the webgpu backend and registers it (async: WebGPU hands out adapters and devices
 * asynchronously). Only this loads dawn.node; afterwards getBackend('webgpu'), setBackend and
 * LATHE_BACKEND=webgpu find it.
 */
export async function initWebGPU(): Promise<Backend> {
  if (!backends.has('webgpu')) registerBackend(await (await import('./webgpu/index.js')).createWebGPUBackend());
  return backends.get('webgpu')!;
}

/** A backend by name, or the current default. */
export function getBackend(name?: string): Backend {
  if (name === undefined) return (current ??= defaultBackend());
  const b = backends.get(name);
  if (!b) {
    let why = name === 'native' && nativeLoadError ? `: the native addon did not load (${nativeLoadError}); rebuild it with \`npm rebuild lathe\`` : '';
    if (name === 'webgpu') why = ': it is set up asynchronously; call `await lt.initWebGPU()` first';
    fail('backend', `unknown backend "${name}" (available: ${listBackends().join(', ')})${why}`);
  }
  return b;
}

/** Makes `name` the backend that new tensors are created on. */
export function setBackend(name: string): Backend {
  current = getBackend(name);
  return current;
}

/** f() with `name` the current backend, which is where the tensors it creates live; the previous one after. */
export function withBackend<T>(name: string, f: () => T): T {
  const before = current;
  setBackend(name);
  try {
    return f();
  } finally {
    current = before;
  }
}
