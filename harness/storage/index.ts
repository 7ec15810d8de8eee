// Storage spec → Storage implementation.
import type { StorageSpec } from '../model/profile.ts';
import { StatebenchError, EXIT } from '../errors.ts';
import { LocalDirectoryStorage } from './local.ts';
import { LoopStorage } from './loop.ts';
import { RemoteStorage, type RemoteOptions } from './remote.ts';
import type { Storage } from './types.ts';

export interface StorageOptions {
  /**
   * remote: the fraction of requests that fail during this target's storage-error faults. nbdkit's
   * error filter fixes it when the server starts, so it must be known here (see RemoteOptions).
   */
  errorRate?: RemoteOptions['errorRate'];
}

export function storageFor(spec: StorageSpec, opts: StorageOptions = {}): Storage {
  if (spec.kind === 'local') {
    const fs = spec.filesystem;
    return fs === 'directory' ? new LocalDirectoryStorage() : new LoopStorage({ filesystem: fs, size: spec.size });
  }
  if (spec.kind === 'remote') return new RemoteStorage(spec, { errorRate: opts.errorRate });
  throw new StatebenchError(`storage ${JSON.stringify(spec)} is not available on this platform`, EXIT.usage);
}
