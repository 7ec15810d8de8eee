// summary.json: the contract downstream tooling reads. Field names are stable: add freely, never
// rename. `npm run schema` writes the JSON Schema in harness/report/summary.schema.json from this.
import { z } from 'zod';
import { KubernetesFaultTimelineSchema, StatefulSetStartupSchema } from './k8s-timeline.ts';

/**
 * 2: a target may run several times (`repetition`), with the ratios between targets and their
 * intervals in `comparisons`, the resources each target had and the host's noise per phase.
 * Readers accept 1: a summary of schema 1 is one repetition of every target.
 */
export const SUMMARY_SCHEMA_VERSION = 2;

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
  /** Outcomes left out because they crossed an edge of the measured window. */
  edges: z.object({ startedBeforeWindow: z.number().int(), endedAfterWindow: z.number().int() }).optional(),
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

const FigureSpread = z.object({ median: z.number(), p95: z.number(), max: z.number() });

/** The host while one phase of one repetition ran (harness/measure/host-noise.ts). */
export const HostNoisePhase = z.object({
  phase: z.string(),
  samples: z.number().int(),
  durationMs: z.number(),
  cores: z.number().int(),
  load1: FigureSpread,
  runQueue: FigureSpread,
  runQueueAboveCoresShare: z.number(),
  iowaitPct: FigureSpread,
  stealPct: FigureSpread,
  runCpuCores: FigureSpread,
  outsideCpuCores: FigureSpread,
  memoryPressure: FigureSpread.nullable(),
  cpuPressure: FigureSpread.nullable(),
  busyShare: z.number(),
  busy: z.boolean(),
  reasons: z.array(z.string()),
});

/** CPUs and memory one part of a target was given, and how, as the platform applied it. */
export const ResourceGrant = z.object({
  /** CPU list as the kernel writes it (`0-1`, `2`), or null for no pinning. */
  cpuset: z.string().nullable(),
  /** CPU quota in cores (Docker --cpus, a Kubernetes limit), or null for none. */
  cpus: z.number().nullable(),
  memoryBytes: z.number().nullable(),
  /** How it was applied: `taskset`, `systemd-run`, `docker`, `kubernetes`, or `none`. */
  mechanism: z.string(),
  /** What could not be applied, and why. */
  notes: z.array(z.string()).optional(),
});

export const TargetResources = z.object({
  database: ResourceGrant,
  loadGenerator: ResourceGrant,
});

export const TargetSummary = z.object({
  name: z.string(),
  /** Which run of this target (1-based) when the profile repeats targets; absent means 1. */
  repetition: z.number().int().min(1).optional(),
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
  /** kind/kubernetes: the order the StatefulSet's members were created and became Ready in, as the pod watch saw it. */
  statefulSetStartup: StatefulSetStartupSchema.optional(),
  resources: TargetResources.optional(),
  /** The host per phase of this repetition: load, CPU outside the run, pressure, busy flag. */
  hostNoise: z.array(HostNoisePhase).optional(),
});

/**
 * One figure of one target against the baseline target, over repetitions: the values behind it,
 * the ratio of geometric means and its interval, and the verdict the interval allows.
 */
export const RatioSummary = z.object({
  target: z.string(),
  baseline: z.string(),
  /** e.g. `oltp-tpcb TPS`, `oltp-tpcb latency p99`, `fdatasync p99`. */
  metric: z.string(),
  group: z.enum(['tps', 'latency', 'io', 'recovery', 'bulk']),
  unit: z.string(),
  better: z.enum(['higher', 'lower']),
  /** Per repetition, in repetition order; completed repetitions only. */
  baselineValues: z.array(z.number()),
  targetValues: z.array(z.number()),
  /**
   * The repetition (block) number of each value, aligned with baselineValues / targetValues. With
   * method `paired-t-log` the interval pairs the values of equal repetition numbers.
   */
  baselineRepetitions: z.array(z.number().int()).optional(),
  targetRepetitions: z.array(z.number().int()).optional(),
  /** Geometric mean of targetValues / geometric mean of baselineValues. */
  ratio: z.number().nullable(),
  /**
   * 95 % interval of the ratio; null with fewer than 2 repetitions a side. `paired-t-log`: Student's
   * t on the per-block log ratios (repetition r of both targets ran in block r of the order), n − 1
   * df; `welch-t-log`: Welch's t on the two sides' log values, when no block order is recorded.
   */
  ci95: z.object({ lo: z.number(), hi: z.number() }).nullable(),
  df: z.number().nullable(),
  method: z.enum(['paired-t-log', 'welch-t-log', 'single-observation', 'not-comparable']),
  verdict: z.enum(['better', 'worse', 'no-difference', 'single-observation', 'not-comparable']),
  /** Repetitions per target after which the interval would be ±5 % at the noise measured; null when unknown or over 1000. */
  repetitionsToResolve5pct: z.number().int().nullable(),
  text: z.string(),
});

export const Summary = z.object({
  schemaVersion: z.union([z.literal(1), z.literal(SUMMARY_SCHEMA_VERSION)]),
  runId: z.string(),
  profile: z.string(),
  baseline: z.string(),
  startedAt: z.string(),
  finishedAt: z.string(),
  status: z.enum(['completed', 'failed', 'interrupted']),
  environment: z.record(z.string(), z.unknown()),
  /** One entry per target and repetition, in the order they ran. */
  targets: z.array(TargetSummary),
  /** Repetitions per target the profile asked for. */
  repetitions: z.number().int().min(1).optional(),
  /** The order targets ran in (`name#repetition`), and the seed that shuffled it, if any. */
  order: z.object({ scheme: z.enum(['interleaved', 'randomized-blocks']), seed: z.number().int().nullable(), sequence: z.array(z.string()) }).optional(),
  /** Every figure of every target against the baseline, with its interval. */
  comparisons: z.array(RatioSummary).optional(),
  /** Things that weaken a comparison: targets with different resources, a busy host. */
  warnings: z.array(z.string()).optional(),
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
export type RatioSummary = z.infer<typeof RatioSummary>;
export type HostNoisePhase = z.infer<typeof HostNoisePhase>;
export type ResourceGrant = z.infer<typeof ResourceGrant>;
export type TargetResources = z.infer<typeof TargetResources>;
export type KubernetesFaultTimeline = z.infer<typeof KubernetesFaultTimelineSchema>;
export type StatefulSetStartup = z.infer<typeof StatefulSetStartupSchema>;

export function summaryJsonSchema(): object {
  return z.toJSONSchema(Summary, { target: 'draft-2020-12' });
}
