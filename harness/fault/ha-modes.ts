// Fault types of HA engines, on top of the node faults in modes.ts:
//   agent-kill  SIGKILL of the managing agent only (Patroni; the kubelet analogue). The database keeps
//               running and, if it was the primary, keeps accepting writes until an agent demotes it;
//               the agent is restarted after `downFor`.
//   switchover  a planned leader change through the agent's API (Patroni's POST /switchover).
// node-crash, node-hang and graceful-restart of the leader or a replica are modes.ts's, unchanged:
// an HA member's NodeControl gives them their meaning. Every mode can be wrapped so a failover
// tracker learns when the fault was injected and undone.
import type { FaultCycle } from '../model/plan.ts';
import type { DeployedEngine, NodeControl } from '../engine/types.ts';
import type { FaultMode } from './fault.ts';
import type { FaultSubject } from './modes.ts';
import { StatebenchError } from '../errors.ts';

export const HA_FAULT_TYPES = ['agent-kill', 'switchover'] as const;
export type HaFaultType = (typeof HA_FAULT_TYPES)[number];

export function isHaFaultType(type: string): type is HaFaultType {
  return (HA_FAULT_TYPES as readonly string[]).includes(type);
}

/** A node whose database is run by a separate managing agent that can die on its own. */
export interface AgentControl extends NodeControl {
  killAgent(): Promise<void>;
  startAgent(): Promise<void>;
  readonly agentRunning: boolean;
  /** The database server's main pid, when it runs; used to check it outlived its agent. */
  postmasterPid?(): number | undefined;
}

export function isAgentControl(c: NodeControl): c is AgentControl {
  const x = c as Partial<AgentControl>;
  return typeof x.killAgent === 'function' && typeof x.startAgent === 'function';
}

/** An engine that can hand leadership over on request. */
export interface SwitchoverEngine extends DeployedEngine {
  /** Leader → `candidate` (or a member the engine picks); resolves once the new leader holds the lock. */
  switchover(candidate?: string): Promise<{ from: string; to: string }>;
}

export function isSwitchoverEngine(e: DeployedEngine): e is SwitchoverEngine {
  return typeof (e as Partial<SwitchoverEngine>).switchover === 'function';
}

/** Told when a fault is injected and undone (FailoverMonitor in harness/safety/ha/timeline.ts). */
export interface FaultTracker {
  markFault(f: { cycle: number; type: string; node: string }): void;
  markRecovered(): void;
}

/** agent-kill and switchover; throws for other types (resolveFaultMode in catalog.ts picks the builder). */
export function haFaultMode(cycle: FaultCycle, s: FaultSubject): FaultMode {
  const { node, engine } = s;
  const healthy = (timeoutMs: number) => engine.awaitHealthy(timeoutMs);
  switch (cycle.type) {
    case 'agent-kill': {
      const control = node.control;
      if (!isAgentControl(control)) {
        throw new StatebenchError(`agent-kill needs an engine whose nodes are run by an agent (patroni); ${engine.kind} has none`);
      }
      let postmaster: number | undefined;
      return {
        type: cycle.type,
        setup: async () => {
          if (!control.agentRunning) throw new StatebenchError(`agent-kill: the agent of ${node.name} is not running`);
        },
        inject: async () => {
          postmaster = control.postmasterPid?.();
          await control.killAgent();
        },
        // The point of this fault is a database that outlives its agent: check that it did.
        waitForPropagation: async () => {
          if (postmaster === undefined || !control.postmasterPid) return;
          if (control.postmasterPid() !== postmaster) {
            throw new StatebenchError(`agent-kill: the database of ${node.name} (pid ${postmaster}) died with its agent, so this was not an agent-only failure`);
          }
        },
        recover: () => control.startAgent(),
        waitForRecovery: healthy,
      };
    }
    case 'switchover': {
      if (!isSwitchoverEngine(engine)) throw new StatebenchError(`switchover needs an HA engine that can hand over leadership; ${engine.kind} cannot`);
      return {
        type: cycle.type,
        inject: async () => {
          // The node picked for the cycle is where leadership goes, unless it already leads (target
          // "primary", the default): then the engine picks the candidate.
          const leader = await engine.primary();
          await engine.switchover(leader.name === node.name ? undefined : node.name);
        },
        recover: async () => {},
        waitForRecovery: healthy,
      };
    }
    default:
      throw new StatebenchError(`${cycle.type} is not an HA fault type (${HA_FAULT_TYPES.join(', ')})`);
  }
}

/** Wraps a fault mode so `tracker` learns when it is injected and undone. */
export function tracked(mode: FaultMode, tracker: FaultTracker, cycle: FaultCycle, node: string): FaultMode {
  return {
    ...mode,
    inject: async () => {
      tracker.markFault({ cycle: cycle.cycle, type: cycle.type, node });
      await mode.inject();
    },
    recover: async () => {
      await mode.recover();
      tracker.markRecovered();
    },
  };
}
