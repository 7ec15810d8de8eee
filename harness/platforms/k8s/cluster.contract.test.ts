// Contract tests against a fake API server (node:http on 127.0.0.1) that implements only the
// endpoints statebench uses: discovery, server-side apply, get/list/watch, delete, pod logs. The test
// plays the controllers and the kubelet by putting pod, job and event objects; the code under test
// talks to it through @kubernetes/client-node exactly as it would to a real cluster.
import { mkdtempSync, readFileSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { FakeApiServer, type StoredObject } from './testing/fake-apiserver.ts';
import { kubernetesTarget } from './testing/plan.ts';
import { KindCli, KubeCluster } from './cluster.ts';
import { renderManifests, runDir } from './render/manifests.ts';
import { KubernetesPlatform, extractFioJson, pickWorkerNodes, releaseKubernetesLeftover, K8S_NAMESPACE_RESOURCE } from './platform.ts';
import { NAMES, RUN_LABEL, selectorString } from './names.ts';
import { CleanupRegistry, unreleased } from '../../core/cleanup.ts';
import { RunClock } from '../../core/clock.ts';
import { FakeClock } from '../../testing/fake-clock.ts';
import { parseFio } from '../../io/probe.ts';
import type { TargetRuntime } from '../types.ts';
import { StatebenchError, WaitTimeoutError } from '../../errors.ts';

const RUN = '20261127-143022-ab12';
const PASSWORD = 'secret-value-never-printed';
/** Real stdout of fio 3.33 running fioArgs(): notes first, then the JSON document. */
const FIO_STDOUT = readFileSync(new URL('./testing/fio-stdout.txt', import.meta.url), 'utf8');
const FIO_JSON = FIO_STDOUT.slice(FIO_STDOUT.indexOf('{'));
const FIO_LOG = `fio: a warning on stderr\n${FIO_STDOUT}`;

/** The error a promise rejects with; fails the test if it resolves. */
async function failure(p: Promise<unknown>): Promise<StatebenchError> {
  try {
    await p;
  } catch (e) {
    return e as StatebenchError;
  }
  throw new Error('expected a rejection');
}

let api: FakeApiServer;
let dir: string;

beforeEach(async () => {
  api = await new FakeApiServer().start();
  dir = mkdtempSync(join(tmpdir(), 'statebench-k8s-'));
});

afterEach(async () => {
  await api.stop();
  rmSync(dir, { recursive: true, force: true });
});

function pod(ns: string, name: string, labels: Record<string, string>, status: StoredObject['status']): StoredObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns, labels }, spec: { containers: [{ name: 'db', image: 'statebench/postgres:latest' }] }, status };
}

const READY = { phase: 'Running', conditions: [{ type: 'PodScheduled', status: 'True' }, { type: 'Ready', status: 'True' }], containerStatuses: [{ name: 'db', ready: true, restartCount: 0, state: { running: {} } }] };

function event(ns: string, kind: string, name: string, type: string, reason: string, message: string, at = '2026-11-27T14:31:00Z'): StoredObject {
  return { apiVersion: 'v1', kind: 'Event', metadata: { name: `${name}.${reason}.${Math.random().toString(16).slice(2)}`, namespace: ns }, involvedObject: { kind, name, namespace: ns }, type, reason, message, lastTimestamp: at };
}

/** The kubelet's side, once the StatefulSet is applied: pods with the template's labels and `status`. */
function statefulSetCreatesPods(status: (i: number) => StoredObject['status']) {
  api.onApply = (obj, server) => {
    if (obj.kind !== 'StatefulSet') return;
    const spec = obj.spec as { replicas: number; template: { metadata: { labels: Record<string, string> } } };
    for (let i = 0; i < spec.replicas; i++) server.put(pod(obj.metadata.namespace!, `${obj.metadata.name}-${i}`, spec.template.metadata.labels, status(i)));
  };
}

function runtime(signal = new AbortController().signal): TargetRuntime & { events: { type: string; data?: object }[] } {
  const events: { type: string; data?: object }[] = [];
  return {
    registry: new CleanupRegistry(),
    clock: new RunClock(),
    stateDir: join(dir, 'state'),
    artifactsDir: dir,
    event: (type, data) => events.push({ type, data }),
    status: () => {},
    signal,
    events,
  };
}

