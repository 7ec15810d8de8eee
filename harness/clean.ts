// `statebench clean`: releases what killed runs left behind. A run's resources are found two ways:
// its resource journal (what it registered and did not release) and a scan of /proc for processes
// whose command line points into its workspace (in case the journal line was torn by the kill).
import { readFileSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Workspace, isAlive, runsRoot } from './core/workspace.ts';
import { unreleased, type ResourceRecord } from './core/cleanup.ts';
import { removeCgroupDir } from './core/resources.ts';
import { StatebenchError, EXIT, WaitTimeoutError } from './errors.ts';
import { met, notYet, waitFor } from './core/wait.ts';
import { hasTool } from './core/tools.ts';
import { releaseLeftover, findLeftoverMounts, findLeftoverLoops } from './storage/leftovers.ts';

export interface CleanReport {
  runId: string;
  skipped?: string;
  released: string[];
  errors: string[];
}

/** Leftover handlers by resource kind; storage and container platforms add theirs. */
export type LeftoverReleaser = (record: ResourceRecord, workspaceDir: string) => Promise<void>;
const releasers = new Map<string, LeftoverReleaser>();

export function registerLeftoverReleaser(kind: ResourceRecord['kind'], fn: LeftoverReleaser): void {
  releasers.set(kind, fn);
}

for (const kind of ['mount', 'loop', 'image-file'] as const) {
  registerLeftoverReleaser(kind, (record, workspaceDir) => releaseLeftover(record, { workspaceDir }));
}
for (const kind of ['container', 'network'] as const) {
  registerLeftoverReleaser(kind, async (record) => {
    const docker = await import('./platforms/docker/client.ts');
    await (kind === 'container' ? docker.removeContainer(record.id) : docker.removeNetwork(record.id));
  });
}
for (const kind of ['cluster', 'k8s-namespace'] as const) {
  registerLeftoverReleaser(kind, async (record) => {
    await (await import('./platforms/k8s/platform.ts')).releaseKubernetesLeftover(record);
  });
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** Processes whose command line mentions the workspace: postgres -D <ws>/…, nbdkit <ws>/…, etc. */
export function processesUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    if (cmdline(pid).includes(dir)) pids.push(pid);
  }
  return pids;
}

function killTree(pid: number): void {
  for (const target of [-pid, pid]) {
    try {
      // A stopped (node-hang) process must be continued to die promptly and release its resources.
      process.kill(target, 'SIGCONT');
      process.kill(target, 'SIGKILL');
    } catch {
      /* already gone, or not a group leader */
    }
  }
}

async function waitGone(pids: number[], timeoutMs: number): Promise<number[]> {
  let alive = pids.filter(isAlive);
  try {
    await waitFor(
      `processes ${alive.join(', ')} to be gone`,
      () => {
        alive = alive.filter((p) => isAlive(p) && !isZombie(p));
        return alive.length ? notYet(`${alive.join(', ')} still alive`) : met(undefined);
      },
      { timeoutMs, intervalMs: 50 },
    );
  } catch (e) {
    if (!(e instanceof WaitTimeoutError)) throw e;
  }
  return alive;
}

/** A zombie is dead but not yet reaped by its parent; it holds nothing. */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The state letter follows the command name, which is in parentheses and may contain spaces.
    return stat.charAt(stat.lastIndexOf(')') + 2) === 'Z';
  } catch {
    return false;
  }
}

export async function cleanRun(runId: string, force = false): Promise<CleanReport> {
  const ws = new Workspace(runId);
  const report: CleanReport = { runId, released: [], errors: [] };
  const owner = Workspace.owner(runId);
  if (owner && isAlive(owner.pid) && owner.pid !== process.pid && cmdline(owner.pid).includes('statebench') && !force) {
    report.skipped = `run ${runId} is still in progress (pid ${owner.pid}); stop it first or pass --force`;
    return report;
  }
  for (const record of unreleased(ws.journal)) {
    try {
      if (record.kind === 'process') {
        const pid = Number(record.id);
        // Only if the pid still belongs to this run: pids are reused.
        if (isAlive(pid) && cmdline(pid).includes(ws.dir)) killTree(pid);
      } else if (record.kind === 'dir') {
        rmSync(record.id, { recursive: true, force: true });
      } else if (record.kind === 'cgroup') {
        // Its processes were killed above (newer records first); an empty cgroup goes with rmdir.
        removeCgroupDir(record.id);
      } else {
        const release = releasers.get(record.kind);
        if (!release) throw new Error(`no handler for leftover ${record.kind}`);
        await release(record, ws.dir);
      }
      report.released.push(`${record.kind} ${record.what}`);
    } catch (e) {
      report.errors.push(`${record.kind} ${record.what}: ${(e as Error).message}`);
    }
  }
  // Mounts and loop devices the journal does not name (a torn last line): found by where they live.
  for (const mount of await findLeftoverMounts(ws.dir)) {
    await releaseLeftover({ kind: 'mount', id: mount, what: mount }, { workspaceDir: ws.dir }).then(
      () => report.released.push(`mount ${mount}`),
      (e) => report.errors.push(`mount ${mount}: ${(e as Error).message}`),
    );
  }
  for (const loop of await findLeftoverLoops(ws.dir)) {
    await releaseLeftover({ kind: 'loop', id: loop, what: loop }, { workspaceDir: ws.dir }).then(
      () => report.released.push(`loop ${loop}`),
      (e) => report.errors.push(`loop ${loop}: ${(e as Error).message}`),
    );
  }
  // Containers and networks carry the run's label; found by it even when the journal line was torn.
  if (hasTool('docker')) {
    try {
      const removed = await (await import('./platforms/docker/client.ts')).removeRunContainers(runId);
      report.released.push(...removed.map((r) => `docker ${r}`));
    } catch (e) {
      // No Docker engine running: then no container of this run can exist either.
      if (!(e instanceof StatebenchError && e.exitCode === EXIT.environment)) report.errors.push(`docker: ${(e as Error).message}`);
    }
  }
  const stray = processesUnder(ws.dir);
  stray.forEach(killTree);
  const survivors = await waitGone(stray, 10_000);
  for (const pid of stray) report.released.push(`process ${pid} ${cmdline(pid).slice(0, 80)}`.trim());
  if (survivors.length) report.errors.push(`processes still alive: ${survivors.join(', ')}`);
  if (!report.errors.length && existsSync(ws.dir)) rmSync(ws.dir, { recursive: true, force: true });
  return report;
}

export async function clean(runId?: string, force = false): Promise<CleanReport[]> {
  if (runId) {
    if (!/^[0-9A-Za-z-]+$/.test(runId)) throw new StatebenchError(`invalid run id "${runId}"`, EXIT.usage);
    if (!existsSync(join(runsRoot(), runId))) throw new StatebenchError(`no leftovers of run ${runId} under ${runsRoot()}`, EXIT.usage, 'Run `statebench clean` without --run to clean every finished run.');
    return [await cleanRun(runId, force)];
  }
  const reports: CleanReport[] = [];
  for (const id of Workspace.list()) reports.push(await cleanRun(id, force));
  return reports;
}
