// `remote` storage: an emulated network block device per node, the bare-metal stand-in for a cloud
// block volume or a replicated network PV.
//
//   image file ─ nbdkit file plugin + filters ─ NBD over a unix socket ─ nbdfuse (FUSE file)
//     ─ loop device ─ ext4/xfs ─ mounted at <stateDir>/volumes/<node>
//
// nbdkit filters, outermost (nearest the client) first:
//   stats  counts every request the client made and how long it took (latency and stalls included);
//          written to <stateDir>/remote/<node>/nbdkit-stats.txt when nbdkit exits
//   pause  `pause-control=<socket>`: 'p' holds every new request until 'r' (storage-stall)
//   delay  rdelay/wdelay: each read and each write/zero/trim waits latencyMs (flush is not delayed;
//          the filter has no flush delay)
//   rate   total bandwidth cap in bits/s, separately for reads and writes
//   error  EIO on a fraction of requests, only while the trigger file exists (storage-error)
//
// Transport: a unix socket rather than TCP on 127.0.0.1. The network part of "remote" is emulated by
// the delay and rate filters, whose milliseconds dwarf the tens of microseconds loopback TCP would add;
// a socket file needs no free port (picking one and binding later is a race between parallel targets),
// cannot be reached from anywhere but this host, and lives under the run's workspace, where `statebench
// clean` looks for leftovers. A socket address holds at most 107 bytes, though, and nbdkit makes
// socket paths absolute: under a workspace path too long for that, the NBD and pause-control sockets
// go to a private directory in the system temp directory, registered and removed like the rest.
//
// nbdfuse(1) warns that loop-mounting its file "may sometimes deadlock": with a buffered loop device,
// writing back dirty pages needs the FUSE daemon, which may itself need memory. The loop device is
// attached with direct I/O, so its writes go straight to nbdfuse instead of through the page cache.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, statSync, accessSync, constants } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { ManagedProcess, run } from '../core/exec.ts';
import { StatebenchError, MissingToolError, EXIT } from '../errors.ts';
import { met, notYet, waitFor } from '../core/wait.ts';
import type { REMOTE_PRESETS, StorageSpec } from '../model/profile.ts';
import type { Storage, StorageContext, StorageFaults, Volume } from './types.ts';
import { isMounted, unmount, removeMountPoint } from './leftovers.ts';
import { VolumeResources, attachLoop, checkNodeName, checkSize, createSparseImage, makeFilesystem, mountFilesystem, requireRoot, type Filesystem } from './loop.ts';

export type RemoteSpec = Extract<StorageSpec, { kind: 'remote' }>;
export type RemotePreset = (typeof REMOTE_PRESETS)[number];

export interface PresetFigures {
  /** Added to every read and write request. */
  latencyMs: number;
  /** Cap on reads and on writes, each. */
  bandwidthMiBps: number;
  /** Where the figures come from. */
  basis: string;
}

/**
 * Representative figures, not measurements of any one volume: they put a run in the right order of
 * magnitude. Explicit `latencyMs` / `bandwidthMiBps` in the profile override them.
 */
export const REMOTE_PRESET_FIGURES: Record<RemotePreset, PresetFigures> = {
  // AWS EBS gp3: baseline throughput 125 MiB/s (3,000 IOPS) per the EBS volume types documentation,
  // which describes gp3 latency as "single-digit millisecond"; 1 ms is the low end of that, about
  // what a small synchronous write to a general-purpose cloud SSD volume takes.
  'cloud-block': {
    latencyMs: 1,
    bandwidthMiBps: 125,
    basis: 'AWS EBS gp3 baseline (125 MiB/s; "single-digit millisecond" latency, low end)',
  },
  // A networked volume that replicates each write synchronously to 2–3 nodes (Longhorn, Ceph RBD):
  // a write completes after a network round trip and the slowest replica's write, typically a few
  // milliseconds on commodity networks; 1 GbE carries at most ~119 MiB/s, ~100 MiB/s after protocol
  // overhead, and every replica's copy crosses it.
  'replicated-network': {
    latencyMs: 3,
    bandwidthMiBps: 100,
    basis: 'synchronously replicated network volume (Longhorn/Ceph RBD class) over 1 GbE: a round trip plus a replica write',
  },
  // Azure Standard HDD managed disks: documented as "write latencies under 10 ms", with 60 MB/s
  // (~57 MiB/s) throughput for the smaller sizes.
  'slow-network': {
    latencyMs: 10,
    bandwidthMiBps: 57,
    basis: 'Azure Standard HDD managed disk (write latency under 10 ms, 60 MB/s)',
  },
};

