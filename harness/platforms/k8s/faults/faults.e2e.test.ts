// Fault modes of kind and existing clusters, against the fake API server (node:http on 127.0.0.1; the
// test plays the kubelet and the controllers by putting objects) and a recorded docker CLI that keeps
// the state of each kind node container (running, paused, kubelet, address) the way docker would:
// which commands are run, with which arguments, in which order, and what each state transition does —
// inject, propagation, recover, recovery, and cleanup of a fault left active or half-injected.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { Pod } from 'kubernetes-models/v1/Pod';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { FakeApiServer, type StoredObject } from '../testing/fake-apiserver.ts';
import { FakeDocker } from '../testing/fake-docker.ts';
import { kubernetesTarget } from '../testing/plan.ts';
import { KubeCluster } from '../cluster.ts';
import { KubernetesTimeline } from '../timeline/recorder.ts';
import { KIND_FAULT_TYPES, KUBERNETES_FAULT_TYPES, kubernetesFaultMode } from './faults.ts';
import { NODE_ACCESS_SCRIPT, helperPod, HELPER_ACTION_COMMAND, HELPER_IDLE, observerClusterRole, runtimeUnit } from './node-access.ts';
import { PRIMARY_PROBE_SCRIPT, KindNodeContainer, dockerExec, kindNodeControl } from './kind-node.ts';
import { postmastersOn } from './postmasters.ts';
import { policyTolerations, withFaultPolicy, type KubernetesFaultPolicy } from './policy.ts';
import type { KubernetesFaultContext } from './member-cycle.ts';
import { KubernetesPlatform } from '../platform.ts';
import { renderManifests } from '../render/manifests.ts';
import { validateAll } from '../render/validate.ts';
import { LEADER_LABEL_VALUE, ROLE_LABEL } from '../names.ts';
import { FaultInjection } from '../../../fault/fault.ts';
import { FaultSchedule } from '../../../fault/schedule.ts';
import { CAPABILITIES } from '../../../model/capabilities.ts';
import type { FaultCycle } from '../../../model/plan.ts';
import type { DeployedEngine, EngineNode } from '../../../engine/types.ts';
import type { TargetRuntime } from '../../types.ts';
import { RunClock } from '../../../core/clock.ts';
import { CleanupRegistry } from '../../../core/cleanup.ts';
import { StatebenchError } from '../../../errors.ts';
import { deployBareMetalPostgres, resolveBinDir, type BareMetalPostgres } from '../../baremetal/platform.ts';

const RUN = '20261127-143022-ab12';
const NS = 'statebench-test-ns';
const WORKERS = ['sb-worker', 'sb-worker2', 'sb-worker3'];
const POD_UID = '6f1c2d3e-4a5b-4c6d-8e7f-901a2b3c4d5e';

let api: FakeApiServer;
let docker: FakeDocker;
let timeline: KubernetesTimeline;
let clock: RunClock;
let events: { type: string; data: object }[];

function node(name: string, ready = true, ip = '172.18.0.3'): StoredObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name },
    status: {
      conditions: [ready ? { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status' } : { type: 'Ready', status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.' }],
      addresses: [{ type: 'InternalIP', address: ip }],
      nodeInfo: { containerRuntimeVersion: 'containerd://1.7.18' },
    },
  };
}

function memberPod(uid: string, onNode: string, ready = true): StoredObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'pg-0', namespace: NS, uid, labels: { app: 'db' } },
    spec: { nodeName: onNode, volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data-pg-0' } }] },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }], containerStatuses: [{ name: 'db', ready, started: true, restartCount: 0, state: { running: {} } }] },
  };
}

function cycleOf(type: FaultCycle['type'], holdMs = 200): FaultCycle {
  return { faultIndex: 0, cycle: 0, type, target: 'primary', atMs: 0, holdMs, errorRate: 0.1, recoveryTimeoutMs: 10_000 };
}

const healthy: string[] = [];
/** The member pg-0, whose verbs are kind's: its worker node container, found through the API server. */
let member: EngineNode;
let engine: DeployedEngine;

function context(over: Partial<KubernetesFaultContext> & { platform?: 'kind' | 'kubernetes'; policy?: KubernetesFaultPolicy } = {}): KubernetesFaultContext {
  const platform = over.platform ?? 'kind';
  return {
    platform,
    target: kubernetesTarget({ platform }),
    runId: RUN,
    namespace: NS,
    cluster: new KubeCluster(api.kubeConfig()),
    timeline,
    clock,
    policy: { nodeAccess: 'none' },
    exec: docker.exec,
    kindWorkers: WORKERS,
    image: 'statebench/postgres:latest',
    pullPolicy: 'Never',
    labels: { 'statebench.run': RUN },
    podOf: () => 'pg-0',
    memberAnswers: async () => true,
    probeIntervalMs: 50,
    propagationTimeoutMs: 3_000,
    ...over,
  };
}

function modeFor(type: FaultCycle['type'], over: Parameters<typeof context>[0] = {}, holdMs?: number) {
  const mode = kubernetesFaultMode(cycleOf(type, holdMs), { engine, node: member }, context(over));
  if (!mode) throw new Error(`no mode for ${type}`);
  return new FaultInjection(mode);
}

