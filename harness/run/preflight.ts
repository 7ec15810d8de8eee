// What the planner cannot know without looking at this machine, checked before anything is created:
// the files and directories a profile names. A problem here is a profile problem (`line N: path:
// message`, exit 2, nothing started), not a target that fails after its databases were started.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Profile } from '../model/profile.ts';
import type { Plan, Problem } from '../model/plan.ts';
import { missingTools } from '../platforms/baremetal/patroni.ts';
import { syntaxCheck } from '../workload/k6/loader.ts';
import { StatebenchError } from '../errors.ts';

const isFile = (p: string) => existsSync(p) && statSync(p).isFile();

/** What preflight knows about the machine; tests pass their own. */
export interface Machine {
  /** The effective user id statebench runs as. */
  uid: number | undefined;
}

const THIS_MACHINE: Machine = { uid: process.getuid?.() };

/**
 * Storage that statebench builds from loop devices, filesystems and mounts needs root; everything else
 * (directories, Local PVs on kind, StorageClasses) runs as any user. Refused before anything is made,
 * rather than after a kind cluster has been created for it.
 */
export function rootProblems(plan: Plan, machine: Machine): Problem[] {
  if (machine.uid === 0 || machine.uid === undefined) return [];
  const problems: Problem[] = [];
  plan.targets.forEach((t, i) => {
    const s = t.storage;
    if (s.kind === 'remote' && !s.storageClass && t.platform !== 'kubernetes') {
      problems.push({
        path: ['targets', i, 'storage', 'kind'],
        message: `remote storage served by statebench (nbdkit, a loop device, mkfs and a mount) needs root, and statebench runs as uid ${machine.uid}; run it as root (e.g. with sudo), or use ${t.platform === 'kind' ? 'local-pv or a StorageClass' : 'local storage'}`,
      });
    }
    if (s.kind === 'local' && s.filesystem !== 'directory') {
      problems.push({
        path: ['targets', i, 'storage', 'filesystem'],
        message: `a loop-mounted ${s.filesystem} image needs root, and statebench runs as uid ${machine.uid}; run it as root (e.g. with sudo), or use filesystem: directory`,
      });
    }
  });
  return problems;
}

export async function preflightProblems(profile: Profile, plan: Plan, machine: Machine = THIS_MACHINE): Promise<Problem[]> {
  const problems: Problem[] = rootProblems(plan, machine);
  for (const [i, w] of profile.workloads.entries()) {
    if (w.kind !== 'k6') continue;
    const script = resolve(w.script);
    // Whether it exists, is JavaScript and lies where scripts may: checkFiles (run/profile-files.ts)
    // reported that when the profile was loaded.
    if (!isFile(script)) continue;
    // A syntax error is an error for either runner; what the built-in runner supports is checked when it loads the script.
    try {
      await syntaxCheck(script, readFileSync(script, 'utf8'));
    } catch (e) {
      if (!(e instanceof StatebenchError)) throw e;
      problems.push({ path: ['workloads', i, 'script'], message: e.message });
    }
  }
  const binDir = profile.engine.binDir;
  const onHost = plan.targets.filter((t) => t.platform === 'baremetal');
  if (binDir && onHost.length) {
    const usePgRewind = onHost.some((t) => t.patroni?.usePgRewind);
    const gaps = profile.engine.kind === 'patroni' ? missingTools(binDir, usePgRewind) : ['postgres', 'initdb'].filter((t) => !isFile(join(binDir, t)));
    if (gaps.length) {
      problems.push({ path: ['engine', 'binDir'], message: `${binDir} lacks ${gaps.join(', ')}; point binDir at a PostgreSQL bin directory, e.g. /usr/lib/postgresql/15/bin` });
    }
  }
  return problems;
}
