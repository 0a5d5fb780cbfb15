// Scalar math the kernels need beyond Math: erf, and rounding half to even (as numpy and PyTorch do).

/** erf to about 1e-15 absolute: a positive-term series below 2.5, the erfc continued fraction above. */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (!(ax < 6)) return Number.isNaN(x) ? NaN : Math.sign(x); // erf(6) = 1 - 2e-17
  if (ax < 2.5) {
    // erf(x) = 2/sqrt(pi) exp(-x^2) sum_n (2x^2)^n x / (1*3*...*(2n+1)); no cancellation.
    const x2 = 2 * x * x;
    let term = x;
    let sum = x;
    for (let n = 1; n < 200 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
      term *= x2 / (2 * n + 1);
      sum += term;
    }
    return (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x) * sum;
  }
  // erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...))))), by Lentz's method.
  const tiny = 1e-300;
  let f = ax;
  let C = ax;
  let D = 0;
  for (let n = 1; n < 200; n++) {
    const an = n / 2;
    D = ax + an * D;
    D = D === 0 ? tiny : 1 / D;
    C = ax + an / C;
    if (C === 0) C = tiny;
    const delta = C * D;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
