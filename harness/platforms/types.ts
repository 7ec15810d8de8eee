// A platform turns a planned target into a running database: it provisions nodes and their volumes,
// runs the I/O probe where the data will live, and deploys the engine. Node-level faults act through
// the NodeControl of each engine node.
import type { PlannedTarget } from '../model/plan.ts';
import type { CleanupRegistry } from '../core/cleanup.ts';
import type { Clock } from '../core/clock.ts';
import type { DeployedEngine } from '../engine/types.ts';
import type { IoResult } from '../io/types.ts';
import type { Volume } from '../storage/types.ts';
import type { FaultCycle } from '../model/plan.ts';
import type { FaultMode } from '../fault/fault.ts';
import type { FaultSubject } from '../fault/modes.ts';
import type { KubernetesFaultTimeline, ResourceGrant, StatefulSetStartup } from '../model/summary.ts';
import type { Measurement } from '../measure/measurement.ts';

export interface TargetRuntime {
  registry: CleanupRegistry;
  clock: Clock;
  /** This target's directory under the run's workspace (volumes, sockets, logs). */
  stateDir: string;
  /** This target's directory in the results (raw tool output, logs worth keeping). */
  artifactsDir: string;
  /** Appends to events.jsonl with the target's name and the run clock. */
  event(type: string, data?: object): void;
  /** Progress line for long steps. */
  status(phase: string, detail?: string): void;
  signal: AbortSignal;
}

export interface ProvisionedTarget {
  /** One volume per node, in node order. */
  readonly volumes: Volume[];
  /** Runs the I/O probe on the storage the database will use. */
  probeIo(): Promise<IoResult>;
  /** Starts the engine on the provisioned nodes; returns when it accepts writes. */
  deployEngine(): Promise<DeployedEngine>;
  /** Environment facts for the report (versions of platform tools, limits). */
  describe(): Promise<Record<string, unknown>>;
  /**
   * Faults only this platform can inject (pod-delete, kubelet-stop, …), or its own way of injecting a
   * common one; undefined falls back to the NodeControl/volume based modes every platform shares.
   */
  faultMode?(cycle: FaultCycle, subject: FaultSubject): FaultMode | undefined;
  /** CPUs and memory the database really has, as the platform applied them (read back where it can). */
  resources?(): Promise<ResourceGrant>;
  /** Processes of the target that are not descendants of this one (a container's init), for host-noise accounting. */
  hostPids?(): Promise<number[]>;
  /** What the platform measures itself (Kubernetes: its record of every fault); asked once the engine is deployed. */
  measurements?(): Measurement<PlatformFindings>[];
}

export interface PlatformFindings {
  /** What the platform itself saw during a fault cycle (Kubernetes: nodes, pods, claims, leader). */
  faultTimeline?(record: { type: string; cycle: number; injectedAtMs: number }): KubernetesFaultTimeline | undefined;
  /** Kubernetes: how the StatefulSet's members were created and became Ready, when it was recorded. */
  statefulSetStartup?(): StatefulSetStartup | undefined;
}

export interface Platform {
  readonly name: string;
  provision(target: PlannedTarget, rt: TargetRuntime): Promise<ProvisionedTarget>;
}
