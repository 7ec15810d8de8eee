// One target's run, step by step. What runs beside the workloads is a list of measurements (I/O
// probe, safety writer and bank, HA observer, the platform's own), each started at its step, stopped
// and collected alike into the target's findings, so the summary can be written whether the target
// completed, failed or was interrupted.
import type { PlannedTarget } from '../model/plan.ts';
import type { Platform, PlatformFindings, ProvisionedTarget, TargetRuntime } from '../platforms/types.ts';
import type { Workload, WorkloadRuntime } from '../workload/types.ts';
import type { DeployedEngine } from '../engine/types.ts';
import type { Measurement } from '../measure/measurement.ts';
import { IoProbe, type IoFindings } from '../io/measurement.ts';
import { haObserverFor, type HaFindings } from '../safety/ha/observer.ts';
import type { FaultSummary, ResourceGrant, TargetSummary, WorkloadSummary } from '../model/summary.ts';
import { storageLabel } from '../model/plan.ts';
import { FaultSchedule } from '../fault/schedule.ts';
import { SafetyMonitor, type SafetyFindings } from '../safety/monitor.ts';
import { buildRecovery } from '../safety/recovery.ts';
import { spread } from '../measure/spread.ts';
import { evaluateCheck } from '../report/checks.ts';

export interface SessionParts {
  platform: Platform;
  workloads: Workload[];
  sample(record: object): void;
  /** Around the workloads (load and measured phases): where the load generator is pinned and unpinned. */
  beforeWorkloads?(): Promise<void>;
  afterWorkloads?(): Promise<void>;
}

/** Everything the target's measurements found, each writing its own part. */
export type TargetFindings = IoFindings & SafetyFindings & HaFindings & PlatformFindings;

/**
 * When the run starts a measurement: on the provisioned storage (measured and collected at once,
 * before the engine exists), with the deployed engine, or with the first workload's run.
 */
type Step = 'storage' | 'engine' | 'workload';

/** What the target is and what it had, as learnt while it came up. */
interface Facts {
  platformInfo?: Record<string, unknown>;
  engineVersion?: string;
}

export class TargetSession {
  private provisioned?: ProvisionedTarget;
  private engine?: DeployedEngine;
  private schedule?: FaultSchedule;
  private readonly facts: Facts = {};
  /** In the order they are collected: the safety ledger before the HA observer that reads it. */
  private readonly measurements: { step: Step; m: Measurement<TargetFindings> }[] = [];
  /** Started and not yet collected, in the order they started. */
  private readonly running: Measurement<TargetFindings>[] = [];
  private readonly findings: TargetFindings = {};
  private readonly results: WorkloadSummary[] = [];
  private faults: FaultSummary[] = [];
  /** What the database really had, as the platform applied it. */
  databaseResources?: ResourceGrant;

  constructor(
    private readonly target: PlannedTarget,
    private readonly rt: TargetRuntime,
    private readonly parts: SessionParts,
  ) {}

  async run(): Promise<void> {
    const { rt, target } = this;
    rt.status('provision', `${target.platform}, storage ${storageLabel(target.storage)}`);
    const provisioned = (this.provisioned = await this.parts.platform.provision(target, rt));
    this.facts.platformInfo = await provisioned.describe();
    rt.signal.throwIfAborted();

    if (target.io.enabled) this.measurements.push({ step: 'storage', m: new IoProbe(target.io, () => provisioned.probeIo(), rt) });
    await this.startStep('storage');

    rt.status('deploy', target.engine.kind);
    const engine = (this.engine = await provisioned.deployEngine());
    this.facts.engineVersion = await engine.version();
    rt.event('engine-ready', { version: this.facts.engineVersion });
    this.databaseResources = await provisioned.resources?.();
    if (this.databaseResources) rt.event('resources', { part: 'database', ...this.databaseResources });

    const observer = haObserverFor(engine, { clock: rt.clock, conn: () => engine.clientConn(), event: rt.event, status: rt.status });
    const monitor = new SafetyMonitor(target.safety, () => engine.clientConn(), rt.clock, rt.artifactsDir, {
      onAttempt: observer && ((a) => observer.onAttempt(a)),
      // Verification reads what survived: the engine must be serving again first.
      awaitServing: () => engine.awaitHealthy(Math.max(30_000, ...target.faults.map((f) => f.recoveryTimeoutMs))),
      event: rt.event,
      status: rt.status,
    });
    for (const m of provisioned.measurements?.() ?? []) this.measurements.push({ step: 'engine', m });
    if (monitor.enabled) this.measurements.push({ step: 'workload', m: monitor });
    if (observer) this.measurements.push({ step: 'engine', m: observer });
    this.schedule = new FaultSchedule(target.faults, {
      engine,
      platformFaultMode: provisioned.faultMode?.bind(provisioned),
      tracker: observer?.tracker,
      volumes: provisioned.volumes,
      clock: rt.clock,
      signal: rt.signal,
      event: rt.event,
      status: rt.status,
    });
    await this.startStep('engine');

    await this.parts.beforeWorkloads?.();
    try {
      await this.runWorkloads(engine);
    } finally {
      await this.parts.afterWorkloads?.();
    }
    rt.signal.throwIfAborted();
    await this.verify();
  }