async function failure(p: Promise<unknown>): Promise<StatebenchError> {
  try {
    await p;
  } catch (e) {
    return e as StatebenchError;
  }
  throw new Error('expected a rejection');
}

const deletes = () => api.requests.filter((r) => r.method === 'DELETE');

beforeEach(async () => {
  api = await new FakeApiServer().start();
  docker = new FakeDocker(WORKERS);
  member = {
    name: 'node-0',
    conn: { host: '127.0.0.1', port: 1, user: 'postgres', database: 'postgres' },
    control: kindNodeControl({ docker: docker.exec, cluster: new KubeCluster(api.kubeConfig()), namespace: NS, pod: 'pg-0', workers: WORKERS }),
  };
  engine = {
    kind: 'postgres',
    nodes: [member],
    clientConn: () => member.conn,
    primary: async () => member,
    awaitHealthy: async () => void healthy.push('healthy'),
    version: async () => 'PostgreSQL 15.10',
    stop: async () => {},
  };
  clock = new RunClock();
  events = [];
  healthy.length = 0;
  WORKERS.forEach((w, i) => api.put(node(w, true, `172.18.0.${3 + i}`)));
  api.put(memberPod(POD_UID, WORKERS[0]));
  timeline = new KubernetesTimeline({ kubeConfig: api.kubeConfig(), namespace: NS, podSelector: 'app=db', clock, leaderLabel: null, onEvent: (type, data) => events.push({ type, data }) });
  await timeline.start();
});

afterEach(async () => {
  await timeline.stop();
  await api.stop();
});

/** The StatefulSet controller and the kubelet: a deleted pg-0 comes back with a new uid, Ready. */
function statefulSetRecreates(onNode = WORKERS[0]) {
  const t = setInterval(() => {
    if (!api.get('v1', 'Pod', NS, 'pg-0')) {
      api.put(memberPod('replacement-uid-0001', onNode));
      clearInterval(t);
    }
  }, 20);
  return () => clearInterval(t);
}

describe('pod-delete and pod-force-delete', () => {
  test('pod-delete: a graceful delete, recovered when the replacement is Ready and the engine writes', async () => {
    const stop = statefulSetRecreates();
    const f = modeFor('pod-delete');
    await f.inject();
    expect(f.state).toBe('active');
    const [del] = deletes();
    expect(del).toMatchObject({ path: `/api/v1/namespaces/${NS}/pods/pg-0` });
    expect(del.query.gracePeriodSeconds).toBeUndefined();
    await f.recover();
    await f.waitForRecovery(5_000);
    stop();
    expect(healthy).toEqual(['healthy']);
    const t = timeline.cycles()[0];
    expect(t).toMatchObject({ type: 'pod-delete', pod: 'pg-0', kubeNode: WORKERS[0] });
    expect(t.member.deletedBy).toBe('statebench');
    expect(t.replacement).toMatchObject({ uid: 'replacement-uid-0001', kubeNode: WORKERS[0] });
    expect(t.replacement!.readyAtMs).not.toBeNull();
    expect(t.healthyAtMs).not.toBeNull();
    expect(events.map((e) => (e.data as { what: string }).what)).toEqual(['delete']);
  });

  test('pod-force-delete sends gracePeriodSeconds=0', async () => {
    const stop = statefulSetRecreates();
    const f = modeFor('pod-force-delete');
    await f.inject();
    expect(deletes()[0].query).toMatchObject({ gracePeriodSeconds: '0' });
    await f.recover();
    await f.waitForRecovery(5_000);
    stop();
    expect(timeline.cycles()[0].entries[0].what).toBe('force-delete: pg-0 with gracePeriodSeconds=0');
  });

  test('pod-force-delete on a Local PV: two postmasters on one data directory are a data-safety exposure, not an ordinary fault', async () => {
    // What `ps` in the kind node shows: the old server, which the kubelet has not killed yet, and the
    // replacement's, started on the same directory of the same Local PV.
    const pgdata = '/var/lib/statebench/sb-x/pgdata';
    const old = `  812   790 /usr/lib/postgresql/15/bin/postgres -D ${pgdata}\n  815   812 postgres: checkpointer\n  816   812 postgres: walwriter`;
    const both = `${old}\n 1210  1190 /usr/lib/postgresql/15/bin/postgres -D ${pgdata}\n 1213  1210 postgres: checkpointer`;
    docker.psOutputs = [both, `  1210  1190 /usr/lib/postgresql/15/bin/postgres -D ${pgdata}`];
    const stop = statefulSetRecreates();
    const f = modeFor('pod-force-delete', { pgdata });
    await f.inject();
    await f.recover();
    await f.waitForRecovery(5_000);
    stop();
    const t = timeline.cycles()[0];
    expect(t.dataSafety?.detail).toBe(`on ${pgdata} on ${WORKERS[0]} at once (pids 812, 1210 in the node): the force delete let the replacement start before the old server was gone`);
    expect(t.findings.find((x) => x.startsWith('DATA-SAFETY EXPOSURE of the force delete'))).toMatch(/StatefulSet force-delete hazard, not an ordinary fault/);
    // A graceful delete never looks: the kubelet stops the old server before the replacement exists.
    expect(postmastersOn(both, pgdata)).toEqual([812, 1210]);
    expect(postmastersOn(both, '/other')).toEqual([]);
  });

  test('a pod already being deleted is refused before anything is done', async () => {
    api.update('v1', 'Pod', NS, 'pg-0', (p) => (p.metadata.deletionTimestamp = '2026-11-27T14:31:00Z'));
    await timeline.waitFor('deletion seen', () => (timeline.get('Pod', 'pg-0')?.metadata?.deletionTimestamp ? true : undefined), { timeoutMs: 2_000 });
    const f = modeFor('pod-delete');
    expect((await failure(f.inject())).message).toBe('pod-delete: pod pg-0 is already being deleted; the previous cycle has not recovered');
    expect(deletes()).toEqual([]);
  });
});

