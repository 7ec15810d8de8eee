// One target's run, step by step, keeping what each step measured so the summary can be written
// whether the target completed, failed or was interrupted.
import type { PlannedTarget } from '../model/plan.ts';
import type { Platform, ProvisionedTarget, TargetRuntime } from '../platforms/types.ts';
import type { Workload, WorkloadRuntime } from '../workload/types.ts';
import type { DeployedEngine } from '../engine/types.ts';
import { haObserverFor, type HaObserver } from '../safety/ha/observer.ts';
import type { IoResult } from '../io/types.ts';
import type { FaultSummary, HaSummary, ResourceGrant, SafetySummary, TargetSummary, WorkloadSummary } from '../model/summary.ts';
import { storageLabel } from '../model/plan.ts';
import { FaultSchedule } from '../fault/schedule.ts';
import { SafetyMonitor } from '../safety/monitor.ts';
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

export class TargetSession {
  private provisioned?: ProvisionedTarget;
  private engine?: DeployedEngine;
  private engineVersion?: string;
  private io?: IoResult;
  private platformInfo?: Record<string, unknown>;
  private readonly results: WorkloadSummary[] = [];
  private schedule?: FaultSchedule;
  private safetyMonitor?: SafetyMonitor;
  private faults: FaultSummary[] = [];
  private safety?: SafetySummary;
  private observer?: HaObserver;
  private ha?: HaSummary;
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
    this.provisioned = await this.parts.platform.provision(target, rt);
    this.platformInfo = await this.provisioned.describe();
    rt.signal.throwIfAborted();

    if (target.io.enabled) {
      rt.status('io-probe', `${target.io.tool}, ${Math.round(target.io.runtime / 1000)}s`);
      this.io = await this.provisioned.probeIo();
      rt.event('io-probe', { ...this.io });
      rt.signal.throwIfAborted();
    }

    rt.status('deploy', target.engine.kind);
    const engine = (this.engine = await this.provisioned.deployEngine());
    this.engineVersion = await engine.version();
    rt.event('engine-ready', { version: this.engineVersion });
    this.databaseResources = await this.provisioned.resources?.();
    if (this.databaseResources) rt.event('resources', { part: 'database', ...this.databaseResources });

    const observer = (this.observer = haObserverFor(engine, rt.clock, rt.event));
    observer?.start();
    const monitor = new SafetyMonitor(target.safety, () => engine.clientConn(), rt.clock, rt.artifactsDir, observer && ((a) => observer.onAttempt(a)));
    const provisioned = this.provisioned;
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

    await this.parts.beforeWorkloads?.();
    try {
      await this.runWorkloads(engine, monitor);
    } finally {
      await this.parts.afterWorkloads?.();
    }
    rt.signal.throwIfAborted();
    await this.verify();
  }

  /** Pids of the target outside this process's tree (a container's init), for host-noise accounting. */
  async hostPids(): Promise<number[]> {
    return (await this.provisioned?.hostPids?.().catch(() => [])) ?? [];
  }

  private async runWorkloads(engine: DeployedEngine, monitor: SafetyMonitor): Promise<void> {
    const { rt } = this;
    for (const [i, workload] of this.parts.workloads.entries()) {
      rt.signal.throwIfAborted();
      await workload.load(engine.clientConn(), this.workloadRuntime());
      rt.signal.throwIfAborted();
      if (i === 0 && monitor.enabled) {
        rt.status('safety', 'starting the ledger writer');
        this.safetyMonitor = monitor;
        await monitor.start();
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

  private async verify(): Promise<void> {
    const { rt, target } = this;
    const engine = this.engine!;
    const monitor = this.safetyMonitor;
    await monitor?.stop();
    if (this.schedule?.records.length) {
      const attempts = await (monitor?.attempts() ?? Promise.resolve([]));
      const records = this.schedule.records;
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
        kubernetes: this.provisioned?.faultTimeline?.(r),
      }));
    }
    if (monitor) {
      rt.status('verify', 'reading back the ledger');
      // Verification reads what survived: the engine must be serving again first.
      await engine.awaitHealthy(Math.max(30_000, ...target.faults.map((f) => f.recoveryTimeoutMs)));
      this.safety = await monitor.verify();
      rt.event('safety-verified', { ...this.safety, lostIds: undefined });
    }
    if (this.observer) {
      rt.status('verify', 'failover timeline and split-brain writes');
      this.ha = await this.observer.report(monitor?.ledger, engine.clientConn());
      rt.event('ha-verified', { splitBrainWrites: this.ha.splitBrain?.splitBrainWrites, failovers: this.ha.failovers.length });
    }
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

  /** Recovers an active fault, stops the writers and the engine; the registry releases the rest. */
  async teardown(): Promise<void> {
    const note = (what: string) => (e: unknown) => this.rt.event('teardown-error', { what, message: (e as Error).message });
    await this.schedule?.stop().catch(note('fault'));
    await this.observer?.stop().catch(note('observer'));
    await this.safetyMonitor?.stop().catch(note('safety'));
    await this.engine?.stop().catch(note('engine'));
  }

  summary(status: TargetSummary['status'], error?: string): TargetSummary {
    const t = this.target;
    const timeToFirstWrite = this.faults.map((f) => f.recovery.timeToFirstWriteMs);
    const base: TargetSummary = {
      name: t.name,
      platform: t.platform,
      storage: storageLabel(t.storage),
      storageSpec: { ...t.storage, ...(this.provisioned?.volumes[0]?.describe ?? {}) },
      engine: { kind: t.engine.kind, version: this.engineVersion, settings: t.engine.settings },
      status,
      error,
      io: this.io,
      workloads: this.results,
      faults: this.faults,
      recoveryMs: this.faults.length ? spread(timeToFirstWrite) : undefined,
      safety: this.safety,
      ha: this.ha,
      checks: [],
      platformInfo: this.platformInfo,
      statefulSetStartup: this.provisioned?.statefulSetStartup?.(),
    };
    // A target that did not complete is not judged: its figures are partial.
    if (status === 'completed') base.checks = t.checks.map((c) => evaluateCheck(c, base));
    return base;
  }

  get malformedLines(): number {
    return this.safetyMonitor?.malformedLines ?? 0;
  }
}
