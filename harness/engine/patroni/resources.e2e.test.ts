// A bare-metal Patroni member gets the same CPU set and memory limit as a single bare-metal
// PostgreSQL: the agent starts under taskset inside its own memory cgroup, and the PostgreSQL it
// forks (re-parented to init through setsid) and every backend inherit both. Read back from the
// kernel, not from the configuration.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { missing } from '../../testing/requirements.ts';
import { CleanupRegistry } from '../../core/cleanup.ts';
import { affinityOf, memoryCgroupRoot } from '../../core/resources.ts';
import { withClient } from '../pg.ts';
import { deployPatroniCluster, type PatroniCluster } from './cluster.ts';
import { resolvePatroniBinDir } from '../../platforms/baremetal/patroni.ts';
import { PatroniOptions } from '../../model/patroni.ts';

const skip = missing({ tools: ['patroni', 'etcd', 'taskset'], root: true, why: 'Patroni members pinned with taskset inside memory cgroups' });
const LIMIT = 768 * 1024 ** 2;

/** The cgroup paths /proc/<pid>/cgroup lists for a process. */
const cgroupsOf = (pid: number) => readFileSync(`/proc/${pid}/cgroup`, 'utf8');

describe.skipIf(!!skip || !memoryCgroupRoot())('Patroni members on bare metal with resources', () => {
  let dir: string;
  let registry: CleanupRegistry;
  let cluster: PatroniCluster;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'statebench-patroni-res-'));
    chmodSync(dir, 0o755);
    registry = new CleanupRegistry();
    const options = PatroniOptions.parse({ access: 'direct', ttl: 10, loopWait: 2, retryTimeout: 4 });
    cluster = await deployPatroniCluster({
      members: 2,
      binDir: await resolvePatroniBinDir(undefined, options.usePgRewind),
      volumes: [0, 1].map((i) => join(dir, `volume-${i}`)),
      stateDir: join(dir, 'state'),
      settings: { shared_buffers: '32MB', max_connections: 40 },
      options,
      startTimeoutMs: 120_000,
      registry,
      cpuset: '0',
      memoryBytes: LIMIT,
    });
  }, 180_000);

  afterAll(async () => {
    await registry?.releaseAll();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('pins each member and its PostgreSQL to the CPU set and holds them in a memory cgroup with the limit', async () => {
    for (const m of cluster.members) {
      const grant = await m.resources();
      expect(grant).toMatchObject({ cpuset: '0', memoryBytes: LIMIT, mechanism: expect.stringMatching(/^taskset \+ cgroup v[12]$/) });
      expect(grant.notes ?? []).toEqual([]);
      const postmaster = m.postmasterPid()!;
      expect(postmaster).toBeGreaterThan(0);
      expect(await affinityOf(postmaster)).toBe('0');
      expect(await affinityOf(m.agentPid!)).toBe('0');
      // Agent and server in the same member cgroup, named after this member.
      const own = cgroupsOf(postmaster).split('\n').find((l) => l.includes('/statebench/'));
      expect(own).toContain(`-${m.name}-`);
      expect(cgroupsOf(m.agentPid!)).toContain(own!.split(':').pop()!);
      // A backend forked for a new connection inherits both.
      // Read while the connection is open: its backend exits with it.
      const backendAffinity = await withClient(m.conn, async (c) => affinityOf((await c.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0].pid));
      expect(backendAffinity).toBe('0');
    }
  });
});
