// Confidence intervals for the ratio of two targets' figures, from repetitions.
//
// Method: Welch's t-interval on the difference of mean logarithms, back-transformed to a ratio of
// geometric means. Why this and not a bootstrap: a comparison has 3 to 10 repetitions per target,
// and a bootstrap of 3 values has only 10 distinct resamples, so its percentile interval is far too
// narrow (it covers well under 95 %); the t-interval pays for small n through its degrees of
// freedom. Why logarithms: effects on throughput and latency are multiplicative (a slower disk
// costs a share, not a fixed number of transactions), run-to-run noise of positive figures is
// closer to log-normal than normal, and on the log scale A/B and B/A give the same interval
// mirrored. Why Welch: two platforms need not have the same run-to-run noise (a network volume is
// noisier than a local disk), so the variances are not pooled.
//
// The observations are repetitions — each a fresh deploy with its own warmup — never the seconds of
// one run: consecutive seconds share checkpoints, cache state and neighbours, so they are
// autocorrelated and treating them as independent makes intervals far too narrow.

/**
 * `welch-t-log`: two independent samples (Welch–Satterthwaite df). `paired-t-log`: n pairs that
 * ran in the same block, a t-interval on the n per-pair log ratios (n − 1 df). `prediction-t-log`:
 * one new observation against k earlier ones, mean ± t(k − 1)·s·√(1 + 1/k).
 */
export type IntervalMethod = 'welch-t-log' | 'paired-t-log' | 'prediction-t-log';

export interface RatioInterval {
  method: IntervalMethod;
  /** Repetitions on each side (positive, finite values only). */
  n: { baseline: number; candidate: number };
  /** Ratio of geometric means, candidate / baseline. */
  ratio: number;
  /** The interval for the ratio at `level`. */
  lo: number;
  hi: number;
  level: number;
  /** Welch–Satterthwaite degrees of freedom; Infinity when both sides have zero spread. */
  df: number;
  /** Standard error of the difference of mean logs. */
  se: number;
  /**
   * Standard deviations of the logs (the coefficient of variation, roughly) per side. For a paired
   * interval both are the SD of the per-pair log ratios; for a prediction both are the SD of the
   * earlier observations.
   */
  sdLog: { baseline: number; candidate: number };
}

export type IntervalResult = { ok: true; interval: RatioInterval } | { ok: false; reason: 'single-observation' | 'no-data' | 'non-positive'; n: { baseline: number; candidate: number } };

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const variance = (xs: number[]) => {
  const m = mean(xs);
  return xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1);
};

/**
 * The `level` interval for candidate/baseline. Needs at least two repetitions a side: one value
 * says nothing about run-to-run noise.
 */
export function ratioInterval(baseline: number[], candidate: number[], level = 0.95): IntervalResult {
  const fin = (xs: number[]) => xs.filter((x) => typeof x === 'number' && Number.isFinite(x));
  const a = fin(baseline);
  const b = fin(candidate);
  const n = { baseline: a.length, candidate: b.length };
  if (!a.length || !b.length) return { ok: false, reason: 'no-data', n };
  if (a.some((x) => x <= 0) || b.some((x) => x <= 0)) return { ok: false, reason: 'non-positive', n };
  if (a.length < 2 || b.length < 2) return { ok: false, reason: 'single-observation', n };
  const la = a.map(Math.log);
  const lb = b.map(Math.log);
  const va = variance(la) / la.length;
  const vb = variance(lb) / lb.length;
  const se = Math.sqrt(va + vb);
  const d = mean(lb) - mean(la);
  const df = se === 0 ? Infinity : (va + vb) ** 2 / (va ** 2 / (la.length - 1) + vb ** 2 / (lb.length - 1));
  const t = se === 0 ? 0 : studentTQuantile(1 - (1 - level) / 2, df);
  return {
    ok: true,
    interval: {
      method: 'welch-t-log',
      n,
      ratio: Math.exp(d),
      lo: Math.exp(d - t * se),
      hi: Math.exp(d + t * se),
      level,
      df,
      se,
      sdLog: { baseline: Math.sqrt(variance(la)), candidate: Math.sqrt(variance(lb)) },
    },
  };
}

/**
 * The `level` interval for candidate/baseline from pairs: `baseline[i]` and `candidate[i]` ran in
 * the same block (round i of an interleaved or randomized-block order), so drift the two shared —
 * a neighbour's compile, page cache, temperature — cancels in the per-block log ratio. The
 * interval is Student's t on the n log ratios with n − 1 degrees of freedom (R: t.test(log(y),
 * log(x), paired = TRUE)). Pairs with a missing or non-finite side are dropped.
 */
export function pairedRatioInterval(baseline: Array<number | undefined>, candidate: Array<number | undefined>, level = 0.95): IntervalResult {
  if (baseline.length !== candidate.length) throw new RangeError(`paired interval: ${baseline.length} baseline values against ${candidate.length} candidate values`);
  const ok = (x: number | undefined): x is number => typeof x === 'number' && Number.isFinite(x);
  const pairs = baseline.flatMap((x, i) => (ok(x) && ok(candidate[i]) ? [[x, candidate[i] as number] as const] : []));
  const n = { baseline: pairs.length, candidate: pairs.length };
  if (!pairs.length) return { ok: false, reason: 'no-data', n };
  if (pairs.some(([x, y]) => x <= 0 || y <= 0)) return { ok: false, reason: 'non-positive', n };
  if (pairs.length < 2) return { ok: false, reason: 'single-observation', n };
  const d = pairs.map(([x, y]) => Math.log(y) - Math.log(x));
  const sd = Math.sqrt(variance(d));
  const se = sd / Math.sqrt(d.length);
  const df = d.length - 1;
  const t = se === 0 ? 0 : studentTQuantile(1 - (1 - level) / 2, df);
  const m = mean(d);
  return { ok: true, interval: { method: 'paired-t-log', n, ratio: Math.exp(m), lo: Math.exp(m - t * se), hi: Math.exp(m + t * se), level, df, se, sdLog: { baseline: sd, candidate: sd } } };
}

