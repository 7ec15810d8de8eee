import type { TargetSpec } from '../spec/profile.ts';
import { BareMetalPlatform } from './baremetal.ts';
import type { Platform } from './types.ts';

export async function platformFor(name: TargetSpec['platform']): Promise<Platform> {
  switch (name) {
    case 'baremetal':
      return new BareMetalPlatform();
    case 'docker':
      return new (await import('../docker/platform.ts')).DockerPlatform();
    case 'kind':
    case 'kubernetes':
      // Loaded only when a Kubernetes target runs: the client library is large.
      return (await import('../k8s/platform.ts')).kubernetesPlatform(name);
  }
}