/** The preset used when a remote volume names neither a preset nor figures of its own. */
export const DEFAULT_REMOTE_PRESET: RemotePreset = 'cloud-block';

export interface RemoteFigures {
  preset: RemotePreset;
  /** True when no preset was named and DEFAULT_REMOTE_PRESET filled the gaps. */
  presetDefaulted: boolean;
  /** What the delay filter applies: whole milliseconds (its resolution; "1.5ms" would be read as 1). */
  latencyMs: number;
  /** What the profile asked for, when it differs from latencyMs after rounding. */
  requestedLatencyMs?: number;
  bandwidthMiBps: number;
}

export function resolveRemoteFigures(spec: Pick<RemoteSpec, 'preset' | 'latencyMs' | 'bandwidthMiBps'>): RemoteFigures {
  const preset = spec.preset ?? DEFAULT_REMOTE_PRESET;
  const base = REMOTE_PRESET_FIGURES[preset];
  const requested = spec.latencyMs ?? base.latencyMs;
  // The delay filter parses "NNms" as an integer and silently drops a fraction, so round here and
  // report both. A requested latency between 0 and 1 ms becomes 1 ms rather than none.
  const latencyMs = requested === 0 ? 0 : Math.max(1, Math.round(requested));
  return {
    preset,
    presetDefaulted: spec.preset === undefined,
    latencyMs,
    ...(latencyMs !== requested ? { requestedLatencyMs: requested } : {}),
    bandwidthMiBps: spec.bandwidthMiBps ?? base.bandwidthMiBps,
  };
}

export interface RemoteOptions {
  /**
   * Fraction (0..1) of requests the error filter fails while a storage-error fault is on. The filter
   * reads its rate once, at server start (only the trigger file is checked per request), so the rate
   * of the target's storage-error faults must be known when the volume is prepared; `errors(rate)`
   * refuses any other rate. Default 1: every request fails while the fault is on.
   */
  errorRate?: number;
}

/** nbdkit arguments for one volume; the pidfile is relative to the server's working directory. */
export function nbdkitArgs(o: {
  image: string;
  socketDir: string;
  statsFile: string;
  errorTrigger: string;
  latencyMs: number;
  bandwidthMiBps: number;
  errorRate: number;
}): string[] {
  const args = ['--foreground', '--exit-with-parent', '--pidfile', 'nbdkit.pid', '--unix', join(o.socketDir, 'nbd.sock')];
  args.push('--filter=stats', '--filter=pause');
  if (o.latencyMs > 0) args.push('--filter=delay');
  args.push('--filter=rate', '--filter=error');
  args.push('file', `file=${o.image}`);
  args.push(`statsfile=${o.statsFile}`);
  args.push(`pause-control=${join(o.socketDir, 'pause.sock')}`);
  if (o.latencyMs > 0) args.push(`rdelay=${o.latencyMs}ms`, `wdelay=${o.latencyMs}ms`);
  // rate= is in bits per second.
  args.push(`rate=${Math.max(1, Math.round(o.bandwidthMiBps * 1024 * 1024 * 8))}`);
  args.push('error=EIO', `error-rate=${o.errorRate}`, `error-file=${o.errorTrigger}`);
  return args;
}

function logTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-5).join(' | ');
  } catch {
    return '';
  }
}

/** Polls `ready` every 50 ms until it holds, the process exits, or `timeoutMs` passes. */
async function waitReady(proc: ManagedProcess, what: string, log: string, ready: () => boolean, timeoutMs = 20_000): Promise<void> {
  await waitFor(
    `${what} to be ready`,
    () => {
      if (ready()) return met(undefined);
      if (!proc.running) throw new StatebenchError(`${what} exited before it was ready (${JSON.stringify(proc.exitStatus)}): ${logTail(log)}`);
      return notYet(() => `its log ends: ${logTail(log)}`);
    },
    { timeoutMs, intervalMs: 50 },
  );
}

/**
 * Sends one command to the pause filter's control socket and waits for its echo in upper case. 'P'
 * comes back only once every request received before the pause has completed.
 */
