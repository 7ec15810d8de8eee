// doctor: the embedded PostgreSQL actually runs (as the database user), and which shipped profiles
// can run follows from what is present.
import { describe, expect, it } from 'vitest';
import { doctor, profileReadiness, formatReadiness, type ToolStatus } from './doctor.ts';
import { cli } from '../test/cli.ts';

const status = (name: string, present: boolean): ToolStatus => ({ name, present, enables: '', install: '' });

describe('doctor', () => {
  it('runs the embedded PostgreSQL binaries, as the database user when root', async () => {
    const pg = (await doctor()).find((t) => t.name === 'embedded PostgreSQL');
    expect(pg?.present, pg?.install).toBe(true);
    expect(pg?.version).toMatch(/^postgres \(PostgreSQL\) \d+/);
    if (process.getuid?.() === 0) expect(pg?.version).toContain('runs as postgres');
  });

  it('a machine with only the embedded PostgreSQL: smoke can run; docker, patroni and remote-storage profiles name what they lack', async () => {
    const rs = await profileReadiness([status('embedded PostgreSQL', true)]);
    const by = Object.fromEntries(rs.map((r) => [r.profile, r]));
    expect(by['smoke.yaml'].missing).toEqual([]);
    expect(by['container-vs-baremetal.yaml'].missing).toEqual(expect.arrayContaining(['docker daemon', 'image postgres']));
    expect(by['ha-failover.yaml'].missing).toEqual(expect.arrayContaining(['patroni', 'etcd']));
    expect(by['storage-compare.yaml'].missing).toEqual(expect.arrayContaining(['root', 'nbdkit']));
    // Its remote target's volumes are served from this host, as on bare metal.
    expect(by['kind-node-failure.yaml'].missing).toEqual(expect.arrayContaining(['kind', 'docker daemon', 'root', 'nbdkit', 'nbdfuse']));
    expect(by['kind-kubelet-failure.yaml'].missing).not.toContain('nbdkit');
    expect(rs.every((r) => !r.invalid)).toBe(true);
    expect(formatReadiness(rs)).toMatch(/^ {2}yes {6}smoke\.yaml$/m);
  });

  it('without the embedded binaries, smoke cannot run', async () => {
    const rs = await profileReadiness([]);
    expect(rs.find((r) => r.profile === 'smoke.yaml')?.missing).toEqual(['embedded PostgreSQL']);
  });

  it('`statebench doctor` prints the profiles section', async () => {
    const r = await cli(['doctor']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/ok +embedded PostgreSQL +postgres \(PostgreSQL\)/);
    expect(r.stdout).toContain('shipped profiles that can run here:');
    expect(r.stdout).toMatch(/yes +smoke\.yaml/);
  }, 120_000);
});
