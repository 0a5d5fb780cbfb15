// Bookkeeping for the few in-place writes (optimizer steps): which storages were changed and
// when, so backward can refuse a graph whose saved inputs changed since it was built (as
// PyTorch's version counters do), and which storages an async kernel is still reading, so an
// optimizer step cannot change weights under it. Keyed by storage, so views share the record.
// The native backend's prepacked weights rely on it too (a layer's weights are packed once and
// reused until their storage changes): every write into an existing storage must be marked.

let generation = 0;
const changedAt = new WeakMap<object, number>();
const asyncReads = new WeakMap<object, number>();

/** A stamp that grows with every in-place write; graph nodes remember the one they were made at. */
export function currentGeneration(): number {
  return generation;
}

export function markChangedInPlace(storage: unknown): void {
  if (typeof storage === 'object' && storage !== null) changedAt.set(storage, ++generation);
}

/** The stamp of the storage's last in-place write, 0 if it never had one. */
export function lastChangedAt(storage: object): number {
  return changedAt.get(storage) ?? 0;
}

export function changedSince(storage: unknown, stamp: number): boolean {
  if (generation === stamp || typeof storage !== 'object' || storage === null) return false;
  return (changedAt.get(storage) ?? 0) > stamp;
}

/** Runs `work` with `storages` marked as being read off the main thread. */
export async function whileReadAsync<T>(storages: unknown[], work: () => Promise<T>): Promise<T> {
  const keys = storages.filter((s): s is object => typeof s === 'object' && s !== null);
  for (const k of keys) asyncReads.set(k, (asyncReads.get(k) ?? 0) + 1);
  try {
    return await work();
  } finally {
    for (const k of keys) {
      const n = (asyncReads.get(k) ?? 1) - 1;
      if (n > 0) asyncReads.set(k, n);
      else asyncReads.delete(k);
    }
  }
}

export function isReadAsync(storage: unknown): boolean {
  return typeof storage === 'object' && storage !== null && asyncReads.has(storage);
}
