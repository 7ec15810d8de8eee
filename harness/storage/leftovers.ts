// Mounts and loop devices: finding them, and releasing them both in-process and after a SIGKILL.
//
// Everything storage creates lives below the run's workspace (/tmp/statebench-<uid>/runs/<runId>/): mount
// points, image files and the files loop devices are attached to. So `statebench clean` finds what a
// killed run left behind by scanning /proc/self/mountinfo and `losetup --json` for paths under that
// directory, even when the journal line naming the resource was never written.
import { readFileSync, writeFileSync, existsSync, realpathSync, rmSync, rmdirSync } from 'node:fs';
import { isAbsolute, resolve, sep } from 'node:path';
import { run } from '../core/exec.ts';
import { runsRoot } from '../core/workspace.ts';
import { StatebenchError } from '../errors.ts';
import type { ResourceRecord } from '../core/cleanup.ts';

export interface MountEntry {
  /** mountinfo's mount ID (IDs are reused; the table's order, not the ID, is the mount order). */
  id: number;
  mountPoint: string;
  fsType: string;
  source: string;
  /** major:minor of the mounted filesystem (for FUSE: the connection number is the minor). */
  device: string;
}

export interface LoopEntry {
  name: string;
  /** The attached file; " (deleted)" is stripped when the file was removed while attached. */
  backFile: string;
  directIo: boolean;
}

/** mountinfo escapes space, tab, newline and backslash as octal (\040 …). */
function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** The mount table as this process sees it, in mount order (a mount is listed after its parent). */
export function readMounts(): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    if (!line.trim()) continue;
    // id parent major:minor root mountpoint options [optional fields...] - fstype source superoptions
    const [left, right] = line.split(' - ');
    const f = left.split(' ');
    const r = (right ?? '').split(' ');
    out.push({ id: Number(f[0]), device: f[2], mountPoint: unescapeMountPath(f[4]), fsType: r[0] ?? '', source: unescapeMountPath(r[1] ?? '') });
  }
  return out;
}

export function isMounted(path: string): boolean {
  const p = canonical(path);
  return readMounts().some((m) => m.mountPoint === p);
}

/** All attached loop devices with their backing files. */
export async function listLoops(): Promise<LoopEntry[]> {
  const { stdout } = await run('losetup', ['--json', '--list', '--output', 'NAME,BACK-FILE,DIO'], { timeoutMs: 15_000 });
  // With no loop device attached at all, losetup prints nothing.
  if (!stdout.trim()) return [];
  const parsed = JSON.parse(stdout) as { loopdevices?: { name: string; 'back-file'?: string | null; dio?: boolean | string }[] };
  return (parsed.loopdevices ?? []).map((d) => ({
    name: d.name,
    backFile: (d['back-file'] ?? '').replace(/ \(deleted\)$/, ''),
    directIo: d.dio === true || d.dio === '1',
  }));
}

/** Resolves symlinks in the part of `path` that exists, so it compares with what the kernel reports. */
function canonical(path: string): string {
  const abs = resolve(path);
  try {
    return realpathSync(abs);
  } catch {
    return abs;
  }
}

function under(path: string, dir: string): boolean {
  const d = canonical(dir).replace(/\/+$/, '');
  return path === d || path.startsWith(d + sep);
}

/** Mount points under `workspaceDir`, newest first (the order to unmount them in). */
export async function findLeftoverMounts(workspaceDir: string): Promise<string[]> {
  return readMounts()
    .filter((m) => under(m.mountPoint, workspaceDir))
    .reverse()
    .map((m) => m.mountPoint);
}

/** Loop devices whose backing file lies under `workspaceDir`, newest (highest number) first. */
export async function findLeftoverLoops(workspaceDir: string): Promise<string[]> {
  return (await listLoops())
    .filter((l) => l.backFile && under(l.backFile, workspaceDir))
    .sort((a, b) => loopNumber(b.name) - loopNumber(a.name))
    .map((l) => l.name);
}

