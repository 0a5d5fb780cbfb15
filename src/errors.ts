// One error type for everything Lathe rejects, so callers can tell our checks from bugs.
// Messages say where (the op or field), what was expected and what came.

export class LatheError extends Error {
  override name = 'LatheError';
}

/** Formats a shape the way messages print it: [32,784]. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

/** Throws a LatheError prefixed with the op or field name. */
export function fail(where: string, message: string): never {
  throw new LatheError(`${where}: ${message}`);
}