export async function pauseControl(socketPath: string, cmd: 'p' | 'r', timeoutMs = 30_000): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const sock = createConnection({ path: socketPath });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new StatebenchError(`nbdkit pause filter did not answer '${cmd}' within ${timeoutMs} ms`));
    }, timeoutMs);
    const done = (err?: Error) => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve();
    };
    sock.once('error', (e) => done(new StatebenchError(`nbdkit pause control ${socketPath}: ${e.message}`)));
    sock.once('connect', () => sock.write(cmd));
    sock.once('data', (b) => {
      const answer = b.toString('latin1', 0, 1);
      done(answer === cmd.toUpperCase() ? undefined : new StatebenchError(`nbdkit pause filter answered ${JSON.stringify(answer)} to '${cmd}'`));
    });
    sock.once('end', () => done(new StatebenchError(`nbdkit pause control closed before answering '${cmd}'`)));
  });
}

function onPath(tool: string): boolean {
  const dirs = (process.env.PATH ?? '').split(delimiter).concat(['/usr/sbin', '/sbin']);
  return dirs.some((d) => {
    try {
      accessSync(join(d, tool), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

const INSTALL = {
  nbdkit: 'Install nbdkit (apt-get install nbdkit; the delay, rate, stats, pause and error filters ship with it)',
  nbdfuse: 'Install libnbd-bin, which provides nbdfuse (apt-get install libnbd-bin)',
  losetup: 'Install util-linux/mount, which provide losetup (apt-get install mount)',
  'mkfs.ext4': 'Install e2fsprogs (apt-get install e2fsprogs)',
  'mkfs.xfs': 'Install xfsprogs (apt-get install xfsprogs)',
  '/dev/fuse': 'Load the fuse module (modprobe fuse); in a container, run it with --device /dev/fuse --cap-add SYS_ADMIN',
  root: 'Run statebench as root (e.g. with sudo)',
} as const;

export class RemoteStorage implements Storage {
  readonly kind = 'remote';
  readonly figures: RemoteFigures;
  readonly errorRate: number;

  constructor(
    private readonly spec: RemoteSpec,
    opts: RemoteOptions = {},
  ) {
    this.figures = resolveRemoteFigures(spec);
    this.errorRate = opts.errorRate ?? 1;
    if (!(this.errorRate >= 0 && this.errorRate <= 1)) throw new StatebenchError(`errorRate ${opts.errorRate} is not between 0 and 1`, EXIT.usage);
  }

  async prepare(node: string, ctx: StorageContext): Promise<Volume> {
    checkNodeName(node);
    const fs = this.spec.filesystem as Filesystem;
    checkSize(fs, this.spec.size);
    requireRoot('remote storage');
    for (const tool of ['nbdkit', 'nbdfuse', 'losetup', `mkfs.${fs}`] as const) {
      if (!onPath(tool)) throw new MissingToolError(tool, 'for remote storage', INSTALL[tool]);
    }
    if (!existsSync('/dev/fuse')) throw new StatebenchError('/dev/fuse is missing; nbdfuse needs it for remote storage', EXIT.environment, INSTALL['/dev/fuse']);

    const dir = join(ctx.stateDir, 'remote', node);
    const image = join(dir, 'disk.img');
    const fuseDir = join(dir, 'fuse');
    const fuseFile = join(fuseDir, 'nbd');
    const statsFile = join(dir, 'nbdkit-stats.txt');
    const errorTrigger = join(dir, 'inject-errors');
    const path = join(ctx.stateDir, 'volumes', node);
    mkdirSync(fuseDir, { recursive: true, mode: 0o755 });
    for (const f of ['nbdkit.pid', 'nbdfuse.pid', 'nbd.sock', 'pause.sock', 'inject-errors']) rmSync(join(dir, f), { force: true });

    const res = new VolumeResources(ctx.registry);
    let socketDir = dir;
    if (Buffer.byteLength(join(dir, 'pause.sock')) > 100) {
      socketDir = mkdtempSync(join(tmpdir(), 'statebench-sock-'));
      const sockets = socketDir;
      res.add({ kind: 'dir', id: sockets, what: `sockets of ${node}'s remote volume` }, async () => rmSync(sockets, { recursive: true, force: true }));
    }
    const nbdSocket = join(socketDir, 'nbd.sock');
    const pauseSocket = join(socketDir, 'pause.sock');
    let stalled = false;
    let erroring = false;
    let nbdkit: ManagedProcess | undefined;
    const resume = async () => {
      if (erroring) {
        rmSync(errorTrigger, { force: true });
        erroring = false;
      }
      if (stalled && nbdkit?.running) {
        await pauseControl(pauseSocket, 'r');
      }
      stalled = false;
    };

    try {
      createSparseImage(res, image, this.spec.size, `backing image of ${node}'s remote volume`);
      // The filesystem is made on the image before it is served: the result is the same as mkfs
      // through the stack, without pushing mkfs's ~100 MB of zeroed inode tables and journal through
      // the emulated latency and bandwidth cap (minutes on the slow-network preset).
      await makeFilesystem(fs, image);

      nbdkit = await ManagedProcess.start(
        ctx.registry,
        `nbdkit serving ${node}'s remote volume`,
        'nbdkit',
        nbdkitArgs({ image, socketDir, statsFile, errorTrigger, latencyMs: this.figures.latencyMs, bandwidthMiBps: this.figures.bandwidthMiBps, errorRate: this.errorRate }),
        { cwd: dir, logFile: join(dir, 'nbdkit.log') },
      );
      const server = nbdkit;
      res.track({ release: async () => void (await server.stop('SIGTERM', 10_000)), forget: () => undefined });
      await waitReady(server, 'nbdkit', join(dir, 'nbdkit.log'), () => existsSync(join(dir, 'nbdkit.pid')) && statSync(join(dir, 'nbdkit.pid')).size > 0);

      const fuse = await ManagedProcess.start(ctx.registry, `nbdfuse for ${node}'s remote volume`, 'nbdfuse', ['--pidfile', 'nbdfuse.pid', fuseDir, '--unix', nbdSocket], {
        cwd: dir,
        logFile: join(dir, 'nbdfuse.log'),
      });
      res.track({ release: async () => void (await fuse.stop('SIGTERM', 10_000)), forget: () => undefined });
      // Unmounting the FUSE filesystem is how nbdfuse is asked to exit; registered before it appears.
      res.add({ kind: 'mount', id: fuseDir, what: `nbdfuse mount of ${node}'s remote volume` }, async () => {
        await unmount(fuseDir);
        await Promise.race([fuse.exited, new Promise((r) => setTimeout(r, 10_000).unref())]);
      });
      await waitReady(fuse, 'nbdfuse', join(dir, 'nbdfuse.log'), () => existsSync(join(dir, 'nbdfuse.pid')) && isMounted(fuseDir) && existsSync(fuseFile));

      const { device, directIo } = await attachLoop(res, fuseFile, `loop device of ${node}'s remote volume`);
      await mountFilesystem(res, fs, device, path, `${fs} on ${node}'s remote volume`, resume);
      ctx.onEvent?.('storage.volume.ready', { node, kind: 'remote', filesystem: fs, device, path, ...this.figures });

      const faults: StorageFaults = {
        stall: async () => {
          if (stalled) throw new StatebenchError(`${node}'s remote volume is already stalled`);
          await pauseControl(pauseSocket, 'p');
          stalled = true;
          let undone = false;
          return async () => {
            // Releasing the volume resumes it too; an undo after that has nothing left to do.
            if (undone || !stalled) return;
            undone = true;
            await pauseControl(pauseSocket, 'r');
            stalled = false;
          };
        },
        errors: async (rate: number) => {
          if (Math.abs(rate - this.errorRate) > 1e-9) {
            throw new StatebenchError(
              `${node}'s remote volume was started with error rate ${this.errorRate} and cannot fail ${rate} of requests: nbdkit's error filter fixes its rate at server start`,
              EXIT.usage,
              'Give storage-error faults on one target the same errorRate; it is passed to the remote storage when the volume is prepared.',
            );
          }
          writeFileSync(errorTrigger, '');
          erroring = true;
          let undone = false;
          return async () => {
            if (undone) return;
            undone = true;
            rmSync(errorTrigger, { force: true });
            erroring = false;
          };
        },
      };

      return {
        node,
        path,
        describe: {
          kind: 'remote',
          filesystem: fs,
          size: this.spec.size,
          latencyMs: this.figures.latencyMs,
          ...(this.figures.requestedLatencyMs !== undefined ? { requestedLatencyMs: this.figures.requestedLatencyMs } : {}),
          bandwidthMiBps: this.figures.bandwidthMiBps,
          preset: this.figures.preset,
          presetDefaulted: this.figures.presetDefaulted,
          presetBasis: REMOTE_PRESET_FIGURES[this.figures.preset].basis,
          transport: 'nbd+unix',
          stack: 'nbdkit file (filters stats, pause, delay, rate, error) → NBD over unix socket → nbdfuse → loop device → ' + fs,
          loopDirectIo: directIo,
          errorRate: this.errorRate,
          statsFile,
        },
        faults,
        release: () => res.release(),
      };
    } catch (e) {
      await resume().catch(() => undefined);
      await res.release().catch((r: Error) => ctx.onEvent?.('storage.cleanup-failed', { node, message: r.message }));
      removeMountPoint(fuseDir);
      throw e;
    }
  }
}

export interface NbdOpStats {
  ops: number;
  seconds: number;
  bytes: number;
}

/** The per-operation totals of an nbdkit stats file (`write: 73 ops, 0.155918 s, 483.00 KiB, …`). */
export function parseNbdkitStats(text: string): Record<string, NbdOpStats> {
  const units: Record<string, number> = { bytes: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4, PiB: 1024 ** 5, EiB: 1024 ** 6 };
  const out: Record<string, NbdOpStats> = {};
  for (const line of text.split('\n')) {
    const m = /^([a-z-]+): (\d+) ops, ([\d.]+) s, ([\d.]+) (bytes|[KMGTPE]iB)/.exec(line);
    if (m) out[m[1]] = { ops: Number(m[2]), seconds: Number(m[3]), bytes: Math.round(Number(m[4]) * units[m[5]]) };
  }
  return out;
}

export interface Requirement {
  name: string;
  present: boolean;
  version?: string;
  /** What works when it is present. */
  enables: string;
  /** How to get it. */
  install: string;
}

async function versionOf(cmd: string, args: string[], pattern: RegExp): Promise<string | undefined> {
  try {
    const { stdout, stderr } = await run(cmd, args, { timeoutMs: 10_000 });
    return pattern.exec(stdout + '\n' + stderr)?.[1];
  } catch (e) {
    // mkfs.ext4 -V exits 0, but some tools print their version and exit non-zero; take it from the message.
    return pattern.exec((e as Error).message)?.[1];
  }
}

const NBDKIT_FILTERS = ['stats', 'pause', 'delay', 'rate', 'error'];

/** What storage needs from this machine, for `statebench doctor`. */
export async function storageRequirements(): Promise<Requirement[]> {
  const tool = async (name: keyof typeof INSTALL, enables: string, versionArgs: string[], pattern: RegExp): Promise<Requirement> => {
    const present = onPath(name);
    const version = present ? await versionOf(name, versionArgs, pattern) : undefined;
    return { name, present, ...(version ? { version } : {}), enables, install: INSTALL[name] };
  };
  const remote = 'storage kind remote (emulated network volume)';
  const nbdkit = await tool('nbdkit', `${remote}: the NBD server with latency, bandwidth, stall and error filters`, ['--version'], /nbdkit\s+([\d.]+)/);
  if (nbdkit.present) {
    // The filters are separate shared objects; a minimal build may lack some.
    const missingFilters: string[] = [];
    try {
      const { stdout } = await run('nbdkit', ['--dump-config'], { timeoutMs: 10_000 });
      const filterdir = /^filterdir=(.*)$/m.exec(stdout)?.[1];
      for (const f of NBDKIT_FILTERS) if (!filterdir || !existsSync(join(filterdir, `nbdkit-${f}-filter.so`))) missingFilters.push(f);
    } catch {
      missingFilters.push(...NBDKIT_FILTERS);
    }
    if (missingFilters.length) {
      nbdkit.present = false;
      nbdkit.install = `nbdkit lacks the ${missingFilters.join(', ')} filter(s). ${INSTALL.nbdkit}`;
    }
  }
  let fuse = false;
  try {
    fuse = statSync('/dev/fuse').isCharacterDevice();
  } catch {
    fuse = false;
  }
  return [
    nbdkit,
    await tool('nbdfuse', `${remote}: exposes the NBD export as a file`, ['--version'], /nbdfuse\s+([\d.]+)/),
    await tool('losetup', 'storage kind remote, and local with filesystem ext4/xfs: loop devices', ['--version'], /([\d][\d.]+)/),
    await tool('mkfs.ext4', 'ext4 volumes (local filesystem ext4, remote filesystem ext4)', ['-V'], /mke2fs\s+([\d.]+)/),
    await tool('mkfs.xfs', 'xfs volumes (local filesystem xfs, remote filesystem xfs)', ['-V'], /version\s+([\d.]+)/),
    { name: '/dev/fuse', present: fuse, enables: `${remote}: nbdfuse mounts through FUSE`, install: INSTALL['/dev/fuse'] },
    {
      name: 'root',
      present: process.getuid?.() === 0,
      enables: 'loop devices, mkfs and mounts: storage local with ext4/xfs, and remote',
      install: INSTALL.root,
    },
  ];
}
