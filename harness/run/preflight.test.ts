// Storage that needs root is refused before anything starts when statebench runs as an ordinary user:
// every such target named with its line, and Local PVs on kind (which need no root) left alone.
import { expect, test } from 'vitest';
import { parseProfile } from '../model/load.ts';
import { preflightProblems } from './preflight.ts';

const PROFILE = `name: non-root
targets:
  - platform: kind
    storage: { kind: local-pv }
  - platform: kind
    storage: { kind: remote }
  - platform: kind
    storage: { kind: remote, storageClass: standard }
  - platform: baremetal
    storage: { kind: remote, latencyMs: 2 }
  - platform: docker
    storage: { kind: local, filesystem: ext4 }
  - platform: baremetal
    storage: { kind: local }
workloads:
  - kind: oltp-tpcb
`;

async function refusal(uid: number): Promise<string[]> {
  const loaded = parseProfile(PROFILE, 'non-root.yaml');
  const problems = await preflightProblems(loaded.profile, loaded.plan, { uid });
  if (!problems.length) return [];
  return loaded.refuse(problems).problems.map((p) => `line ${p.line}: ${p.path}: ${p.message}`);
}

test('as an ordinary user: remote volumes statebench serves and loop-mounted filesystems are refused with their lines', async () => {
  expect(await refusal(65534)).toEqual([
    'line 6: targets.1.storage.kind: remote storage served by statebench (nbdkit, a loop device, mkfs and a mount) needs root, and statebench runs as uid 65534; run it as root (e.g. with sudo), or use local-pv or a StorageClass',
    'line 10: targets.3.storage.kind: remote storage served by statebench (nbdkit, a loop device, mkfs and a mount) needs root, and statebench runs as uid 65534; run it as root (e.g. with sudo), or use local storage',
    'line 12: targets.4.storage.filesystem: a loop-mounted ext4 image needs root, and statebench runs as uid 65534; run it as root (e.g. with sudo), or use filesystem: directory',
  ]);
});

test('as root the same profile passes preflight', async () => {
  expect(await refusal(0)).toEqual([]);
});
