// Profile → Plan: expands targets × workloads and the fault schedule into concrete, named steps, and
// checks the rules a schema cannot express. Pure: it reads and starts nothing.
import type { CheckSpec, EngineSpec, FaultSpec, IoProbeSpec, Profile, ResourcesSpec, SafetySpec, StorageSpec, TargetSpec, WorkloadSpec } from './profile.ts';
import { CAPABILITIES } from './capabilities.ts';
import { FAULT_CATALOG, type FaultKind } from './faults.ts';
import { formatDuration, formatSize } from './units.ts';
import { UNSAFE_SETTINGS } from './profile.ts';
import { resolvePatroniOptions, type PatroniOptions } from './patroni.ts';

export interface Problem {
  path: (string | number)[];
  message: string;
}

export interface FaultCycle {
  /** Index of the fault entry in the profile, and the cycle within its `repeat`. */
  faultIndex: number;
  cycle: number;
  type: FaultSpec['type'];
  target: string;
  /** Offset from the start of the faulted workload's measured phase. */
  atMs: number;
  /** How long the fault is held before recovery starts. */
  holdMs: number;
  errorRate: number;
  recoveryTimeoutMs: number;
}

export interface PlannedWorkload {
  name: string;
  spec: WorkloadSpec;
}

/**
 * How node faults reach the nodes of a Kubernetes target and the policies that decide Kubernetes'
 * reaction, resolved from `targets[].faultPolicy`. Other platforms carry the default.
 */
export interface FaultPolicy {
  /**
   * `none` (pod faults only) or `helper-pod`, a privileged pod with the host's PID namespace on the
   * target node (existing clusters). kind reaches its nodes through docker.
   * @default 'none'
   */
  nodeAccess: 'none' | 'helper-pod';
  /** Image of the helper pod; needs nsenter (util-linux). @default the target's database image */
  helperImage?: string;
  /**
   * tolerationSeconds of the member pods' NoExecute tolerations for node.kubernetes.io/not-ready and
   * /unreachable. @default unset: the API server's DefaultTolerationSeconds admission plugin adds 300 s
   */
  notReadyTolerationSeconds?: number;
  unreachableTolerationSeconds?: number;
  /** Operator action: force-delete a member pod whose node has been NotReady this long. @default off */
  forceDeleteAfterMs?: number;
}

export const DEFAULT_FAULT_POLICY: FaultPolicy = { nodeAccess: 'none' };

export interface PlannedTarget {
  name: string;
  /** File-system safe form of the name, used for directories. */
  slug: string;
  platform: TargetSpec['platform'];
  storage: StorageSpec;
  spec: TargetSpec;
  engine: EngineSpec;
  io: IoProbeSpec;
  workloads: PlannedWorkload[];
  faults: FaultCycle[];
  safety: SafetySpec;
  checks: CheckSpec[];
  /** patroni engine: engine.patroni, then targets[].patroni, Patroni's defaults for the rest. */
  patroni?: PatroniOptions;
  faultPolicy: FaultPolicy;
  /**
   * The error rate the target's remote volumes start with when a storage-error fault is scheduled
   * (nbdkit's error filter fixes it at start).
   */
  storageErrorRate?: number;
  /** The target's resources, else the profile's; absent or {} when neither sets any. */
  resources?: ResourcesSpec;
}

export interface Plan {
  profile: string;
  description?: string;
  baseline: string;
  targets: PlannedTarget[];
  /** Runs of every target, and the order they interleave in. */
  repetitions: number;
  order: 'interleaved' | 'randomized-blocks';
  seed?: number;
}

export function storageLabel(s: StorageSpec): string {
  switch (s.kind) {
    case 'local':
      return s.filesystem === 'directory' ? 'local' : `local(${s.filesystem})`;
    case 'remote':
      if (s.storageClass) return `remote(${s.storageClass})`;
      if (s.latencyMs !== undefined) return `remote(${s.latencyMs}ms)`;
      return s.preset ? `remote(${s.preset})` : 'remote';
    case 'local-pv':
      return 'local-pv';
  }
}

/** The directory of one repetition of a target: `<slug>`, then `<slug>.r2`, `<slug>.r3`… */
export function repetitionSlug(slug: string, repetition: number | undefined): string {
  return repetition && repetition > 1 ? `${slug}.r${repetition}` : slug;
}

export function slugOf(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '');
}

