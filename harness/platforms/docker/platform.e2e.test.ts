// The docker platform against a real Docker engine and the locally built statebench/postgres image.
// Outside CI, a machine without Docker skips these tests with the reason printed; under CI=true a
// missing engine fails them.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missing } from '../../testing/requirements.ts';
import { CleanupRegistry } from '../../core/cleanup.ts';
import { RunClock } from '../../core/clock.ts';
import type { TargetRuntime } from '../types.ts';
import type { PlannedTarget } from '../../model/plan.ts';
import { Engine, IoProbe, Target } from '../../model/profile.ts';
import { DEFAULT_SAFETY } from '../../model/plan.ts';
import { EXIT, StatebenchError } from '../../errors.ts';
import pg from 'pg';
import { clientConfig, connect, withClient } from '../../engine/pg.ts';
import { cleanRun } from '../../clean.ts';
import { buildImage, imageRef } from '../../../images/build.ts';
import { DockerPlatform, type DockerPostgres } from './platform.ts';
import { dockerode, listRunResources, removeRunContainers, RUN_LABEL } from './client.ts';

function engineAnswers(): boolean {
  try {
    execFileSync('docker', ['version', '--format', '{{.Server.Version}}'], { stdio: 'ignore', timeout: 20_000 });
    return true;
  } catch {
    return false;
  }
}

function dockerSkipReason(): string | undefined {
  const why = 'docker platform tests need a running Docker engine';
  const gap = missing({ tools: ['docker'], root: true, why });
  if (gap) return gap;
  if (engineAnswers()) return undefined;
  const reason = `${why}: the engine does not answer (start it: dockerd --iptables=false &)`;
  if (process.env.CI === 'true') throw new Error(`CI=true and ${reason}; .ci/run must start it`);
  console.warn(`SKIP ${reason}`);
  return reason;
}

const skip = dockerSkipReason();
let base: string;
const MiB = 1024 * 1024;

interface Harness {
  runId: string;
  target: PlannedTarget;
  rt: TargetRuntime;
  registry: CleanupRegistry;
  events: { type: string; data?: object }[];
}

