import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { CleanupRegistry } from './cleanup.ts';
import { affinityOf, checkCpuSet, formatCpuList, MemoryCgroup, memoryCgroupRoot, onlineCpus, parseCpuList, pinnedCommand, setAffinity } from './resources.ts';
import { missing } from '../testing/requirements.ts';

describe('CPU lists', () => {
  it('parse and format the kernel notation', () => {
    expect(parseCpuList('0,2-3,7')).toEqual([0, 2, 3, 7]);
    expect(formatCpuList([3, 0, 2, 7, 1])).toEqual('0-3,7');
    expect(() => parseCpuList('3-1')).toThrow(/not a CPU list/);
  });

  it('refuses a CPU this host does not have, naming the ones it has', () => {
    expect(() => checkCpuSet('999', 'targets[0].resources')).toThrow(`targets[0].resources: cpuset "999" names CPU 999, but this host has CPUs ${formatCpuList(onlineCpus())}`);
  });
});

const skip = missing({ tools: ['taskset'], root: true, why: 'CPU affinity and memory cgroups' });

describe.skipIf(!!skip)('pinning and limiting real processes', () => {
  let dir: string;
  let registry: CleanupRegistry;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sb-resources-'));
    registry = new CleanupRegistry(join(dir, 'resources.jsonl'));
  });
  afterEach(async () => {
    await registry.releaseAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts a process pinned to a CPU set and re-pins a running one; the kernel reports both', async () => {
    const last = onlineCpus().at(-1)!;
    const c = pinnedCommand(String(last), 'sleep', ['30']);
    const child = spawn(c.cmd, c.args, { stdio: 'ignore' });
    try {
      await once(child, 'spawn');
      // taskset execs sleep in place: same pid, pinned from its first instruction.
      expect(await affinityOf(child.pid!)).toBe(String(last));
      await setAffinity(child.pid!, '0');
      expect(await affinityOf(child.pid!)).toBe('0');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it.skipIf(!memoryCgroupRoot())('a memory cgroup holds a process from its start and the kernel enforces the limit', async () => {
    const cg = MemoryCgroup.create(registry, `test-${process.pid}`, 64 * 1024 ** 2);
    expect(cg.limitBytes()).toBe(64 * 1024 ** 2);
    // Allocates and touches 1 MiB at a time until something stops it.
    const hog = cg.wrap(process.execPath, ['-e', 'const a = []; for (let i = 0; i < 1024; i++) a.push(Buffer.alloc(1 << 20, 1)); console.log("survived")']);
    const child = spawn(hog.cmd, hog.args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
    expect(out).not.toContain('survived');
    expect(signal === 'SIGKILL' || code !== 0).toBe(true);
    if (cg.version === 1) {
      // The kernel's own account: usage reached the limit and its OOM killer fired in this cgroup.
      expect(Number(readFileSync(join(cg.dir, 'memory.max_usage_in_bytes'), 'utf8'))).toBe(64 * 1024 ** 2);
      expect(Number(/oom_kill (\d+)/.exec(readFileSync(join(cg.dir, 'memory.oom_control'), 'utf8'))?.[1] ?? 0)).toBeGreaterThanOrEqual(1);
    }
    await registry.releaseAll();
    expect(existsSync(cg.dir)).toBe(false);
  });
});
