import type { TargetSpec } from '../spec/profile.ts';
import { StatebenchError, EXIT } from '../errors.ts';
import { BareMetalPlatform } from './baremetal.ts';
import type { Platform } from './types.ts';

export async function platformFor(name: TargetSpec['platform']): Promise<Platform> {
  switch (name) {
    case 'baremetal':
      return new BareMetalPlatform();
    case 'kind':
    case 'kubernetes':
      // Loaded only when a Kubernetes target runs: the client library is large.
      return (await import('../k8s/platform.ts')).kubernetesPlatform(name);
    default:
      throw new StatebenchError(`platform ${name} is not available in this version`, EXIT.usage);
  }
}
