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
