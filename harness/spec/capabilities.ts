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
  // Faults on kind and existing clusters are added as their modes land; until then a profile that
  // schedules one gets a plan error naming what is supported.
  kind: {
    storage: ['local-pv', 'remote'],
    engines: ['postgres', 'patroni'],
    faults: { postgres: [], patroni: [] },
  },
  kubernetes: {
    storage: ['local-pv', 'remote'],
    engines: ['postgres', 'patroni'],
    faults: { postgres: [], patroni: [] },
  },
};

/** Faults that act on storage rather than on a node; they need storage that can inject them. */
export const STORAGE_FAULTS: FaultType[] = ['storage-stall', 'storage-error'];
export const STORAGE_FAULT_CAPABLE: StorageKind[] = ['remote'];