describe('kind node faults (docker)', () => {
  test('node-crash: docker kill of the pod\'s worker, docker start after the hold; the new address is awaited and reported', async () => {
    docker.nodes.get(WORKERS[0])!.nextIp = '172.18.0.9';
    // The kubelet of the restarted node registers its new InternalIP.
    docker.after = (args) => {
      if (args[0] === 'start') setTimeout(() => api.put(node(WORKERS[0], true, '172.18.0.9')), 100);
    };
    const f = modeFor('node-crash');
    await f.inject();
    expect(docker.nodes.get(WORKERS[0])!.running).toBe(false);
    await f.recover();
    await f.waitForRecovery(5_000);
    expect(docker.actions()).toEqual([`kill --signal KILL ${WORKERS[0]}`, `start ${WORKERS[0]}`]);
    // Through the member's verbs, which are up again.
    expect(member.control.running).toBe(true);
    expect(docker.calls[0]).toEqual(['docker', 'inspect', '--format', '{{json .State}}', WORKERS[0]]);
    expect(docker.calls[1]).toEqual(['docker', 'inspect', '--format', '{{json .NetworkSettings.Networks}}', WORKERS[0]]);
    const t = timeline.cycles()[0];
    expect(t.nodeStatus.address).toEqual({ before: '172.18.0.3', after: '172.18.0.9', atMs: expect.any(Number) });
    expect(t.entries.filter((e) => e.source === 'statebench').map((e) => e.what)).toEqual([
      `docker kill --signal KILL: ${WORKERS[0]} (address 172.18.0.3)`,
      `docker start: ${WORKERS[0]}`,
      "node address changed: 172.18.0.3 → 172.18.0.9; kind's entrypoint points the kubelet's --node-ip at the new address",
    ]);
  });

  test('node-crash: recovery waits for the Node to report the new address, and says so when it never does', async () => {
    docker.nodes.get(WORKERS[0])!.nextIp = '172.18.0.9';
    const f = modeFor('node-crash');
    await f.inject();
    await f.recover();
    const e = await failure(f.waitForRecovery(1_500));
    expect(e.message).toMatch(/^timed out after \d+ ms waiting for node sb-worker to be Ready at 172\.18\.0\.9 \(\d+ looks\); last seen: node sb-worker Ready=True \(KubeletReady: kubelet is posting ready status\), InternalIP 172\.18\.0\.3$/);
  });

  test('node-crash: a container the restart policy brought straight back is not a crash', async () => {
    docker.after = (args) => {
      if (args[0] === 'kill') docker.nodes.get(WORKERS[0])!.running = true;
    };
    const f = modeFor('node-crash');
    const e = await failure(f.inject());
    expect(e.message).toMatch(/^timed out after 3000 ms waiting for node container sb-worker to stop \(\d+ looks\); last seen: docker says running$/);
    expect(f.state).toBe('invalid');
    await f.cleanup();
    // Nothing to start: the container runs.
    expect(docker.actions()).toEqual([`kill --signal KILL ${WORKERS[0]}`]);
  });

  test('the control plane and foreign nodes are never faulted', async () => {
    api.put(memberPod(POD_UID, 'sb-control-plane'));
    await timeline.waitFor('pod moved', () => (timeline.get('Pod', 'pg-0')?.spec.nodeName === 'sb-control-plane' ? true : undefined), { timeoutMs: 2_000 });
    const e = await failure(modeFor('node-crash').inject());
    expect(e.message).toBe('node-crash: pod pg-0 runs on sb-control-plane, not on a worker of this kind cluster (sb-worker, sb-worker2, sb-worker3); the control plane is never faulted');
    expect(docker.calls).toEqual([]);
  });

  test('the member\'s verbs find its worker through the API server, and refuse the control plane', async () => {
    api.put(memberPod(POD_UID, 'sb-control-plane'));
    await expect(member.control.kill()).rejects.toThrow('pod pg-0 runs on sb-control-plane, not on a worker of this kind cluster (sb-worker, sb-worker2, sb-worker3); the control plane is never faulted');
    expect(docker.calls).toEqual([]);
    expect(member.control.running).toBe(true);
  });

  test('node-hang: docker pause, docker unpause; the undo is idempotent', async () => {
    const f = modeFor('node-hang');
    await f.inject();
    expect(docker.nodes.get(WORKERS[0])!.paused).toBe(true);
    await f.recover();
    await f.waitForRecovery(5_000);
    await f.cleanup();
    expect(docker.actions()).toEqual([`pause ${WORKERS[0]}`, `unpause ${WORKERS[0]}`]);
  });

  test('kubelet-stop: systemctl inside the node; the database container outlives it and is probed without the kubelet', async () => {
    const f = modeFor('kubelet-stop');
    await f.inject();
    await new Promise((r) => setTimeout(r, 200));
    await f.recover();
    await f.waitForRecovery(5_000);
    expect(docker.actions().filter((a) => !a.includes('crictl exec'))).toEqual([`exec ${WORKERS[0]} systemctl stop kubelet.service`, `exec ${WORKERS[0]} systemctl start kubelet.service`]);
    expect(docker.calls.find((c) => c[4] === 'ps')).toEqual([
      'docker', 'exec', WORKERS[0], 'crictl', 'ps', '--quiet', '--state', 'running',
      '--label', `io.kubernetes.pod.namespace=${NS}`, '--label', 'io.kubernetes.pod.name=pg-0', '--label', 'io.kubernetes.container.name=db',
    ]);
    const probe = docker.calls.find((c) => c[4] === 'exec')!;
    expect(probe).toEqual(['docker', 'exec', WORKERS[0], 'crictl', 'exec', '--sync', 'c0ffee0aa11bb22', '/bin/sh', '-c', PRIMARY_PROBE_SCRIPT]);
    // The probe is fixed text: nothing from the profile or the cluster is spliced into it.
    expect(PRIMARY_PROBE_SCRIPT).not.toContain(NS);
    const mark = timeline.marks[0];
    expect(mark.probes.length).toBeGreaterThan(1);
    expect(mark.probes[0]).toMatchObject({ role: 'primary', detail: 'wrote xid 742' });
    // Probing stops with the undo.
    const probesAtRecover = mark.probes.length;
    await new Promise((r) => setTimeout(r, 150));
    expect(mark.probes.length).toBe(probesAtRecover);
  });

  test('kubelet-stop: a database that died with its kubelet fails the cycle, and cleanup starts the kubelet again', async () => {
    docker.after = (args) => {
      if (args[2] === 'systemctl' && args[3] === 'stop') docker.nodes.get(WORKERS[0])!.container = '';
    };
    const f = modeFor('kubelet-stop');
    const e = await failure(f.inject());
    expect(e.message).toBe('kubelet-stop: the database container of pg-0 (c0ffee0aa11b) stopped with the kubelet, so this was not a kubelet-only failure');
    expect(f.state).toBe('invalid');
    await f.cleanup();
    expect(docker.nodes.get(WORKERS[0])!.kubelet).toBe('active');
    expect(docker.actions()).toEqual([`exec ${WORKERS[0]} systemctl stop kubelet.service`, `exec ${WORKERS[0]} systemctl start kubelet.service`]);
  });

  test('operator action: the pod on a node NotReady for forceDeleteAfter is force-deleted, uid-guarded, and noted', async () => {
    const f = modeFor('kubelet-stop', { policy: { nodeAccess: 'none', forceDeleteAfterMs: 300 } });
    await f.inject();
    api.put(node(WORKERS[0], false));
    await timeline.waitFor('operator action', () => (timeline.get('Pod', 'pg-0') ? undefined : true), { timeoutMs: 3_000 });
    const del = deletes().at(-1)!;
    expect(del).toMatchObject({ path: `/api/v1/namespaces/${NS}/pods/pg-0`, query: { gracePeriodSeconds: '0', propagationPolicy: 'Background' }, body: { gracePeriodSeconds: 0, propagationPolicy: 'Background', preconditions: { uid: POD_UID } } });
    await f.recover();
    const t = timeline.cycles()[0];
    expect(t.operatorActionAtMs).not.toBeNull();
    expect(t.member.deletedBy).toBe('operator-action');
    expect(t.policy.forceDeleteAfterMs).toBe(300);
    await f.cleanup();
  });

  test('an interrupt during the hold recovers the active fault through the schedule\'s cleanup', async () => {
    const stopper = new AbortController();
    const schedule = new FaultSchedule([{ ...cycleOf('node-crash', 60_000), atMs: 0 }], {
      engine,
      platformFaultMode: (cycle, subject) => kubernetesFaultMode(cycle, subject, context()),
      volumes: [],
      clock,
      signal: stopper.signal,
      event: (type, data) => events.push({ type, data: data ?? {} }),
      status: () => {},
    });
    schedule.start(clock.now());
    await timeline.waitFor('node killed', () => (docker.nodes.get(WORKERS[0])!.running ? undefined : true), { timeoutMs: 5_000 });
    await new Promise((r) => setTimeout(r, 300));
    stopper.abort();
    await schedule.stop();
    expect(docker.nodes.get(WORKERS[0])!.running).toBe(true);
    expect(docker.actions()).toEqual([`kill --signal KILL ${WORKERS[0]}`, `start ${WORKERS[0]}`]);
    expect(schedule.records[0].state).toBe('recovered');
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['fault-inject', 'fault-active', 'fault-cleanup']));
  });
});