describe('apply (fake API server: discovery + server-side apply)', () => {
  test('every manifest is sent as a server-side apply with field manager statebench and force, and arrives intact', async () => {
    const t = kubernetesTarget({ engine: { kind: 'patroni', members: 3 } });
    const m = renderManifests(t, RUN, { nodes: ['w1', 'w2', 'w3'], password: PASSWORD });
    await new KubeCluster(api.kubeConfig()).apply([...m.base, ...m.engine]);

    const patches = api.requests.filter((r) => r.method === 'PATCH');
    expect(patches).toHaveLength(m.base.length + m.engine.length);
    for (const p of patches) {
      expect(p.contentType).toBe('application/apply-patch+yaml');
      expect(p.query).toMatchObject({ fieldManager: 'statebench', force: 'true' });
    }
    // The client's serialiser must not drop or rename any field we rendered.
    for (const o of [...m.base, ...m.engine]) {
      const sent = patches.find((p) => (p.body as StoredObject).kind === o.kind && (p.body as StoredObject).metadata.name === o.metadata!.name)!.body;
      expect(sent, `${o.kind} ${o.metadata!.name}`).toEqual(o);
    }
    expect(api.requests.some((r) => r.path === '/apis/apps/v1')).toBe(true);
  });

  test('a refused apply names the object and the server’s reason, and never the password', async () => {
    const m = renderManifests(kubernetesTarget(), RUN, { nodes: ['w1', 'w2', 'w3'], password: PASSWORD });
    api.rejectApply = (o) => (o.kind === 'Secret' ? { code: 422, reason: 'Invalid', message: 'Secret "pg-credentials" is invalid: data: Too long' } : undefined);
    const err = await failure(new KubeCluster(api.kubeConfig()).apply([...m.base, ...m.engine]));
    expect(err).toBeInstanceOf(StatebenchError);
    expect(err.message).toMatch(/^applying Secret statebench-.*\/pg-credentials failed: 422 Invalid: Secret "pg-credentials" is invalid: data: Too long$/);
    expect(err.hint).toMatch(/plan --render/);
    expect(`${err.message} ${err.hint}`).not.toContain(PASSWORD);
  });
});