/**
 * The `level` prediction interval for one new observation against k ≥ 2 earlier ones, as a ratio:
 * new / geometric mean of the earlier, with log-scale half-width t(k − 1)·s·√(1 + 1/k), s the SD
 * of the earlier logs (R: predict(lm(log(x) ~ 1), interval = "prediction")). It assumes the new
 * observation varies as the earlier ones did: for a run compared with a history of runs, the
 * history's run-to-run spread stands in for the new run's.
 */
export function predictionRatioInterval(earlier: number[], next: number, level = 0.95): IntervalResult {
  const a = earlier.filter((x) => typeof x === 'number' && Number.isFinite(x));
  const n = { baseline: a.length, candidate: Number.isFinite(next) ? 1 : 0 };
  if (!a.length || !n.candidate) return { ok: false, reason: 'no-data', n };
  if (a.some((x) => x <= 0) || next <= 0) return { ok: false, reason: 'non-positive', n };
  if (a.length < 2) return { ok: false, reason: 'single-observation', n };
  const la = a.map(Math.log);
  const sd = Math.sqrt(variance(la));
  const se = sd * Math.sqrt(1 + 1 / la.length);
  const df = la.length - 1;
  const t = se === 0 ? 0 : studentTQuantile(1 - (1 - level) / 2, df);
  const d = Math.log(next) - mean(la);
  return { ok: true, interval: { method: 'prediction-t-log', n, ratio: Math.exp(d), lo: Math.exp(d - t * se), hi: Math.exp(d + t * se), level, df, se, sdLog: { baseline: sd, candidate: sd } } };
}

/**
 * Repetitions per target after which the interval's half-width on the log scale would be at most
 * log(1 + effect), assuming the noise measured so far (the larger side's log SD for both sides).
 * Null when even `cap` would not do, or there is no noise estimate.
 */
export function repetitionsToResolve(iv: RatioInterval, effect = 0.05, level = 0.95, cap = 1000): number | null {
  const s = Math.max(iv.sdLog.baseline, iv.sdLog.candidate);
  if (!Number.isFinite(s)) return null;
  if (s === 0) return 2;
  const target = Math.log(1 + effect);
  for (let n = 2; n <= cap; n++) {
    // Paired: n blocks give n − 1 df and the SD of the log ratios already holds both sides' noise.
    const [df, width] = iv.method === 'paired-t-log' ? [n - 1, s / Math.sqrt(n)] : [2 * n - 2, s * Math.sqrt(2 / n)];
    if (studentTQuantile(1 - (1 - level) / 2, df) * width <= target) return n;
  }
  return null;
}

/** Two-sided p-value of the t-test the interval inverts (Welch's, paired or the prediction's). */
export function welchLogP(iv: RatioInterval): number {
  if (iv.se === 0) return iv.ratio === 1 ? 1 : 0;
  const t = Math.abs(Math.log(iv.ratio)) / iv.se;
  return 2 * (1 - studentTCdf(t, iv.df));
}

/** P(T ≤ t) for Student's t with df degrees of freedom (df may be fractional). */
export function studentTCdf(t: number, df: number): number {
  if (!Number.isFinite(df)) return normalCdf(t);
  const x = df / (df + t * t);
  const tail = 0.5 * regularizedBeta(x, df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/** The p-quantile of Student's t, by bisection on the CDF (monotone; 80 halvings reach 1e-12). */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`quantile probability ${p} outside (0, 1)`);
  if (!(df > 0)) throw new RangeError(`degrees of freedom ${df} must be positive`);
  if (p < 0.5) return -studentTQuantile(1 - p, df);
  let lo = 0;
  let hi = 1;
  while (studentTCdf(hi, df) < p) hi *= 2;
  for (let i = 0; i < 100 && hi - lo > 1e-12; i++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

function normalCdf(z: number): number {
  // erfc by Abramowitz–Stegun 7.1.26 (error below 1.5e-7), enough for a quantile to 3 digits.
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erfc = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * Math.exp(-x * x);
  return z >= 0 ? 1 - erfc / 2 : erfc / 2;
}

/** I_x(a, b), by the continued fraction (Numerical Recipes 6.4), using the symmetry for x large. */
export function regularizedBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  if (x < (a + 1) / (a + b + 2)) return (front * betaFraction(x, a, b)) / a;
  return 1 - (front * betaFraction(1 - x, b, a)) / b;
}

function betaFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a - 1 + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + 1 + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return h;
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; relative error below 1e-15). */
export function logGamma(x: number): number {
  const g = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let s = g[0];
  for (let i = 1; i < 9; i++) s += g[i] / (x + i);
  const t = x + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(s);
}
