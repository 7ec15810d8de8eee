// Contract tests of the client path: port-forwarding through a fake API server (node:http on
// 127.0.0.1 with the pods/portforward websocket in the v4.channel.k8s.io protocol, and only the other
// endpoints statebench uses), to an echo server and to a real PostgreSQL standing in for the pods.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { parse } from 'yaml';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { FakeApiServer, type StoredObject } from './testing/fake-apiserver.ts';
import { kubernetesTarget } from './testing/plan.ts';
import { KindCli, PodPortForward } from './cluster.ts';
import { KubernetesPlatform } from './platform.ts';
import { LEADER_LABEL_VALUE, ROLE_LABEL, kindClusterName, kindWorkerNames } from './names.ts';
import { CleanupRegistry } from '../../core/cleanup.ts';
import { RunClock } from '../../core/clock.ts';
import { withClient } from '../../engine/pg.ts';
import { deployBareMetalPostgres, resolveBinDir, type BareMetalPostgres } from '../baremetal/platform.ts';
import type { TargetRuntime } from '../types.ts';

/** Real stdout of fio 3.33 running fioArgs(): notes first, then the JSON document. */
const FIO_STDOUT = readFileSync(new URL('./testing/fio-stdout.txt', import.meta.url), 'utf8');

let api: FakeApiServer;
let dir: string;

beforeEach(async () => {
  api = await new FakeApiServer().start();
  dir = mkdtempSync(join(tmpdir(), 'statebench-k8s-pf-'));
});

afterEach(async () => {
  await api.stop();
  rmSync(dir, { recursive: true, force: true });
});

function roundTrip(port: number, payload: string): Promise<{ reply: string; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(payload));
    socket.once('data', (d) => resolve({ reply: d.toString(), socket }));
    socket.once('error', reject);
  });
}

