// Signals that reach every process of a server's tree. Signalling a process group is not enough for
// PostgreSQL: each PostgreSQL child calls setsid(), so after a group
// SIGKILL the backends and the WAL writer outlive the postmaster, notice its death only later, and
// meanwhile keep acknowledging commits and writing WAL, which no power cut allows; and a group
// SIGSTOP freezes only the postmaster while established sessions carry on as if nothing happened.
import { readdirSync, readFileSync } from 'node:fs';
import { met, notYet, waitFor } from './wait.ts';

function statOf(pid: number): { ppid: number; state: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces and parentheses; fields after the last ')' are fixed.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0], ppid: Number(rest[1]) };
  } catch {
    return undefined;
  }
}

export function childrenOf(pid: number): number[] {
  try {
    // One small read, where the kernel offers it (CONFIG_PROC_CHILDREN): the server keeps running
    // while we look, so looking must be quick. A single-threaded postmaster has one task.
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    // Fall through to the scan.
  }
  const kids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    if (statOf(Number(entry))?.ppid === pid) kids.push(Number(entry));
  }
  return kids;
}

function send(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

function alive(pid: number): boolean {
  const s = statOf(pid);
  return !!s && s.state !== 'Z';
}

/**
 * Freezes the parent (so it cannot fork while we look), freezes its children, then SIGKILLs them
 * all; returns when none of them runs any more.
 */
export async function powerCut(postmasterPid: number, timeoutMs = 10_000): Promise<number[]> {
  send(postmasterPid, 'SIGSTOP');
  const kids = childrenOf(postmasterPid);
  for (const k of kids) send(k, 'SIGSTOP');
  for (const k of kids) send(k, 'SIGKILL');
  send(postmasterPid, 'SIGKILL');
  const all = [postmasterPid, ...kids];
  await waitFor(
    `the SIGKILLed processes ${all.join(', ')} to be gone`,
    () => {
      const left = all.filter(alive);
      return left.length ? notYet(`${left.join(', ')} still alive`) : met(undefined);
    },
    { timeoutMs, intervalMs: 5 },
  );
  return kids;
}

/** Freezes the whole tree, parent first so it starts no new child meanwhile. */
export function freeze(postmasterPid: number): number[] {
  send(postmasterPid, 'SIGSTOP');
  const kids = childrenOf(postmasterPid);
  for (const k of kids) send(k, 'SIGSTOP');
  return kids;
}

/** Lets a frozen tree run again. */
export function thaw(postmasterPid: number): void {
  for (const k of childrenOf(postmasterPid)) send(k, 'SIGCONT');
  send(postmasterPid, 'SIGCONT');
}
