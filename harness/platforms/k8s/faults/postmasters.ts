// The StatefulSet force-delete hazard: two postmasters on one data directory, counted from the host's
// /proc (a paused kind node cannot be exec'd into) or a node's process list.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { met, notYet, waitFor } from '../../../core/wait.ts';
import type { KubernetesFaultContext, MemberCycle } from './member-cycle.ts';

/**
 * The postmasters running on a data directory, from a node's process list (`ps -eo pid=,ppid=,args=`):
 * processes whose arguments name `-D <pgdata>` and whose parent is not one of them.
 */
export function postmastersOn(ps: string, pgdata: string): number[] {
  const procs = ps
    .split('\n')
    .map((l) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(l))
    .filter((x): x is RegExpExecArray => !!x)
    .map((x) => ({ pid: Number(x[1]), ppid: Number(x[2]), args: x[3] }))
    .filter((p) => /(^|\/)postgres(\s|$)/.test(p.args.split(' -D ')[0] + ' ') && new RegExp(`\\s-D\\s+${pgdata.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\s|$)`).test(p.args));
  const pids = new Set(procs.map((p) => p.pid));
  return procs.filter((p) => !pids.has(p.ppid)).map((p) => p.pid).sort((a, b) => a - b);
}

/**
 * Every process of this host as `pid ppid args` lines, the form postmastersOn reads, from /proc; with
 * `podUids`, only those in the containers of these pods. On kind the host sees the processes of every
 * node, frozen ones too: `docker exec` into a paused node cannot run, so a look from inside the node
 * misses the old server of a frozen node. Every member of a target uses the same data directory path
 * inside its own container, so without the pods a look at the host would count the other members.
 */
export function hostProcesses(proc = '/proc', podUids?: string[]): string {
  // A pod's containers sit in a cgroup named after its uid: `pod<uid>` (cgroupfs driver) or with
  // underscores for dashes (systemd driver, as in kind's nodes).
  const marks = podUids?.flatMap((u) => [`pod${u}`, `pod${u.replace(/-/g, '_')}`]);
  const lines: string[] = [];
  for (const d of readdirSync(proc)) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(join(proc, d, 'stat'), 'utf8');
      // `pid (comm) state ppid …`; comm may hold spaces and parentheses, so read after the last ')'.
      const ppid = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1];
      if (marks) {
        const cgroup = readFileSync(join(proc, d, 'cgroup'), 'utf8');
        if (!marks.some((x) => cgroup.includes(x))) continue;
      }
      const args = readFileSync(join(proc, d, 'cmdline'), 'utf8').split('\0').filter(Boolean).join(' ');
      if (args && ppid) lines.push(`${d} ${ppid} ${args}`);
    } catch {
      /* the process ended while the list was read */
    }
  }
  return lines.join('\n');
}

/**
 * Looks, until stopped, for two postmasters on the member's data directory, and marks the first
 * sighting on the cycle. A force delete removes the pod object at once while the kubelet is still
 * killing its containers (or, on a frozen node, cannot kill them at all); the replacement then starts
 * on the same data — on the same node with a Local PV, on any node with a shared network volume — and
 * PostgreSQL's postmaster.pid check does not see across PID namespaces. The host's /proc is read
 * first (every kind node's processes, frozen ones included); where it shows no server on the data
 * directory (a docker daemon on another machine), the process list inside the pod's node.
 */
export function watchPostmasters(ctx: KubernetesFaultContext, m: MemberCycle, why: string): { stop(): Promise<void> } | undefined {
  const pgdata = ctx.pgdata;
  const node = m.kubeNode;
  if (ctx.platform !== 'kind' || !ctx.exec || !pgdata || !node) return undefined;
  const exec = ctx.exec;
  const stop = new AbortController();
  const done = waitFor(
    `two postmasters on ${pgdata}`,
    async () => {
      try {
        // The member's old pod and, once there is one, its replacement: the same name, another uid.
        const now = ctx.timeline.get('Pod', m.pod)?.metadata?.uid;
        const uids = [m.uid, now].filter((u): u is string => !!u);
        let pids = uids.length ? postmastersOn(hostProcesses('/proc', [...new Set(uids)]), pgdata) : [];
        let where = `at once (host pids ${pids.join(', ')})`;
        if (!pids.length) {
          const { stdout } = await exec('docker', ['exec', node, 'ps', '-eo', 'pid=,ppid=,args='], { timeoutMs: 10_000 });
          pids = postmastersOn(stdout, pgdata);
          where = `on ${node} at once (pids ${pids.join(', ')} in the node)`;
        }
        return pids.length >= 2 ? met(where) : notYet(`${pids.length} postmaster(s)`);
      } catch (e) {
        // The node may be busy or frozen; the next look counts.
        return notYet((e as Error).message);
      }
    },
    // Bounded, in case recovery is never awaited (an interrupted run).
    { timeoutMs: 600_000, intervalMs: ctx.probeIntervalMs ?? 500, signal: stop.signal, clock: ctx.waitClock },
  ).then(
    (where) => {
      if (m.mark && !m.mark.actions.some((a) => a.what.startsWith('two postmasters'))) m.act('two postmasters', `on ${pgdata} ${where}: ${why}`);
    },
    () => {
      /* stopped with recovery, or no second server within the bound: nothing to mark */
    },
  );
  return {
    async stop() {
      stop.abort();
      await done;
    },
  };
}
