// summary.json: the contract downstream tooling reads. Field names are stable: add freely, never
// rename. `npm run schema` writes the JSON Schema in harness/report/summary.schema.json from this.
import { z } from 'zod';
import { KubernetesFaultTimelineSchema } from './k8s-timeline.ts';

export const SUMMARY_SCHEMA_VERSION = 1;

const Percentiles = z.object({ p50: z.number(), p95: z.number(), p99: z.number(), max: z.number() });
const Spread = z.object({ min: z.number(), median: z.number(), p95: z.number(), max: z.number(), count: z.number().int() });

export const IoSummary = z.object({
  tool: z.string(),
  path: z.string(),
  randWriteIops: z.number().optional(),
  seqWriteMiBps: z.number(),
  fsyncLatencyMs: z.object({ p50: z.number(), p99: z.number() }),
  fsyncSamples: z.number().int(),
  raw: z.string().optional(),
});

export const WorkloadSummary = z.object({
  name: z.string(),
  kind: z.string(),
  /** Committed transactions per second over the measured phase (warmup excluded). */
  tps: z.number(),
  transactions: z.number().int(),
  /** Failed transactions, total. */
  errors: z.number().int(),
  errorsByKind: z.record(z.string(), z.number().int()),
  latencyMs: Percentiles.extend({ mean: z.number(), min: z.number() }),
  /** Spread of per-second TPS, for noise-aware comparison. */
  tpsPerSecond: Spread.optional(),
  durationMs: z.number(),
  clients: z.number().int(),
  /** Base64 compressed HDR histogram of the whole measured phase, microseconds. */
  histogram: z.string().optional(),
  /** Workload-specific figures (scale, rows loaded, MiB/s…). */
  details: z.record(z.string(), z.unknown()).optional(),
  /**
   * statebench's own CPU during the measured phase: process CPU in cores and the main event loop's
   * busy share, per-second mean and max. `saturated` (with `warning`) when either is above 80 % of its
   * limit: the figures may then measure the load generator rather than the database.
   */
  loadGenerator: z
    .object({
      cpuSet: z.number(),
      cpuCoresMean: z.number(),
      cpuCoresMax: z.number(),
      eventLoopMean: z.number(),
      eventLoopMax: z.number(),
      saturated: z.boolean(),
      warning: z.string().optional(),
    })
    .optional(),
});

export const Recovery = z.object({
  /** From the last successful write before the fault to the first acknowledged write after it. */
  unavailableMs: z.number().nullable(),
  /** From fault injection to the first acknowledged write. */
  timeToFirstWriteMs: z.number().nullable(),
  /** From fault injection until the engine reported healthy. */
  timeToHealthyMs: z.number().nullable(),
  lastSuccessBeforeMs: z.number().nullable(),
  firstFailureMs: z.number().nullable(),
  firstWriteAfterMs: z.number().nullable(),
  recovered: z.boolean(),
});

export const FaultSummary = z.object({
  type: z.string(),
  target: z.string(),
  node: z.string().optional(),
  cycle: z.number().int(),
  /** Run-clock milliseconds. */
  injectedAtMs: z.number(),
  recoveredAtMs: z.number().nullable(),
  recovery: Recovery,
  state: z.string(),
  error: z.string().optional(),
  /** kind/kubernetes: node, pod, claim and leader changes of this cycle on the run clock. */
  kubernetes: KubernetesFaultTimelineSchema.optional(),
});

export const SafetySummary = z.object({
  attempted: z.number().int(),
  acknowledged: z.number().int(),
  failed: z.number().int(),
  indeterminate: z.number().int(),
  indeterminatePresent: z.number().int(),
  indeterminateAbsent: z.number().int(),
  lost: z.number().int(),
  phantom: z.number().int(),
  duplicated: z.number().int(),
  corrupted: z.number().int(),
  lostIds: z.array(z.string()).optional(),
  bank: z
    .object({
      accounts: z.number().int(),
      transfers: z.number().int(),
      checks: z.number().int(),
      violations: z.number().int(),
      expectedTotal: z.number(),
      finalTotal: z.number().nullable(),
      negativeBalances: z.number().int(),
    })
    .optional(),
});

