import type { TargetSpec } from '../spec/profile.ts';
import { StatebenchError, EXIT } from '../errors.ts';
import { BareMetalPlatform } from './baremetal.ts';
import { kubernetesPlatform } from '../k8s/platform.ts';
import type { Platform } from './types.ts';

export function platformFor(name: TargetSpec['platform']): Platform {
  switch (name) {
    case 'baremetal':
      return new BareMetalPlatform();
    case 'kind':
    case 'kubernetes':
      return kubernetesPlatform(name);
    default:
      throw new StatebenchError(`platform ${name} is not available in this version`, EXIT.usage);
  }
}
