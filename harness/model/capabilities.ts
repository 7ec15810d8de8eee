// What each platform can do today, as data. The planner checks profiles against it so an unsupported
// combination is a plan error that lists what is supported, before anything is started.
import type { FaultType, StorageSpec } from './profile.ts';

type Platform = 'baremetal' | 'docker' | 'kind' | 'kubernetes';
type StorageKind = StorageSpec['kind'];
type EngineKind = 'postgres' | 'patroni';

export interface PlatformCapabilities {
  storage: StorageKind[];
  engines: EngineKind[];
  /** Fault types by engine kind. */
  faults: Record<EngineKind, FaultType[]>;
  /** Why a platform is not available at all, when that is the case. */
  unavailable?: string;
}

export const CAPABILITIES: Record<Platform, PlatformCapabilities> = {
  baremetal: {
    storage: ['local', 'remote'],
    engines: ['postgres', 'patroni'],
    faults: {
      postgres: ['node-crash', 'node-hang', 'graceful-restart'],
      patroni: ['node-crash', 'node-hang', 'graceful-restart', 'agent-kill', 'switchover'],
    },
  },
  docker: {
    storage: ['local', 'remote'],
    engines: ['postgres'],
    faults: {
      postgres: ['node-crash', 'node-hang', 'graceful-restart'],
      patroni: [],
    },
  },
  // kind reaches its nodes through docker (harness/platforms/k8s/faults/faults.ts): node-crash kills the worker's node
  // container, node-hang pauses it, kubelet-stop stops the kubelet inside it; pod faults go through
  // the API. Storage faults come from the volume (remote storage), as everywhere.
  kind: {
    storage: ['local-pv', 'remote'],
    engines: ['postgres', 'patroni'],
    faults: {
      postgres: ['node-crash', 'node-hang', 'kubelet-stop', 'pod-delete', 'pod-force-delete'],
      patroni: ['node-crash', 'node-hang', 'kubelet-stop', 'pod-delete', 'pod-force-delete'],
    },
  },
  // An existing cluster: pod faults through the API; kubelet-stop and node-hang through a privileged
  // helper pod on the node, which the target must allow (faultPolicy.nodeAccess: helper-pod). Its
  // machines are never powered off, so there is no node-crash.
  kubernetes: {
    storage: ['local-pv', 'remote'],
    engines: ['postgres', 'patroni'],
    faults: {
      postgres: ['pod-delete', 'pod-force-delete', 'kubelet-stop', 'node-hang'],
      patroni: ['pod-delete', 'pod-force-delete', 'kubelet-stop', 'node-hang'],
    },
  },
};

/** Faults that act on storage rather than on a node; they need storage that can inject them. */
export const STORAGE_FAULTS: FaultType[] = ['storage-stall', 'storage-error'];
export const STORAGE_FAULT_CAPABLE: StorageKind[] = ['remote'];
