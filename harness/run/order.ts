// The order targets run in when they repeat. Interleaving (A B A B …) or randomized blocks (every
// round runs each target once, in a shuffled order) spreads slow drift of the host — page cache,
// temperature, a neighbour's compile — over every target alike instead of loading it onto whichever
// ran last. The seed of a shuffle is recorded, so an order can be reproduced.
import { Rng, chunkSeed } from '../workload/rng.ts';

export interface RunSlot {
  /** Index into the plan's targets. */
  target: number;
  /** 1-based. */
  repetition: number;
}

export function runOrder(targets: number, repetitions: number, scheme: 'interleaved' | 'randomized-blocks', seed = 0): RunSlot[] {
  const out: RunSlot[] = [];
  for (let r = 1; r <= repetitions; r++) {
    const block = Array.from({ length: targets }, (_, i) => i);
    if (scheme === 'randomized-blocks') {
      // Fisher–Yates with a generator per round, so round k's order does not depend on how many targets earlier rounds shuffled.
      const rng = new Rng(chunkSeed(seed, r));
      for (let i = block.length - 1; i > 0; i--) {
        const j = rng.u32() % (i + 1);
        [block[i], block[j]] = [block[j], block[i]];
      }
    }
    for (const t of block) out.push({ target: t, repetition: r });
  }
  return out;
}

/** A seed for randomized blocks when the profile gives none. */
export function drawSeed(): number {
  return Math.floor(Math.random() * 2 ** 31);
}