describe('waits (fake API server: list + watch)', () => {
  const ns = 'statebench-wait';
  const labels = { 'app.kubernetes.io/name': 'statebench-db', [RUN_LABEL]: RUN };
  const selector = selectorString(labels);

  test('resolves when the pods turn ready, driven by watch events', async () => {
    api.put(pod(ns, 'pg-0', labels, { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'True' }] }));
    const waiting = new KubeCluster(api.kubeConfig()).waitForPods(ns, selector, { count: 1 }, { timeoutMs: 10_000 });
    setTimeout(() => api.update('v1', 'Pod', ns, 'pg-0', (p) => (p.status = READY)), 150);
    const pods = await waiting;
    expect(pods.map((p) => p.metadata?.name)).toEqual(['pg-0']);
    expect(api.requests.some((r) => r.query.watch === 'true' && r.query.labelSelector === selector)).toBe(true);
  });

  test('waits for the leader label too when asked, and resumes after the server ends the watch', async () => {
    for (let i = 0; i < 3; i++) api.put(pod(ns, `pg-${i}`, labels, READY));
    const waiting = new KubeCluster(api.kubeConfig()).waitForPods(ns, selector, { count: 3, leader: { label: 'role', value: 'master' } }, { timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 150));
    api.closeWatches();
    await new Promise((r) => setTimeout(r, 300));
    api.update('v1', 'Pod', ns, 'pg-1', (p) => (p.metadata.labels = { ...p.metadata.labels, role: 'master' }));
    const pods = await waiting;
    expect(pods).toHaveLength(3);
    expect(api.requests.filter((r) => r.query.watch === 'true').length).toBeGreaterThanOrEqual(2);
  });

  test('a PVC that never binds: the timeout says which pod is Pending and why, with the scheduler’s words', async () => {
    const unschedulable = '0/3 nodes are available: 3 node(s) didn\'t find available persistent volumes to bind. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.';
    api.put(pod(ns, 'pg-0', labels, { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: unschedulable }] }));
    api.put({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'data-pg-0', namespace: ns }, status: { phase: 'Pending' } });
    api.put(event(ns, 'PersistentVolumeClaim', 'data-pg-0', 'Normal', 'WaitForFirstConsumer', 'waiting for first consumer to be created before binding'));
    api.put(event(ns, 'Pod', 'pg-0', 'Warning', 'FailedScheduling', unschedulable));

    const started = performance.now();
    const err = await failure(new KubeCluster(api.kubeConfig()).waitForPods(ns, selector, { count: 1 }, { timeoutMs: 400 }));
    expect(performance.now() - started).toBeGreaterThanOrEqual(390);
    expect(err).toBeInstanceOf(StatebenchError);
    expect(err).toBeInstanceOf(WaitTimeoutError);
    expect(err.message).toContain(`timed out after 400 ms waiting for 1 ready pod (${selector}) in namespace ${ns} (`);
    expect(err.message).toMatch(/ looks?\); last seen: the cluster says:\n/);
    expect(err.message).toContain("pod pg-0 Pending: 0/3 nodes are available: 3 node(s) didn't find available persistent volumes to bind.");
    expect(err.message).toContain('pvc data-pg-0 Pending: waiting for first consumer to be created before binding');
    expect(err.hint).toMatch(/Local PVs bind only on the node that holds them/);
  });

  test('an image that cannot be pulled: the timeout names the container, the reason and the image', async () => {
    api.put(
      pod(ns, 'pg-0', labels, {
        phase: 'Pending',
        conditions: [{ type: 'PodScheduled', status: 'True' }, { type: 'Ready', status: 'False', reason: 'ContainersNotReady' }],
        containerStatuses: [{ name: 'db', image: 'statebench/postgres:latest', ready: false, restartCount: 0, state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "statebench/postgres:latest"' } } }],
      }),
    );
    const err = await failure(new KubeCluster(api.kubeConfig()).waitForPods(ns, selector, { count: 1 }, { timeoutMs: 300 }));
    expect(err.message).toContain('pod pg-0 container db ImagePullBackOff: Back-off pulling image "statebench/postgres:latest"');
    expect(err.hint).toContain('The image statebench/postgres:latest must be on every node');
    expect(err.hint).toContain('kind load docker-image');
  });

  test('an image kind may never pull fails at once instead of waiting out the timeout', async () => {
    api.put(
      pod(ns, 'pg-0', labels, {
        phase: 'Pending',
        conditions: [{ type: 'PodScheduled', status: 'True' }],
        containerStatuses: [{ name: 'db', image: 'statebench/postgres:latest', ready: false, state: { waiting: { reason: 'ErrImageNeverPull', message: 'Container image "statebench/postgres:latest" is not present with pull policy of Never' } } }],
      }),
    );
    const started = performance.now();
    const err = await failure(new KubeCluster(api.kubeConfig()).waitForPods(ns, selector, { count: 1 }, { timeoutMs: 30_000 }));
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(err.message).toMatch(/cannot succeed:\n {2}pod pg-0 container db ErrImageNeverPull: Container image "statebench\/postgres:latest" is not present/);
  });

  test('a crash-looping container: the timeout quotes the restarts, exit code and last termination message', async () => {
    api.put(
      pod(ns, 'pg-0', labels, {
        phase: 'Running',
        conditions: [{ type: 'PodScheduled', status: 'True' }, { type: 'Ready', status: 'False' }],
        containerStatuses: [
          {
            name: 'db',
            ready: false,
            restartCount: 4,
            state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 1m20s restarting failed container=db pod=pg-0' } },
            lastState: { terminated: { exitCode: 1, reason: 'Error', message: 'initdb: warning\nFATAL:  data directory "/var/lib/statebench/pgdata" has invalid permissions\nDETAIL:  Permissions should be u=rwx (0700).\n' } },
          },
        ],
      }),
    );
    const err = await failure(new KubeCluster(api.kubeConfig()).waitForPods(ns, selector, { count: 1 }, { timeoutMs: 300 }));
    expect(err.message).toContain(
      'pod pg-0 container db CrashLoopBackOff after 4 restarts; last exit code 1 (Error): initdb: warning | FATAL:  data directory "/var/lib/statebench/pgdata" has invalid permissions | DETAIL:  Permissions should be u=rwx (0700).',
    );
    expect(err.hint).toContain(`kubectl logs -n ${ns} pg-0 -c db --previous`);
  });

  test('no pods at all: the owner’s warning events say why', async () => {
    api.put(event(ns, 'StatefulSet', 'pg', 'Warning', 'FailedCreate', 'create Pod pg-0 in StatefulSet pg failed error: pods "pg-0" is forbidden: error looking up service account ns/pg-patroni: serviceaccount "pg-patroni" not found'));
    const err = await failure(new KubeCluster(api.kubeConfig()).waitForPods(ns, selector, { count: 1, owner: { kind: 'StatefulSet', name: 'pg' } }, { timeoutMs: 300 }));
    expect(err.message).toContain(`no pod matches ${selector} in namespace ${ns}; StatefulSet pg: FailedCreate: create Pod pg-0 in StatefulSet pg failed`);
  });

  test('on the fake clock a ten-minute wait times out without waiting, and still carries the diagnosis', async () => {
    api.put(pod(ns, 'pg-0', labels, { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available' }] }));
    const clock = new FakeClock();
    const err = await failure(new KubeCluster(api.kubeConfig(), { clock }).waitForPods(ns, selector, { count: 1 }, { timeoutMs: 600_000 }));
    expect(err).toBeInstanceOf(WaitTimeoutError);
    expect(err.message).toContain(`timed out after 600000 ms waiting for 1 ready pod (${selector}) in namespace ${ns} (`);
    expect(err.message).toContain('pod pg-0 Pending: 0/3 nodes are available');
    expect(clock.now()).toBe(600_000);
  });

  test('an aborted run stops the wait at once', async () => {
    const ctl = new AbortController();
    const waiting = new KubeCluster(api.kubeConfig()).waitForPods(ns, selector, { count: 1 }, { timeoutMs: 30_000, signal: ctl.signal });
    setTimeout(() => ctl.abort(new Error('SIGINT')), 100);
    await expect(waiting).rejects.toThrow('SIGINT');
  });
});

describe('the kubernetes platform (fake API server as the existing cluster)', () => {
  function jobRuns(outcome: (name: string) => { succeeded: boolean; log: string }) {
    api.onApply = (obj, server) => {
      if (obj.kind !== 'Job') return;
      const ns = obj.metadata.namespace!;
      const name = obj.metadata.name;
      const result = outcome(name);
      setTimeout(() => {
        server.put(pod(ns, `${name}-x7k2p`, { 'job-name': name }, { phase: result.succeeded ? 'Succeeded' : 'Failed' }));
        server.setLog(ns, `${name}-x7k2p`, 'fio', result.log);
        server.update('batch/v1', 'Job', ns, name, (j) => {
          j.status = result.succeeded ? { succeeded: 1 } : { failed: 1, conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' }] };
        });
      }, 50);
    };
  }

  test('provision applies the namespace; probeIo runs fio as a Job, parses its log like bare metal and cleans up', async () => {
    const t = kubernetesTarget({ platform: 'kubernetes', storage: { kind: 'remote', storageClass: 'vendor-replicated', size: '2GiB' } });
    jobRuns(() => ({ succeeded: true, log: FIO_LOG }));
    const rt = runtime();
    const provisioned = await new KubernetesPlatform('kubernetes', { kubeConfig: api.kubeConfig(), runId: RUN }).provision(t, rt);
    expect(api.list('Namespace').map((n) => n.metadata.labels?.[RUN_LABEL])).toEqual([RUN]);

    const io = await provisioned.probeIo();
    const expected = parseFio(FIO_JSON, io.path, 'fio-3.33', 'fio.json');
    expect(io).toEqual(expected);
    expect(io.path).toContain('vendor-replicated');
    expect(JSON.parse(readFileSync(join(dir, 'fio.json'), 'utf8'))).toEqual(JSON.parse(FIO_JSON));
    // The Job and its claim are gone once the figures are in.
    expect(api.list('Job')).toHaveLength(0);
    expect(api.list('PersistentVolumeClaim')).toHaveLength(0);
    const applied = api.requests.filter((r) => r.method === 'PATCH').map((r) => `${(r.body as StoredObject).kind}/${(r.body as StoredObject).metadata.name}`);
    expect(applied).toEqual([expect.stringMatching(/^Namespace\//), `PersistentVolumeClaim/${NAMES.fioClaim}`, 'Job/fio-direct']);
    expect(await provisioned.describe()).toMatchObject({ platform: 'kubernetes', storageClass: 'vendor-replicated', context: 'fake', kubernetesVersion: 'v1.31.0-fake' });
  });

  test('probeIo falls back to buffered I/O when the volume refuses O_DIRECT, as on bare metal', async () => {
    const t = kubernetesTarget({ platform: 'kubernetes', storage: { kind: 'remote', storageClass: 'nfs', size: '2GiB' } });
    jobRuns((name) => (name === 'fio-direct' ? { succeeded: false, log: 'fio: looks like your file system does not support direct=1/buffered=0\nfio: destination does not support O_DIRECT\n' } : { succeeded: true, log: FIO_LOG }));
    const provisioned = await new KubernetesPlatform('kubernetes', { kubeConfig: api.kubeConfig(), runId: RUN }).provision(t, runtime());
    const io = await provisioned.probeIo();
    expect(io.seqWriteMiBps).toBeGreaterThan(0);
    const jobs = api.requests.filter((r) => r.method === 'PATCH' && (r.body as StoredObject).kind === 'Job').map((r) => (r.body as StoredObject).metadata.name);
    expect(jobs).toEqual(['fio-direct', 'fio-buffered']);
  });

  test('a failing fio Job is an error quoting the end of its log', async () => {
    const t = kubernetesTarget({ platform: 'kubernetes', storage: { kind: 'remote', storageClass: 'nfs', size: '2GiB' } });
    jobRuns(() => ({ succeeded: false, log: 'exec: "fio": executable file not found in $PATH\n' }));
    const provisioned = await new KubernetesPlatform('kubernetes', { kubeConfig: api.kubeConfig(), runId: RUN }).provision(t, runtime());
    await expect(provisioned.probeIo()).rejects.toThrow(/fio Job .*\/fio-direct failed \(BackoffLimitExceeded: Job has reached the specified backoff limit\); its log ends: exec: "fio": executable file not found/);
    expect(api.list('PersistentVolumeClaim')).toHaveLength(0);
  });

  test('deployEngine applies the engine and, when the volumes never bind, fails with the scheduler’s reason', async () => {
    const t = kubernetesTarget({ platform: 'kubernetes', storage: { kind: 'local-pv', size: '2GiB' }, engine: { kind: 'patroni', members: 3, startTimeout: '400ms' } });
    for (const [name, labels] of [['cp', { 'node-role.kubernetes.io/control-plane': '' }], ['w1', {}], ['w2', {}], ['w3', {}]] as const) {
      api.put({ apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { ...labels } } });
    }
    statefulSetCreatesPods(() => ({ phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: "0/4 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 3 node(s) didn't find available persistent volumes to bind." }] }));
    const rt = runtime();
    const provisioned = await new KubernetesPlatform('kubernetes', { kubeConfig: api.kubeConfig(), runId: RUN, schedulingMarginMs: 0 }).provision(t, rt);
    // Local PVs went to the workers, one per member, never to the control plane.
    const pinned = api.list('PersistentVolume').map((pv) => (pv.spec as { nodeAffinity: { required: { nodeSelectorTerms: { matchExpressions: { values: string[] }[] }[] } } }).nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0]);
    expect([...new Set(pinned)].sort()).toEqual(['w1', 'w2', 'w3']);

    const err = await failure(provisioned.deployEngine());
    expect(err).toBeInstanceOf(StatebenchError);
    expect(err.message).toContain("pod pg-0 Pending: 0/4 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 3 node(s) didn't find available persistent volumes to bind.");
    expect(api.list('StatefulSet')).toHaveLength(1);

    // Releasing the run deletes its namespace and its cluster-scoped objects, not anything else.
    api.put({ apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: 'someone-elses', labels: { team: 'x' } } });
    expect(await rt.registry.releaseAll()).toEqual([]);
    expect(api.list('Namespace')).toHaveLength(0);
    expect(api.list('StorageClass')).toHaveLength(0);
    expect(api.list('PersistentVolume').map((p) => p.metadata.name)).toEqual(['someone-elses']);
  });
});

test('after a killed run, the journal record alone lets clean delete its namespace and PVs (fake API server)', async () => {
  const t = kubernetesTarget({ platform: 'kubernetes', storage: { kind: 'local-pv', size: '2GiB' } });
  api.put({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'w1' } });
  const journal = join(dir, 'resources.jsonl');
  const rt = { ...runtime(), registry: new CleanupRegistry(journal) };
  await new KubernetesPlatform('kubernetes', { kubeConfig: api.kubeConfig(), runId: RUN }).provision(t, rt);
  expect(api.list('PersistentVolume').length).toBeGreaterThan(0);

  // The process is gone; only the journal remains. clean reads the kubeconfig like any kubectl.
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, api.kubeConfig().exportConfig());
  // The member ran: its claim is bound to a Local PV, whose directory outlives the PV object on the node.
  const ns = api.list('Namespace')[0].metadata.name;
  api.put({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'data-pg-0', namespace: ns }, spec: { volumeName: api.list('PersistentVolume')[0].metadata.name }, status: { phase: 'Bound' } });
  // The kubelet runs the wipe pod to completion.
  api.onApply = (obj, server) => {
    if (obj.kind === 'Pod') setTimeout(() => server.update('v1', 'Pod', ns, obj.metadata.name, (p) => (p.status = { phase: 'Succeeded' })), 50);
  };
  const records = unreleased(journal);
  expect(records.map((r) => r.kind)).toEqual([K8S_NAMESPACE_RESOURCE]);
  const saved = process.env.KUBECONFIG;
  process.env.KUBECONFIG = kubeconfig;
  try {
    expect(await releaseKubernetesLeftover(records[0])).toBe(true);
  } finally {
    if (saved === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = saved;
  }
  expect(api.list('Namespace')).toHaveLength(0);
  expect(api.list('PersistentVolume')).toHaveLength(0);
  expect(api.list('StorageClass')).toHaveLength(0);
  // The run's directory on the Local PV was removed through its claim before the namespace went, so the
  // next run on this node never finds (or adopts) this run's PGDATA.
  const wipe = api.requests.findIndex((r) => r.method === 'PATCH' && r.path.endsWith('/pods/statebench-wipe-0'));
  const nsDelete = api.requests.findIndex((r) => r.method === 'DELETE' && r.path.endsWith(`/namespaces/${ns}`));
  expect(wipe).toBeGreaterThanOrEqual(0);
  expect(wipe).toBeLessThan(nsDelete);
  const pod = api.requests[wipe].body as { spec: { containers: { command: string[] }[]; volumes: { persistentVolumeClaim: { claimName: string } }[] } };
  expect(pod.spec.containers[0].command).toEqual(['rm', '-rf', '--', `/volume/${runDir(t, RUN)}`]);
  expect(pod.spec.volumes[0].persistentVolumeClaim.claimName).toBe('data-pg-0');
  expect(await releaseKubernetesLeftover({ kind: 'dir', id: '/x', what: 'x' })).toBe(false);
});