export const HaSummary = z.object({
  /** Per fault cycle: leader lost, new leader elected, first write on it, old node rejoined, lag caught up (run-clock ms). */
  failovers: z.array(
    z.object({
      cycle: z.number().int(),
      type: z.string(),
      node: z.string(),
      injectedAtMs: z.number(),
      oldLeader: z.string().nullable(),
      leaderLostAtMs: z.number().nullable(),
      newLeader: z.string().nullable(),
      newLeaderAtMs: z.number().nullable(),
      firstWriteOnNewLeaderAtMs: z.number().nullable(),
      nodeRejoinedAtMs: z.number().nullable(),
      lagBelowThresholdAtMs: z.number().nullable(),
      lagBytes: z.number().nullable(),
    }),
  ),
  splitBrain: z
    .object({
      /** Acknowledged by a member that did not hold the leader lock at the time. */
      splitBrainWrites: z.number().int(),
      concurrentWrites: z.number().int(),
      /** Total time two members accepted writes at once. */
      dualWriterMs: z.number(),
      episodes: z.array(z.unknown()),
      byMember: z.record(z.string(), z.object({ acknowledged: z.number().int(), whileNotLeader: z.number().int() })),
      /** Lost writes by cause: split-brain, replication-lag, crash, unknown. */
      lostByCause: z.record(z.string(), z.number().int()).optional(),
      singleWriter: z.object({ passed: z.boolean(), message: z.string() }),
    })
    .optional(),
});

export const CheckResult = z.object({
  name: z.string(),
  passed: z.boolean(),
  value: z.union([z.number(), z.string(), z.null()]),
  threshold: z.union([z.number(), z.string(), z.null()]),
  message: z.string(),
});

export const TargetSummary = z.object({
  name: z.string(),
  platform: z.string(),
  storage: z.string(),
  storageSpec: z.record(z.string(), z.unknown()),
  engine: z.object({ kind: z.string(), version: z.string().optional(), settings: z.record(z.string(), z.unknown()) }),
  status: z.enum(['completed', 'failed', 'interrupted']),
  error: z.string().optional(),
  io: IoSummary.optional(),
  workloads: z.array(WorkloadSummary),
  faults: z.array(FaultSummary),
  recoveryMs: Spread.optional(),
  safety: SafetySummary.optional(),
  ha: HaSummary.optional(),
  checks: z.array(CheckResult),
  platformInfo: z.record(z.string(), z.unknown()).optional(),
});

export const Summary = z.object({
  schemaVersion: z.literal(SUMMARY_SCHEMA_VERSION),
  runId: z.string(),
  profile: z.string(),
  baseline: z.string(),
  startedAt: z.string(),
  finishedAt: z.string(),
  status: z.enum(['completed', 'failed', 'interrupted']),
  environment: z.record(z.string(), z.unknown()),
  targets: z.array(TargetSummary),
  /** Lines of samples/events/ledger files that could not be parsed (torn by a kill). */
  malformedLines: z.number().int(),
});

export type Summary = z.infer<typeof Summary>;
export type TargetSummary = z.infer<typeof TargetSummary>;
export type WorkloadSummary = z.infer<typeof WorkloadSummary>;
export type FaultSummary = z.infer<typeof FaultSummary>;
export type SafetySummary = z.infer<typeof SafetySummary>;
export type CheckResult = z.infer<typeof CheckResult>;
export type Recovery = z.infer<typeof Recovery>;
export type HaSummary = z.infer<typeof HaSummary>;
export type KubernetesFaultTimeline = z.infer<typeof KubernetesFaultTimelineSchema>;

export function summaryJsonSchema(): object {
  return z.toJSONSchema(Summary, { target: 'draft-2020-12' });
}