function newRun(spec: Record<string, unknown> = {}): Harness {
  const runId = `t${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const t = Target.parse({ platform: 'docker', storage: { kind: 'local' }, pull: 'never', ...spec });
  const target: PlannedTarget = {
    name: 'docker/local',
    slug: 'docker_local',
    platform: 'docker',
    storage: t.storage,
    spec: t,
    engine: Engine.parse({ startTimeout: '90s' }),
    io: IoProbe.parse({ tool: 'builtin', size: '8MiB', runtime: '1s' }),
    workloads: [],
    faults: [],
    safety: DEFAULT_SAFETY,
    checks: [],
    faultPolicy: { nodeAccess: 'none' },
  };
  const runDir = join(base, 'runs', runId);
  const stateDir = join(runDir, target.slug);
  const artifactsDir = join(base, 'results', runId);
  mkdirSync(stateDir, { recursive: true });
  mkdirSync(artifactsDir, { recursive: true });
  const registry = new CleanupRegistry(join(runDir, 'resources.jsonl'));
  const events: Harness['events'] = [];
  const rt: TargetRuntime = {
    registry,
    clock: new RunClock(),
    stateDir,
    artifactsDir,
    event: (type, data) => events.push({ type, data }),
    status: () => {},
    signal: new AbortController().signal,
  };
  return { runId, target, rt, registry, events };
}

async function pullEventsSince(since: Date): Promise<number> {
  const d = await dockerode();
  const stream = (await d.getEvents({
    since: Math.floor(since.getTime() / 1000),
    until: Math.ceil(Date.now() / 1000) + 1,
    filters: JSON.stringify({ type: ['image'], event: ['pull'] }),
  })) as NodeJS.ReadableStream;
  let n = 0;
  for await (const chunk of stream) n += String(chunk).split('\n').filter((l) => l.trim()).length;
  return n;
}

const runs: Harness[] = [];

describe.skipIf(!!skip)('docker platform', () => {
  let image: string;

  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), 'statebench-docker-test-'));
    // cleanRun finds workspaces under $STATEBENCH_HOME/runs.
    process.env.STATEBENCH_HOME = base;
    // Reused when the recipe is unchanged (CI builds it in a step of its own); otherwise built here.
    const built = await buildImage('postgres', { log: (l) => console.log(l) });
    image = built.ref;
    expect(image).toBe(imageRef('postgres'));
  }, 900_000);

  afterAll(async () => {
    // Whatever a failed test left behind; the checks below make leftovers a failure, not silence.
    for (const h of runs) await h.registry.releaseAll();
    for (const h of runs) await removeRunContainers(h.runId).catch(() => {});
    rmSync(base, { recursive: true, force: true });
  }, 120_000);

  describe('a postgres target', () => {
    let h: Harness;
    let engine: DockerPostgres;
    let volume: string;
    let since: Date;

    beforeAll(async () => {
      since = new Date(Date.now() - 1000);
      h = newRun({ resources: { cpus: 1.5, memory: '768MiB' } });
      runs.push(h);
      const provisioned = await new DockerPlatform().provision(h.target, h.rt);
      const info = await provisioned.describe();
      expect(info).toMatchObject({ image, pull: 'never', limits: { cpus: 1.5, memoryBytes: 768 * MiB }, publishedOn: '127.0.0.1' });
      const io = await provisioned.probeIo();
      volume = provisioned.volumes[0].path;
      expect(io.path).toBe(volume);
      engine = (await provisioned.deployEngine()) as DockerPostgres;
    }, 180_000);

    it('starts from the locally built image without contacting a registry, and answers a real query', async () => {
      const version = await engine.version();
      expect(version).toMatch(/^PostgreSQL 15\./);
      const rows = await withClient(engine.clientConn(), async (c) => (await c.query('select current_setting($1) as v', ['shared_buffers'])).rows);
      expect(rows[0].v).toBe('256MB');
      const ready = h.events.find((e) => e.type === 'node-started')?.data as { readyMs: number };
      console.log(`container start → first successful write: ${ready.readyMs} ms`);
      expect(await pullEventsSince(since)).toBe(0);
    });

    it('labels the container with the run, publishes on 127.0.0.1 only, bind-mounts the volume and applies the limits', async () => {
      const info = await (await dockerode()).getContainer(engine.container.id!).inspect();
      expect(info.Config.Labels[RUN_LABEL]).toBe(h.runId);
      expect((info.Config as { StopSignal?: string }).StopSignal).toBe('SIGINT');
      expect(info.HostConfig.PortBindings['5432/tcp']).toEqual([{ HostIp: '127.0.0.1', HostPort: String(engine.clientConn().port) }]);
      expect(info.HostConfig.NanoCpus).toBe(1.5e9);
      expect(info.HostConfig.Memory).toBe(768 * MiB);
      expect(info.Mounts.map((m) => [m.Type, m.Source, m.Destination])).toEqual([['bind', volume, '/var/lib/statebench']]);
    });

    it('kill → start recovers, and data committed before the kill survives', async () => {
      await withClient(engine.clientConn(), async (c) => {
        await c.query('create table kept (id int primary key, note text)');
        await c.query("insert into kept select g, 'committed before kill' from generate_series(1, 1000) g");
      });
      const node = engine.nodes[0].control;
      await node.kill();
      expect(node.running).toBe(false);
      await expect(withClient(engine.clientConn(), (c) => c.query('select 1'))).rejects.toThrow();
      const t0 = performance.now();
      await node.start();
      const recoveredMs = performance.now() - t0;
      console.log(`docker kill → start → first successful write: ${recoveredMs.toFixed(0)} ms`);
      const r = await withClient(engine.clientConn(), (c) => c.query('select count(*)::int as n from kept'));
      expect(r.rows[0].n).toBe(1000);
    });

    it('pause makes a query time out; resume restores it', async () => {
      const node = engine.nodes[0].control;
      const held = await connect(engine.clientConn(), { query_timeout: 1_500 });
      try {
        await node.pause();
        expect(node.running).toBe(true);
        await expect(held.query('select 1')).rejects.toThrow(/timeout/i);
        // A new connection: the published port accepts, the server never answers the startup packet.
        const fresh = new pg.Client({ ...clientConfig(engine.clientConn()), connectionTimeoutMillis: 1_500 });
        fresh.on('error', () => {});
        await expect(fresh.connect()).rejects.toThrow(/timeout/i);
      } finally {
        await node.resume();
        await held.end().catch(() => {});
      }
      const r = await withClient(engine.clientConn(), (c) => c.query('select count(*)::int as n from kept'));
      expect(r.rows[0].n).toBe(1000);
    });

    it('stops with a fast shutdown and starts again (graceful restart)', async () => {
      const node = engine.nodes[0].control;
      const held = await connect(engine.clientConn());
      const t0 = performance.now();
      // An open session does not hold up a fast shutdown (SIGINT), as it would a smart one (SIGTERM).
      await node.stop();
      expect(performance.now() - t0).toBeLessThan(15_000);
      await held.end().catch(() => {});
      expect(node.running).toBe(false);
      const info = await (await dockerode()).getContainer(engine.container.id!).inspect();
      expect(info.State.ExitCode).toBe(0);
      await node.start();
      const r = await withClient(engine.clientConn(), (c) => c.query('select count(*)::int as n from kept'));
      expect(r.rows[0].n).toBe(1000);
    });

    it('teardown leaves no container or network of the run', async () => {
      await engine.stop();
      const before = await listRunResources(h.runId);
      expect(before.containers).toHaveLength(1);
      expect(before.networks).toHaveLength(1);
      expect(await h.registry.releaseAll()).toEqual([]);
      expect(await listRunResources(h.runId)).toEqual({ containers: [], networks: [] });
    });
  });

  it('fails with an actionable error and starts nothing when the image is absent and pull is never', async () => {
    const since = new Date(Date.now() - 1000);
    const h = newRun({ image: 'statebench/postgres:absent-000000', pull: 'never' });
    runs.push(h);
    const err = await new DockerPlatform().provision(h.target, h.rt).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StatebenchError);
    const e = err as StatebenchError;
    expect(e.exitCode).toBe(EXIT.environment);
    expect(e.message).toContain('statebench/postgres:absent-000000');
    expect(e.message).toContain('pull: never');
    expect(e.hint).toContain('npx tsx images/build.ts postgres');
    expect(h.registry.size).toBe(0);
    expect(await listRunResources(h.runId)).toEqual({ containers: [], networks: [] });
    expect(await pullEventsSince(since)).toBe(0);
  });

  it('removeRunContainers removes what a killed run left behind, found by its label', async () => {
    const h = newRun();
    runs.push(h);
    const provisioned = await new DockerPlatform().provision(h.target, h.rt);
    const engine = await provisioned.deployEngine();
    // The run is "killed": nothing releases its registry; its node was even hung at the time.
    await engine.nodes[0].control.pause();
    const left = await listRunResources(h.runId);
    expect(left.containers).toHaveLength(1);
    expect(left.networks).toHaveLength(1);

    const removed = await removeRunContainers(h.runId);
    expect(removed).toEqual([`container ${left.containers[0].name}`, `network ${left.networks[0].name}`]);
    expect(await listRunResources(h.runId)).toEqual({ containers: [], networks: [] });
  });

  it('statebench clean releases the containers and networks in a killed run\'s journal', async () => {
    const h = newRun();
    runs.push(h);
    const provisioned = await new DockerPlatform().provision(h.target, h.rt);
    await provisioned.deployEngine();
    expect((await listRunResources(h.runId)).containers).toHaveLength(1);

    const report = await cleanRun(h.runId);
    expect(report.errors).toEqual([]);
    expect(report.released.filter((r) => /^(container|network) /.test(r))).toHaveLength(2);
    expect(await listRunResources(h.runId)).toEqual({ containers: [], networks: [] });
  });
});