describe('existing clusters', () => {
  test('node-crash is refused: the cluster\'s machines are not statebench\'s to power off', () => {
    expect(() => kubernetesFaultMode(cycleOf('node-crash'), { engine, node: member }, context({ platform: 'kubernetes' }))).toThrow(/^node-crash needs the kind platform/);
  });

  test('node faults need the target to allow node access, and say how', async () => {
    const f = modeFor('kubelet-stop', { platform: 'kubernetes' });
    const e = await failure(f.inject());
    expect(e.message).toMatch(/^kubelet-stop on an existing cluster reaches the node through a privileged helper pod/);
    expect(e.hint).toMatch(/faultPolicy\.nodeAccess: helper-pod/);
    expect(api.requests.filter((r) => r.method === 'PATCH')).toEqual([]);
  });

  test('kubelet-stop through the helper pod: RBAC and Pod Security first, then a pinned privileged pod; recovery waits for the node timer', async () => {
    // The kubelet runs the helper; then the node goes silent and, when the timer fires, comes back.
    // The kubelet reports the pod Running only after 300 ms; the action must not come before that.
    let reportedAt = 0;
    let actedAt = 0;
    api.onApply = (obj, server) => {
      if (obj.kind !== 'Pod') return;
      setTimeout(() => server.update('v1', 'Pod', NS, obj.metadata.name, (p) => (p.status = { phase: 'Pending' })), 50);
      setTimeout(() => {
        reportedAt = performance.now();
        server.update('v1', 'Pod', NS, obj.metadata.name, (p) => (p.status = { phase: 'Running', containerStatuses: [{ name: 'node-access', state: { running: {} } }] }));
      }, 300);
    };
    api.onExec = () => {
      actedAt = performance.now();
      setTimeout(() => api.put(node(WORKERS[0], false)), 100);
      setTimeout(() => api.put(node(WORKERS[0], true)), 600);
      return { status: 'Success' };
    };
    const f = modeFor('kubelet-stop', { platform: 'kubernetes', policy: { nodeAccess: 'helper-pod' } }, 800);
    await f.inject();
    expect(reportedAt).toBeGreaterThan(0);
    expect(actedAt).toBeGreaterThanOrEqual(reportedAt);
    expect(api.execs).toEqual([{ namespace: NS, pod: 'statebench-kubelet-stop-0-0', container: 'node-access', command: HELPER_ACTION_COMMAND }]);
    const patches = api.requests.filter((r) => r.method === 'PATCH');
    expect(patches.map((r) => `${r.path} ${r.query.fieldManager}`)).toEqual([
      `/api/v1/namespaces/${NS}/serviceaccounts/statebench-node-access statebench`,
      `/api/v1/namespaces/${NS} statebench-node-access`,
      `/api/v1/namespaces/${NS}/pods/statebench-kubelet-stop-0-0 statebench`,
    ]);
    expect(patches[1].body).toMatchObject({ metadata: { labels: { 'pod-security.kubernetes.io/enforce': 'privileged' } } });
    const helper = patches[2].body as StoredObject & { spec: Record<string, unknown> & { containers: { command: string[]; env: { name: string; value: string }[]; securityContext: object }[] } };
    expect(helper.spec).toMatchObject({ nodeName: WORKERS[0], hostPID: true, restartPolicy: 'Never', serviceAccountName: 'statebench-node-access', automountServiceAccountToken: false, tolerations: [{ operator: 'Exists' }] });
    const c = helper.spec.containers[0];
    expect(c.command).toEqual(['/bin/sh', '-c', HELPER_IDLE]);
    expect(HELPER_ACTION_COMMAND).toEqual(['nsenter', '--target', '1', '--mount', '--uts', '--ipc', '--net', '--pid', '--', '/bin/sh', '-c', NODE_ACCESS_SCRIPT]);
    expect(c.securityContext).toEqual({ privileged: true });
    expect(Object.fromEntries(c.env.map((e) => [e.name, e.value]))).toEqual({
      STATEBENCH_ACTION: 'kubelet-stop',
      STATEBENCH_HOLD_SECONDS: '1',
      STATEBENCH_UNIT: `statebench-${RUN}-0-0`,
      STATEBENCH_RUNTIME_UNIT: 'containerd.service',
    });
    await f.recover();
    await f.waitForRecovery(5_000);
    // The helper pod is removed once the node is back.
    expect(deletes().map((r) => `${r.path} ${r.query.gracePeriodSeconds}`)).toEqual([`/api/v1/namespaces/${NS}/pods/statebench-kubelet-stop-0-0 0`]);
    const t = timeline.cycles()[0];
    expect(t.nodeStatus).toMatchObject({ reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.' });
    expect(t.nodeStatus.readyAgainAtMs).not.toBeNull();
    expect(t.entries.filter((e) => e.source === 'statebench').map((e) => e.what)).toEqual([
      `helper pod statebench-kubelet-stop-0-0: kubelet-stop on ${WORKERS[0]} for 1s (undone by a systemd timer on the node)`,
      `waiting for the node timer: statebench-${RUN}-0-0-undo restores ${WORKERS[0]} when the 1s hold ends`,
    ]);
  });

  test('the helper script, run by /bin/sh with systemd stubbed: the undo timer is armed before the fault', () => {
    const bin = mkdtempSync(join(tmpdir(), 'statebench-node-access-'));
    try {
      const log = join(bin, 'calls.log');
      for (const tool of ['systemctl', 'systemd-run', 'sleep']) {
        writeFileSync(join(bin, tool), `#!/bin/sh\necho "${tool} $*" >> "${log}"\n`);
        chmodSync(join(bin, tool), 0o755);
      }
      const runScript = (action: string) => {
        rmSync(log, { force: true });
        const env = { PATH: `${bin}:/usr/bin:/bin`, STATEBENCH_ACTION: action, STATEBENCH_HOLD_SECONDS: '30', STATEBENCH_UNIT: 'statebench-r1-0-0', STATEBENCH_RUNTIME_UNIT: 'crio.service' };
        const out = execFileSync('/bin/sh', ['-c', NODE_ACCESS_SCRIPT], { env, encoding: 'utf8' });
        return { out, calls: readFileSync(log, 'utf8').trim().split('\n') };
      };
      const stop = runScript('kubelet-stop');
      expect(stop.calls).toEqual([
        `systemd-run --unit statebench-r1-0-0-undo --on-active=30s --timer-property=AccuracySec=100ms ${bin}/systemctl start kubelet.service`,
        // Queued, so the exec (which runs through this kubelet) returns before the kubelet stops.
        'systemctl --no-block stop kubelet.service',
      ]);
      expect(stop.out).toMatch(/^statebench: kubelet-stop on .+ until the timer statebench-r1-0-0-undo fires in 30s$/m);
      expect(runScript('node-hang').calls).toEqual([
        `systemd-run --unit statebench-r1-0-0-undo --on-active=30s --timer-property=AccuracySec=100ms ${bin}/systemctl thaw kubepods.slice crio.service kubelet.service`,
        `systemd-run --unit statebench-r1-0-0-do --no-block ${bin}/systemctl freeze kubelet.service crio.service kubepods.slice`,
      ]);
      expect(() => runScript('reboot')).toThrow();
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });

  test('a helper pod that fails says why, from its termination message', async () => {
    api.onApply = (obj, server) => {
      if (obj.kind !== 'Pod') return;
      setTimeout(() => server.update('v1', 'Pod', NS, obj.metadata.name, (p) => (p.status = { phase: 'Failed', containerStatuses: [{ name: 'node-access', state: { terminated: { exitCode: 1, message: 'Failed to freeze unit kubepods.slice: Unit kubepods.slice not found.\n' } } }] })), 50);
    };
    const f = modeFor('node-hang', { platform: 'kubernetes', policy: { nodeAccess: 'helper-pod' } });
    const e = await failure(f.inject());
    expect(e.message).toBe(`node-hang: helper pod statebench-node-hang-0-0 failed on ${WORKERS[0]} (exit 1): Failed to freeze unit kubepods.slice: Unit kubepods.slice not found.`);
    expect(e.hint).toMatch(/cgroup v2 with the systemd cgroup driver/);
  });

  test('an action that fails in the helper pod says why, from its output', async () => {
    api.onApply = (obj, server) => {
      if (obj.kind !== 'Pod') return;
      setTimeout(() => server.update('v1', 'Pod', NS, obj.metadata.name, (p) => (p.status = { phase: 'Running', containerStatuses: [{ name: 'node-access', state: { running: {} } }] })), 50);
    };
    api.onExec = () => ({ status: 'Failure', message: 'command terminated with non-zero exit code: error executing command [nsenter], exit code 1' });
    const f = modeFor('node-hang', { platform: 'kubernetes', policy: { nodeAccess: 'helper-pod' } });
    const e = await failure(f.inject());
    expect(e.message).toBe(`node-hang: the action in helper pod statebench-node-hang-0-0 on ${WORKERS[0]} failed: command terminated with non-zero exit code: error executing command [nsenter], exit code 1`);
    expect(e.hint).toMatch(/cgroup v2 with the systemd cgroup driver/);
  });

  test('storage faults stay with the volume, engine-level faults with the engine', () => {
    expect(kubernetesFaultMode(cycleOf('storage-stall'), { engine, node: member }, context())).toBeUndefined();
    expect(kubernetesFaultMode(cycleOf('switchover'), { engine, node: member }, context({ platform: 'kubernetes' }))).toBeUndefined();
  });
});

describe('policy', () => {
  const policyOf = (faultPolicy: unknown) => kubernetesTarget({ platform: 'kubernetes', engine: { kind: 'patroni', members: 3 }, target: { faultPolicy } as never }).faultPolicy;

  test('resolved once by the planner: durations as the profile writes them (a bare number is seconds)', () => {
    expect(kubernetesTarget().faultPolicy).toEqual({ nodeAccess: 'none' });
    expect(policyOf({ nodeAccess: 'helper-pod', helperImage: 'reg/tools:1', tolerations: { notReady: 30, unreachable: '45s' }, forceDeleteAfter: '1m' })).toEqual({
      nodeAccess: 'helper-pod',
      helperImage: 'reg/tools:1',
      notReadyTolerationSeconds: 30,
      unreachableTolerationSeconds: 45,
      forceDeleteAfterMs: 60_000,
    });
  });

  test('a policy the target cannot have is a plan problem, every one at once, naming the field', () => {
    expect(() => policyOf({ nodeAccess: 'ssh', tolerations: { notready: '1s', unreachable: 'soon' }, forceDelete: '1m' })).toThrow(/nodeAccess/);
    expect(() => kubernetesTarget({ platform: 'kind', target: { faultPolicy: { nodeAccess: 'helper-pod' } } })).toThrow('targets.0.faultPolicy.nodeAccess: helper-pod is for existing clusters; kind reaches its nodes directly');
  });

  test('tolerations render onto the StatefulSet\'s pod template and still validate', () => {
    const t = kubernetesTarget({ engine: { kind: 'patroni', members: 3 } });
    const m = renderManifests(t, RUN, { nodes: ['w1', 'w2', 'w3'], password: 'x' });
    const policy: KubernetesFaultPolicy = { nodeAccess: 'none', notReadyTolerationSeconds: 30, unreachableTolerationSeconds: 20 };
    const withTol = withFaultPolicy(m, policy);
    validateAll(withTol.engine);
    const sts = withTol.engine.find((o) => o.kind === 'StatefulSet') as { spec: { template: { spec: { tolerations: object[] } } } };
    expect(sts.spec.template.spec.tolerations).toEqual([
      { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 },
      { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 20 },
    ]);
    // The input is untouched; without knobs nothing changes (the API server's 300 s default applies).
    expect((m.engine.find((o) => o.kind === 'StatefulSet') as typeof sts).spec.template.spec.tolerations).toBeUndefined();
    expect(withFaultPolicy(m, { nodeAccess: 'none' })).toBe(m);
    expect(policyTolerations({ nodeAccess: 'none' })).toEqual([]);
  });

  test('the helper pod and the observer ClusterRole match the Kubernetes schemas', () => {
    const pod = helperPod({ name: 'statebench-node-hang-0-0', namespace: NS, node: 'w1', action: 'node-hang', holdSeconds: 30, unit: 'statebench-x-0-0', image: 'img', pullPolicy: 'IfNotPresent', labels: {}, runtimeUnit: runtimeUnit('cri-o://1.29.1') });
    new Pod(pod as never).validate();
    expect(pod.spec!.containers[0].env!.find((e) => e.name === 'STATEBENCH_RUNTIME_UNIT')?.value).toBe('crio.service');
    new ClusterRole(observerClusterRole() as never).validate();
    expect(runtimeUnit('containerd://1.7.18')).toBe('containerd.service');
    expect(runtimeUnit(undefined)).toBe('containerd.service');
  });

  test('capabilities list exactly the faults the platforms implement', () => {
    for (const engineKind of ['postgres', 'patroni'] as const) {
      expect([...CAPABILITIES.kind.faults[engineKind]].sort()).toEqual([...KIND_FAULT_TYPES].sort());
      expect([...CAPABILITIES.kubernetes.faults[engineKind]].sort()).toEqual([...KUBERNETES_FAULT_TYPES].sort());
    }
  });
});

describe('the provisioned target\'s faultMode hook (fake API server as the cluster, a real PostgreSQL as the pods)', () => {
  let pg: BareMetalPostgres;
  const registry = new CleanupRegistry();
  const pgDir = mkdtempSync(join(tmpdir(), 'statebench-k8s-faults-pg-'));

  beforeAll(async () => {
    chmodSync(pgDir, 0o755);
    pg = await deployBareMetalPostgres({ binDir: await resolveBinDir(), volume: join(pgDir, 'volume'), stateDir: join(pgDir, 'state'), settings: {}, startTimeoutMs: 60_000, registry });
  });
  afterAll(async () => {
    await registry.releaseAll();
    rmSync(pgDir, { recursive: true, force: true });
  });

  test('patroni×3 on an existing cluster: pod-force-delete of the leader through the FaultSchedule, its timeline, the files it leaves', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'statebench-k8s-faults-'));
    const t = kubernetesTarget({
      platform: 'kubernetes',
      storage: { kind: 'remote', storageClass: 'gp3', size: '2GiB' },
      engine: { kind: 'patroni', members: 3, startTimeout: '20s' },
      faults: [{ type: 'pod-force-delete', at: '0s', target: 'primary', downFor: '200ms', recoveryTimeout: '20s' }],
    });
    let ns = '';
    const podObj = (name: string, uid: string, labels: Record<string, string>, leader: boolean): StoredObject => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: ns, uid, labels: { ...labels, ...(leader ? { [ROLE_LABEL]: LEADER_LABEL_VALUE } : {}) } },
      spec: { nodeName: `w${name.slice(-1)}`, volumes: [{ name: 'data', persistentVolumeClaim: { claimName: `data-${name}` } }] },
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
    });
    let labels: Record<string, string> = {};
    api.onApply = (obj, server) => {
      if (obj.kind !== 'StatefulSet') return;
      ns = obj.metadata.namespace!;
      labels = (obj.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
      for (let i = 0; i < 3; i++) {
        api.podAddresses.set(`${ns}/pg-${i}`, { host: pg.clientConn().host, port: pg.clientConn().port });
        server.put(podObj(`pg-${i}`, `uid-${i}`, labels, i === 1));
      }
      server.put(leaderKey('pg-1'));
    };
    // Patroni's leader key and route, in the Endpoints of the Service `pg` (use_endpoints).
    const leaderKey = (member: string): StoredObject => ({ apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'pg', namespace: ns, annotations: { leader: member } }, subsets: [{ addresses: [{ ip: `10.0.0.${member.slice(-1)}` }] }] });
    // The controllers: a deleted member comes back as a replica; pg-2 takes the leader key and label.
    const controllers = setInterval(() => {
      if (ns && !api.get('v1', 'Pod', ns, 'pg-1') && api.get('v1', 'Pod', ns, 'pg-2')) {
        api.put(leaderKey('pg-2'));
        api.put(podObj('pg-2', 'uid-2', labels, true));
        api.put(podObj('pg-1', 'uid-1b', labels, false));
      }
    }, 20);
    const events: { type: string; data?: object }[] = [];
    const rt: TargetRuntime = { registry: new CleanupRegistry(), clock: new RunClock(), stateDir: join(dir, 'state'), artifactsDir: dir, event: (type, data) => events.push({ type, data }), status: () => {}, signal: new AbortController().signal };
    try {
      const provisioned = await new KubernetesPlatform('kubernetes', { kubeConfig: api.kubeConfig(), runId: RUN }).provision(t, rt);
      const deployed = await provisioned.deployEngine();
      const schedule = new FaultSchedule(t.faults, {
        engine: deployed,
        platformFaultMode: provisioned.faultMode!.bind(provisioned),
        volumes: provisioned.volumes,
        clock: rt.clock,
        signal: rt.signal,
        event: rt.event,
        status: () => {},
      });
      schedule.start(rt.clock.now());
      await schedule.done();
      await schedule.stop();
      const [record] = schedule.records;
      expect(record).toMatchObject({ type: 'pod-force-delete', node: 'node-1', state: 'recovered' });
      const del = api.requests.find((r) => r.method === 'DELETE' && r.path.endsWith('/pods/pg-1'))!;
      expect(del.query.gracePeriodSeconds).toBe('0');
      const timelineOf = (provisioned as unknown as { faultTimeline(r: object): import('../timeline/assemble.ts').KubernetesFaultTimeline | undefined }).faultTimeline(record);
      expect(timelineOf).toMatchObject({ type: 'pod-force-delete', pod: 'pg-1', kubeNode: 'w1', member: { deletedBy: 'statebench' }, leader: { before: 'pg-1', after: 'pg-2', key: { before: 'pg-1', after: 'pg-2', takenBy: 'pg-2' } } });
      expect(timelineOf!.replacement?.uid).toBe('uid-1b');
      expect(await provisioned.describe()).toMatchObject({ faultPolicy: { nodeAccess: 'none' } });
      await deployed.stop();
      // Stopping the engine ends the timeline before the scale-down, and leaves it next to the watch log.
      const written = JSON.parse(readFileSync(join(dir, 'kubernetes-timeline.json'), 'utf8')) as { cycles: { pod: string }[] };
      expect(written.cycles.map((c) => c.pod)).toEqual(['pg-1']);
      expect(existsSync(join(dir, 'kubernetes-watch.jsonl'))).toBe(true);
      expect(events.some((e) => e.type === 'kubernetes-fault-action')).toBe(true);
    } finally {
      clearInterval(controllers);
      await rt.registry.releaseAll();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** A real docker daemon and any local image stand in for a kind node container. */
function dockerWhyNot(image: string): string | undefined {
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 30_000 });
  } catch {
    return 'docker daemon not reachable';
  }
  try {
    execFileSync('docker', ['image', 'inspect', image], { stdio: 'ignore', timeout: 30_000 });
  } catch {
    return `image ${image} not in the local docker`;
  }
  return undefined;
}
const NODE_STANDIN_IMAGE = process.env.STATEBENCH_KIND_IMAGE ?? 'statebench/postgres:latest';
const dockerReason = dockerWhyNot(NODE_STANDIN_IMAGE);
if (dockerReason) console.warn(`SKIP KindNodeContainer against docker: ${dockerReason}`);