export const DEFAULT_SAFETY: SafetySpec = {
  writer: { enabled: true, clients: 2, timeout: 2_000, rate: 200 },
  bank: { enabled: false, accounts: 10, clients: 2, initialBalance: 1000 },
};
/** Without faults there is nothing to recover from; the ledger still runs when the profile asks for it. */
const NO_SAFETY: SafetySpec = { ...DEFAULT_SAFETY, writer: { ...DEFAULT_SAFETY.writer, enabled: false } };

function resolveFaultPolicy(t: TargetSpec): FaultPolicy {
  const p = t.faultPolicy;
  if (!p) return { ...DEFAULT_FAULT_POLICY };
  const seconds = (ms: number | undefined) => (ms === undefined ? undefined : Math.round(ms / 1000));
  const policy: FaultPolicy = { nodeAccess: p.nodeAccess };
  if (p.helperImage !== undefined) policy.helperImage = p.helperImage;
  const notReady = seconds(p.tolerations?.notReady);
  const unreachable = seconds(p.tolerations?.unreachable);
  if (notReady !== undefined) policy.notReadyTolerationSeconds = notReady;
  if (unreachable !== undefined) policy.unreachableTolerationSeconds = unreachable;
  if (p.forceDeleteAfter !== undefined) policy.forceDeleteAfterMs = p.forceDeleteAfter;
  return policy;
}

/** A volume statebench serves itself, so it can stall or fail its I/O. */
function emulatedVolume(s: StorageSpec): boolean {
  return s.kind === 'remote' && !s.storageClass;
}

function expandFaults(faults: FaultSpec[]): FaultCycle[] {
  const cycles: FaultCycle[] = [];
  faults.forEach((f, faultIndex) => {
    const holdMs = FAULT_CATALOG[f.type].hold === 'duration' ? f.duration : f.downFor;
    const every = f.every ?? holdMs + 10_000;
    for (let cycle = 0; cycle < f.repeat; cycle++) {
      cycles.push({
        faultIndex,
        cycle,
        type: f.type,
        target: f.target,
        atMs: f.at + cycle * every,
        holdMs,
        errorRate: f.errorRate,
        recoveryTimeoutMs: f.recoveryTimeout,
      });
    }
  });
  return cycles.sort((a, b) => a.atMs - b.atMs);
}

