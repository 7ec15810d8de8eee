// `local` storage on a loop-mounted filesystem image: per node a sparse image file of `size` under the
// target's stateDir, attached with `losetup`, formatted ext4 or xfs and mounted where the node's data
// lives. Closer to a dedicated local disk (a Local PV) than a plain directory on the host's root
// filesystem: its own filesystem, its own journal, its own flushes. Needs root.
import { closeSync, ftruncateSync, mkdirSync, openSync, chmodSync, rmSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../core/exec.ts';
import { StatebenchError, EXIT } from '../errors.ts';
import type { CleanupRegistry, Registration } from '../core/cleanup.ts';
import type { Storage, StorageContext, Volume } from './types.ts';
import { detachLoop, isMounted, listLoops, removeMountPoint, unmount } from './leftovers.ts';

export type Filesystem = 'ext4' | 'xfs';

export interface LoopSpec {
  filesystem: Filesystem;
  /** Bytes. */
  size: number;
}

const MKFS_INSTALL: Record<Filesystem, string> = {
  ext4: 'Install e2fsprogs (apt-get install e2fsprogs)',
  xfs: 'Install xfsprogs (apt-get install xfsprogs)',
};

export function requireRoot(what: string): void {
  if (process.getuid?.() !== 0) {
    throw new StatebenchError(
      `${what} needs root (it attaches loop devices, creates filesystems and mounts them), and statebench is not running as root`,
      EXIT.environment,
      'Run statebench as root (e.g. with sudo), or use `storage: { kind: local, filesystem: directory }`, which needs no privileges.',
    );
  }
}

/** mkfs.xfs refuses filesystems under 300 MiB (xfsprogs ≥ 5.19); ext4 needs room for its journal. */
export const MIN_SIZE: Record<Filesystem, number> = { ext4: 16 * 1024 ** 2, xfs: 300 * 1024 ** 2 };

export function checkSize(fs: Filesystem, size: number): void {
  if (size < MIN_SIZE[fs]) {
    throw new StatebenchError(`a ${fs} volume needs at least ${MIN_SIZE[fs] / 1024 ** 2} MiB, the profile asks for ${Math.floor(size / 1024 ** 2)} MiB`, EXIT.usage, 'Raise storage.size.');
  }
}

export function checkNodeName(node: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(node)) throw new StatebenchError(`node name ${JSON.stringify(node)} cannot be used in a path`);
}

/**
 * The resources of one volume, released newest first by `release()`. Each is also registered with the
 * run's registry, so a run that ends any other way releases them through `releaseAll`.
 */
export class VolumeResources {
  private regs: Registration[] = [];
  constructor(readonly registry: CleanupRegistry) {}

  add(...args: Parameters<CleanupRegistry['add']>): Registration {
    const reg = this.registry.add(...args);
    this.regs.push(reg);
    return reg;
  }

  /** For resources registered elsewhere (ManagedProcess registers itself). */
  track(reg: Registration): void {
    this.regs.push(reg);
  }

  async release(): Promise<void> {
    const errors: Error[] = [];
    while (this.regs.length) {
      try {
        await this.regs.pop()!.release();
      } catch (e) {
        errors.push(e as Error);
      }
    }
    if (errors.length) throw new StatebenchError(`releasing a volume: ${errors.map((e) => e.message).join('; ')}`);
  }
}

/** Creates a sparse file of `size` bytes and registers it; it must not exist yet. */
export function createSparseImage(res: VolumeResources, path: string, size: number, what: string): void {
  mkdirSync(join(path, '..'), { recursive: true, mode: 0o755 });
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new StatebenchError(`image ${path} already exists; run \`statebench clean\` first`);
    throw e;
  }
  res.add({ kind: 'image-file', id: path, what }, async () => rmSync(path, { force: true }));
  try {
    ftruncateSync(fd, size);
  } finally {
    closeSync(fd);
  }
}

/**
 * `losetup --find --show` with direct I/O, so the image's pages are not cached a second time in the
 * host page cache and a flush of the loop device reaches the backing file's storage. A backing file
 * that cannot do direct I/O gets a buffered loop device (losetup only warns); describe() reports which.
 */
