// The `kubernetes` platform (an existing cluster, reached through a kubeconfig context) on a real
// cluster: a kind cluster this file creates once, prepared as an administrator would prepare a cluster
// for Local PVs (/mnt/statebench/{data,probe} on every worker, the images on the nodes), then used only
// through KUBECONFIG and the context, as profiles/cluster-vendor-eval.yaml does. Deleted at the end.
//
//   Local PV hygiene    two runs one after the other on the same worker: the second gets its own
//                       directory and a fresh PGDATA (run 1's table is not there), and each run's
//                       directory is gone from the node once it is released (seen with docker exec)
//   the helper pod      kubelet-stop through faultPolicy.nodeAccess: helper-pod: the action starts only
//                       after the pod was reported Running by its kubelet (a watch of our own, and the
//                       kubelet's stop time on the node), the node goes NotReady, and the node's timer
//                       brings the kubelet back after the hold
//   ordered startup     Patroni ×3 with podManagement: ordered, run by the CLI: the summary's
//                       statefulset.ordered-startup check passes on what the pod watch saw
//
// Needs kind, a running docker, the kind node image (STATEBENCH_KIND_NODE_IMAGE), statebench/postgres
// and statebench/patroni. Skipped, saying why, where any is missing; under CI (STATEBENCH_REQUIRE_KIND=1
// or CI=true) that is a failure.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Watch, type KubernetesObject } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CleanupRegistry } from '../../core/cleanup.ts';
import { RunClock, sleep } from '../../core/clock.ts';
import { freePort } from '../../core/net.ts';
import { newRunId } from '../../core/workspace.ts';
import { withClient } from '../../engine/pg.ts';
import { FaultInjection } from '../../fault/fault.ts';
import type { TargetRuntime } from '../types.ts';
import type { KubernetesFaultTimeline } from './timeline/assemble.ts';
import { KubernetesPlatform } from './platform.ts';
import { KindCli, KubeCluster, loadKubeConfig } from './cluster.ts';
import { defaultImage, runDir } from './render/manifests.ts';
import { kindConfigYaml, lacksCapSysResource, renderKindConfig } from './render/kind-config.ts';
import { NODE_DISK_PATH, kindClusterName, kindWorkerNames } from './names.ts';
import { kubernetesTarget } from './testing/plan.ts';
import { kindRequired, kindTestGaps } from './testing/kind-requirements.ts';

const ROOT = new URL('../../../', import.meta.url).pathname;
const POSTGRES = process.env.STATEBENCH_KIND_IMAGE ?? defaultImage('postgres');
const PATRONI = process.env.STATEBENCH_KIND_PATRONI_IMAGE ?? defaultImage('patroni');

const reason =
  kindTestGaps({ test: 'kind existing-cluster test', image: POSTGRES, imageHint: 'npx tsx images/build.ts postgres, or set STATEBENCH_KIND_IMAGE', nodeImage: true }) ??
  kindTestGaps({ test: 'kind existing-cluster test', image: PATRONI, imageHint: 'npx tsx images/build.ts patroni, or set STATEBENCH_KIND_PATRONI_IMAGE', nodeImage: true });
const skip = !!reason && !kindRequired;
if (reason && !kindRequired) console.warn(`SKIP ${reason}`);

const WORKERS = 3;

/** The cluster every test here uses as "existing". */
const existing = {
  base: '',
  name: '',
  kubeconfig: '',
  context: '',
  workers: [] as string[],
  registry: new CleanupRegistry(),
};

/**
 * The run-labelled PersistentVolumes once they are gone. Release deletes them at once, but each stays
 * (pv-protection) until its claim has gone with the namespace, which the API server finishes later.
 */
async function runVolumesLeft(api: KubeCluster, timeoutMs = 120_000): Promise<string[]> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const left = (await api.objects.list('v1', 'PersistentVolume', undefined, undefined, undefined, undefined, undefined, 'statebench.run')).items;
    if (!left.length || performance.now() > deadline) return left.map((pv) => `${pv.metadata?.name}${pv.metadata?.deletionTimestamp ? ' (terminating)' : ''}`);
    await sleep(2_000);
  }
}

