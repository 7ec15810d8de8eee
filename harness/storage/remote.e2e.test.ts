// Remote storage against the real stack: nbdkit with its filters, nbdfuse, a loop device, ext4/xfs.
// Needs root, nbdkit, nbdfuse, losetup, mkfs.ext4 and fio; elsewhere the suite is skipped with a reason.
import { describe, it, expect, beforeEach, afterEach, vi } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync, existsSync, readdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CleanupRegistry, unreleased } from '../core/cleanup.ts';
import { run } from '../core/exec.ts';
import { missing } from '../testing/requirements.ts';
import { hasTool } from '../core/tools.ts';
import { StatebenchError, EXIT } from '../errors.ts';
import { REMOTE_PRESETS } from '../model/profile.ts';
import { RemoteStorage, REMOTE_PRESET_FIGURES, resolveRemoteFigures, nbdkitArgs, parseNbdkitStats, storageRequirements, type RemoteSpec } from './remote.ts';
import { LoopStorage } from './loop.ts';
import { findLeftoverLoops, findLeftoverMounts, listLoops, readMounts, releaseLeftover } from './leftovers.ts';
import { storageFor } from './index.ts';

const MiB = 1024 ** 2;
const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function remoteSpec(over: Partial<RemoteSpec> = {}): RemoteSpec {
  return { kind: 'remote', filesystem: 'ext4', size: 256 * MiB, ...over } as RemoteSpec;
}

/** Live nbdkit/nbdfuse processes whose command line mentions `dir`. */
function storageProcessesUnder(dir: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    } catch {
      continue;
    }
    if (!argv.length) continue; // zombies have no command line
    const name = argv[0].split('/').pop()!;
    if ((name === 'nbdkit' || name === 'nbdfuse') && argv.some((a) => a.includes(dir))) found.push(`${pid} ${argv.join(' ')}`);
  }
  return found;
}

/** No mount under the workspace, no loop device backed by a file in it, no nbdkit/nbdfuse for it. */
async function expectNothingLeft(ws: string): Promise<void> {
  expect(await findLeftoverMounts(ws)).toEqual([]);
  expect(await findLeftoverLoops(ws)).toEqual([]);
  expect(storageProcessesUnder(ws)).toEqual([]);
}

interface FioWal {
  p50: number;
  p99: number;
  samples: number;
  MiBps: number;
}

/**
 * 8 KiB write + fdatasync, the WAL pattern. `--overwrite=1` lays the file out with real writes first,
 * so the measured writes overwrite allocated blocks as PostgreSQL's pre-zeroed WAL segments do.
 */
