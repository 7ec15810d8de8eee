import { describe, it, expect } from 'vitest';
import { mannWhitneyU, median, normalUpperTail } from './stats.ts';

describe('mannWhitneyU', () => {
  it('gives the exact two-sided p for small samples without ties', () => {
    // Complete separation of 5 vs 5: 2 of C(10,5)=252 orderings are this extreme.
    const r = mannWhitneyU([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]);
    expect(r.exact).toBe(true);
    expect(r.u).toBe(0);
    expect(r.p).toBeCloseTo(2 / 252, 12);
    expect(r.superiority).toBe(1);
  });

  it('is symmetric in its arguments and agrees with the normal approximation for moderate samples', () => {
    const a = [1.1, 2.3, 3.2, 4.8, 5.5, 6.1, 7.7, 8.2];
    const b = [2.2, 3.9, 5.1, 6.6, 7.1, 8.8, 9.4, 10.3];
    const ab = mannWhitneyU(a, b);
    const ba = mannWhitneyU(b, a);
    expect(ab.u).toBe(20);
    expect(ba.u).toBe(44);
    expect(ab.p).toBeCloseTo(ba.p, 12);
    // Normal approximation with continuity correction: z = (12 − 0.5) / √(64·17/12).
    const z = 11.5 / Math.sqrt((64 * 17) / 12);
    expect(Math.abs(ab.p - 2 * normalUpperTail(z))).toBeLessThan(0.01);
  });

  it('handles ties with the corrected variance, and identical samples give p = 1', () => {
    const same = mannWhitneyU([5, 5, 6, 7], [5, 5, 6, 7]);
    expect(same.exact).toBe(false);
    expect(same.p).toBeCloseTo(1, 6);
    const tied = mannWhitneyU([1, 1, 1, 2, 2, 2, 3, 3], [3, 3, 4, 4, 4, 5, 5, 5]);
    expect(tied.exact).toBe(false);
    expect(tied.p).toBeLessThan(0.01);
  });

  it('returns p = 1 for an empty side rather than a verdict from nothing', () => {
    expect(mannWhitneyU([], [1, 2, 3]).p).toBe(1);
  });
});

describe('helpers', () => {
  it('normalUpperTail matches known quantiles', () => {
    expect(normalUpperTail(1.959964)).toBeCloseTo(0.025, 5);
    expect(normalUpperTail(0)).toBeCloseTo(0.5, 6);
  });
  it('median of odd and even samples', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(median([])).toBeNull();
  });
});