test('existing clusters: Local PVs go on schedulable workers, matched by their kubernetes.io/hostname label', () => {
  const node = (name: string, o: { hostname?: string; cp?: boolean; cordoned?: boolean; taint?: string } = {}) => ({
    metadata: { name, labels: { ...(o.hostname ? { 'kubernetes.io/hostname': o.hostname } : {}), ...(o.cp ? { 'node-role.kubernetes.io/control-plane': '' } : {}) } },
    spec: { ...(o.cordoned ? { unschedulable: true } : {}), ...(o.taint ? { taints: [{ key: 'dedicated', effect: o.taint }] } : {}) },
  });
  const picked = pickWorkerNodes(
    [
      node('cp', { cp: true, hostname: 'cp' }),
      node('ip-10-0-1-5.ec2.internal', { hostname: 'worker-a' }),
      node('ip-10-0-1-6.ec2.internal', { hostname: 'worker-b', cordoned: true }),
      node('ip-10-0-1-7.ec2.internal', { hostname: 'worker-c', taint: 'NoSchedule' }),
      node('ip-10-0-1-8.ec2.internal', { hostname: 'worker-d', taint: 'PreferNoSchedule' }),
    ],
    3,
  );
  expect(picked.names).toEqual(['ip-10-0-1-5.ec2.internal', 'ip-10-0-1-8.ec2.internal']);
  expect(picked.hostnames).toEqual({ 'ip-10-0-1-5.ec2.internal': 'worker-a', 'ip-10-0-1-8.ec2.internal': 'worker-d' });
  expect(picked.skipped).toEqual(['ip-10-0-1-6.ec2.internal (cordoned)', 'ip-10-0-1-7.ec2.internal (tainted dedicated:NoSchedule)']);
});

