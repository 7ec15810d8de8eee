// Seeded pseudo-random numbers for generated data sets. Every chunk of a data set has its own
// generator, seeded from (data-set seed, chunk id), so a chunk comes out byte for byte the same
// whichever stream generates it, in whatever order, however often it is retried.

/** murmur3's 32-bit finaliser: spreads every input bit over the output. */
export function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** The seed of one chunk's generator. `stream` separates independent sequences of one data set. */
export function chunkSeed(seed: number, chunk: number, stream = 0): number {
  return mix32(mix32(mix32(seed >>> 0) ^ Math.imul(chunk + 1, 0x9e3779b1)) ^ Math.imul(stream + 1, 0x27d4eb2f));
}

/** mulberry32: 32 bits of state, fast, and plenty for synthetic rows (not for anything secret). */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }

  /** Uniform 32-bit unsigned integer. */
  u32(): number {
    this.s = (this.s + 0x6d2b79f5) | 0;
    let t = Math.imul(this.s ^ (this.s >>> 15), 1 | this.s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform integer in [0, n), n ≤ 2^32. */
  below(n: number): number {
    return Math.floor((this.u32() / 4294967296) * n);
  }

  /** Uniform integer in [lo, hi], both ends included. */
  between(lo: number, hi: number): number {
    return lo + this.below(hi - lo + 1);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)];
  }
}
