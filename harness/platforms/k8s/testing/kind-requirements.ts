// What a kind end-to-end test needs on this machine, said once for every such test: the kind and
// docker CLIs, a daemon that answers, the database image, and (where nothing can be pulled) the node
// image, and for remote volumes root, nbdkit and nbdfuse. A test skips with these reasons outside CI and fails with them under CI=true or
// STATEBENCH_REQUIRE_KIND=1.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { hasTool } from '../../../core/tools.ts';

function succeeds(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore', timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

export interface KindTestNeeds {
  /** Names the test in the reason. */
  test: string;
  /** The database image the test loads into the cluster, and how to get it. */
  image: string;
  imageHint: string;
  /** The node image must be local (STATEBENCH_KIND_NODE_IMAGE): true where no registry can be reached. */
  nodeImage: boolean;
  /**
   * kind's emulated network volumes (storage kind remote without a StorageClass): made on the host as
   * root with nbdkit, nbdfuse and a loop device, before the cluster starts.
   */
  remoteVolumes?: boolean;
}

/** Why the test cannot run here, or undefined when it can. */
export function kindTestGaps(n: KindTestNeeds): string | undefined {
  const gaps: string[] = [];
  if (!hasTool('kind')) gaps.push('kind not on PATH');
  if (!hasTool('docker')) gaps.push('docker not on PATH');
  else if (!succeeds('docker', ['info'])) gaps.push('docker daemon not reachable');
  else {
    if (!succeeds('docker', ['image', 'inspect', n.image])) gaps.push(`image ${n.image} not in the local docker (${n.imageHint})`);
    if (n.nodeImage) {
      const node = process.env.STATEBENCH_KIND_NODE_IMAGE;
      if (!node) gaps.push("STATEBENCH_KIND_NODE_IMAGE not set (no registry to pull kind's default from)");
      else if (!succeeds('docker', ['image', 'inspect', node])) gaps.push(`node image ${node} not in the local docker`);
    }
  }
  if (n.remoteVolumes) {
    if (process.getuid?.() !== 0) gaps.push('remote volumes need root');
    for (const tool of ['nbdkit', 'nbdfuse', 'losetup', 'mkfs.ext4']) if (!hasTool(tool)) gaps.push(`${tool} not on PATH (remote volumes)`);
    if (!existsSync('/dev/fuse')) gaps.push('/dev/fuse missing (nbdfuse)');
  }
  return gaps.length ? `${n.test}: ${gaps.join(', ')}` : undefined;
}

/** Whether a missing requirement fails the test instead of skipping it. */
export const kindRequired = process.env.STATEBENCH_REQUIRE_KIND === '1' || process.env.CI === 'true';
