// Storage spec → Storage implementation.
import type { StorageSpec } from '../spec/profile.ts';
import { StatebenchError, EXIT } from '../errors.ts';
import { LocalDirectoryStorage } from './local.ts';
import type { Storage } from './types.ts';

export function storageFor(spec: StorageSpec): Storage {
  if (spec.kind === 'local' && spec.filesystem === 'directory') return new LocalDirectoryStorage();
  throw new StatebenchError(`storage ${JSON.stringify(spec)} is not available on this platform`, EXIT.usage);
}