async function fioWal(dir: string): Promise<FioWal> {
  const { stdout } = await run(
    'fio',
    ['--name=wal', `--directory=${dir}`, '--filename=fio-wal', '--rw=write', '--bs=8k', '--size=2M', '--overwrite=1', '--ioengine=sync', '--fdatasync=1', '--output-format=json'],
    { timeoutMs: 120_000 },
  );
  const job = JSON.parse(stdout).jobs[0];
  const p = job.sync.lat_ns.percentile;
  return { p50: p['50.000000'] / 1e6, p99: p['99.000000'] / 1e6, samples: job.sync.lat_ns.N, MiBps: job.write.bw / 1024 };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('remote storage figures (no root needed)', () => {
  it('every preset has figures and a stated basis', () => {
    for (const name of REMOTE_PRESETS) {
      const f = REMOTE_PRESET_FIGURES[name];
      expect(f.latencyMs).toBeGreaterThan(0);
      expect(f.bandwidthMiBps).toBeGreaterThan(0);
      expect(f.basis.length).toBeGreaterThan(10);
    }
  });

  it('explicit latency and bandwidth override the preset; no preset means cloud-block', () => {
    expect(resolveRemoteFigures({ preset: 'slow-network' })).toMatchObject({ preset: 'slow-network', latencyMs: 10, bandwidthMiBps: 57, presetDefaulted: false });
    expect(resolveRemoteFigures({ preset: 'slow-network', latencyMs: 4 })).toMatchObject({ latencyMs: 4, bandwidthMiBps: 57 });
    expect(resolveRemoteFigures({ preset: 'replicated-network', bandwidthMiBps: 10 })).toMatchObject({ latencyMs: 3, bandwidthMiBps: 10 });
    expect(resolveRemoteFigures({})).toMatchObject({ preset: 'cloud-block', presetDefaulted: true, latencyMs: 1, bandwidthMiBps: 125 });
  });

  it('latency is rounded to the delay filter’s whole milliseconds and the request is kept', () => {
    expect(resolveRemoteFigures({ latencyMs: 1.5 })).toMatchObject({ latencyMs: 2, requestedLatencyMs: 1.5 });
    expect(resolveRemoteFigures({ latencyMs: 0.2 })).toMatchObject({ latencyMs: 1, requestedLatencyMs: 0.2 });
    expect(resolveRemoteFigures({ latencyMs: 0 })).toMatchObject({ latencyMs: 0 });
    expect(resolveRemoteFigures({ latencyMs: 2 }).requestedLatencyMs).toBeUndefined();
  });

  it('nbdkit gets the filters in order and the figures in its units', () => {
    const args = nbdkitArgs({ image: '/w/disk.img', socketDir: '/w', statsFile: '/w/s.txt', errorTrigger: '/w/e', latencyMs: 2, bandwidthMiBps: 125, errorRate: 0.25 });
    expect(args.filter((a) => a.startsWith('--filter='))).toEqual(['--filter=stats', '--filter=pause', '--filter=delay', '--filter=rate', '--filter=error']);
    expect(args).toEqual(expect.arrayContaining(['rdelay=2ms', 'wdelay=2ms', `rate=${125 * MiB * 8}`, 'error-rate=0.25', 'error-file=/w/e', 'statsfile=/w/s.txt', 'file=/w/disk.img', '--exit-with-parent', 'pause-control=/w/pause.sock']));
    expect(nbdkitArgs({ image: '/i', socketDir: '/w', statsFile: '/s', errorTrigger: '/e', latencyMs: 0, bandwidthMiBps: 1, errorRate: 1 })).not.toContain('--filter=delay');
  });

  it('parses nbdkit stats files', () => {
    const s = parseNbdkitStats('total: 177 ops, 1.129666 s, 265.90 MiB, 235.38 MiB/s\nwrite: 73 ops, 0.155918 s, 483.00 KiB, 3.03 MiB/s op\nflush: 38 ops, 0.03 s, 0 bytes, 0 bytes/s op\n');
    expect(s.write).toEqual({ ops: 73, seconds: 0.155918, bytes: 483 * 1024 });
    expect(s.flush.ops).toBe(38);
  });

  it('storageFor picks the implementation; the error rate must be known up front', () => {
    expect(storageFor({ kind: 'remote', filesystem: 'ext4', size: MiB }).kind).toBe('remote');
    expect(storageFor({ kind: 'local', filesystem: 'xfs', size: MiB })).toBeInstanceOf(LoopStorage);
    expect((storageFor(remoteSpec(), { errorRate: 0.1 }) as RemoteStorage).errorRate).toBe(0.1);
    expect(() => new RemoteStorage(remoteSpec(), { errorRate: 2 })).toThrow(/between 0 and 1/);
  });

  it('doctor facts list every requirement with how to install it', async () => {
    const reqs = await storageRequirements();
    expect(reqs.map((r) => r.name)).toEqual(['nbdkit', 'nbdfuse', 'losetup', 'mkfs.ext4', 'mkfs.xfs', '/dev/fuse', 'root']);
    for (const r of reqs) expect(r.install.length).toBeGreaterThan(5);
    if (hasTool('nbdkit')) expect(reqs[0].version).toMatch(/^\d+\.\d+/);
  });

  it('an xfs volume below mkfs.xfs’s minimum is a usage error', async () => {
    const err = await new RemoteStorage(remoteSpec({ filesystem: 'xfs', size: 64 * MiB })).prepare('node-1', { registry: new CleanupRegistry(), stateDir: '/nonexistent' }).catch((e) => e);
    expect(err.exitCode).toBe(EXIT.usage);
  });

  it('without root: a clear environment error, nothing created', async () => {
    const spy = vi.spyOn(process as { getuid(): number }, 'getuid').mockReturnValue(1000);
    try {
      const ws = mkdtempSync(join(tmpdir(), 'sb-remote-'));
      const err = await new RemoteStorage(remoteSpec()).prepare('node-1', { registry: new CleanupRegistry(), stateDir: ws }).catch((e) => e);
      expect(err).toBeInstanceOf(StatebenchError);
      expect(err.exitCode).toBe(EXIT.environment);
      expect(err.message).toMatch(/root/);
      rmSync(ws, { recursive: true, force: true });
    } finally {
      spy.mockRestore();
    }
  });
});

const skip = missing({ tools: ['nbdkit', 'nbdfuse', 'losetup', 'mkfs.ext4', 'fio'], root: true, why: 'remote storage tests' });

describe.skipIf(!!skip)('remote storage (nbdkit + nbdfuse + loop, root)', () => {
  let ws: string;
  let registry: CleanupRegistry;

  beforeEach(() => {
    ws = mkdtempSync(join(tmpdir(), 'sb-remote-'));
    registry = new CleanupRegistry(join(ws, 'resources.jsonl'));
  });

  afterEach(async () => {
    const errors = await registry.releaseAll();
    expect(errors).toEqual([]);
    await expectNothingLeft(ws);
    rmSync(ws, { recursive: true, force: true });
  });

  const prepare = (spec: Partial<RemoteSpec> = {}, node = 'node-1', opts = {}) =>
    new RemoteStorage(remoteSpec(spec), opts).prepare(node, { registry, stateDir: ws });

  it('mounts a filesystem on the NBD export; a file written and fsynced there reads back', async () => {
    const v = await prepare({ latencyMs: 1 });
    const mount = readMounts().find((m) => m.mountPoint === v.path);
    expect(mount?.fsType).toBe('ext4');
    const loop = (await listLoops()).find((l) => l.name === mount!.source);
    expect(loop?.backFile).toBe(join(ws, 'remote', 'node-1', 'fuse', 'nbd'));
    expect(v.describe).toMatchObject({ kind: 'remote', filesystem: 'ext4', size: 256 * MiB, latencyMs: 1, bandwidthMiBps: 125, preset: 'cloud-block', transport: 'nbd+unix' });
    expect(v.faults).toBeDefined();

    const text = 'acknowledged write ' + 'x'.repeat(5000);
    const f = await open(join(v.path, 'data'), 'w');
    await f.writeFile(text);
    await f.sync();
    await f.close();
    // O_DIRECT read: from the volume, not the page cache.
    const back = await run('dd', [`if=${join(v.path, 'data')}`, 'bs=4096', 'iflag=direct', 'status=none'], { timeoutMs: 30_000 });
    expect(back.stdout).toBe(text);

    await v.release();
    await v.release(); // idempotent
    await expectNothingLeft(ws);
    // The stats filter wrote what went over the wire when nbdkit exited.
    const stats = parseNbdkitStats(readFileSync(join(ws, 'remote', 'node-1', 'nbdkit-stats.txt'), 'utf8'));
    expect(stats.write.ops).toBeGreaterThan(0);
    expect(stats.flush.ops).toBeGreaterThan(0);
    expect(existsSync(join(ws, 'remote', 'node-1', 'disk.img'))).toBe(false);
  });

  it.skipIf(!hasTool('mkfs.xfs'))('xfs works the same way', async () => {
    const v = await prepare({ filesystem: 'xfs', size: 320 * MiB, latencyMs: 1 });
    expect(readMounts().find((m) => m.mountPoint === v.path)?.fsType).toBe('xfs');
    writeFileSync(join(v.path, 'f'), 'xfs');
    expect(readFileSync(join(v.path, 'f'), 'utf8')).toBe('xfs');
  });

  it('fsync latency honours latencyMs and is well above a local loop volume', async () => {
    // Both images live in tmpfs when there is one: the host disk's flush latency is shared with
    // everything else running on the machine and swings by tens of milliseconds, which would decide
    // a local-versus-remote comparison on its own. What remains is what each storage stack adds.
    const shm = readMounts().some((m) => m.mountPoint === '/dev/shm' && m.fsType === 'tmpfs');
    const fioWs = shm ? mkdtempSync('/dev/shm/sb-remote-fio-') : ws;
    try {
      const local = await new LoopStorage({ filesystem: 'ext4', size: 256 * MiB }).prepare('local', { registry, stateDir: fioWs });
      const remote = await new RemoteStorage(remoteSpec({ latencyMs: 2 })).prepare('remote', { registry, stateDir: fioWs });
      const l = await fioWal(local.path);
      const r = await fioWal(remote.path);
      console.log(
        `fio 8KiB write+fdatasync (${shm ? 'images in tmpfs' : 'images on disk'}): local loop p50 ${l.p50.toFixed(2)} ms p99 ${l.p99.toFixed(2)} ms ${l.MiBps.toFixed(2)} MiB/s (n=${l.samples}); ` +
          `remote 2ms p50 ${r.p50.toFixed(2)} ms p99 ${r.p99.toFixed(2)} ms ${r.MiBps.toFixed(2)} MiB/s (n=${r.samples})`,
      );
      expect(r.samples).toBeGreaterThanOrEqual(200);
      // Lower bounds only. Every fdatasync here has 8 KiB of dirty data, so it sends at least one NBD
      // write, which the delay filter holds for at least 2 ms (a sleep is never shorter), plus a flush
      // and the FUSE round trips: no sample can be below 2 ms however slow or loaded the machine is.
      // An upper bound would only measure how busy the machine was.
      expect(r.p50).toBeGreaterThanOrEqual(2);
      // The remote stack does everything the local one does plus the delay; half of it is the margin.
      expect(r.p50).toBeGreaterThan(l.p50 + 1);
      await local.release();
      await remote.release();
      await expectNothingLeft(fioWs);
    } finally {
      if (fioWs !== ws) {
        await registry.releaseAll();
        await expectNothingLeft(fioWs);
        rmSync(fioWs, { recursive: true, force: true });
      }
    }
  });

  it('bandwidthMiBps caps sustained writes', async () => {
    // The rate filter is a token bucket holding 2 s worth of rate: writing B bytes at rate R takes at
    // least (B - 2R)/R seconds. A lower bound on time again: a slow machine only makes it longer.
    const R = 16;
    const B = 64;
    const v = await prepare({ latencyMs: 1, bandwidthMiBps: R });
    const t0 = performance.now();
    const { stdout } = await run(
      'fio',
      ['--name=seq', `--directory=${v.path}`, '--filename=seq', '--rw=write', '--bs=1M', `--size=${B}M`, '--ioengine=psync', '--direct=1', '--end_fsync=1', '--output-format=json'],
      { timeoutMs: 120_000 },
    );
    const seconds = (performance.now() - t0) / 1000;
    console.log(`fio 1MiB sequential direct writes, ${B} MiB at bandwidthMiBps ${R}: ${(JSON.parse(stdout).jobs[0].write.bw / 1024).toFixed(1)} MiB/s, ${seconds.toFixed(2)} s`);
    expect(seconds).toBeGreaterThanOrEqual((B - 2 * R) / R);
  });

  it('stall holds a write until it is undone', async () => {
    const v = await prepare({ latencyMs: 1 });
    const block = Buffer.alloc(4096, 's');
    const f = await open(join(v.path, 'stall'), 'w');
    try {
      await f.write(block, 0, block.length, 0);
      await f.sync();
      const undo = await v.faults!.stall();
      const order: string[] = [];
      const write = (async () => {
        await f.write(Buffer.alloc(4096, 't'), 0, 4096, 0);
        await f.datasync();
        order.push('write completed');
      })();
      // Whatever the wait, a write that the stall did not hold would complete during it; the assertion
      // is on the order of events, not on how long anything took.
      await sleep(1_000);
      order.push('resume requested');
      await undo();
      await write;
      expect(order).toEqual(['resume requested', 'write completed']);
      await undo(); // idempotent
    } finally {
      await f.close();
    }
  });

  it('errors fail fsync and reads with EIO while on, and stop after undo', async () => {
    const v = await prepare({ latencyMs: 1 }, 'node-1', { errorRate: 1 });
    const file = join(v.path, 'errors');
    const f = await open(file, 'w');
    try {
      await f.write(Buffer.alloc(4096, 'a'), 0, 4096, 0);
      // fsync commits the metadata too, so no journal transaction is open when the errors start: the
      // next one begins inside the short error window and commits (after 5 s) only once it is over.
      await f.sync();
      await expect(v.faults!.errors(0.5)).rejects.toThrow(/error rate 1/);

      const undo = await v.faults!.errors(1);
      await f.write(Buffer.alloc(4096, 'b'), 0, 4096, 0); // into the page cache: succeeds
      await expect(f.datasync()).rejects.toMatchObject({ code: 'EIO' });
      await expect(run('dd', [`if=${file}`, 'of=/dev/null', 'bs=4096', 'iflag=direct', 'status=none'], { timeoutMs: 30_000 })).rejects.toThrow(/Input\/output error/);
      await undo();

      await f.write(Buffer.alloc(4096, 'c'), 0, 4096, 0);
      await f.datasync();
      const back = await run('dd', [`if=${file}`, 'bs=4096', 'iflag=direct', 'status=none'], { timeoutMs: 30_000 });
      expect(back.stdout).toBe('c'.repeat(4096));
      // The filesystem is still writable: a new file and its metadata reach the volume.
      const g = await open(join(v.path, 'after'), 'w');
      await g.writeFile('ok');
      await g.sync();
      await g.close();
    } finally {
      await f.close();
    }
  });

  it('releasing a volume that is stalled and failing resumes it first instead of hanging', async () => {
    const v = await prepare({ latencyMs: 1 });
    const f = await open(join(v.path, 'pending'), 'w');
    await f.write(Buffer.alloc(4096, 'p'), 0, 4096, 0);
    await v.faults!.errors(1);
    await v.faults!.stall();
    // A write is waiting on the stalled volume when the run ends; its process closes the file once
    // the write returns, as a database process killed by the platform's teardown would.
    const pending = f
      .datasync()
      .then(
        () => 'ok',
        (e: NodeJS.ErrnoException) => e.code,
      )
      .finally(() => f.close());
    await sleep(200);
    await registry.releaseAll().then((errors) => expect(errors).toEqual([]));
    expect(['ok', 'EIO']).toContain(await pending);
    await expectNothingLeft(ws);
  });

  it('works under a workspace path too long for a socket address', async () => {
    const deep = join(ws, 'a'.repeat(60), 'b'.repeat(60));
    const v = await new RemoteStorage(remoteSpec({ latencyMs: 1 })).prepare('node-1', { registry, stateDir: deep });
    expect(Buffer.byteLength(join(deep, 'remote', 'node-1', 'pause.sock'))).toBeGreaterThan(108);
    const undo = await v.faults!.stall();
    await undo();
    writeFileSync(join(v.path, 'f'), 'x');
    const socketDirs = unreleased(join(ws, 'resources.jsonl')).filter((r) => r.kind === 'dir').map((r) => r.id);
    expect(socketDirs).toHaveLength(1);
    expect(Buffer.byteLength(join(socketDirs[0], 'pause.sock'))).toBeLessThan(108);
    await v.release();
    expect(existsSync(socketDirs[0])).toBe(false);
  });

  it('a failure half-way through prepare releases what was created', async () => {
    // The volume's mount point is a file: prepare fails after nbdkit, nbdfuse and the loop device exist.
    mkdirSync(join(ws, 'volumes'), { recursive: true });
    writeFileSync(join(ws, 'volumes', 'node-1'), 'in the way');
    await expect(prepare({ latencyMs: 1 })).rejects.toThrow();
    expect(registry.size).toBe(0);
    await expectNothingLeft(ws);
    expect(existsSync(join(ws, 'remote', 'node-1', 'disk.img'))).toBe(false);
  });

  it('after SIGKILL of the process that made it, journal and scan release everything', async () => {
    const journal = join(ws, 'child-resources.jsonl');
    const script = join(ws, 'child.mts');
    writeFileSync(
      script,
      `import { CleanupRegistry } from ${JSON.stringify(join(REPO, 'harness/core/cleanup.ts'))};
import { RemoteStorage } from ${JSON.stringify(join(REPO, 'harness/storage/remote.ts'))};
import { writeFileSync } from 'node:fs';
const registry = new CleanupRegistry(${JSON.stringify(journal)});
const v = await new RemoteStorage({ kind: 'remote', filesystem: 'ext4', size: ${64 * MiB}, latencyMs: 1 }).prepare('node-1', { registry, stateDir: ${JSON.stringify(ws)} });
writeFileSync(v.path + '/open-file', 'x');
console.log('ready');
setTimeout(() => process.exit(0), 60_000);
`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((r) => child.once('exit', r));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('child did not get ready in 60 s')), 60_000);
      child.stdout!.on('data', (b: Buffer) => {
        if (b.toString().includes('ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => reject(new Error(`child exited with ${code}`)));
    });
    child.kill('SIGKILL');
    await exited;

    expect((await findLeftoverMounts(ws)).length).toBe(2); // the filesystem and the FUSE mount
    expect((await findLeftoverLoops(ws)).length).toBe(1);
    // What `statebench clean` does: journal records newest first; processes are the lead's kind, so
    // they are SIGKILLed here as the cleaner would; then a scan for anything the journal missed.
    for (const record of unreleased(journal)) {
      if (record.kind === 'process') {
        try {
          process.kill(-Number(record.id), 'SIGKILL');
        } catch {
          /* gone already (nbdkit exits with its parent) */
        }
      } else await releaseLeftover(record, { workspaceDir: ws });
    }
    for (const m of await findLeftoverMounts(ws)) await releaseLeftover({ kind: 'mount', id: m, what: 'scan' }, { workspaceDir: ws });
    for (const l of await findLeftoverLoops(ws)) await releaseLeftover({ kind: 'loop', id: l, what: 'scan' }, { workspaceDir: ws });
    for (let i = 0; i < 100 && storageProcessesUnder(ws).length; i++) await sleep(50);
    await expectNothingLeft(ws);
    expect(existsSync(join(ws, 'remote', 'node-1', 'disk.img'))).toBe(false);
  });
});
