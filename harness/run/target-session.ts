// One target's run, step by step, keeping what each step measured so the summary can be written
// whether the target completed, failed or was interrupted.
import type { PlannedTarget } from '../spec/plan.ts';
import type { Platform, ProvisionedTarget, TargetRuntime } from '../platform/types.ts';
import type { Workload } from '../workload/types.ts';
import type { DeployedEngine } from '../engine/types.ts';
import type { IoResult } from '../io/types.ts';
import type { TargetSummary, WorkloadSummary } from '../report/summary.ts';
import { storageLabel } from '../spec/plan.ts';

export interface SessionParts {
  platform: Platform;
  workloads: Workload[];
  sample(record: object): void;
}

export class TargetSession {
  private provisioned?: ProvisionedTarget;
  private engine?: DeployedEngine;
  private engineVersion?: string;
  private io?: IoResult;
  private platformInfo?: Record<string, unknown>;
  private readonly results: WorkloadSummary[] = [];

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
    this.engine = await this.provisioned.deployEngine();
    this.engineVersion = await this.engine.version();
    rt.event('engine-ready', { version: this.engineVersion });

    for (const workload of this.parts.workloads) {
      rt.signal.throwIfAborted();
      await workload.load(this.engine.clientConn(), this.workloadRuntime());
      rt.signal.throwIfAborted();
      const engine = this.engine;
      const result = await workload.run(() => engine.clientConn(), this.workloadRuntime());
      this.results.push(result);
      rt.event('workload-end', { workload: workload.name, tps: result.tps, transactions: result.transactions, errors: result.errors });
    }
    rt.signal.throwIfAborted();
  }

  private workloadRuntime() {
    return {
      clock: this.rt.clock,
      signal: this.rt.signal,
      sample: this.parts.sample,
      event: this.rt.event,
      status: this.rt.status,
    };
  }

  get deployedEngine(): DeployedEngine | undefined {
    return this.engine;
  }

  /** Stops the engine cleanly; the cleanup registry releases whatever remains. */
  async teardown(): Promise<void> {
    await this.engine?.stop().catch((e) => this.rt.event('teardown-error', { message: (e as Error).message }));
  }

  summary(status: TargetSummary['status'], error?: string): TargetSummary {
    const t = this.target;
    return {
      name: t.name,
      platform: t.platform,
      storage: storageLabel(t.storage),
      storageSpec: { ...t.storage, ...(this.provisioned?.volumes[0]?.describe ?? {}) },
      engine: { kind: t.engine.kind, version: this.engineVersion, settings: t.engine.settings },
      status,
      error,
      io: this.io,
      workloads: this.results,
      faults: [],
      checks: [],
      platformInfo: this.platformInfo,
    };
  }
}