function nodeExec(node: string, args: string[]): string {
  return execFileSync('docker', ['exec', node, ...args], { encoding: 'utf8', timeout: 60_000 });
}

/** What is in a worker's Local PV directories: `<data|probe>/<entry>` for every entry. */
function nodeVolumeEntries(node: string): string[] {
  return nodeExec(node, ['find', `${NODE_DISK_PATH}/data`, `${NODE_DISK_PATH}/probe`, '-mindepth', '1', '-maxdepth', '1'])
    .split('\n')
    .filter(Boolean)
    .map((p) => p.slice(NODE_DISK_PATH.length + 1))
    .sort();
}

/** A systemd timestamp (`--timestamp=us+utc`: `Tue 2026-12-01 04:10:00.123456 UTC`) as epoch ms. */
function systemdTime(line: string): number {
  const m = /(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(\.\d+)? UTC/.exec(line);
  if (!m) throw new Error(`not a systemd timestamp: ${line}`);
  return Date.parse(`${m[1]}T${m[2]}${(m[3] ?? '').slice(0, 4)}Z`);
}

function runtime(base: string, runId: string, slug: string, registry: CleanupRegistry, tag: string): TargetRuntime {
  const stateDir = join(base, runId, slug);
  mkdirSync(stateDir, { recursive: true });
  return {
    registry,
    clock: new RunClock(),
    stateDir,
    artifactsDir: stateDir,
    event: () => {},
    status: (p, d) => console.log(`[kind existing] ${tag} ${p}: ${d ?? ''}`),
    signal: new AbortController().signal,
  };
}

describe.skipIf(skip)('an existing cluster (kind, through its kubeconfig context)', () => {
  beforeAll(async () => {
    if (reason) throw new Error(`kind end-to-end tests are required here (CI) but ${reason}`);
    existing.base = mkdtempSync(join(tmpdir(), 'statebench-kind-existing-'));
    existing.registry = new CleanupRegistry(join(existing.base, 'resources.jsonl'));
    const id = newRunId();
    existing.name = kindClusterName(id, 'existing');
    existing.workers = kindWorkerNames(existing.name, WORKERS);
    const disks = existing.workers.map((_, i) => join(existing.base, `disk-${i + 1}`));
    // The administrator's part: a directory per worker for the Local PVs (created here, on the host,
    // and mounted at /mnt/statebench), as the profile's comment asks of a real cluster.
    for (const d of disks) for (const sub of ['data', 'probe']) mkdirSync(join(d, sub), { recursive: true });
    const config = renderKindConfig({
      clusterName: existing.name,
      runId: id,
      targetName: 'existing',
      workerDisks: disks,
      clientHostPort: await freePort(),
      nodeImage: process.env.STATEBENCH_KIND_NODE_IMAGE,
      restrictOomScoreAdj: lacksCapSysResource(readFileSync('/proc/self/status', 'utf8')),
    });
    const configFile = join(existing.base, 'kind.yaml');
    writeFileSync(configFile, kindConfigYaml(config));
    existing.kubeconfig = join(existing.base, 'kubeconfig');
    const kind = new KindCli();
    const t0 = performance.now();
    await kind.createCluster(existing.registry, { name: existing.name, configFile, kubeconfigFile: existing.kubeconfig });
    for (const image of [POSTGRES, PATRONI]) await kind.loadImage(existing.name, image);
    console.log(`[kind existing] cluster ${existing.name} with ${WORKERS} workers and both images in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    // From here on statebench sees only a kubeconfig and a context.
    existing.context = `kind-${existing.name}`;
    process.env.KUBECONFIG = existing.kubeconfig;
  }, 900_000);

  afterAll(async () => {
    delete process.env.KUBECONFIG;
    expect(await existing.registry.releaseAll()).toEqual([]);
    if (existing.name) expect(await new KindCli().statebenchClusters()).not.toContain(existing.name);
    if (existing.base) rmSync(existing.base, { recursive: true, force: true });
  }, 300_000);

  test(
    'Local PVs: two runs on one worker, each in its own directory with a fresh PGDATA, each wiped on release; kubelet-stop through the helper pod starts only once the kubelet reported it Running, and is undone',
    async () => {
      const kc = loadKubeConfig({ context: existing.context });
      const api = new KubeCluster(kc);
      const settings = { shared_buffers: '32MB' };

      // Run 1: fio on the probe volume, a table, then release.
      const run1 = newRunId();
      const target1 = kubernetesTarget({
        platform: 'kubernetes',
        storage: { kind: 'local-pv', size: '1GiB' },
        engine: { startTimeout: '180s', settings },
        target: { context: existing.context, image: POSTGRES, pull: 'never' },
      });
      target1.io = { ...target1.io, tool: 'fio', size: 16 * 1024 ** 2, runtime: 3_000 };
      const dir1 = runDir(target1, run1);
      const reg1 = new CleanupRegistry(join(existing.base, `${run1}.jsonl`));
      const rt1 = runtime(existing.base, run1, target1.slug, reg1, 'run 1');
      let node1: string;
      try {
        const p1 = await new KubernetesPlatform('kubernetes', { runId: run1 }).provision(target1, rt1);
        expect((await p1.probeIo()).tool).toMatch(/^fio/);
        const e1 = await p1.deployEngine();
        const ns1 = (await p1.describe()).namespace as string;
        await withClient(e1.clientConn(), async (c) => {
          await c.query('create table run1_marker (v int)');
          await c.query('insert into run1_marker values (1)');
          expect((await c.query('show data_directory')).rows[0].data_directory).toBe(`/var/lib/statebench/${dir1}/pgdata`);
        });
        node1 = ((await api.objects.read({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'pg-0', namespace: ns1 } })) as { spec?: { nodeName?: string } }).spec!.nodeName!;
        expect(existing.workers).toContain(node1);
        expect(nodeVolumeEntries(node1)).toEqual([`data/${dir1}`, `probe/${dir1}`]);
        nodeExec(node1, ['test', '-s', `${NODE_DISK_PATH}/data/${dir1}/pgdata/PG_VERSION`]);
        await e1.stop();
      } finally {
        expect(await reg1.releaseAll()).toEqual([]);
      }
      // Released: the run's directories are gone from every worker, the cluster-scoped objects too.
      for (const w of existing.workers) expect(nodeVolumeEntries(w), w).toEqual([]);
      expect(await runVolumesLeft(api)).toEqual([]);

      // Run 2: same target, same worker; a kubelet-stop through the helper pod while it runs.
      const run2 = newRunId();
      const target2 = kubernetesTarget({
        platform: 'kubernetes',
        storage: { kind: 'local-pv', size: '1GiB' },
        engine: { startTimeout: '180s', settings },
        target: { context: existing.context, image: POSTGRES, pull: 'never', faultPolicy: { nodeAccess: 'helper-pod' } },
        // Past the node monitor grace period (the kubelet's silence turns into NotReady after 40–50 s).
        faults: [{ type: 'kubelet-stop', at: '0s', downFor: '60s', recoveryTimeout: '240s' }],
      });
      target2.io = { ...target2.io, enabled: false };
      const dir2 = runDir(target2, run2);
      expect(dir2).not.toBe(dir1);
      const reg2 = new CleanupRegistry(join(existing.base, `${run2}.jsonl`));
      const rt2 = runtime(existing.base, run2, target2.slug, reg2, 'run 2');
      let node2: string;
      const helperSeen: { atMs: number; wallMs: number; type: string; phase?: string; running: boolean; nodeName?: string }[] = [];
      let helperWatch: AbortController | undefined;
      try {
        const p2 = await new KubernetesPlatform('kubernetes', { runId: run2 }).provision(target2, rt2);
        const e2 = await p2.deployEngine();
        const ns2 = (await p2.describe()).namespace as string;
        node2 = ((await api.objects.read({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'pg-0', namespace: ns2 } })) as { spec?: { nodeName?: string } }).spec!.nodeName!;
        // The same worker, the same Local PV directory on it: only the run's own subdirectory differs.
        expect(node2).toBe(node1!);
        await withClient(e2.clientConn(), async (c) => {
          expect((await c.query('show data_directory')).rows[0].data_directory).toBe(`/var/lib/statebench/${dir2}/pgdata`);
          expect((await c.query("select to_regclass('run1_marker') as t")).rows[0].t).toBeNull();
          await c.query('create table run2_marker (v int)');
          await c.query('insert into run2_marker values (2)');
        });
        expect(nodeVolumeEntries(node2)).toEqual([`data/${dir2}`]);

        // Our own watch of the helper pod, beside statebench's: when the API said it was Running.
        helperWatch = await new Watch(kc).watch(
          `/api/v1/namespaces/${ns2}/pods`,
          { labelSelector: 'statebench.helper=node-access' },
          (type: string, o: KubernetesObject & { spec?: { nodeName?: string }; status?: { phase?: string; containerStatuses?: { state?: { running?: object } }[] } }) => {
            helperSeen.push({ atMs: rt2.clock.now(), wallMs: Date.now(), type, phase: o.status?.phase, running: !!o.status?.containerStatuses?.[0]?.state?.running, nodeName: o.spec?.nodeName });
          },
          () => {},
        );

        const cycle = target2.faults[0];
        const fault = new FaultInjection(p2.faultMode!(cycle, { engine: e2, node: e2.nodes[0] })!);
        const injectedAtMs = rt2.clock.now();
        await fault.inject();
        await sleep(cycle.holdMs);
        await fault.recover();
        await fault.waitForRecovery(cycle.recoveryTimeoutMs);
        expect(fault.state).toBe('recovered');
        const t = (p2 as unknown as { faultTimeline(r: object): KubernetesFaultTimeline | undefined }).faultTimeline({ type: cycle.type, cycle: cycle.cycle, injectedAtMs })!;
        console.log(`[kind existing] kubelet-stop through the helper pod:\n  ${t.findings.join('\n  ')}\n  helper pod as watched: ${JSON.stringify(helperSeen)}`);

        // The action came once the API showed the helper pod Running on the member's node, a change only
        // that node's kubelet makes. Our watch and statebench's receive the same change a few ms apart,
        // so the order between them is not compared; what is: statebench acted after the last Pending
        // state reached us, and within a second of the Running one (it waited for that change, not for
        // a fixed time).
        const action = t.entries.find((e) => e.source === 'statebench' && e.what.startsWith('helper pod '));
        expect(action, JSON.stringify(t.entries)).toBeDefined();
        const running = helperSeen.find((h) => h.phase === 'Running' && h.running);
        expect(running, JSON.stringify(helperSeen)).toBeDefined();
        expect(running!.nodeName).toBe(node2);
        const pending = helperSeen.filter((h) => h.atMs < running!.atMs);
        expect(pending.length).toBeGreaterThan(0);
        expect(pending.every((h) => h.phase === 'Pending' && !h.running)).toBe(true);
        expect(action!.atMs).toBeGreaterThan(pending.at(-1)!.atMs);
        expect(Math.abs(action!.atMs - running!.atMs)).toBeLessThan(1_000);
        console.log(`[kind existing] helper pod: last Pending seen +${pending.at(-1)!.atMs.toFixed(0)} ms, Running seen +${running!.atMs.toFixed(0)} ms, statebench's action +${action!.atMs.toFixed(0)} ms`);
        // On the node: the kubelet began to stop after the pod was no longer Pending, and came back when
        // the node's timer fired.
        const kubelet = nodeExec(node2, ['systemctl', 'show', 'kubelet.service', '--timestamp=us+utc', '-p', 'ActiveExitTimestamp', '-p', 'ActiveEnterTimestamp', '-p', 'ActiveState']);
        console.log(`[kind existing] kubelet on ${node2}:\n${kubelet}\nRunning reached our watch at ${new Date(running!.wallMs).toISOString()}`);
        const stoppedAt = systemdTime(/^ActiveExitTimestamp=(.*)$/m.exec(kubelet)![1]);
        const startedAgainAt = systemdTime(/^ActiveEnterTimestamp=(.*)$/m.exec(kubelet)![1]);
        expect(kubelet).toMatch(/^ActiveState=active$/m);
        expect(stoppedAt).toBeGreaterThan(pending.at(-1)!.wallMs);
        expect(startedAgainAt - stoppedAt).toBeGreaterThanOrEqual(cycle.holdMs - 1_000);
        // What Kubernetes made of it: the node silent past the grace period, then Ready again.
        expect(t.kubeNode).toBe(node2);
        expect(t.nodeStatus).toMatchObject({ condition: 'Unknown', reason: 'NodeStatusUnknown' });
        expect(t.nodeStatus.notReadyAtMs).not.toBeNull();
        expect(t.nodeStatus.notReadyAtMs!).toBeGreaterThan(action!.atMs);
        expect(t.nodeStatus.readyAgainAtMs).not.toBeNull();
        expect(t.nodeStatus.readyAgainAtMs!).toBeGreaterThan(t.nodeStatus.notReadyAtMs!);
        expect(t.member.evictedAtMs).toBeNull();
        // The helper pod is gone once the node is back, and the data is still there.
        expect((await api.objects.list('v1', 'Pod', ns2, undefined, undefined, undefined, undefined, 'statebench.helper=node-access')).items).toEqual([]);
        await withClient(e2.clientConn(), async (c) => expect((await c.query('select v from run2_marker')).rows[0].v).toBe(2));
        await e2.stop();
      } finally {
        helperWatch?.abort();
        expect(await reg2.releaseAll()).toEqual([]);
      }
      for (const w of existing.workers) expect(nodeVolumeEntries(w), w).toEqual([]);
      expect(await runVolumesLeft(api)).toEqual([]);
    },
    600_000,
  );

  test(
    'Patroni ×3 with podManagement: ordered, run by the CLI: statefulset.ordered-startup passes on the pod watch',
    async () => {
      const out = join(existing.base, 'ordered-out');
      const profile = join(existing.base, 'ordered.yaml');
      writeFileSync(
        profile,
        `name: ordered-startup
targets:
  - name: existing/patroni-ordered
    platform: kubernetes
    context: ${existing.context}
    storage: { kind: local-pv, size: 1GiB }
    image: ${PATRONI}
    pull: never
    podManagement: ordered
engine:
  kind: patroni
  members: ${WORKERS}
  startTimeout: 240s
  settings: { shared_buffers: 32MB }
io: { enabled: false }
workloads:
  - kind: oltp-tpcb
    scale: 1
    clients: 2
    warmup: 1s
    duration: 5s
checks:
  - check: statefulset.ordered-startup
`,
      );
      const child = spawn(process.execPath, [join(ROOT, 'bin', 'statebench.js'), 'run', profile, '--out', out], {
        cwd: ROOT,
        env: { ...process.env, KUBECONFIG: existing.kubeconfig, STATEBENCH_HOME: join(existing.base, 'workspace') },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGTERM'), 540_000);
      const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
      clearTimeout(timer);
      const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as {
        status: string;
        targets: { status: string; error?: string; checks: { name: string; passed: boolean; message: string }[]; statefulSetStartup?: { podManagementPolicy: string; members: { pod: string; createdSeq: number | null; readySeq: number | null; createdAtMs: number | null; readyAtMs: number | null }[] } }[];
      };
      const t = summary.targets[0];
      console.log(`[kind existing] ordered startup: exit ${code}, ${JSON.stringify(t.checks)}\n${JSON.stringify(t.statefulSetStartup)}\n${stderr.split('\n').slice(-10).join('\n')}`);
      expect(code, stderr).toBe(0);
      expect(t.status, t.error).toBe('completed');
      expect(t.statefulSetStartup?.podManagementPolicy).toBe('OrderedReady');
      const m = t.statefulSetStartup!.members;
      expect(m.map((x) => x.pod)).toEqual(['pg-0', 'pg-1', 'pg-2']);
      // Seen by the watch: pg-1 created after pg-0 was Ready, pg-2 after pg-1.
      expect(m[1].createdSeq!).toBeGreaterThan(m[0].readySeq!);
      expect(m[2].createdSeq!).toBeGreaterThan(m[1].readySeq!);
      expect(t.checks).toEqual([expect.objectContaining({ name: 'statefulset.ordered-startup', passed: true })]);
      // Released: no run-labelled PV left, and nothing of the run in the workers' Local PV directories.
      const api = new KubeCluster(loadKubeConfig({ file: existing.kubeconfig }));
      for (const w of existing.workers) expect(nodeVolumeEntries(w), w).toEqual([]);
      expect(await runVolumesLeft(api)).toEqual([]);
    },
    600_000,
  );
});
