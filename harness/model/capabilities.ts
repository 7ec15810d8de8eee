// What each platform can do today, as data; the fault lists come from the fault catalog (faults.ts). The planner checks profiles against it so an unsupported
// combination is a plan error that lists what is supported, before anything is started.
import type { StorageSpec } from './profile.ts';
import { faultKind, faultTypesOn, type EngineKind, type FaultType, type PlatformName as Platform } from './faults.ts';

type StorageKind = StorageSpec['kind'];

export interface PlatformCapabilities {
  storage: StorageKind[];
  engines: EngineKind[];
  /** Fault types by engine kind. */
  faults: Record<EngineKind, FaultType[]>;
  /** Why a platform is not available at all, when that is the case. */
  unavailable?: string;
}

function faults(platform: Platform, engines: EngineKind[]): Record<EngineKind, FaultType[]> {
  // Storage faults depend on the target's volume, not the platform's verbs; the planner checks them.
  const of = (e: EngineKind) => (engines.includes(e) ? faultTypesOn(platform, e).filter((t) => !faultKind(t).needs.includes('emulated-volume')) : []);
  return { postgres: of('postgres'), patroni: of('patroni') };
}

export const CAPABILITIES: Record<Platform, PlatformCapabilities> = {
  baremetal: {
    storage: ['local', 'remote'],
    engines: ['postgres', 'patroni'],
    faults: faults('baremetal', ['postgres', 'patroni']),
  },
  docker: {
    storage: ['local', 'remote'],
    engines: ['postgres'],
    faults: faults('docker', ['postgres']),
  },
  // kind reaches its nodes through docker (harness/platforms/k8s/faults/faults.ts): node-crash kills the worker's node
  // container, node-hang pauses it, kubelet-stop stops the kubelet inside it; pod faults go through
  // the API. Storage faults come from the volume (remote storage), as everywhere.
  kind: {
    storage: ['local-pv', 'remote'],
    engines: ['postgres', 'patroni'],
    faults: faults('kind', ['postgres', 'patroni']),
  },
  // An existing cluster: pod faults through the API; kubelet-stop and node-hang through a privileged
  // helper pod on the node, which the target must allow (faultPolicy.nodeAccess: helper-pod). Its
  // machines are never powered off, so there is no node-crash.
  kubernetes: {
    storage: ['local-pv', 'remote'],
    engines: ['postgres', 'patroni'],
    faults: faults('kubernetes', ['postgres', 'patroni']),
  },
};