export function buildPlan(profile: Profile): { plan?: Plan; problems: Problem[] } {
  const problems: Problem[] = [];
  const names = new Map<string, number>();

  const workloads: PlannedWorkload[] = profile.workloads.map((w) => ({ name: w.name ?? w.kind, spec: w }));
  const seenWorkloads = new Map<string, number>();
  workloads.forEach((w, i) => {
    const prev = seenWorkloads.get(w.name);
    if (prev !== undefined) problems.push({ path: ['workloads', i, 'name'], message: `workload name "${w.name}" is already used by workloads[${prev}]; give each a distinct name` });
    seenWorkloads.set(w.name, i);
  });

  const faults = expandFaults(profile.faults);
  const faulted = profile.workloads[0];
  if (faults.length && faulted && faulted.duration === undefined) {
    problems.push({ path: ['workloads', 0, 'duration'], message: 'faults are scheduled against the first workload: give it a duration' });
  }
  profile.faults.forEach((f, i) => {
    const last = faults.filter((c) => c.faultIndex === i).at(-1);
    if (faulted?.duration !== undefined && last && last.atMs + last.holdMs > faulted.duration) {
      problems.push({
        path: ['faults', i],
        message: `the last cycle ends at ${formatDuration(last.atMs + last.holdMs)}, after the first workload's ${formatDuration(faulted.duration)} measured phase; lengthen workloads[0].duration or reduce at/repeat/every`,
      });
    }
  });
  // Overlapping cycles would make one recovery timeline indistinguishable from the next.
  for (let i = 1; i < faults.length; i++) {
    const prev = faults[i - 1];
    if (faults[i].atMs < prev.atMs + prev.holdMs) {
      problems.push({ path: ['faults', faults[i].faultIndex], message: `cycle at ${formatDuration(faults[i].atMs)} overlaps the ${prev.type} cycle at ${formatDuration(prev.atMs)}; space them with "every" or "at"` });
      break;
    }
  }

  // nbdkit's error filter fixes its rate when the volume starts: one rate per target.
  const errorRates = profile.faults.map((f, i) => ({ f, i })).filter(({ f }) => f.type === 'storage-error');
  const firstRate = errorRates[0];
  for (const { f, i } of errorRates) {
    if (f.errorRate !== firstRate.f.errorRate) {
      problems.push({
        path: ['faults', i, 'errorRate'],
        message: `storage-error faults on one target share one errorRate (the remote volume fixes it when it starts); faults[${firstRate.i}] uses ${firstRate.f.errorRate}, this one ${f.errorRate}`,
      });
    }
  }

  const targets: PlannedTarget[] = profile.targets.map((t, i) => {
    const name = t.name ?? `${t.platform}/${storageLabel(t.storage)}`;
    const prev = names.get(name);
    if (prev !== undefined) problems.push({ path: ['targets', i, 'name'], message: `target name "${name}" is already used by targets[${prev}]; set a distinct name` });
    names.set(name, i);

    const caps = CAPABILITIES[t.platform];
    if (caps.unavailable) {
      problems.push({ path: ['targets', i, 'platform'], message: `${caps.unavailable}; supported platforms: ${supportedPlatforms().join(', ')}` });
    } else {
      if (!caps.storage.includes(t.storage.kind)) {
        problems.push({ path: ['targets', i, 'storage', 'kind'], message: `storage "${t.storage.kind}" is not supported on ${t.platform}; supported: ${caps.storage.join(', ')}` });
      }
      if (!caps.engines.includes(profile.engine.kind)) {
        problems.push({ path: ['engine', 'kind'], message: `engine "${profile.engine.kind}" is not supported on ${t.platform} (targets[${i}]); supported: ${caps.engines.join(', ')}` });
      }
      if (t.faultPolicy?.nodeAccess === 'helper-pod' && t.platform !== 'kubernetes') {
        problems.push({ path: ['targets', i, 'faultPolicy', 'nodeAccess'], message: `helper-pod is for existing clusters; ${t.platform} reaches its nodes directly` });
      }
      if (t.podManagement !== undefined && t.platform !== 'kind' && t.platform !== 'kubernetes') {
        problems.push({ path: ['targets', i, 'podManagement'], message: `podManagement is how a Kubernetes StatefulSet starts its members; ${t.platform} has none: remove it` });
      }
      if (t.storage.kind === 'remote' && t.storage.storageClass && t.platform !== 'kind' && t.platform !== 'kubernetes') {
        problems.push({ path: ['targets', i, 'storage', 'storageClass'], message: `a StorageClass is a Kubernetes object; ${t.platform} serves remote volumes itself: remove storageClass` });
      }
      if (t.platform === 'kubernetes' && t.storage.kind === 'remote' && !t.storage.storageClass) {
        problems.push({ path: ['targets', i, 'storage', 'storageClass'], message: 'remote storage on an existing cluster needs storage.storageClass: name the StorageClass that provides network volumes (`kubectl get storageclass`)' });
      }
      profile.faults.forEach((f, fi) => {
        const kind: FaultKind = FAULT_CATALOG[f.type];
        const engines = kind.on[t.platform] ?? [];
        if (!engines.includes(profile.engine.kind)) {
          const storageFault = kind.needs.includes('emulated-volume');
          const supported = [...(caps.faults[profile.engine.kind] ?? []), ...(storageFault ? storageFaultsOn(t.platform, profile.engine.kind) : [])];
          problems.push({ path: ['faults', fi, 'type'], message: `fault "${f.type}" is not supported for ${profile.engine.kind} on ${t.platform} (targets[${i}]); supported: ${supported.join(', ') || 'none'}` });
        } else if (kind.needs.includes('emulated-volume') && !emulatedVolume(t.storage)) {
          const has = t.storage.kind === 'remote' ? `remote storage from StorageClass ${t.storage.storageClass}, whose volumes statebench cannot stall or fail` : t.storage.kind;
          problems.push({ path: ['faults', fi, 'type'], message: `${f.type} needs storage that can inject it (remote storage served by statebench, without storageClass); targets[${i}] "${name}" uses ${has}` });
        }
        if (t.platform === 'kubernetes' && kind.needs.includes('node-access') && t.faultPolicy?.nodeAccess !== 'helper-pod') {
          problems.push({ path: ['faults', fi, 'type'], message: `${f.type} on an existing cluster needs targets[${i}].faultPolicy.nodeAccess: helper-pod (a privileged pod on the node; see kind-config/README.md)` });
        }
        if (/^node-\d+$/.test(f.target) && Number(f.target.slice(5)) >= profile.engine.members) {
          problems.push({ path: ['faults', fi, 'target'], message: `${f.target} does not exist: the engine has ${profile.engine.members} member(s), node-0 … node-${profile.engine.members - 1}` });
        }
        if (f.target === 'replica' && profile.engine.members < 2) {
          problems.push({ path: ['faults', fi, 'target'], message: `target "replica" needs engine.members ≥ 2` });
        }
      });
    }
    let patroni: PatroniOptions | undefined;
    if (profile.engine.kind === 'patroni') {
      if (profile.engine.members < 2) problems.push({ path: ['engine', 'members'], message: 'engine "patroni" needs members ≥ 2 to fail over (3 is usual)' });
      const resolved = resolvePatroniOptions(profile.engine.patroni, t.patroni, i);
      problems.push(...resolved.problems);
      patroni = resolved.options;
      if (patroni?.access === 'direct' && (t.platform === 'kind' || t.platform === 'kubernetes')) {
        const where = t.patroni?.access !== undefined ? ['targets', i, 'patroni', 'access'] : ['engine', 'patroni', 'access'];
        problems.push({ path: where, message: `access "direct" is not available on ${t.platform} (targets[${i}]): clients reach the leader through the member Service, which follows Patroni's role label like HAProxy; use haproxy` });
      }
    } else if (t.patroni) {
      problems.push({ path: ['targets', i, 'patroni'], message: 'patroni options need engine.kind: patroni' });
    }
    if (profile.engine.kind === 'postgres' && profile.engine.members !== 1) {
      problems.push({ path: ['engine', 'members'], message: 'engine "postgres" is a single node; use engine.kind "patroni" for several members' });
    }

    const safety = profile.safety ?? (profile.faults.length > 0 ? DEFAULT_SAFETY : NO_SAFETY);
    return {
      name,
      slug: slugOf(name),
      platform: t.platform,
      storage: t.storage,
      spec: t,
      engine: { ...profile.engine, settings: { ...profile.engine.settings, ...(t.engineSettings ?? {}) } },
      io: profile.io,
      workloads,
      faults,
      safety,
      checks: profile.checks.filter((c) => !c.targets || c.targets.includes(name)),
      ...(patroni ? { patroni } : {}),
      faultPolicy: resolveFaultPolicy(t),
      ...(firstRate ? { storageErrorRate: firstRate.f.errorRate } : {}),
      resources: { ...profile.resources, ...t.resources, loadGenerator: t.resources?.loadGenerator ?? profile.resources?.loadGenerator },
    };
  });

  const slugs = new Set<string>();
  targets.forEach((t, i) => {
    // The slug names the target's directory under the run: "", "." or ".." would be the run
    // directory or the runs directory itself, shared with other runs.
    if (t.slug === '' || /^\.+$/.test(t.slug)) {
      problems.push({ path: ['targets', i, 'name'], message: `target name "${t.name}" would name the directory "${t.slug}"; use letters or digits` });
    } else if (slugs.has(t.slug)) problems.push({ path: ['targets', i, 'name'], message: `target name "${t.name}" maps to the same directory as another target; make names differ in letters or digits` });
    slugs.add(t.slug);
    if (t.io.enabled && 'size' in t.storage && t.io.size > t.storage.size) {
      problems.push({ path: ['io', 'size'], message: `the I/O probe writes ${formatSize(t.io.size)}, more than the ${formatSize(t.storage.size)} volume of targets[${i}] "${t.name}"` });
    }
  });

  // Settings that run commands or load files need an explicit opt-in (UNSAFE_SETTINGS).
  if (!profile.engine.allowUnsafeSettings) {
    const unsafe = (settings: Record<string, unknown> | undefined, path: (string | number)[]) => {
      for (const k of Object.keys(settings ?? {})) {
        if ((UNSAFE_SETTINGS as readonly string[]).includes(k)) {
          problems.push({ path: [...path, k], message: `${k} makes PostgreSQL run a command or read/write files the profile names; set engine.allowUnsafeSettings: true if that is intended` });
        }
      }
    };
    unsafe(profile.engine.settings, ['engine', 'settings']);
    profile.targets.forEach((t, i) => unsafe(t.engineSettings, ['targets', i, 'engineSettings']));
  }

  const seenChecks = new Map<string, number>();
  const writerRuns = targets.some((t) => t.safety.writer.enabled);
  profile.checks.forEach((c, i) => {
    const prev = seenChecks.get(c.check);
    if (prev !== undefined) problems.push({ path: ['checks', i, 'check'], message: `${c.check} is already checked by checks[${prev}]; list each check once` });
    seenChecks.set(c.check, i);
    if (c.check.endsWith('-within') && c.threshold === undefined) {
      problems.push({ path: ['checks', i, 'threshold'], message: `${c.check} needs a threshold, e.g. threshold: 30s` });
    }
    if (!c.check.endsWith('-within') && c.threshold !== undefined) {
      problems.push({ path: ['checks', i, 'threshold'], message: `${c.check} takes no threshold (only the *-within checks do); remove it` });
    }
    const needsLedger = ['durability.no-lost-acknowledged-writes', 'integrity.no-phantom-or-corrupt'];
    if (needsLedger.includes(c.check) && !writerRuns) {
      problems.push({ path: ['checks', i, 'check'], message: `${c.check} reads the acknowledged-write ledger, which runs only with faults or safety.writer.enabled: true; add faults or a safety section, or remove the check` });
    }
    const needsFaults = ['availability.recovery-within', 'availability.failover-within', 'ha.single-writer'];
    if (needsFaults.includes(c.check) && profile.faults.length === 0) {
      problems.push({ path: ['checks', i, 'check'], message: `${c.check} measures recovery from faults, but the profile schedules none; add faults or remove the check` });
    }
    if (c.check === 'consistency.bank-invariant' && !profile.safety?.bank.enabled) {
      problems.push({ path: ['checks', i, 'check'], message: 'consistency.bank-invariant needs safety.bank.enabled: true' });
    }
    c.targets?.forEach((name, j) => {
      if (!targets.some((t) => t.name === name)) problems.push({ path: ['checks', i, 'targets', j], message: `no target is named "${name}"; targets: ${targets.map((t) => t.name).join(', ')}` });
    });
    // A check that cannot apply to a target would fail there as "not measured": refuse it before the
    // run, and say how to aim it at the targets it is about.
    const appliesTo = targets.filter((t) => !c.targets || c.targets.includes(t.name));
    const onKubernetes = (t: (typeof targets)[number]) => t.platform === 'kind' || t.platform === 'kubernetes';
    const misfits =
      c.check === 'statefulset.stable-identity' ? appliesTo.filter((t) => !onKubernetes(t))
      : c.check === 'storage.local-pv-pinned' ? appliesTo.filter((t) => !onKubernetes(t) || t.storage.kind !== 'local-pv')
      : c.check === 'storage.volume-follows-member' ? appliesTo.filter((t) => !onKubernetes(t) || t.storage.kind !== 'remote')
      : [];
    if (misfits.length) {
      const what =
        c.check === 'statefulset.stable-identity' ? 'kind or kubernetes targets'
        : c.check === 'storage.local-pv-pinned' ? 'kind or kubernetes targets on Local PVs'
        : 'kind or kubernetes targets on remote volumes';
      const fits = appliesTo.length > misfits.length ? `; list the others under targets: [${appliesTo.filter((t) => !misfits.includes(t)).map((t) => t.name).join(', ')}]` : '';
      problems.push({ path: ['checks', i, c.targets ? 'targets' : 'check'], message: `${c.check} applies only to ${what}, not to ${misfits.map((t) => t.name).join(', ')}${fits}` });
    }
    if (c.check === 'statefulset.ordered-startup') {
      // The check reads the order the members came up in; with Parallel there is no order to hold.
      appliesTo.forEach((t) => {
        const ti = targets.indexOf(t);
        if (t.platform !== 'kind' && t.platform !== 'kubernetes') {
          problems.push({ path: ['checks', i, 'check'], message: `statefulset.ordered-startup reads how a StatefulSet started its members, and targets[${ti}] "${t.name}" runs on ${t.platform}, which has none; aim the check at other targets (targets: [...]) or remove it` });
        } else if (t.spec.podManagement !== 'ordered') {
          problems.push({ path: ['checks', i, 'check'], message: `statefulset.ordered-startup needs ordered members, and targets[${ti}] "${t.name}" starts them in parallel (podManagement: parallel, the default); set targets[${ti}].podManagement: ordered, or remove the check` });
        }
      });
    }
  });

  const baseline = profile.report.baseline ?? targets[0]?.name;
  if (profile.report.baseline && !targets.some((t) => t.name === profile.report.baseline)) {
    problems.push({ path: ['report', 'baseline'], message: `no target is named "${profile.report.baseline}"; targets: ${targets.map((t) => t.name).join(', ')}` });
  }

  if (problems.length) return { problems };
  return { plan: { profile: profile.name, description: profile.description, baseline, targets, repetitions: profile.repetitions, order: profile.order, seed: profile.seed }, problems };
}

function storageFaultsOn(platform: TargetSpec['platform'], engine: EngineSpec['kind']): string[] {
  return Object.entries(FAULT_CATALOG)
    .filter(([, k]) => (k as FaultKind).needs.includes('emulated-volume') && ((k as FaultKind).on[platform] ?? []).includes(engine))
    .map(([t]) => t);
}

function supportedPlatforms(): string[] {
  return Object.entries(CAPABILITIES)
    .filter(([, c]) => !c.unavailable)
    .map(([p]) => p);
}