describe('port-forward (fake API server: pods/portforward websocket)', () => {
  let echo: Server;
  const served: Socket[] = [];

  beforeEach(async () => {
    echo = createServer((s) => {
      served.push(s);
      s.on('data', (d) => s.write(`echo:${d}`));
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
  });
  afterEach(async () => {
    for (const s of served.splice(0)) s.destroy();
    await new Promise<void>((r) => echo.close(() => r()));
  });

  test('bytes flow both ways to the pod the resolver names, and the client sees the pod side close', async () => {
    api.podAddresses.set('ns/pg-1', { host: '127.0.0.1', port: (echo.address() as { port: number }).port });
    const fwd = new PodPortForward(api.kubeConfig(), 'ns', async () => 'pg-1', 5432);
    const port = await fwd.start();
    try {
      const { reply, socket } = await roundTrip(port, 'hello');
      expect(reply).toBe('echo:hello');
      const upgrade = api.requests.find((r) => r.method === 'UPGRADE')!;
      expect(upgrade).toMatchObject({ path: '/api/v1/namespaces/ns/pods/pg-1/portforward', query: { ports: '5432' } });
      const closed = new Promise((r) => socket.once('close', r));
      served[0].destroy();
      await closed;
    } finally {
      await fwd.close();
    }
  });

  test('a pod the API server cannot forward to drops the client connection instead of leaving it hanging', async () => {
    const fwd = new PodPortForward(api.kubeConfig(), 'ns', async () => 'pg-9', 5432);
    const port = await fwd.start();
    try {
      const socket = connect(port, '127.0.0.1', () => socket.write('x'));
      socket.on('error', () => {});
      await new Promise((r) => socket.once('close', r));
    } finally {
      await fwd.close();
    }
  });
});

describe('deployEngine (fake API server as the cluster, a real PostgreSQL as the pods)', () => {
  let pg: BareMetalPostgres;
  const registry = new CleanupRegistry();
  const pgDir = mkdtempSync(join(tmpdir(), 'statebench-k8s-pg-'));

  beforeAll(async () => {
    // PostgreSQL runs as an unprivileged user when the tests run as root; it must reach its directory.
    chmodSync(pgDir, 0o755);
    pg = await deployBareMetalPostgres({
      binDir: await resolveBinDir(),
      volume: join(pgDir, 'volume'),
      stateDir: join(pgDir, 'state'),
      settings: {},
      startTimeoutMs: 60_000,
      registry,
    });
  });
  afterAll(async () => {
    await registry.releaseAll();
    rmSync(pgDir, { recursive: true, force: true });
  });

  test('patroni×3 on an existing cluster: waits for the leader, connects through it, names it primary, stops by scaling to zero', async () => {
    const t = kubernetesTarget({ platform: 'kubernetes', storage: { kind: 'remote', storageClass: 'gp3', size: '2GiB' }, engine: { kind: 'patroni', members: 3, startTimeout: '20s' } });
    api.onApply = (obj: StoredObject, server) => {
      if (obj.kind !== 'StatefulSet') return;
      const ns = obj.metadata.namespace!;
      const labels = (obj.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
      for (let i = 0; i < 3; i++) {
        api.podAddresses.set(`${ns}/pg-${i}`, { host: pg.clientConn().host, port: pg.clientConn().port });
        server.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `pg-${i}`, namespace: ns, labels: { ...labels } }, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } });
      }
      // Patroni labels its leader a moment later, and writes its leader key and address into the
      // Endpoints of the selector-less Service `pg` (use_endpoints). pg-2 keeps a stale leader label,
      // as a primary on a dead node does: clients must follow the key, not the label.
      setTimeout(() => {
        server.update('v1', 'Pod', ns, 'pg-2', (p) => (p.metadata.labels = { ...p.metadata.labels, [ROLE_LABEL]: LEADER_LABEL_VALUE }));
        server.update('v1', 'Pod', ns, 'pg-1', (p) => (p.metadata.labels = { ...p.metadata.labels, [ROLE_LABEL]: LEADER_LABEL_VALUE }));
      }, 100);
      setTimeout(() => server.put({ apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'pg', namespace: ns, annotations: { leader: 'pg-1', ttl: '30' } }, subsets: [{ addresses: [{ ip: '10.244.2.7' }], ports: [{ name: 'postgresql', port: 5432 }] }] } as StoredObject), 300);
    };
    const rt: TargetRuntime = { registry: new CleanupRegistry(), clock: new RunClock(), stateDir: join(dir, 'state'), artifactsDir: dir, event: () => {}, status: () => {}, signal: new AbortController().signal };
    const provisioned = await new KubernetesPlatform('kubernetes', { kubeConfig: api.kubeConfig(), runId: '20261127-143022-ab12' }).provision(t, rt);
    const engine = await provisioned.deployEngine();
    try {
      expect(engine.kind).toBe('patroni');
      expect(engine.nodes.map((n) => n.name)).toEqual(['node-0', 'node-1', 'node-2']);
      expect(await engine.version()).toMatch(/^PostgreSQL \d+/);
      expect((await engine.primary()).name).toBe('node-1');
      // Each member is reachable on its own forwarded port as well.
      for (const n of engine.nodes) expect(await withClient(n.conn, async (c) => (await c.query('select 1 as one')).rows[0].one)).toBe(1);
      // The client connection went to the member the leader key names, not to pg-2 with its stale label.
      const forwardedTo = api.requests.filter((r) => r.method === 'UPGRADE').map((r) => r.path.split('/')[6]);
      expect(forwardedTo).toContain('pg-1');
      expect(forwardedTo.filter((p) => p === 'pg-2')).toHaveLength(1); // its own member port only
      expect(engine.clientConn()).toMatchObject({ host: '127.0.0.1', user: 'postgres' });
      expect(engine.clientConn().password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    } finally {
      await engine.stop();
      await rt.registry.releaseAll();
    }
    const sts = api.requests.find((r) => r.method === 'PATCH' && r.contentType === 'application/merge-patch+json')!;
    expect(sts.body).toMatchObject({ kind: 'StatefulSet', spec: { replicas: 0 } });
  });
  test('kind with Local PVs (kind CLI recorded): disks, cluster config, image load, storage, fio, client through the NodePort, cleanup', async () => {
    const t = kubernetesTarget({ storage: { kind: 'local-pv', size: '1GiB' }, engine: { startTimeout: '20s' }, target: { image: 'statebench/postgres:test', pull: 'never' } });
    const calls: string[][] = [];
    const recorded = async (cmd: string, args: string[]) => {
      calls.push([cmd, ...args]);
      // kind writes the new cluster's kubeconfig; here it points at the fake API server.
      if (cmd === 'kind' && args[0] === 'create') writeFileSync(args[args.indexOf('--kubeconfig') + 1], api.kubeConfig().exportConfig());
      return { stdout: cmd === 'kind' && args[0] === 'version' ? 'kind v0.27.0 go1.23.5 linux/amd64\n' : '', stderr: '' };
    };
    const kind = new KindCli(recorded, () => true);
    const stateDir = join(dir, 'state');
    const proxies: Server[] = [];
    api.onApply = (obj: StoredObject, server) => {
      const ns = obj.metadata.namespace!;
      if (obj.kind === 'Job') {
        const name = obj.metadata.name;
        server.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `${name}-abcde`, namespace: ns, labels: { 'job-name': name } }, status: { phase: 'Succeeded' } });
        server.setLog(ns, `${name}-abcde`, 'fio', FIO_STDOUT);
        server.update('batch/v1', 'Job', ns, name, (j) => (j.status = { succeeded: 1 }));
      }
      if (obj.kind === 'StatefulSet') {
        // kind's port mapping: the host port in the cluster config reaches the NodePort, i.e. the pod.
        const config = parse(readFileSync(join(stateDir, 'kind-config.yaml'), 'utf8'));
        const hostPort = config.nodes[0].extraPortMappings[0].hostPort as number;
        const proxy = createServer((client) => {
          const upstream = connect(pg.clientConn().port, pg.clientConn().host);
          client.pipe(upstream).pipe(client);
          client.on('error', () => upstream.destroy());
          upstream.on('error', () => client.destroy());
        });
        proxy.listen(hostPort, '127.0.0.1');
        proxies.push(proxy);
        api.podAddresses.set(`${ns}/pg-0`, { host: pg.clientConn().host, port: pg.clientConn().port });
        const labels = (obj.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
        server.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'pg-0', namespace: ns, labels }, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } });
        // The scheduler placed the member on the second worker and bound its claim to that worker's PV.
        const pv = api.list('PersistentVolume').find((x) => x.metadata.name.endsWith('-data-1'))!;
        server.put({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'data-pg-0', namespace: ns }, spec: { volumeName: pv.metadata.name }, status: { phase: 'Bound' } });
      }
    };
    const rt: TargetRuntime = { registry: new CleanupRegistry(), clock: new RunClock(), stateDir, artifactsDir: dir, event: () => {}, status: () => {}, signal: new AbortController().signal };
    const runId = '20261127-143022-ab12';
    const cluster = kindClusterName(runId, t.name);
    try {
      const provisioned = await new KubernetesPlatform('kind', { runId, kind, docker: recorded }).provision(t, rt);
      // Each worker's disk exists on the host, with the directories the PVs point at.
      for (let i = 1; i <= 3; i++) for (const sub of ['data', 'probe']) expect(existsSync(join(stateDir, 'kind', `disk-${i}`, sub))).toBe(true);
      // Until the member is placed, volume 0 is a guess...
      expect(provisioned.volumes.map((v) => v.path)).toEqual([join(stateDir, 'kind', 'disk-1', 'data')]);
      const pinned = api.list('PersistentVolume').map((pv) => (pv.spec as { nodeAffinity: { required: { nodeSelectorTerms: { matchExpressions: { values: string[] }[] }[] } } }).nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0]);
      expect([...new Set(pinned)].sort()).toEqual(kindWorkerNames(cluster, 3).sort());

      const io = await provisioned.probeIo();
      expect(io.tool).toBe('fio-3.33');
      const engine = await provisioned.deployEngine();
      // ...then it is the volume the member's claim was bound to, where storage faults must act.
      expect(provisioned.volumes.map((v) => v.path)).toEqual([join(stateDir, 'kind', 'disk-2', 'data')]);
      const config = parse(readFileSync(join(stateDir, 'kind-config.yaml'), 'utf8'));
      expect(engine.clientConn().port).toBe(config.nodes[0].extraPortMappings[0].hostPort);
      expect(await engine.version()).toMatch(/^PostgreSQL \d+/);
      expect(await provisioned.describe()).toMatchObject({ platform: 'kind', cluster, kindVersion: 'kind v0.27.0 go1.23.5 linux/amd64' });
      await engine.stop();
    } finally {
      expect(await rt.registry.releaseAll()).toEqual([]);
      for (const p of proxies) p.close();
    }
    // The database's files are removed from inside each node before the cluster goes (a run that is
    // not root could not remove them from the host), then the cluster is deleted.
    expect(calls.map((c) => c.slice(0, 3).join(' '))).toEqual([
      'kind create cluster',
      'docker image inspect',
      'kind load docker-image',
      'kind version',
      ...kindWorkerNames(cluster, 3).map((w) => `docker exec ${w}`),
      'kind delete cluster',
    ]);
    expect(calls.find((c) => c[1] === 'exec')).toEqual(['docker', 'exec', kindWorkerNames(cluster, 3)[0], 'find', '/mnt/statebench', '-mindepth', '2', '-delete']);
    expect(calls[0]).toEqual(['kind', 'create', 'cluster', '--name', cluster, '--config', join(stateDir, 'kind-config.yaml'), '--kubeconfig', join(stateDir, 'kubeconfig'), '--wait', '180s']);
    expect(calls[2]).toEqual(['kind', 'load', 'docker-image', 'statebench/postgres:test', '--name', cluster]);
    expect(existsSync(join(stateDir, 'kind', 'disk-1'))).toBe(false);
  });
});
