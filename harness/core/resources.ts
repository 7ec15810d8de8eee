// CPU sets and memory limits for processes on this host: the database on bare metal, and the load
// generator (the harness itself) on every platform. CPU sets through sched_setaffinity (`taskset`),
// which every Linux has and which needs no cgroup; memory through a cgroup v1 memory controller
// (this host's layout; cgroup v2 is used where it is the only hierarchy). What was applied is read
// back from the kernel, so a report records what a target really had, not what the profile asked.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync, chownSync } from 'node:fs';
import { join } from 'node:path';
import { cpus } from 'node:os';
import { run, type RunAs } from './exec.ts';
import type { CleanupRegistry } from './cleanup.ts';
import { StatebenchError, EXIT } from '../errors.ts';

/** "0,2-3" → [0, 2, 3] */
export function parseCpuList(list: string): number[] {
  const out = new Set<number>();
  for (const part of list.trim().split(',').filter(Boolean)) {
    const [a, b] = part.split('-').map(Number);
    if (!Number.isInteger(a) || (b !== undefined && (!Number.isInteger(b) || b < a))) throw new RangeError(`"${list}" is not a CPU list`);
    for (let c = a; c <= (b ?? a); c++) out.add(c);
  }
  return [...out].sort((x, y) => x - y);
}

/** [0, 2, 3] → "0,2-3" */
export function formatCpuList(cpuIds: number[]): string {
  const s = [...new Set(cpuIds)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < s.length; ) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j] + 1) j++;
    parts.push(j === i ? `${s[i]}` : `${s[i]}-${s[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

export function onlineCpus(): number[] {
  try {
    return parseCpuList(readFileSync('/sys/devices/system/cpu/online', 'utf8'));
  } catch {
    return cpus().map((_, i) => i);
  }
}

/** Throws, naming the CPUs this host has, when a set names one it does not. */
export function checkCpuSet(list: string, what: string): void {
  const have = onlineCpus();
  const missing = parseCpuList(list).filter((c) => !have.includes(c));
  if (missing.length) throw new StatebenchError(`${what}: cpuset "${list}" names CPU ${missing.join(', ')}, but this host has CPUs ${formatCpuList(have)}`, EXIT.usage, 'Pick CPUs from the online list, or drop the cpuset.');
}

/** The affinity of a process as the kernel reports it ("0-1"). */
export async function affinityOf(pid: number): Promise<string> {
  const { stdout } = await run('taskset', ['-c', '-p', String(pid)], { timeoutMs: 10_000 });
  const m = /affinity list:\s*(\S+)/.exec(stdout);
  if (!m) throw new StatebenchError(`could not read the CPU affinity of pid ${pid} from taskset: ${stdout.trim()}`);
  return formatCpuList(parseCpuList(m[1]));
}

/** Pins every thread of a process (threads started later inherit it). */
export async function setAffinity(pid: number, list: string): Promise<void> {
  await run('taskset', ['-a', '-c', '-p', list, String(pid)], { timeoutMs: 10_000 });
}

/** The command to start a process already pinned: `taskset -c <list> cmd args…`. */
export function pinnedCommand(list: string | undefined, cmd: string, args: string[]): { cmd: string; args: string[] } {
  return list ? { cmd: 'taskset', args: ['-c', list, cmd, ...args] } : { cmd, args };
}

/**
 * Where the memory controller lives: a cgroup v1 `memory` hierarchy, or the unified v2 hierarchy
 * when the memory controller is enabled there. Null when neither (a container without cgroup access).
 */
export function memoryCgroupRoot(): { root: string; version: 1 | 2 } | null {
  if (existsSync('/sys/fs/cgroup/memory/memory.limit_in_bytes') || existsSync('/sys/fs/cgroup/memory/cgroup.procs')) return { root: '/sys/fs/cgroup/memory', version: 1 };
  try {
    if (readFileSync('/sys/fs/cgroup/cgroup.controllers', 'utf8').split(/\s+/).includes('memory')) return { root: '/sys/fs/cgroup', version: 2 };
  } catch {
    // not v2 either
  }
  return null;
}

/** A memory-limited cgroup for one node's processes, removed when released. */
export class MemoryCgroup {
  private constructor(
    readonly dir: string,
    readonly version: 1 | 2,
  ) {}

  /**
   * Creates `statebench/<name>` under the memory hierarchy with `bytes` as its limit (swap included
   * where the kernel accounts it), owned by `owner` so a process running as that user can join it.
   */
  static create(registry: CleanupRegistry, name: string, bytes: number, owner?: RunAs): MemoryCgroup {
    const where = memoryCgroupRoot();
    if (!where) throw new StatebenchError('no cgroup memory controller is available to this process', EXIT.environment, 'Run as root on a host with cgroups mounted, or drop resources.memory for bare-metal targets.');
    const dir = join(where.root, 'statebench', name);
    mkdirSync(dir, { recursive: true });
    const cg = new MemoryCgroup(dir, where.version);
    registry.add({ kind: 'cgroup', id: dir, what: `memory cgroup ${name}` }, () => cg.remove());
    if (where.version === 1) {
      writeFileSync(join(dir, 'memory.limit_in_bytes'), String(bytes));
      // memsw exists only with swap accounting; without it there is no swap to escape into either.
      if (existsSync(join(dir, 'memory.memsw.limit_in_bytes'))) writeFileSync(join(dir, 'memory.memsw.limit_in_bytes'), String(bytes));
    } else {
      writeFileSync(join(dir, 'memory.max'), String(bytes));
      if (existsSync(join(dir, 'memory.swap.max'))) writeFileSync(join(dir, 'memory.swap.max'), '0');
    }
    if (owner) for (const f of ['cgroup.procs', 'tasks']) if (existsSync(join(dir, f))) chownSync(join(dir, f), owner.uid, owner.gid);
    return cg;
  }

  /** The limit as the kernel holds it. */
  limitBytes(): number | null {
    const file = join(this.dir, this.version === 1 ? 'memory.limit_in_bytes' : 'memory.max');
    const v = readFileSync(file, 'utf8').trim();
    return v === 'max' ? null : Number(v);
  }

  /**
   * The command that starts `cmd` inside this cgroup: a shell that moves itself in, then execs, so
   * the process and everything it forks are limited from the first instruction. The cgroup path and
   * the command travel as arguments, never inside the script.
   */
  wrap(cmd: string, args: string[]): { cmd: string; args: string[] } {
    return { cmd: 'sh', args: ['-c', 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"', 'sh', this.dir, cmd, ...args] };
  }

  /** Pids in the cgroup now. */
  pids(): number[] {
    try {
      return readFileSync(join(this.dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    } catch {
      return [];
    }
  }

  async remove(): Promise<void> {
    removeCgroupDir(this.dir);
  }
}

/** rmdir of a cgroup (its files are not removable; the directory goes once no process is in it). */
export function removeCgroupDir(dir: string): void {
  if (!existsSync(dir)) return;
  rmdirSync(dir);
}
