// I/O figures of one target's storage, measured before the database starts.

export interface Percentiles {
  p50: number;
  p99: number;
}

export interface IoResult {
  /** `fio 3.33` or `builtin`: the report says which tool produced the figures. */
  tool: string;
  /** Directory probed (on the volume the database will use). */
  path: string;
  /** Random 4 KiB writes per second (fio only). */
  randWriteIops?: number;
  seqWriteMiBps: number;
  /** 8 KiB write + fdatasync, the WAL pattern. */
  fsyncLatencyMs: Percentiles;
  /** Samples behind fsyncLatencyMs. */
  fsyncSamples: number;
  /** Raw tool output file, relative to the run directory. */
  raw?: string;
}

/** The tool behind an IoResult, without its version: `fio 3.33` and `fio-3.35` are both fio. */
export function ioToolOf(io: Pick<IoResult, 'tool'>): string {
  return /^fio\b/i.test(io.tool) ? 'fio' : io.tool;
}

/**
 * Whether two targets' I/O figures may be set against each other: only when one tool measured both.
 * fio and the built-in probe mirror the same jobs but are not the same instrument, so a ratio between
 * them would report the tools' difference as the disks'. `reason` says why not, naming both tools.
 */
export function ioComparable(a: Pick<IoResult, 'tool'> | undefined, b: Pick<IoResult, 'tool'> | undefined): { comparable: boolean; reason?: string } {
  if (!a || !b) return { comparable: false, reason: `${a ? 'one side' : 'the baseline'} has no I/O figures` };
  if (ioToolOf(a) !== ioToolOf(b)) return { comparable: false, reason: `not comparable: measured by different tools (${a.tool} vs ${b.tool})` };
  return { comparable: true };
}
