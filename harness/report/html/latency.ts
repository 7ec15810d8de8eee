// Latency distributions for the report, read from the HDR histograms a run recorded (microseconds).
import * as hdr from 'hdr-histogram-js';
import { decode, newHistogram, type Histogram } from '../../measure/histogram.ts';
import type { SecondSample } from './run-data.ts';

/**
 * Percentiles at which the CDF is sampled: evenly through the body, then ever finer towards the
 * tail, where the differences between targets usually are.
 */
const CDF_PERCENTILES = [
  ...Array.from({ length: 99 }, (_, i) => i + 1),
  99.25, 99.5, 99.75, 99.9, 99.95, 99.99, 99.999, 100,
];

/** The whole measured phase's histogram, or, when the summary lacks it, the per-second ones merged. */
export function workloadHistogram(summaryHistogram: string | undefined, samples: SecondSample[]): Histogram | undefined {
  if (summaryHistogram) {
    try {
      return decode(summaryHistogram);
    } catch {
      // fall through to the per-second histograms
    }
  }
  const withHist = samples.filter((s) => s.hist);
  if (!withHist.length) return undefined;
  const merged = newHistogram();
  for (const s of withHist) {
    try {
      merged.add(decode(s.hist!));
    } catch {
      // a torn or foreign histogram: leave it out rather than fail the whole report
    }
  }
  return merged.totalCount ? merged : undefined;
}

/** [latency ms, percentile] points of the cumulative distribution, starting at the minimum. */
export function cdfPoints(packed: Histogram): Array<[number, number]> {
  if (!packed.totalCount) return [];
  // Percentile look-ups walk the counts array; on the packed (sparse) layout each step is a search.
  // One pass copying into a flat 32-bit histogram makes the hundred look-ups cheap.
  const h = hdr.build({ bitBucketSize: 32, lowestDiscernibleValue: 1, highestTrackableValue: packed.maxValue + 1, numberOfSignificantValueDigits: 3 });
  h.add(packed);
  const points: Array<[number, number]> = [[h.minNonZeroValue / 1000, 0]];
  for (const p of CDF_PERCENTILES) {
    const ms = h.getValueAtPercentile(p) / 1000;
    const last = points[points.length - 1];
    // Several percentiles at one recorded value are one vertical step: keep its top only.
    if (ms === last[0]) last[1] = p;
    else points.push([ms, p]);
  }
  return points;
}