export async function attachLoop(res: VolumeResources, file: string, what: string): Promise<{ device: string; directIo: boolean }> {
  // losetup reports the canonical path of the backing file; compare with that.
  const backing = realpathSync(file);
  const { stdout } = await run('losetup', ['--find', '--show', '--direct-io=on', file], { timeoutMs: 30_000 });
  const device = stdout.trim().split('\n').pop()!.trim();
  if (!/^\/dev\/loop\d+$/.test(device)) throw new StatebenchError(`losetup printed ${JSON.stringify(stdout)} instead of a loop device`);
  // The backing path is checked at release: a loop number freed and reused by someone else is left alone.
  res.add({ kind: 'loop', id: device, what: `${what} (${backing})` }, () => detachLoop(device, (b) => b === backing));
  const entry = (await listLoops()).find((l) => l.name === device);
  return { device, directIo: entry?.directIo ?? false };
}

/**
 * mkfs on a device or image file. ext4's inode tables and journal are initialised now rather than
 * by a background kernel thread after mount, which would otherwise write during the measurements.
 */
export async function makeFilesystem(fs: Filesystem, target: string): Promise<void> {
  const [cmd, args] =
    fs === 'ext4'
      ? ['mkfs.ext4', ['-F', '-q', '-E', 'lazy_itable_init=0,lazy_journal_init=0', target]]
      : ['mkfs.xfs', ['-f', '-q', target]];
  try {
    await run(cmd as string, args as string[], { timeoutMs: 300_000 });
  } catch (e) {
    if (e instanceof StatebenchError && e.exitCode === EXIT.environment) {
      throw new StatebenchError(`${cmd} not found; it is needed for ${fs} volumes`, EXIT.environment, MKFS_INSTALL[fs]);
    }
    throw e;
  }
}

/** Mounts `device` at `dir` (created if needed) and makes its root 0755. */
export async function mountFilesystem(
  res: VolumeResources,
  fs: Filesystem,
  device: string,
  dir: string,
  what: string,
  beforeUnmount?: () => Promise<void>,
): Promise<void> {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  if (isMounted(dir)) throw new StatebenchError(`${dir} is already a mount point; run \`statebench clean\` first`);
  // Registered before mounting: the release only unmounts what is mounted, and a mount that
  // succeeded just as the process died is still covered.
  res.add({ kind: 'mount', id: dir, what }, async () => {
    try {
      await beforeUnmount?.();
    } finally {
      await unmount(dir);
    }
    removeMountPoint(dir);
  });
  await run('mount', ['-t', fs, device, dir], { timeoutMs: 60_000 });
  // PostgreSQL runs as `postgres` when statebench is root; it needs to traverse the volume's root.
  // The platform chowns the volume.
  chmodSync(dir, 0o755);
}

export class LoopStorage implements Storage {
  readonly kind = 'local';

  constructor(private readonly spec: LoopSpec) {}

  async prepare(node: string, ctx: StorageContext): Promise<Volume> {
    checkNodeName(node);
    checkSize(this.spec.filesystem, this.spec.size);
    requireRoot(`local storage with filesystem ${this.spec.filesystem}`);
    const res = new VolumeResources(ctx.registry);
    const image = join(ctx.stateDir, 'images', `${node}.img`);
    const path = join(ctx.stateDir, 'volumes', node);
    try {
      createSparseImage(res, image, this.spec.size, `image of ${node}'s volume`);
      const { device, directIo } = await attachLoop(res, image, `loop device of ${node}`);
      await makeFilesystem(this.spec.filesystem, device);
      await mountFilesystem(res, this.spec.filesystem, device, path, `${this.spec.filesystem} volume of ${node}`);
      ctx.onEvent?.('storage.volume.ready', { node, kind: 'local', filesystem: this.spec.filesystem, device, path });
      return {
        node,
        path,
        describe: { kind: 'local', filesystem: this.spec.filesystem, size: this.spec.size, device: 'loop', directIo },
        release: () => res.release(),
      };
    } catch (e) {
      await res.release().catch((r: Error) => ctx.onEvent?.('storage.cleanup-failed', { node, message: r.message }));
      throw e;
    }
  }
}
