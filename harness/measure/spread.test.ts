import { describe, it, expect } from 'vitest';
import { spread } from './spread.ts';

describe('spread', () => {
  it('gives nearest-rank figures', () => {
    expect(spread([5, 1, 3, 2, 4])).toEqual({ min: 1, median: 3, p95: 5, max: 5, count: 5 });
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(spread(hundred)).toEqual({ min: 1, median: 50, p95: 95, max: 100, count: 100 });
  });

  it('skips missing values and reports an empty set with count 0', () => {
    expect(spread([null, 7, undefined, Number.NaN])).toEqual({ min: 7, median: 7, p95: 7, max: 7, count: 1 });
    expect(spread([])).toEqual({ min: 0, median: 0, p95: 0, max: 0, count: 0 });
  });
});
