// The Mann–Whitney U test (Wilcoxon rank-sum), two-sided. Why this test: per-second TPS and latency
// and recovery times across fault cycles are not normal (stalls, long tails, a floor at zero), and
// runs differ in length; a rank test asks only whether one sample tends to be larger than the other,
// is unmoved by a single outlier second, and needs no variance estimate. Exact p-values for small
// samples without ties (recovery cycles are few), the normal approximation with tie and continuity
// correction otherwise.
//
// Consecutive seconds of one run are not independent (a checkpoint slows several in a row), so the
// p-value is optimistic; that is why a change must also exceed a minimum effect size before it is
// called a regression.

export interface RankTest {
  test: 'mann-whitney-u';
  n1: number;
  n2: number;
  /** U of the first sample: how often a value of it exceeds one of the second (ties count half). */
  u: number;
  /** Two-sided p-value; 1 when either sample is empty. */
  p: number;
  exact: boolean;
  /** Probability that a value of the second sample exceeds one of the first (0.5: no shift). */
  superiority: number;
}

/** Beyond this many pairs the exact distribution is costly and the normal approximation is good. */
const EXACT_MAX_PAIRS = 900;

export function mannWhitneyU(a: number[], b: number[]): RankTest {
  const x = a.filter(Number.isFinite);
  const y = b.filter(Number.isFinite);
  const n1 = x.length;
  const n2 = y.length;
  if (!n1 || !n2) return { test: 'mann-whitney-u', n1, n2, u: NaN, p: 1, exact: false, superiority: 0.5 };

  const all = [...x.map((v) => ({ v, g: 0 })), ...y.map((v) => ({ v, g: 1 }))].sort((p, q) => p.v - q.v);
  const ranks = new Array<number>(all.length);
  let tieTerm = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j + 1 < all.length && all[j + 1].v === all[i].v) j++;
    const rank = (i + j + 2) / 2;
    for (let k = i; k <= j; k++) ranks[k] = rank;
    const t = j - i + 1;
    if (t > 1) tieTerm += t ** 3 - t;
    i = j + 1;
  }
  let r1 = 0;
  all.forEach((e, i) => {
    if (e.g === 0) r1 += ranks[i];
  });
  const u = r1 - (n1 * (n1 + 1)) / 2;
  const superiority = 1 - u / (n1 * n2);

  if (tieTerm === 0 && n1 * n2 <= EXACT_MAX_PAIRS) {
    const dist = exactDistribution(n1, n2);
    let below = 0;
    for (let k = 0; k <= Math.floor(u); k++) below += dist[k];
    let above = 0;
    for (let k = Math.ceil(u); k < dist.length; k++) above += dist[k];
    return { test: 'mann-whitney-u', n1, n2, u, p: Math.min(1, 2 * Math.min(below, above)), exact: true, superiority };
  }

  const n = n1 + n2;
  const mean = (n1 * n2) / 2;
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  if (variance <= 0) return { test: 'mann-whitney-u', n1, n2, u, p: 1, exact: false, superiority };
  const z = Math.max(0, Math.abs(u - mean) - 0.5) / Math.sqrt(variance);
  return { test: 'mann-whitney-u', n1, n2, u, p: Math.min(1, 2 * normalUpperTail(z)), exact: false, superiority };
}

/**
 * P(U = k) for k = 0..n1·n2 under the null hypothesis, from the recurrence
 * p(n1, n2, k) = n1/(n1+n2)·p(n1−1, n2, k−n2) + n2/(n1+n2)·p(n1, n2−1, k), in probabilities so that
 * nothing overflows.
 */
function exactDistribution(n1: number, n2: number): Float64Array {
  const memo = new Map<string, Float64Array>();
  const dist = (i: number, j: number): Float64Array => {
    const key = `${i},${j}`;
    const hit = memo.get(key);
    if (hit) return hit;
    const out = new Float64Array(i * j + 1);
    if (i === 0 || j === 0) {
      out[0] = 1;
    } else {
      const left = dist(i - 1, j);
      const right = dist(i, j - 1);
      const wi = i / (i + j);
      const wj = j / (i + j);
      for (let k = 0; k < out.length; k++) {
        out[k] = (k - j >= 0 && k - j < left.length ? wi * left[k - j] : 0) + (k < right.length ? wj * right[k] : 0);
      }
    }
    memo.set(key, out);
    return out;
  };
  return dist(n1, n2);
}

/** P(Z > z) for a standard normal Z (Abramowitz–Stegun 7.1.26 via erfc; error below 1.5e-7). */
export function normalUpperTail(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erfc = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * Math.exp(-x * x);
  return z >= 0 ? erfc / 2 : 1 - erfc / 2;
}

export function median(values: number[]): number | null {
  const s = values.filter(Number.isFinite).sort((p, q) => p - q);
  if (!s.length) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
