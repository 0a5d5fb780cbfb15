// A binary min-heap of (primary, secondary) number pairs, ordered by primary then secondary. BPE
// uses it twice: training pops the most frequent pair (primary -count, secondary the pair's key,
// so ties go to the smallest pair), encoding pops the lowest-ranked merge (primary the rank,
// secondary the position, so equal ranks merge left to right). Both push lazily and let the
// caller skip stale entries, which is cheaper than a decrease-key heap.

export class PairHeap {
  private readonly p: number[] = [];
  private readonly q: number[] = [];

  get size(): number {
    return this.p.length;
  }

  clear(): void {
    this.p.length = 0;
    this.q.length = 0;
  }

  push(primary: number, secondary: number): void {
    const { p, q } = this;
    let i = p.length;
    p.push(primary);
    q.push(secondary);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (p[parent] < primary || (p[parent] === primary && q[parent] <= secondary)) break;
      p[i] = p[parent];
      q[i] = q[parent];
      i = parent;
    }
    p[i] = primary;
    q[i] = secondary;
  }

  /** The smallest entry's primary; only valid when size > 0. */
  topPrimary(): number {
    return this.p[0];
  }

  topSecondary(): number {
    return this.q[0];
  }

  /** Removes the smallest entry (read it first with topPrimary/topSecondary). */
  pop(): void {
    const { p, q } = this;
    const lastP = p.pop()!;
    const lastQ = q.pop()!;
    const n = p.length;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && (p[child + 1] < p[child] || (p[child + 1] === p[child] && q[child + 1] < q[child]))) child++;
      if (lastP < p[child] || (lastP === p[child] && lastQ <= q[child])) break;
      p[i] = p[child];
      q[i] = q[child];
      i = child;
    }
    p[i] = lastP;
    q[i] = lastQ;
  }
}