function loopNumber(dev: string): number {
  return Number(/(\d+)$/.exec(dev)?.[1] ?? -1);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Unmounts `path` if it is mounted. In-process (`lazy: false`) a busy mount is retried a few times
 * (a database process may still be closing files) before falling back to a lazy unmount; after a
 * crash (`lazy: true`) a lazy unmount is used straight away, because a plain unmount of a filesystem
 * whose NBD server is stuck would block in the kernel and could not be interrupted.
 */
export async function unmount(path: string, opts: { lazy?: boolean; attempts?: number } = {}): Promise<void> {
  if (!isMounted(path)) return;
  const p = canonical(path);
  if (!opts.lazy) {
    const attempts = opts.attempts ?? 10;
    for (let i = 0; i < attempts; i++) {
      try {
        await run('umount', [p], { timeoutMs: 60_000 });
        return;
      } catch {
        if (!isMounted(p)) return;
        if (i === attempts - 1) break;
        await sleep(50 * (i + 1));
      }
    }
  }
  await abortFuseConnection(p);
  await run('umount', ['-l', p], { timeoutMs: 30_000 });
}

/**
 * A FUSE mount whose daemon is stuck makes every request on it wait forever; aborting the connection
 * fails them at once. Best effort: needs fusectl mounted at /sys/fs/fuse/connections.
 */
async function abortFuseConnection(mountPoint: string): Promise<void> {
  const m = readMounts().find((e) => e.mountPoint === mountPoint);
  if (!m || !m.fsType.startsWith('fuse')) return;
  const minor = m.device.split(':')[1];
  const abort = `/sys/fs/fuse/connections/${minor}/abort`;
  if (!existsSync(abort)) return;
  try {
    writeFileSync(abort, '1');
  } catch {
    /* best effort */
  }
}

/** Removes an (empty) mount point directory; never recursive, so a still-mounted filesystem is safe. */
export function removeMountPoint(path: string): void {
  try {
    rmdirSync(path);
  } catch {
    /* not empty, still a mount point, or already gone: leave it to the workspace cleanup */
  }
}

/**
 * Detaches loop device `dev` when it is attached to a file that `owns` accepts. A loop number can be
 * reused by someone else once ours was detached, so the backing file is always checked first. On a
 * device still in use (a lazily unmounted filesystem) the kernel defers the detach to the last close.
 */
export async function detachLoop(dev: string, owns: (backFile: string) => boolean): Promise<void> {
  const entry = (await listLoops()).find((l) => l.name === dev);
  if (!entry || !owns(entry.backFile)) return;
  try {
    await run('losetup', ['--detach', dev], { timeoutMs: 30_000 });
  } catch (e) {
    // Detached meanwhile (e.g. autoclear) is fine; anything else is reported.
    if ((await listLoops()).some((l) => l.name === dev && l.backFile === entry.backFile)) throw e;
  }
}

/**
 * Releases one storage resource a killed run left behind, as the journal names it:
 * - `mount`: id is the mount point; lazily unmounted if still mounted.
 * - `loop`: id is the device (/dev/loopN), detached if still attached to a file under `workspaceDir`
 *   (or, without it, under the statebench runs directory); an id that is a file path detaches every
 *   loop device attached to that file.
 * - `image-file`: id is the file; removed.
 */
export async function releaseLeftover(record: ResourceRecord, opts: { workspaceDir?: string } = {}): Promise<void> {
  const scope = opts.workspaceDir ?? runsRoot();
  switch (record.kind) {
    case 'mount': {
      if (!isAbsolute(record.id)) throw new StatebenchError(`mount record ${record.id} is not an absolute path`);
      await unmount(record.id, { lazy: true });
      return;
    }
    case 'loop': {
      if (record.id.startsWith('/dev/')) {
        await detachLoop(record.id, (backFile) => under(backFile, scope));
      } else {
        const file = canonical(record.id);
        for (const l of await listLoops()) if (l.backFile === file) await detachLoop(l.name, (b) => b === file);
      }
      return;
    }
    case 'image-file': {
      if (!isAbsolute(record.id) || record.id === '/') throw new StatebenchError(`image record ${record.id} is not a file path`);
      rmSync(record.id, { force: true });
      return;
    }
    default:
      throw new StatebenchError(`releaseLeftover handles mount, loop and image-file records, not ${record.kind} (${record.what})`);
  }
}