  /** Starts the measurements of one step; those of the storage are measured and collected at once. */
  private async startStep(step: Step): Promise<void> {
    for (const { m } of this.measurements.filter((x) => x.step === step)) {
      this.running.push(m);
      await m.start();
      if (step === 'storage') await this.finish(m);
      this.rt.signal.throwIfAborted();
    }
  }

  private async finish(m: Measurement<TargetFindings>): Promise<void> {
    await m.stop();
    this.running.splice(this.running.indexOf(m), 1);
    await m.collect(this.findings);
  }

  /** Pids of the target outside this process's tree (a container's init), for host-noise accounting. */
  async hostPids(): Promise<number[]> {
    return (await this.provisioned?.hostPids?.().catch(() => [])) ?? [];
  }

  private async runWorkloads(engine: DeployedEngine): Promise<void> {
    const { rt } = this;
    for (const [i, workload] of this.parts.workloads.entries()) {
      rt.signal.throwIfAborted();
      await workload.load(engine.clientConn(), this.workloadRuntime());
      rt.signal.throwIfAborted();
      if (i === 0 && this.measurements.some((x) => x.step === 'workload')) {
        rt.status('safety', 'starting the ledger writer');
        await this.startStep('workload');
      }
      const schedule = this.schedule!;
      const result = await workload.run(() => engine.clientConn(), {
        ...this.workloadRuntime(),
        // Faults are scheduled against the first workload's measured phase.
        onMeasureStart: i === 0 ? (atMs) => schedule.start(atMs) : undefined,
      });
      this.results.push(result);
      rt.event('workload-end', { workload: workload.name, tps: result.tps, transactions: result.transactions, errors: result.errors });
      if (i === 0) await this.finishFaults();
    }
  }

  /** Waits for the remaining cycles (their recovery may outlast the workload) and recovers anything active. */
  private async finishFaults(): Promise<void> {
    if (!this.target.faults.length || !this.schedule) return;
    this.rt.status('fault', 'waiting for the last cycle to recover');
    await this.schedule.done();
    await this.schedule.stop();
  }

  /**
   * Stops and collects every measurement still running, in the order they are listed; then the fault
   * cycles, also when a collection failed (a target whose verification failed still shows its cycles).
   */
  private async verify(): Promise<void> {
    try {
      for (const { m } of this.measurements.filter((x) => this.running.includes(x.m))) await this.finish(m);
    } finally {
      await this.summarizeFaults();
    }
  }

  private async summarizeFaults(): Promise<void> {
    const records = this.schedule?.records ?? [];
    const attempts = records.length ? ((await this.findings.ledgerAttempts?.()) ?? []) : [];
    this.faults = records.map((r, i) => ({
      type: r.type,
      target: r.target,
      node: r.node,
      cycle: r.cycle,
      injectedAtMs: +r.injectedAtMs.toFixed(1),
      recoveredAtMs: r.healthyAtMs === null ? null : +r.healthyAtMs.toFixed(1),
      recovery: buildRecovery(r.injectedAtMs, attempts, { untilMs: records[i + 1]?.injectedAtMs, healthyAtMs: r.healthyAtMs }),
      state: r.state,
      error: r.error,
      kubernetes: this.findings.faultTimeline?.(r),
    }));
  }

  private workloadRuntime(): WorkloadRuntime {
    return {
      clock: this.rt.clock,
      signal: this.rt.signal,
      sample: this.parts.sample,
      event: this.rt.event,
      status: this.rt.status,
    };
  }

  /** Recovers an active fault, stops every running measurement and the engine; the registry releases the rest. */
  async teardown(): Promise<void> {
    const note = (what: string) => (e: unknown) => this.rt.event('teardown-error', { what, message: (e as Error).message });
    await this.schedule?.stop().catch(note('fault'));
    for (const m of this.running) await m.stop().catch(note(m.name));
    await this.engine?.stop().catch(note('engine'));
  }

  summary(status: TargetSummary['status'], error?: string): TargetSummary {
    const t = this.target;
    const f = this.findings;
    const timeToFirstWrite = this.faults.map((x) => x.recovery.timeToFirstWriteMs);
    const base: TargetSummary = {
      name: t.name,
      platform: t.platform,
      storage: storageLabel(t.storage),
      storageSpec: { ...t.storage, ...(this.provisioned?.volumes[0]?.describe ?? {}) },
      engine: { kind: t.engine.kind, version: this.facts.engineVersion, settings: t.engine.settings },
      status,
      error,
      io: f.io,
      workloads: this.results,
      faults: this.faults,
      recoveryMs: this.faults.length ? spread(timeToFirstWrite) : undefined,
      safety: f.safety,
      ha: f.ha,
      checks: [],
      platformInfo: this.facts.platformInfo,
      statefulSetStartup: f.statefulSetStartup?.(),
    };
    // A target that did not complete is not judged: its figures are partial.
    if (status === 'completed') base.checks = t.checks.map((c) => evaluateCheck(c, base));
    return base;
  }

  get malformedLines(): number {
    return this.findings.malformedLines ?? 0;
  }
}
