// Schemas of the lines in a run's JSONL streams, for everything that reads them back (report, compare,
// history). Results are files other tools and people may edit, truncate or corrupt: a line is data
// only if it has the shape and the ranges a run writes. `null`, `"tps": "lots"` or a latency of 1e308
// is a rejected line with its number, never a point on a chart. Leaf module: zod only.
import { z } from 'zod';

// Bounds far past anything a run measures, so only corruption is refused.
const count = z.number().finite().min(0).max(1e12);
const ms = z.number().finite().min(0).max(1e10);
const runMs = z.number().finite().min(-1e3).max(1e10);

export const SampleLine = z.looseObject({
  target: z.string().max(200),
  workload: z.string().max(200),
  second: z.number().int().min(0).max(1e8),
  tMs: runMs,
  tps: count,
  errors: count,
  errorsByKind: z.record(z.string(), count).optional(),
  latencyMs: z.looseObject({ p50: ms, p95: ms, p99: ms, max: ms, mean: ms, min: ms }),
  hist: z.string().optional(),
});

/** A host-noise sample (measure/host-noise.ts) in samples.jsonl, told apart by `kind: "host"`. */
export const HostNoiseLine = z.looseObject({
  kind: z.literal('host'),
  tMs: runMs,
  intervalMs: ms,
  phase: z.string().max(200),
  cores: z.number().int().min(1).max(1e5),
  busy: z.boolean(),
});

export const EventLine = z.looseObject({
  tMs: runMs,
  wall: z.string().max(64),
  target: z.string().max(200).nullable(),
  type: z.string().min(1).max(100),
});

export interface RejectedLine {
  file: string;
  line: number;
  reason: string;
}