describe('kind CLI (recorded commands)', () => {
  test('create registers the cluster before it starts, and a failed create deletes what kind left', async () => {
    const calls: string[][] = [];
    const kind = new KindCli(async (cmd, args) => {
      calls.push([cmd, ...args]);
      if (args[0] === 'create') throw new Error('ERROR: failed to create cluster: node image not present');
      return { stdout: '', stderr: '' };
    });
    const registry = new CleanupRegistry(join(dir, 'resources.jsonl'));
    const err = await failure(kind.createCluster(registry, { name: 'statebench-r-ab12', configFile: '/c.yaml', kubeconfigFile: '/k' }));
    expect(err.message).toContain('creating kind cluster statebench-r-ab12 failed');
    expect(calls).toEqual([
      ['kind', 'create', 'cluster', '--name', 'statebench-r-ab12', '--config', '/c.yaml', '--kubeconfig', '/k', '--wait', '180s'],
      ['kind', 'delete', 'cluster', '--name', 'statebench-r-ab12', '--kubeconfig', '/k'],
    ]);
    const journal = readFileSync(join(dir, 'resources.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(journal[0]).toMatchObject({ op: 'add', kind: 'cluster', id: 'statebench-r-ab12' });
    expect(journal.at(-1)).toMatchObject({ op: 'release' });
    expect(registry.size).toBe(0);
  });

  test('a created cluster is deleted by the registry; images are loaded by name', async () => {
    const calls: string[][] = [];
    const kind = new KindCli(async (cmd, args) => {
      calls.push([cmd, ...args]);
      return { stdout: '', stderr: '' };
    });
    const registry = new CleanupRegistry();
    await kind.createCluster(registry, { name: 'statebench-r-cd34', configFile: '/c.yaml', kubeconfigFile: '/k' });
    await kind.loadImage('statebench-r-cd34', 'statebench/postgres:latest');
    expect(registry.size).toBe(1);
    await registry.releaseAll();
    expect(calls.slice(1)).toEqual([
      ['kind', 'load', 'docker-image', 'statebench/postgres:latest', '--name', 'statebench-r-cd34'],
      ['kind', 'delete', 'cluster', '--name', 'statebench-r-cd34', '--kubeconfig', '/k'],
    ]);
  });
});

test('fio JSON is found in a pod log with warnings around it', () => {
  const { json, version } = extractFioJson(`${FIO_LOG}\nfio: some trailing warning\n`);
  expect(version).toBe('fio-3.33');
  expect(JSON.parse(json)['fio version']).toBe('fio-3.33');
  expect(() => extractFioJson('fio: no such file\n')).toThrow(/fio printed no JSON document; its log ends: fio: no such file/);
  expect(existsSync(new URL('./testing/fio-stdout.txt', import.meta.url))).toBe(true);
});
