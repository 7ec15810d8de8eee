import { describe, it, expect } from 'vitest';
import { runOrder } from './order.ts';

const names = (slots: ReturnType<typeof runOrder>) => slots.map((s) => `${'ABC'[s.target]}${s.repetition}`);

describe('runOrder', () => {
  it('interleaves: every target once per round, rounds in order', () => {
    expect(names(runOrder(2, 3, 'interleaved'))).toEqual(['A1', 'B1', 'A2', 'B2', 'A3', 'B3']);
  });

  it('randomized blocks: each round a permutation, the same for the same seed, different for another', () => {
    const a = runOrder(3, 8, 'randomized-blocks', 42);
    for (let r = 1; r <= 8; r++) expect(a.filter((s) => s.repetition === r).map((s) => s.target).sort()).toEqual([0, 1, 2]);
    expect(runOrder(3, 8, 'randomized-blocks', 42)).toEqual(a);
    expect(names(runOrder(3, 8, 'randomized-blocks', 43))).not.toEqual(names(a));
    // Not simply the interleaved order.
    expect(names(a)).not.toEqual(names(runOrder(3, 8, 'interleaved')));
  });

  it('one repetition of one target is one slot', () => {
    expect(runOrder(1, 1, 'randomized-blocks', 7)).toEqual([{ target: 0, repetition: 1 }]);
  });
});
