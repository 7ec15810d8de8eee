// Profile schemas of the big-data workloads, for the profile's `workloads` union. Leaf module: zod
// and the unit schemas only, so harness/model/profile.ts can import it without pulling in a driver.
//
//   workloads:
//     - kind: bulk-load
//       size: 1GiB          # or rows: 5000000
//       streams: 4          # parallel COPY connections into one table
//       chunk: 4MiB         # COPY text per transaction; the unit of retry
//     - kind: analytic
//       scaleFactor: 0.05   # TPC-H-like lineitem, ~300,000 rows
//       repetitions: 5      # cold = first run, warm = median of the rest
import { z } from 'zod';
import { Duration, DurationOrZero, Size } from './unit-schemas.ts';

const Name = z.string().regex(/^[A-Za-z0-9._-]+$/, 'use letters, digits and . _ -').optional();
const Seed = z.number().int().min(0).max(2 ** 31 - 1).default(1);

export const BULK_LOAD_DEFAULT_SIZE = 256 * 1024 ** 2;

export const BulkLoadWorkload = z
  .strictObject({
    kind: z.literal('bulk-load'),
    /** Defaults to the kind; must be unique within the profile. */
    name: Name,
    /**
     * Time limit of the load (the measured phase). A load still running then stops starting chunks,
     * verifies what it committed and reports `complete: false`. Faults are scheduled inside it.
     */
    duration: Duration.default(30 * 60_000),
    /** Leading part of the load excluded from the per-second samples and `measured` figures. */
    warmup: DurationOrZero.default(0),
    /** Volume of COPY text to load; rows = size ÷ the generator's mean row width. Default 256MiB. */
    size: Size.pipe(z.number().int().min(1, 'size must be at least one byte')).optional(),
    /** Exact number of rows, instead of `size`. */
    rows: z.number().int().min(1).max(10_000_000_000).optional(),
    /** Parallel COPY connections, all into one table. */
    streams: z.number().int().min(1).max(64).default(4),
    /**
     * COPY text per transaction (approximate: whole rows). A chunk is what is retried after a failure;
     * each stream holds up to two in memory (the one in flight and the next, generated ahead).
     */
    chunk: Size.pipe(z.number().int().min(4096, 'chunk must be at least 4KiB').max(256 * 1024 ** 2, 'chunk must be at most 256MiB')).default(4 * 1024 ** 2),
    /** Seed of the row generator: the same seed loads the same bytes. */
    seed: Seed,
    /** Table to load (dropped and created by the workload), and `<table>_chunks` beside it. */
    table: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,50}$/, 'use a lower-case identifier of at most 51 characters')
      .default('bulk_load'),
    /** Server-side timeout of each statement; a chunk's COPY counts as one. */
    statementTimeout: Duration.default(120_000),
    /** Attempts per chunk before it is given up (and the load reported incomplete). */
    maxAttempts: z.number().int().min(1).max(100).default(5),
    /** How long a stream keeps reconnecting after its connection failed. */
    reconnectTimeout: Duration.default(120_000),
  })
  .refine((w) => w.size === undefined || w.rows === undefined, { message: 'give either size or rows, not both', path: ['rows'] });

export const ANALYTIC_QUERIES = ['q1', 'q6', 'scan', 'index'] as const;
export type AnalyticQuery = (typeof ANALYTIC_QUERIES)[number];

export const AnalyticWorkload = z.strictObject({
  kind: z.literal('analytic'),
  /** Defaults to the kind; must be unique within the profile. */
  name: Name,
  /** Time limit of the query phase: no new execution starts after it. */
  duration: Duration.default(10 * 60_000),
  /** Before the measured phase, the query set runs untimed this long (then `cold` is no longer cold). */
  warmup: DurationOrZero.default(0),
  /** TPC-H scale factor of lineitem: 1 ≈ 6,000,000 rows; fractions such as 0.01 (≈ 60,000) are fine. */
  scaleFactor: z.number().positive().min(0.0001).max(100).default(0.01),
  seed: Seed,
  /** Parallel COPY connections of the load. */
  streams: z.number().int().min(1).max(64).default(2),
  /** Executions per query: the first is reported as cold, the median of the rest as warm. */
  repetitions: z.number().int().min(2).max(1000).default(5),
  /** Which queries run, in this order. */
  queries: z
    .array(z.enum(ANALYTIC_QUERIES))
    .min(1)
    .refine((q) => new Set(q).size === q.length, 'list each query once')
    .default([...ANALYTIC_QUERIES]),
  statementTimeout: Duration.default(10 * 60_000),
  /** Attempts per query execution before it is given up. */
  maxAttempts: z.number().int().min(1).max(100).default(3),
  /** How long the workload keeps reconnecting after its connection failed. */
  reconnectTimeout: Duration.default(120_000),
});

export type BulkLoadSpec = z.output<typeof BulkLoadWorkload>;
export type BulkLoadInput = z.input<typeof BulkLoadWorkload>;
export type AnalyticSpec = z.output<typeof AnalyticWorkload>;
export type AnalyticInput = z.input<typeof AnalyticWorkload>;
