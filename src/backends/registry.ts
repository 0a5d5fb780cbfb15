// Which backend new tensors go to. LATHE_BACKEND picks the default; setBackend changes it.
import { fail } from '../errors.js';
import type { Backend } from './backend.js';
import { jsBackend } from './js/index.js';

const backends = new Map<string, Backend>([[jsBackend.name, jsBackend]]);
let current: Backend | null = null;

export function registerBackend(backend: Backend): void {
  backends.set(backend.name, backend);
}

export function listBackends(): string[] {
  return [...backends.keys()];
}

/** A backend by name, or the current default. */
export function getBackend(name?: string): Backend {
  if (name === undefined) return (current ??= getBackend(process.env.LATHE_BACKEND || 'js'));
  const b = backends.get(name);
  if (!b) fail('backend', `unknown backend "${name}" (available: ${listBackends().join(', ')})`);
  return b;
}

/** Makes `name` the backend that new tensors are created on. */
export function setBackend(name: string): Backend {
  current = getBackend(name);
  return current;
}
