import type { TargetSpec } from '../model/profile.ts';
import { BareMetalPlatform } from '../platforms/baremetal/platform.ts';
import type { Platform } from '../platforms/types.ts';

export async function platformFor(name: TargetSpec['platform']): Promise<Platform> {
  switch (name) {
    case 'baremetal':
      return new BareMetalPlatform();
    case 'docker':
      return new (await import('../platforms/docker/platform.ts')).DockerPlatform();
    case 'kind':
    case 'kubernetes':
      // Loaded only when a Kubernetes target runs: the client library is large.
      return (await import('../platforms/k8s/platform.ts')).kubernetesPlatform(name);
  }
}
