// Local storage on a loop-mounted ext4/xfs image. Needs root, losetup and mkfs; elsewhere the root
// part is skipped with a reason.
import { describe, it, expect, beforeEach, afterEach, vi } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, existsSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CleanupRegistry, unreleased } from '../core/cleanup.ts';
import { run } from '../core/exec.ts';
import { missing } from '../testing/requirements.ts';
import { hasTool } from '../core/tools.ts';
import { StatebenchError, EXIT } from '../errors.ts';
import { LoopStorage } from './loop.ts';
import { LocalDirectoryStorage } from './local.ts';
import { findLeftoverLoops, findLeftoverMounts, listLoops, readMounts, releaseLeftover } from './leftovers.ts';
import { storageFor } from './index.ts';

const MiB = 1024 ** 2;

async function expectNothingLeft(ws: string): Promise<void> {
  expect(await findLeftoverMounts(ws)).toEqual([]);
  expect(await findLeftoverLoops(ws)).toEqual([]);
}

describe('loop storage (no root needed)', () => {
  it('storageFor: directory stays a plain directory, ext4/xfs are loop volumes', () => {
    expect(storageFor({ kind: 'local', filesystem: 'directory', size: MiB })).toBeInstanceOf(LocalDirectoryStorage);
    expect(storageFor({ kind: 'local', filesystem: 'ext4', size: MiB })).toBeInstanceOf(LoopStorage);
  });

  it('without root: an environment error that says so', async () => {
    const spy = vi.spyOn(process as { getuid(): number }, 'getuid').mockReturnValue(1000);
    try {
      const ws = mkdtempSync(join(tmpdir(), 'sb-loop-'));
      const err = await new LoopStorage({ filesystem: 'ext4', size: 64 * MiB }).prepare('node-1', { registry: new CleanupRegistry(), stateDir: ws }).catch((e) => e);
      expect(err).toBeInstanceOf(StatebenchError);
      expect(err.exitCode).toBe(EXIT.environment);
      expect(err.message).toMatch(/needs root/);
      expect(existsSync(join(ws, 'images'))).toBe(false);
      rmSync(ws, { recursive: true, force: true });
    } finally {
      spy.mockRestore();
    }
  });

  it('an xfs volume below mkfs.xfs’s minimum is a usage error before anything is made', async () => {
    const err = await new LoopStorage({ filesystem: 'xfs', size: 64 * MiB }).prepare('node-1', { registry: new CleanupRegistry(), stateDir: '/nonexistent' }).catch((e) => e);
    expect(err.exitCode).toBe(EXIT.usage);
    expect(err.message).toMatch(/at least 300 MiB/);
  });

  it('releaseLeftover refuses kinds that are not storage’s and leaves foreign loop devices alone', async () => {
    await expect(releaseLeftover({ kind: 'container', id: 'x', what: 'x' })).rejects.toThrow(/mount, loop and image-file/);
    // A loop device (attached or not) whose file is outside the workspace is never detached.
    if (hasTool('losetup')) await releaseLeftover({ kind: 'loop', id: '/dev/loop7', what: 'foreign' }, { workspaceDir: '/nonexistent/ws' });
  });
});

const skip = missing({ tools: ['losetup', 'mkfs.ext4'], root: true, why: 'loop storage tests' });

describe.skipIf(!!skip)('loop storage (root)', () => {
  let ws: string;
  let registry: CleanupRegistry;

  beforeEach(() => {
    ws = mkdtempSync(join(tmpdir(), 'sb-loop-'));
    registry = new CleanupRegistry(join(ws, 'resources.jsonl'));
  });

  afterEach(async () => {
    expect(await registry.releaseAll()).toEqual([]);
    await expectNothingLeft(ws);
    rmSync(ws, { recursive: true, force: true });
  });

  for (const fs of ['ext4', 'xfs'] as const) {
    it.skipIf(!hasTool(`mkfs.${fs}`))(`${fs}: mounted from a loop device, 0755, fsynced data reads back, released cleanly`, async () => {
      const v = await new LoopStorage({ filesystem: fs, size: 320 * MiB }).prepare('node-1', { registry, stateDir: ws });
      expect(v.describe).toMatchObject({ kind: 'local', filesystem: fs, size: 320 * MiB });
      expect(v.faults).toBeUndefined();
      const mount = readMounts().find((m) => m.mountPoint === v.path);
      expect(mount?.fsType).toBe(fs);
      expect((await listLoops()).find((l) => l.name === mount!.source)?.backFile).toBe(join(ws, 'images', 'node-1.img'));
      expect(statSync(v.path).mode & 0o777).toBe(0o755);
      // Sparse: the image takes far less space than its size.
      expect(statSync(join(ws, 'images', 'node-1.img')).blocks * 512).toBeLessThan(320 * MiB);

      const f = await open(join(v.path, 'data'), 'w');
      await f.writeFile('z'.repeat(8192));
      await f.sync();
      await f.close();
      const back = await run('dd', [`if=${join(v.path, 'data')}`, 'bs=4096', 'iflag=direct', 'status=none'], { timeoutMs: 30_000 });
      expect(back.stdout).toBe('z'.repeat(8192));

      await v.release();
      await expectNothingLeft(ws);
      expect(existsSync(join(ws, 'images', 'node-1.img'))).toBe(false);
      expect(registry.size).toBe(0);
    });
  }

  it('two nodes get two volumes', async () => {
    const s = new LoopStorage({ filesystem: 'ext4', size: 64 * MiB });
    const a = await s.prepare('node-1', { registry, stateDir: ws });
    const b = await s.prepare('node-2', { registry, stateDir: ws });
    expect(a.path).not.toBe(b.path);
    expect(await findLeftoverMounts(ws)).toEqual([b.path, a.path]);
    expect((await findLeftoverLoops(ws)).length).toBe(2);
  });

  it('a failure after the loop device exists releases it and the image', async () => {
    mkdirSync(join(ws, 'volumes'), { recursive: true });
    writeFileSync(join(ws, 'volumes', 'node-1'), 'in the way');
    await expect(new LoopStorage({ filesystem: 'ext4', size: 64 * MiB }).prepare('node-1', { registry, stateDir: ws })).rejects.toThrow();
    expect(registry.size).toBe(0);
    await expectNothingLeft(ws);
    expect(existsSync(join(ws, 'images', 'node-1.img'))).toBe(false);
  });

  it('journal records alone release a volume the process forgot (as after SIGKILL)', async () => {
    const journal = join(ws, 'resources.jsonl');
    await new LoopStorage({ filesystem: 'ext4', size: 64 * MiB }).prepare('node-1', { registry, stateDir: ws });
    const records = unreleased(journal);
    expect(records.map((r) => r.kind)).toEqual(['mount', 'loop', 'image-file']);
    for (const r of records) await releaseLeftover(r, { workspaceDir: ws });
    await expectNothingLeft(ws);
    expect(existsSync(join(ws, 'images', 'node-1.img'))).toBe(false);
    // The registry's own releases find nothing left to do and do not fail.
  });
});
