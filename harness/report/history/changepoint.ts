// Change points in a short, noisy series of per-run figures (one value per nightly run).
//
// Why a step test on medians and not CUSUM: CUSUM needs an in-control mean and standard deviation
// and two tuning constants (k, h), all estimated from a stable stretch we do not have, and one outlier
// run on a busy CI machine pushes its sum over the limit. Here every split of the series into a
// "before" and an "after" segment is a candidate; the candidate with the strongest Mann–Whitney
// evidence wins if it survives a Bonferroni correction over all candidates and the medians differ by
// more than the minimum effect, the same two conditions `statebench compare` applies to one pair of
// runs. Binary segmentation then looks for further steps on either side. Medians and ranks keep a
// single odd run from being called a change.
import { mannWhitneyU, median } from '../compare/stats.ts';

export interface ChangePoint {
  /** Index (into the series) of the first value of the new level. */
  index: number;
  before: number;
  after: number;
  /** (after − before) / before; null when before is 0. */
  change: number | null;
  p: number;
}

export interface ChangePointOptions {
  /** @default 0.05 */
  alpha?: number;
  /** @default 0.05 */
  minEffect?: number;
  /**
   * Fewest values on each side of a step. Four is the smallest segment for which a rank test can be
   * significant at all (4 vs 4: p ≥ 0.029). @default 4
   */
  minSegment?: number;
}

export function changePoints(values: number[], opts: ChangePointOptions = {}): ChangePoint[] {
  const alpha = opts.alpha ?? 0.05;
  const minEffect = opts.minEffect ?? 0.05;
  const m = Math.max(2, opts.minSegment ?? 4);
  const found: ChangePoint[] = [];
  const search = (from: number, to: number) => {
    const n = to - from;
    const candidates = n - 2 * m + 1;
    if (candidates < 1) return;
    const best = bestSplit(values, from, to, m, minEffect);
    if (!best || best.p >= alpha / candidates) return;
    found.push(best);
    search(from, best.index);
    search(best.index, to);
  };
  search(0, values.length);
  found.sort((a, b) => a.index - b.index);
  // Binary segmentation places a step while the other steps are still in the data, which can put it
  // a run off (three levels look like two to the first split). Re-place each step between its
  // neighbours, where it is the only one.
  for (let i = 0; i < found.length; i++) {
    const from = i ? found[i - 1].index : 0;
    const to = i + 1 < found.length ? found[i + 1].index : values.length;
    const best = bestSplit(values, from, to, m, minEffect);
    if (best) found[i] = best;
  }
  return found;
}

function bestSplit(values: number[], from: number, to: number, m: number, minEffect: number): ChangePoint | undefined {
  let best: ChangePoint | undefined;
  for (let k = from + m; k <= to - m; k++) {
    const before = values.slice(from, k);
    const after = values.slice(k, to);
    const mb = median(before)!;
    const ma = median(after)!;
    const change = mb === 0 ? (ma === 0 ? 0 : null) : (ma - mb) / Math.abs(mb);
    if (change !== null && Math.abs(change) <= minEffect) continue;
    const { p } = mannWhitneyU(before, after);
    if (!best || p < best.p || (p === best.p && Math.abs(change ?? Infinity) > Math.abs(best.change ?? Infinity))) best = { index: k, before: mb, after: ma, change, p };
  }
  return best;
}
