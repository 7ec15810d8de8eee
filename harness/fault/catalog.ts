// Who builds each fault type at run time, keyed by the fault catalog (harness/model/faults.ts): the
// compiler requires an entry for every catalog type, so a new type cannot reach a run without one.
// This replaces a chain of fallbacks (platform hook, then the HA observer, then the shared modes)
// with one lookup.
import type { FaultType } from '../model/faults.ts';
import type { FaultCycle } from '../model/plan.ts';
import type { FaultMode } from './fault.ts';
import { faultMode, type FaultSubject } from './modes.ts';
import { haFaultMode, tracked, type FaultTracker } from './ha-modes.ts';
import { StatebenchError } from '../errors.ts';

/**
 * - `node`: the node's verbs (NodeControl); a platform may wrap them in a mode of its own (kind calls
 *   the same verbs and adds the Kubernetes timeline's marks and the node's new address).
 * - `volume`: the node's volume (StorageFaults).
 * - `engine`: the HA engine's agent or API (Patroni).
 * - `platform`: only the platform can (pod deletion, kubelet).
 */
export type FaultBuilder = 'node' | 'volume' | 'engine' | 'platform';

export const FAULT_BUILDERS: Record<FaultType, FaultBuilder> = {
  'node-crash': 'node',
  'node-hang': 'node',
  'graceful-restart': 'node',
  'agent-kill': 'engine',
  switchover: 'engine',
  'kubelet-stop': 'platform',
  'pod-delete': 'platform',
  'pod-force-delete': 'platform',
  'storage-stall': 'volume',
  'storage-error': 'volume',
};

export interface FaultModeSources {
  /** The platform's own modes: undefined for a type it leaves to the shared ones. */
  platform?: (cycle: FaultCycle, subject: FaultSubject) => FaultMode | undefined;
  /** An HA engine's failover timeline, told when every fault is injected and undone. */
  tracker?: FaultTracker;
}

/** The fault mode for one cycle, built by whoever the catalog names. */
export function resolveFaultMode(cycle: FaultCycle, subject: FaultSubject, sources: FaultModeSources = {}): FaultMode {
  const mode = build(cycle, subject, sources);
  return sources.tracker ? tracked(mode, sources.tracker, cycle, subject.node.name) : mode;
}

function build(cycle: FaultCycle, subject: FaultSubject, sources: FaultModeSources): FaultMode {
  switch (FAULT_BUILDERS[cycle.type]) {
    case 'node':
      return sources.platform?.(cycle, subject) ?? faultMode(cycle, subject);
    case 'volume':
      return faultMode(cycle, subject);
    case 'engine':
      return haFaultMode(cycle, subject);
    case 'platform': {
      const mode = sources.platform?.(cycle, subject);
      if (!mode) throw new StatebenchError(`${cycle.type} is carried out by the platform, and this target's platform has no such fault`, undefined, 'The planner checks fault types against the catalog; `statebench plan <profile>` shows what it accepted');
      return mode;
    }
  }
}
