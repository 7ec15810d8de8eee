import { describe, it, expect } from 'vitest';
import { pairedRatioInterval, predictionRatioInterval, ratioInterval, repetitionsToResolve, studentTQuantile, welchLogP, logGamma } from './interval.ts';
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

/** Seeded standard normals (Box–Muller): the same draws on every run of the test. */
function normals(seed: number): () => number {
  const rng = new Rng(seed);
  const u = () => (rng.u32() + 0.5) / 2 ** 32;
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

describe('pairedRatioInterval', () => {
  it("reproduces R's paired t-test on the sleep data (on the log scale)", () => {
    // t.test(extra ~ group, data = sleep, paired = TRUE): t = −4.0621, df = 9, p = 0.002833,
    // 95 % CI of the mean difference group1 − group2: −2.4598858 … −0.7001142.
    const g1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0];
    const g2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4];
    const r = pairedRatioInterval(g2.map(Math.exp), g1.map(Math.exp));
    if (!r.ok) throw new Error(r.reason);
    expect(r.interval.method).toBe('paired-t-log');
    expect(Math.log(r.interval.ratio)).toBeCloseTo(-1.58, 9);
    expect(Math.log(r.interval.lo)).toBeCloseTo(-2.4598858, 5);
    expect(Math.log(r.interval.hi)).toBeCloseTo(-0.7001142, 5);
    expect(r.interval.df).toBe(9);
    expect(Math.log(r.interval.ratio) / r.interval.se).toBeCloseTo(-4.0621, 3);
    expect(welchLogP(r.interval)).toBeCloseTo(0.002833, 5);
  });

  it('drops a pair with a side missing, and refuses one pair', () => {
    const r = pairedRatioInterval([100, undefined, 102, 98], [90, 91, 93, 88]);
    if (!r.ok) throw new Error(r.reason);
    expect(r.interval.n).toEqual({ baseline: 3, candidate: 3 });
    expect(pairedRatioInterval([100, undefined], [90, 91])).toMatchObject({ ok: false, reason: 'single-observation' });
    expect(() => pairedRatioInterval([1, 2], [1])).toThrow(/2 baseline values against 1 candidate/);
  });

  it('covers the true ratio about 95 % of the time when every block has its own drift, where Welch on the same values is too wide to see a 10 % drop', () => {
    // Four blocks; each block's host state moves both targets alike (log SD 0.3), each
    // repetition adds its own noise (log SD 0.03).
    const z = normals(16001);
    const trueRatio = 0.9;
    let covered = 0;
    let pairedFound = 0;
    let welchFound = 0;
    const trials = 4000;
    for (let i = 0; i < trials; i++) {
      const drift = Array.from({ length: 4 }, () => 0.3 * z());
      const a = drift.map((d) => 1000 * Math.exp(d + 0.03 * z()));
      const b = drift.map((d) => 1000 * trueRatio * Math.exp(d + 0.03 * z()));
      const p = pairedRatioInterval(a, b);
      const w = ratioInterval(a, b);
      if (!p.ok || !w.ok) throw new Error('no interval');
      if (p.interval.lo <= trueRatio && trueRatio <= p.interval.hi) covered++;
      if (p.interval.hi < 1) pairedFound++;
      if (w.interval.hi < 1) welchFound++;
    }
    expect(covered / trials).toBeGreaterThan(0.94);
    expect(covered / trials).toBeLessThan(0.96);
    expect(pairedFound / trials).toBeGreaterThan(0.85);
    expect(welchFound / trials).toBeLessThan(0.3);
  });
});

describe('predictionRatioInterval', () => {
  it("matches R's prediction interval for one new observation", () => {
    // y <- c(0, 1, 2); predict(lm(y ~ 1), data.frame(x = 1), interval = "prediction"):
    // fit 1, lwr −3.968275, upr 5.968275 (1 ± qt(0.975, 2) · 1 · √(1 + 1/3)).
    const r = predictionRatioInterval([0, 1, 2].map(Math.exp), Math.exp(1));
    if (!r.ok) throw new Error(r.reason);
    expect(r.interval.method).toBe('prediction-t-log');
    expect(Math.log(r.interval.ratio)).toBeCloseTo(0, 12);
    expect(1 + Math.log(r.interval.lo)).toBeCloseTo(-3.968275, 5);
    expect(1 + Math.log(r.interval.hi)).toBeCloseTo(5.968275, 5);
    expect(r.interval.df).toBe(2);
    expect(predictionRatioInterval([5], 5)).toMatchObject({ ok: false, reason: 'single-observation' });
  });

  it('holds a new run inside 95 % of the time', () => {
    const z = normals(16002);
    let inside = 0;
    const trials = 4000;
    for (let i = 0; i < trials; i++) {
      const history = Array.from({ length: 4 }, () => 500 * Math.exp(0.2 * z()));
      const r = predictionRatioInterval(history, 500 * Math.exp(0.2 * z()));
      if (!r.ok) throw new Error(r.reason);
      // The new run is inside the prediction interval exactly when the ratio's interval holds 1.
      if (r.interval.lo <= 1 && 1 <= r.interval.hi) inside++;
    }
    expect(inside / trials).toBeGreaterThan(0.94);
    expect(inside / trials).toBeLessThan(0.96);
  });
});

describe('runs as the unit of noise', () => {
  // Two levels of noise, as measured on a shared host: each run has its own host state (log SD
  // 0.15 between runs), its repetitions vary little around it (log SD 0.03). Nothing changes
  // between the two sides.
  const z = normals(16003);
  const runOf = (reps: number) => {
    const state = 0.15 * z();
    return Array.from({ length: reps }, () => 500 * Math.exp(state + 0.03 * z()));
  };
  const geo = (xs: number[]) => Math.exp(xs.reduce((p, q) => p + Math.log(q), 0) / xs.length);
  const trials = 2000;

  it('repetitions of one run a side raise false alarms far above 5 %', () => {
    let alarms = 0;
    for (let i = 0; i < trials; i++) {
      const r = ratioInterval(runOf(4), runOf(4));
      if (r.ok && (r.interval.lo > 1 || r.interval.hi < 1)) alarms++;
    }
    expect(alarms / trials).toBeGreaterThan(0.5);
  });

  it('run means with three runs a side keep them near 5 %, and so does a history of three runs against one', () => {
    let alarms = 0;
    let predicted = 0;
    for (let i = 0; i < trials; i++) {
      const a = [runOf(4), runOf(4), runOf(4)].map(geo);
      const b = [runOf(4), runOf(4), runOf(4)].map(geo);
      const r = ratioInterval(a, b);
      if (r.ok && (r.interval.lo > 1 || r.interval.hi < 1)) alarms++;
      const p = predictionRatioInterval(a, geo(runOf(4)));
      if (p.ok && (p.interval.lo > 1 || p.interval.hi < 1)) predicted++;
    }
    expect(alarms / trials).toBeLessThan(0.065);
    expect(predicted / trials).toBeGreaterThan(0.035);
    expect(predicted / trials).toBeLessThan(0.065);
  });
});
