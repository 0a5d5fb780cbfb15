// Strided iteration, the one loop shape the JS kernels share: walk every index of `shape` in
// row-major order while keeping one flat offset per operand, each with its own strides.

/**
 * Calls body(outIndex, offA, offB) for each element of `shape`, where offX = sum(index * stridesX).
 * The innermost dimension runs as a plain loop; outer dimensions advance like an odometer.
 */
export function stridedLoop2(
  shape: readonly number[],
  sa: readonly number[],
  sb: readonly number[],
  body: (i: number, a: number, b: number) => void,
): void {
  const rank = shape.length;
  if (rank === 0) return body(0, 0, 0);
  const inner = shape[rank - 1];
  const ia = sa[rank - 1];
  const ib = sb[rank - 1];
  const idx = new Array<number>(rank).fill(0);
  let total = 1;
  for (const d of shape) total *= d;
  let a = 0;
  let b = 0;
  for (let i = 0; i < total; i += inner) {
    for (let j = 0; j < inner; j++) body(i + j, a + j * ia, b + j * ib);
    // advance the outer dims (all but the last)
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]++;
      a += sa[d];
      b += sb[d];
      if (idx[d] < shape[d]) break;
      a -= sa[d] * shape[d];
      b -= sb[d] * shape[d];
      idx[d] = 0;
    }
  }
}

/** Three-operand version of stridedLoop2 (where's condition and both branches). */
export function stridedLoop3(
  shape: readonly number[],
  sa: readonly number[],
  sb: readonly number[],
  sc: readonly number[],
  body: (i: number, a: number, b: number, c: number) => void,
): void {
  const rank = shape.length;
  if (rank === 0) return body(0, 0, 0, 0);
  const inner = shape[rank - 1];
  const idx = new Array<number>(rank).fill(0);
  let total = 1;
  for (const d of shape) total *= d;
  let a = 0;
  let b = 0;
  let c = 0;
  for (let i = 0; i < total; i += inner) {
    for (let j = 0; j < inner; j++) body(i + j, a + j * sa[rank - 1], b + j * sb[rank - 1], c + j * sc[rank - 1]);
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]++;
      a += sa[d];
      b += sb[d];
      c += sc[d];
      if (idx[d] < shape[d]) break;
      a -= sa[d] * shape[d];
      b -= sb[d] * shape[d];
      c -= sc[d] * shape[d];
      idx[d] = 0;
    }
  }
}
