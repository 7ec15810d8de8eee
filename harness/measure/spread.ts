// Spread of a handful of figures: per-second TPS, recovery times over fault cycles.

export interface Spread {
  min: number;
  median: number;
  p95: number;
  max: number;
  count: number;
}

/**
 * Distribution of a handful of figures (one per fault cycle). Nearest-rank percentiles: with few
 * samples every reported value is one that was measured. No samples gives zeros with count 0, since
 * the summary schema has no nulls here and count says the figures mean nothing.
 */
export function spread(values: Iterable<number | null | undefined>): Spread {
  const v = [...values].filter((x): x is number => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return { min: 0, median: 0, p95: 0, max: 0, count: 0 };
  const rank = (p: number) => v[Math.min(v.length - 1, Math.max(0, Math.ceil(p * v.length) - 1))];
  return { min: v[0], median: rank(0.5), p95: rank(0.95), max: v[v.length - 1], count: v.length };
}
