// Latency distributions as HDR histograms (hdr-histogram-js), recorded in microseconds and reported
// in milliseconds.
import * as hdr from 'hdr-histogram-js';

export type Histogram = hdr.Histogram;

export function newHistogram(): Histogram {
  return hdr.build({ bitBucketSize: 'packed', lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
}

/**
 * A histogram for the hot path of a load generator: the same buckets (so the same values and the same
 * encoding), counts in a plain 32-bit array (~92 KiB). Recording into the packed form walks its
 * index structure on every value; with two records per transaction that was the OLTP driver's
 * largest cost in JavaScript, as large as its socket writes.
 */
export function newRecordingHistogram(): Histogram {
  return hdr.build({ bitBucketSize: 32, lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
}

export function recordMs(h: Histogram, ms: number): void {
  h.recordValue(Math.max(1, Math.round(ms * 1000)));
}

export interface LatencyMs {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
  min: number;
}

const ms = (us: number) => +(us / 1000).toFixed(3);

export function latencyMs(h: Histogram): LatencyMs {
  if (h.totalCount === 0) return { p50: 0, p95: 0, p99: 0, max: 0, mean: 0, min: 0 };
  return {
    p50: ms(h.getValueAtPercentile(50)),
    p95: ms(h.getValueAtPercentile(95)),
    p99: ms(h.getValueAtPercentile(99)),
    max: ms(h.maxValue),
    mean: ms(h.mean),
    min: ms(h.minNonZeroValue),
  };
}

export function encode(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

export function decode(b64: string): Histogram {
  return hdr.decodeFromCompressedBase64(b64, 'packed', false);
}
