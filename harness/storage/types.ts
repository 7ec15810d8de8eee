// A node's data volume. Platforms ask a Storage for one volume per node and run the database on it;
// storage-level faults are offered by volumes that can inject them.
import type { CleanupRegistry } from '../core/cleanup.ts';

export interface StorageFaults {
  /** Block every I/O on the volume until the returned undo is called. */
  stall(): Promise<() => Promise<void>>;
  /** Fail a fraction `rate` (0..1) of I/O requests until the returned undo is called. */
  errors(rate: number): Promise<() => Promise<void>>;
}

export interface Volume {
  /** The engine node whose data it holds (`node-0`, …): a storage fault finds its volume by this name. */
  node: string;
  /** Directory the node's data lives in. */
  path: string;
  /** What the report shows about this volume (kind, filesystem, size, latency…), no secrets. */
  describe: Record<string, unknown>;
  faults?: StorageFaults;
  /** Unmounts/detaches/removes; idempotent. Also registered with the run's cleanup registry. */
  release(): Promise<void>;
}

export interface StorageContext {
  registry: CleanupRegistry;
  /** Directory for this target's state (images, sockets, logs) under the run's workspace. */
  stateDir: string;
  onEvent?: (type: string, data: object) => void;
}

export interface Storage {
  readonly kind: string;
  /** A volume for engine node `node`, named after it. */
  prepare(node: string, ctx: StorageContext): Promise<Volume>;
}