describe.skipIf(!!dockerReason)('KindNodeContainer against a real docker (a plain container with kind\'s restart policy)', () => {
  const suffix = Math.random().toString(16).slice(2, 8);
  const name = `statebench-test-node-${suffix}`;
  const network = `statebench-test-net-${suffix}`;

  beforeAll(() => {
    execFileSync('docker', ['network', 'create', network], { stdio: 'ignore' });
    // The restart policy kind gives its node containers.
    execFileSync('docker', ['run', '-d', '--name', name, '--network', network, '--restart=on-failure:1', '--label', 'statebench.run=test', '--entrypoint', 'sleep', NODE_STANDIN_IMAGE, 'infinity'], { stdio: 'ignore' });
  });
  afterAll(() => {
    try {
      execFileSync('docker', ['rm', '-f', name], { stdio: 'ignore' });
    } finally {
      execFileSync('docker', ['network', 'rm', network], { stdio: 'ignore' });
    }
  });

  test('state and address; SIGKILL is not undone by the restart policy; start, pause, unpause, exec', async () => {
    const node = new KindNodeContainer(name, dockerExec);
    expect(await node.state()).toEqual({ running: true, paused: false, status: 'running' });
    const address = await node.address();
    expect(address).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    await node.kill();
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await node.state()).toMatchObject({ running: false, status: 'exited' });
    await node.start();
    expect((await node.state()).running).toBe(true);
    expect(await node.address()).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    await node.pause();
    expect(await node.state()).toEqual({ running: true, paused: true, status: 'paused' });
    await node.unpause();
    expect((await node.state()).paused).toBe(false);
    expect((await node.exec(['sh', '-c', 'echo in-node'])).stdout.trim()).toBe('in-node');
  });
});
