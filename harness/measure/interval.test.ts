import { describe, it, expect } from 'vitest';
import { ratioInterval, repetitionsToResolve, studentTQuantile, welchLogP, logGamma } from './interval.ts';
import { Rng } from '../workload/rng.ts';

describe('Student t', () => {
  it('gives the tabulated two-sided 95 % quantiles', () => {
    const table: Array<[number, number]> = [
      [1, 12.7062],
      [2, 4.3027],
      [4, 2.7764],
      [10, 2.2281],
      [30, 2.0423],
    ];
    for (const [df, q] of table) expect(studentTQuantile(0.975, df)).toBeCloseTo(q, 3);
    expect(studentTQuantile(0.025, 4)).toBeCloseTo(-2.7764, 3);
  });

  it('logGamma matches factorials', () => {
    expect(Math.exp(logGamma(5))).toBeCloseTo(24, 9);
    expect(Math.exp(logGamma(0.5))).toBeCloseTo(Math.sqrt(Math.PI), 9);
  });
});

describe('ratioInterval', () => {
  it("reproduces R's Welch test on the sleep data (on the log scale)", () => {
    // t.test(extra ~ group, data = sleep): t = −1.8608, df = 17.776, p = 0.07939,
    // 95 % CI of group1 − group2: −3.3654832 … 0.2054832.
    const g1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0];
    const g2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4];
    const r = ratioInterval(g2.map(Math.exp), g1.map(Math.exp));
    if (!r.ok) throw new Error(r.reason);
    expect(Math.log(r.interval.ratio)).toBeCloseTo(-1.58, 9);
    expect(Math.log(r.interval.lo)).toBeCloseTo(-3.3654832, 4);
    expect(Math.log(r.interval.hi)).toBeCloseTo(0.2054832, 4);
    expect(r.interval.df).toBeCloseTo(17.776, 2);
    expect(welchLogP(r.interval)).toBeCloseTo(0.07939, 4);
  });

  it('is symmetric: B/A gives the reciprocal interval of A/B', () => {
    const a = [1400, 1380, 1425, 1390];
    const b = [1290, 1310, 1275];
    const ab = ratioInterval(a, b);
    const ba = ratioInterval(b, a);
    if (!ab.ok || !ba.ok) throw new Error('no interval');
    expect(ab.interval.ratio).toBeCloseTo(1 / ba.interval.ratio, 12);
    expect(ab.interval.lo).toBeCloseTo(1 / ba.interval.hi, 12);
    expect(ab.interval.hi).toBeCloseTo(1 / ba.interval.lo, 12);
    expect(ab.interval.hi).toBeLessThan(1);
  });

  it('refuses a verdict from one repetition, from no data and from non-positive values', () => {
    expect(ratioInterval([100], [90, 91])).toEqual({ ok: false, reason: 'single-observation', n: { baseline: 1, candidate: 2 } });
    expect(ratioInterval([], [1, 2])).toMatchObject({ ok: false, reason: 'no-data' });
    expect(ratioInterval([0, 1], [1, 2])).toMatchObject({ ok: false, reason: 'non-positive' });
  });

  it('identical repetitions give a zero-width interval at the ratio', () => {
    const r = ratioInterval([10, 10], [12, 12]);
    if (!r.ok) throw new Error(r.reason);
    expect(r.interval.ratio).toBeCloseTo(1.2, 12);
    expect(r.interval.lo).toBeCloseTo(1.2, 12);
    expect(r.interval.hi).toBeCloseTo(1.2, 12);
  });

  it('covers the true ratio about 95 % of the time with 3 log-normal repetitions per side and unequal noise', () => {
    // Box–Muller normals from a seeded generator: the same draws on every run of the test.
    const rng = new Rng(20261201);
    const u = () => (rng.u32() + 0.5) / 2 ** 32;
    const normal = () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
    const trueRatio = 0.9;
    let covered = 0;
    const trials = 4000;
    for (let i = 0; i < trials; i++) {
      const a = Array.from({ length: 3 }, () => 1000 * Math.exp(0.03 * normal()));
      const b = Array.from({ length: 3 }, () => 1000 * trueRatio * Math.exp(0.08 * normal()));
      const r = ratioInterval(a, b);
      if (r.ok && r.interval.lo <= trueRatio && trueRatio <= r.interval.hi) covered++;
    }
    // Welch's interval is slightly conservative for tiny samples; 95 % ± 1 percentage point.
    expect(covered / trials).toBeGreaterThan(0.94);
    expect(covered / trials).toBeLessThan(0.985);
  });
});

describe('repetitionsToResolve', () => {
  it('grows with the noise and shrinks with the effect to resolve', () => {
    const quiet = ratioInterval([1000, 1010, 995], [990, 1000, 1005]);
    const noisy = ratioInterval([1000, 1150, 880], [990, 1200, 850]);
    if (!quiet.ok || !noisy.ok) throw new Error('no interval');
    const nq = repetitionsToResolve(quiet.interval, 0.05)!;
    const nn = repetitionsToResolve(noisy.interval, 0.05)!;
    expect(nq).toBeLessThanOrEqual(3);
    expect(nn).toBeGreaterThan(10);
    expect(repetitionsToResolve(noisy.interval, 0.2)!).toBeLessThan(nn);
    // The promise holds: with n per side and that noise, t·s·√(2/n) ≤ log(1.05).
    const s = Math.max(noisy.interval.sdLog.baseline, noisy.interval.sdLog.candidate);
    expect(studentTQuantile(0.975, 2 * nn - 2) * s * Math.sqrt(2 / nn)).toBeLessThanOrEqual(Math.log(1.05));
    expect(studentTQuantile(0.975, 2 * nn - 4) * s * Math.sqrt(2 / (nn - 1))).toBeGreaterThan(Math.log(1.05));
  });
});
