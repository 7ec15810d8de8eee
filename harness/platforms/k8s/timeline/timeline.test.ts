// The Kubernetes timeline of a fault cycle, assembled from recorded watch events (testing/watch-*.jsonl:
// Node, Pod, PersistentVolumeClaim and PersistentVolume objects as the API sends them, with the run-clock
// time each arrived) and statebench's own marks. Three recorded cycles:
//   kubelet-stop, Patroni×3 on Local PVs, default tolerations (300 s), kubelet back after 400 s
//   node-crash of a single PostgreSQL on a Local PV, operator force-delete after 30 s NotReady, new IP
//   kubelet-stop, Patroni×3 on network volumes, operator force-delete after 20 s: two primaries
// and the recorder itself against the fake API server (list, watch, resumed watch, relist).
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import { FakeApiServer, type StoredObject } from '../testing/fake-apiserver.ts';
import { KubernetesFaultTimelineSchema, compact, pinnedNode, type CycleMark, type KubeObject, type KubernetesFaultTimeline, type Observation } from './assemble.ts';
import { KubernetesTimeline } from './recorder.ts';
import { RunClock, type Clock } from '../../../core/clock.ts';
import type { WaitClock } from '../../../core/wait.ts';
import { WaitTimeoutError } from '../../../errors.ts';
import { FakeClock } from '../../../testing/fake-clock.ts';

const CLUSTER = 'statebench-20261127-143022-ab12-7b3e';
const W = [`${CLUSTER}-worker`, `${CLUSTER}-worker2`, `${CLUSTER}-worker3`, `${CLUSTER}-worker4`];
const NS = 'statebench-20261127-143022-ab12-5e1d0c';
const LEADER = { key: 'role', value: 'master' };

function recorded(file: string): Observation[] {
  return readFileSync(new URL(`../testing/${file}`, import.meta.url), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Observation);
}

/** A clock the recorder reads only for marks; recorded observations carry their own times. */
const stillClock: Clock = { now: () => 0, wall: () => '2026-11-27T14:30:00.000Z' };

function offlineTimeline(leaderLabel: { key: string; value: string } | null, waitClock?: WaitClock): KubernetesTimeline {
  const kc = new KubeConfig();
  kc.loadFromOptions({ clusters: [{ name: 'x', server: 'http://127.0.0.1:9', skipTLSVerify: true }], users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'x', user: 'u' }], currentContext: 'x' });
  return new KubernetesTimeline({ kubeConfig: kc, namespace: NS, podSelector: 'app.kubernetes.io/name=statebench-db', clock: stillClock, leaderLabel, waitClock });
}

/** Replays recorded events through the recorder (compaction and de-duplication included). */
function replay(tl: KubernetesTimeline, events: Observation[]): void {
  for (const e of events) tl.observe(e.type, e.object, e.atMs);
}

function probes(from: number, to: number, role: 'primary' | 'replica' | 'unreachable' = 'primary'): CycleMark['probes'] {
  const out: CycleMark['probes'] = [];
  for (let t = from; t <= to; t += 2000) out.push({ atMs: t, role, detail: role === 'primary' ? `wrote xid ${700 + t / 2000}` : undefined });
  return out;
}

function only(tl: KubernetesTimeline): KubernetesFaultTimeline {
  const all = tl.cycles();
  expect(all).toHaveLength(1);
  // Whatever the cycle holds, it is what the proposed summary field describes.
  expect(KubernetesFaultTimelineSchema.safeParse(all[0]).error?.issues ?? []).toEqual([]);
  return all[0];
}

describe('kubelet-stop on the primary, Patroni×3 on Local PVs, default tolerations', () => {
  const events = recorded('watch-kubelet-stop-patroni.jsonl');
  const tl = offlineTimeline(LEADER);
  replay(tl, events);
  const mark = tl.beginCycle({ cycle: 0, type: 'kubelet-stop', node: 'node-0', pod: 'pg-0', kubeNode: W[0], forceDeleteAfterMs: null, injectedAtMs: 60_000 });
  mark.actions.push({ atMs: 60_010, what: 'systemctl stop kubelet', detail: W[0] }, { atMs: 460_005, what: 'systemctl start kubelet', detail: W[0] });
  mark.probes.push(...probes(62_000, 458_000));
  mark.recoverAtMs = 460_000;
  mark.healthyAtMs = 476_000;
  const t = only(tl);

  test('heartbeat-only changes are not recorded; every real change is', () => {
    expect(events.filter((e) => e.object.kind === 'Node' && e.atMs < 60_000)).toHaveLength(4);
    expect(tl.observations.filter((e) => e.object.kind === 'Node' && e.atMs < 60_000)).toHaveLength(3);
    expect(tl.observations).toHaveLength(events.length - 1);
  });

  test('the node: NotReady after the grace period, as NodeStatusUnknown, tainted unreachable, Ready again after the kubelet returns', () => {
    expect(t.kubeNode).toBe(W[0]);
    expect(t.nodeStatus).toMatchObject({
      notReadyAtMs: 101_000.4,
      condition: 'Unknown',
      reason: 'NodeStatusUnknown',
      message: 'Kubelet stopped posting node status.',
      readyAgainAtMs: 462_000.5,
      noExecuteTaint: { key: 'node.kubernetes.io/unreachable', atMs: 101_000.4 },
      address: null,
    });
    expect(t.durations.toNodeNotReadyMs).toBe(41_000.4);
  });

  test('the policy the pod carried: the API server default of 300 s for both taints', () => {
    expect(t.policy).toEqual({ notReadyToleration: 300, unreachableToleration: 300, forceDeleteAfterMs: null });
  });

  test('the member: not Ready when the node went, evicted when the toleration ran out, Terminating until the kubelet confirmed it', () => {
    expect(t.member).toMatchObject({ notReadyAtMs: 101_200.7, evictedAtMs: 401_100.2, deletedBy: 'taint-manager', deletionRequestedAtMs: 401_150.9, goneAtMs: 465_000.1, readyAgainAtMs: 475_000.4 });
    // Eviction came 300 s after the NoExecute taint: the toleration, not the fault, set that time.
    expect(t.durations.toEvictionMs! - t.durations.toNodeNotReadyMs!).toBeCloseTo(300_099.8, 0);
    expect(t.findings).toContain('pg-0 was evicted by the taint manager +341.1s after injection (toleration 300s)');
    expect(t.findings.some((f) => f.startsWith('pg-0 stayed Terminating while its node was down'))).toBe(true);
  });

  test('the replacement: created once the old pod was gone, scheduled back on its Local PV node, started, Ready', () => {
    expect(t.replacement).toMatchObject({ createdAtMs: 465_100.3, scheduledAtMs: 465_200.8, kubeNode: W[0], containerStartedAtMs: 468_000.2, readyAtMs: 475_000.4, pending: null });
    expect(t.stuck).toBeNull();
    expect(t.claim).toEqual({ name: 'data-pg-0', phase: 'Bound', volume: 'sb-20261127-143022-ab12-5e1d0c-data-0', pinnedTo: W[0], volumeBefore: 'sb-20261127-143022-ab12-5e1d0c-data-0' });
  });

  test('the old primary kept serving and writing WAL while its node was NotReady; no second primary', () => {
    expect(t.oldPrimary).toEqual({ probes: 199, lastServedAtMs: 458_000, servingWhileNodeNotReady: true, patroniLastReportAtMs: 450_000.3, walAdvancedWhileNodeNotReady: true });
    expect(t.leader).toMatchObject({ before: 'pg-0', after: 'pg-1', secondPrimaryAtMs: null });
    expect(t.leader.changes).toEqual([
      { atMs: 465_000.1, leaders: [] },
      { atMs: 465_500.6, leaders: ['pg-1'] },
    ]);
    expect(t.findings).toContain('no second primary observed');
    expect(t.findings.some((f) => f.startsWith('the old primary pg-0 kept serving writes on'))).toBe(true);
  });

  test('entries read in order, relative to the injection', () => {
    const lines = t.entries.map((e) => `${(e.sinceInjectMs / 1000).toFixed(1)} ${e.source} ${e.what}`);
    expect(lines.slice(0, 4)).toEqual([
      `0.0 statebench systemctl stop kubelet: ${W[0]}`,
      '2.0 statebench probe of the old primary on its node: primary (wrote xid 731)',
      '41.0 node Ready=Unknown (NodeStatusUnknown: Kubelet stopped posting node status.)',
      '41.0 node taint node.kubernetes.io/unreachable:NoExecute added',
    ]);
    expect(t.entries.map((e) => e.atMs)).toEqual([...t.entries.map((e) => e.atMs)].sort((a, b) => a - b));
    expect(lines).toContain('341.1 pod evicted by the taint manager (Taint manager: deleting due to NoExecute taint)');
  });

  test('timelineFor picks the cycle of a fault record', () => {
    expect(tl.timelineFor({ type: 'kubelet-stop', cycle: 0, injectedAtMs: 59_990 })?.pod).toBe('pg-0');
    expect(tl.timelineFor({ type: 'node-crash', cycle: 0, injectedAtMs: 59_990 })).toBeUndefined();
  });
});

describe('node-crash of a single PostgreSQL on a Local PV, operator force-delete after 30 s', () => {
  const tl = offlineTimeline(null);
  replay(tl, recorded('watch-node-crash-local-pv.jsonl'));
  const mark = tl.beginCycle({ cycle: 0, type: 'node-crash', node: 'node-0', pod: 'pg-0', kubeNode: W[1], forceDeleteAfterMs: 30_000, injectedAtMs: 20_000 });
  mark.actions.push(
    { atMs: 20_005, what: 'docker kill --signal KILL', detail: W[1] },
    { atMs: 91_000, what: 'force-delete (operator action)', detail: `node ${W[1]} NotReady for 30s` },
    { atMs: 140_002, what: 'docker start', detail: W[1] },
    { atMs: 140_900, what: 'node address changed', detail: '172.18.0.4 → 172.18.0.6' },
  );
  mark.recoverAtMs = 140_000;
  mark.healthyAtMs = 153_000;
  const t = only(tl);

  test('the replacement is stuck Pending because its Local PV is pinned to the dead node — and says so', () => {
    expect(t.member).toMatchObject({ deletedBy: 'operator-action', goneAtMs: 91_050.3 });
    expect(t.operatorActionAtMs).toBe(91_000);
    expect(t.replacement?.pending).toEqual({
      reason: 'Unschedulable',
      message: expect.stringContaining('1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, 2 node(s) had volume node affinity conflict'),
      sinceMs: 91_070.6,
    });
    expect(t.stuck).toEqual({
      sinceMs: 91_070.6,
      untilMs: 147_000.3,
      claim: 'data-pg-0',
      volume: 'sb-20261127-143022-ab12-5e1d0c-data-1',
      pinnedTo: W[1],
      nodeCondition: 'Ready=Unknown (NodeStatusUnknown: Kubelet stopped posting node status.)',
      schedulerMessage: expect.stringContaining('volume node affinity conflict'),
    });
    expect(t.findings).toContain(
      `pg-0's replacement was stuck Pending from +71.1s to +127.0s: its volume sb-20261127-143022-ab12-5e1d0c-data-1 is pinned to ${W[1]}, which was Ready=Unknown (NodeStatusUnknown: Kubelet stopped posting node status.)`,
    );
    expect(t.entries.some((e) => e.what.startsWith('stuck Pending on a dead node: claim data-pg-0 is bound to sb-20261127-143022-ab12-5e1d0c-data-1, pinned to'))).toBe(true);
  });

  test('the node came back with a new InternalIP; the replacement ran where its volume is', () => {
    expect(t.nodeStatus.address).toEqual({ before: '172.18.0.4', after: '172.18.0.6', atMs: 146_000.9 });
    expect(t.replacement).toMatchObject({ scheduledAtMs: 147_000.3, kubeNode: W[1], containerStartedAtMs: 149_500.2, readyAtMs: 152_000.7 });
    expect(t.durations).toEqual({ toNodeNotReadyMs: 41_000.2, toEvictionMs: null, toReplacementScheduledMs: 127_000.3, toMemberReadyMs: 132_000.7 });
    expect(t.findings).toContain(`node ${W[1]} came back with InternalIP 172.18.0.6 (was 172.18.0.4)`);
  });

  test('a single PostgreSQL has no leader label: its one member is the primary', () => {
    expect(t.leader.changes).toEqual([]);
    expect(t.oldPrimary).not.toBeNull();
    expect(t.leader.secondPrimaryAtMs).toBeNull();
  });
});

describe('kubelet-stop with network volumes and an operator force-delete: the replacement promotes while the old primary still runs', () => {
  const tl = offlineTimeline(LEADER);
  replay(tl, recorded('watch-kubelet-stop-split.jsonl'));
  const mark = tl.beginCycle({ cycle: 0, type: 'kubelet-stop', node: 'node-0', pod: 'pg-0', kubeNode: W[0], forceDeleteAfterMs: 20_000, injectedAtMs: 60_000 });
  mark.actions.push({ atMs: 60_010, what: 'systemctl stop kubelet', detail: W[0] }, { atMs: 121_000, what: 'force-delete (operator action)', detail: `node ${W[0]} NotReady for 20s` });
  mark.probes.push(...probes(62_000, 140_000));
  const t = only(tl);

  test('the new pg-0 taking the leader label alone is no second primary: a probe must show it accepting writes too', () => {
    expect(t.replacement).toMatchObject({ kubeNode: W[3], scheduledAtMs: 121_100.1, readyAtMs: 131_000.3, pending: null });
    expect(t.stuck).toBeNull();
    expect(t.claim?.pinnedTo).toBeNull();
    expect(t.leader.secondPrimaryAtMs).toBeNull();
  });

  test('a second primary is reported once probes show both the old pg-0 and the new one accepting writes', () => {
    const both = offlineTimeline(LEADER);
    replay(both, recorded('watch-kubelet-stop-split.jsonl'));
    const m = both.beginCycle({ cycle: 0, type: 'kubelet-stop', node: 'node-0', pod: 'pg-0', kubeNode: W[0], forceDeleteAfterMs: 20_000, injectedAtMs: 60_000 });
    m.actions.push(...mark.actions);
    m.probes.push(...probes(62_000, 140_000), { atMs: 133_000, role: 'primary', detail: 'wrote xid 12', pod: 'pg-0', kubeNode: W[3] });
    const b = only(both);
    expect(b.leader.secondPrimaryAtMs).toBe(133_000);
    expect(b.findings).toContain('SECOND PRIMARY +73.0s after injection');
    expect(b.entries.find((e) => e.atMs === 133_000 && e.what.startsWith('two members accepted writes'))?.what).toBe(
      `two members accepted writes: the old primary pg-0 on ${W[0]} (wrote xid 766) and pg-0@${W[3]} (wrote xid 12)`,
    );
  });

  test('the same recorded cycle without probes has no evidence of the old primary after its pod is gone', () => {
    const quiet = offlineTimeline(LEADER);
    replay(quiet, recorded('watch-kubelet-stop-split.jsonl'));
    quiet.beginCycle({ cycle: 0, type: 'kubelet-stop', node: 'node-0', pod: 'pg-0', kubeNode: W[0], forceDeleteAfterMs: 20_000, injectedAtMs: 60_000 });
    expect(quiet.cycles()[0].leader.secondPrimaryAtMs).toBeNull();
  });
});

describe('node-crash of the Patroni primary: the old pod keeps its label and stays Ready until the node monitor grace period runs out', () => {
  // Synthesised from what kind shows: Patroni promotes pg-1 after ttl (30 s) while the API still has
  // the crashed node Ready and pg-0 Ready and labelled, until the 50 s grace period marks it Unknown.
  const ready = (status: string, reason: string) => ({ conditions: [{ type: 'Ready', status, reason }], addresses: [{ type: 'InternalIP', address: '172.18.0.3' }] });
  const pod = (name: string, uid: string, node: string, role: string, isReady: boolean) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS, uid, labels: { 'app.kubernetes.io/name': 'statebench-db', role } },
    spec: { nodeName: node },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: isReady ? 'True' : 'False' }] },
  });
  const ep = (leader: string | null, ip?: string) => ({ apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'pg', namespace: NS, ...(leader ? { annotations: { leader, renewTime: 'x' } } : {}) }, subsets: ip ? [{ addresses: [{ ip }] }] : [] });
  const events: Observation[] = [
    { atMs: 1_000, type: 'ADDED', object: { apiVersion: 'v1', kind: 'Node', metadata: { name: W[0] }, status: ready('True', 'KubeletReady') } },
    { atMs: 1_001, type: 'ADDED', object: { apiVersion: 'v1', kind: 'Node', metadata: { name: W[1] }, status: ready('True', 'KubeletReady') } },
    { atMs: 1_002, type: 'ADDED', object: pod('pg-0', 'u0', W[0], 'master', true) },
    { atMs: 1_003, type: 'ADDED', object: pod('pg-1', 'u1', W[1], 'replica', true) },
    { atMs: 1_004, type: 'ADDED', object: ep('pg-0', '10.244.1.5') },
    // Patroni on pg-1 takes the expired key and promotes; clients follow the Endpoints at once.
    { atMs: 95_000, type: 'MODIFIED', object: ep('pg-1', '10.244.2.7') },
    { atMs: 95_400, type: 'MODIFIED', object: pod('pg-1', 'u1', W[1], 'master', true) },
    { atMs: 112_000, type: 'MODIFIED', object: { apiVersion: 'v1', kind: 'Node', metadata: { name: W[0] }, status: ready('Unknown', 'NodeStatusUnknown') } },
    { atMs: 112_100, type: 'MODIFIED', object: pod('pg-0', 'u0', W[0], 'master', false) },
  ];
  const tl = new KubernetesTimeline({
    kubeConfig: (() => {
      const kc = new KubeConfig();
      kc.loadFromOptions({ clusters: [{ name: 'x', server: 'http://127.0.0.1:9' }], users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'x', user: 'u' }], currentContext: 'x' });
      return kc;
    })(),
    namespace: NS,
    podSelector: 'app.kubernetes.io/name=statebench-db',
    clock: stillClock,
    leaderLabel: LEADER,
    leaderEndpoints: 'pg',
  });
  replay(tl, events);
  const mark = tl.beginCycle({ cycle: 0, type: 'node-crash', node: 'node-0', pod: 'pg-0', kubeNode: W[0], forceDeleteAfterMs: null, injectedAtMs: 60_000 });
  mark.actions.push({ atMs: 60_010, what: 'docker kill --signal KILL', detail: W[0] });
  const t = only(tl);

  test('two labels on a crashed node are no second primary', () => {
    expect(t.leader.secondPrimaryAtMs).toBeNull();
    expect(t.findings).toContain('no second primary observed');
    expect(t.entries.find((e) => e.what.startsWith('two pods labelled leader'))?.what).toBe(`two pods labelled leader (pg-0, pg-1); not a second primary: the old label is stale while ${W[0]} is faulted`);
  });

  test('the leader key (the clients\' route) moved to pg-1 35 s after the crash, before the node was even NotReady', () => {
    expect(t.leader.key).toEqual({ before: 'pg-0', after: 'pg-1', releasedAtMs: null, takenAtMs: 95_000, takenBy: 'pg-1' });
    expect(t.findings).toContain('leader key (clients\' route) moved from pg-0 to pg-1, taken +35.0s after injection');
    expect(t.entries.find((e) => e.source === 'leader-key')?.what).toBe('leader key held by pg-1; clients routed to 10.244.2.7');
  });

  test('the same two labels with both pods and nodes Ready outside a node fault are a second primary', () => {
    const pd = new KubernetesTimeline({ kubeConfig: (tl as unknown as { o: { kubeConfig: KubeConfig } }).o.kubeConfig, namespace: NS, podSelector: 'x', clock: stillClock, leaderLabel: LEADER, leaderEndpoints: 'pg' });
    replay(pd, events.slice(0, 7));
    pd.beginCycle({ cycle: 0, type: 'pod-delete', node: 'node-1', pod: 'pg-1', kubeNode: W[1], forceDeleteAfterMs: null, injectedAtMs: 60_000 });
    expect(pd.cycles()[0].leader.secondPrimaryAtMs).toBe(95_400);
  });
});

test('a graceful delete of the Patroni primary: the leader key is released before the pod is gone', () => {
  const tl = offlineTimeline(LEADER);
  const p0 = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'pg-0', namespace: NS, uid: 'u0', labels: { role: 'master' } }, spec: { nodeName: W[0] }, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } };
  (tl as unknown as { o: { leaderEndpoints?: string } }).o.leaderEndpoints = 'pg';
  replay(tl, [
    { atMs: 1_000, type: 'ADDED', object: p0 },
    { atMs: 1_001, type: 'ADDED', object: { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'pg', namespace: NS, annotations: { leader: 'pg-0' } }, subsets: [{ addresses: [{ ip: '10.244.1.5' }] }] } },
    { atMs: 60_100, type: 'MODIFIED', object: { ...p0, metadata: { ...p0.metadata, deletionTimestamp: '2026-11-27T14:31:00Z', deletionGracePeriodSeconds: 30 } } },
    { atMs: 61_300, type: 'MODIFIED', object: { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'pg', namespace: NS }, subsets: [] } },
    { atMs: 62_000, type: 'DELETED', object: p0 },
  ]);
  tl.beginCycle({ cycle: 0, type: 'pod-delete', node: 'node-0', pod: 'pg-0', kubeNode: W[0], forceDeleteAfterMs: null, injectedAtMs: 60_000 });
  const t = only(tl);
  expect(t.leader.key).toMatchObject({ before: 'pg-0', releasedAtMs: 61_300 });
  expect(t.findings).toContain('pg-0 released the leader key +1.3s after injection, 0.7s before its pod was gone');
});

test('pod-force-delete: a key released after the pod object is gone is said so, not as a negative "before"', () => {
  const tl = offlineTimeline(LEADER);
  const p0 = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'pg-0', namespace: NS, uid: 'u0', labels: { role: 'master' } }, spec: { nodeName: W[0] }, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } };
  (tl as unknown as { o: { leaderEndpoints?: string } }).o.leaderEndpoints = 'pg';
  replay(tl, [
    { atMs: 1_000, type: 'ADDED', object: p0 },
    { atMs: 1_001, type: 'ADDED', object: { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'pg', namespace: NS, annotations: { leader: 'pg-0' } }, subsets: [{ addresses: [{ ip: '10.244.1.5' }] }] } },
    { atMs: 60_100, type: 'DELETED', object: p0 },
    { atMs: 61_800, type: 'MODIFIED', object: { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'pg', namespace: NS }, subsets: [] } },
  ]);
  tl.beginCycle({ cycle: 0, type: 'pod-force-delete', node: 'node-0', pod: 'pg-0', kubeNode: W[0], forceDeleteAfterMs: null, injectedAtMs: 60_000 });
  expect(only(tl).findings).toContain('pg-0 released the leader key +1.8s after injection, 1.7s after its pod object was gone');
});

test('two cycles split the observations at the second injection', () => {
  const tl = offlineTimeline(LEADER);
  replay(tl, recorded('watch-kubelet-stop-patroni.jsonl'));
  tl.beginCycle({ cycle: 0, type: 'pod-delete', node: 'node-1', pod: 'pg-1', kubeNode: W[1], forceDeleteAfterMs: null, injectedAtMs: 5_000 });
  tl.beginCycle({ cycle: 0, type: 'kubelet-stop', node: 'node-0', pod: 'pg-0', kubeNode: W[0], forceDeleteAfterMs: null, injectedAtMs: 60_000 });
  const [first, second] = tl.cycles();
  expect(first.entries.every((e) => e.atMs < 60_000)).toBe(true);
  expect(first.nodeStatus.notReadyAtMs).toBeNull();
  expect(second.nodeStatus.notReadyAtMs).toBe(101_000.4);
});

test('claim and volume binding within a cycle: a claim recreated by an operator binds to another node\'s Local PV', () => {
  const tl = offlineTimeline(null);
  const pod = (uid: string, nodeName?: string, ready = false): Observation['object'] => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'pg-0', namespace: NS, uid },
    spec: { ...(nodeName ? { nodeName } : {}), volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data-pg-0' } }] },
    status: { phase: nodeName ? 'Running' : 'Pending', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  });
  const claim = (phase: string, volumeName?: string): Observation['object'] => ({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'data-pg-0', namespace: NS, uid: `c-${phase}` }, spec: { ...(volumeName ? { volumeName } : {}), storageClassName: 'local' }, status: { phase } });
  const volume = (name: string, phase: string, onNode: string, claimName?: string): Observation['object'] => ({
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name },
    spec: { ...(claimName ? { claimRef: { namespace: NS, name: claimName } } : {}), nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [onNode] }] }] } } },
    status: { phase },
  });
  replay(tl, [
    { atMs: 1, type: 'ADDED', object: pod('u-1', W[0], true) },
    { atMs: 2, type: 'ADDED', object: claim('Bound', 'pv-a') },
    { atMs: 3, type: 'ADDED', object: volume('pv-a', 'Bound', W[0], 'data-pg-0') },
    { atMs: 4, type: 'ADDED', object: volume('pv-b', 'Available', W[1]) },
    { atMs: 12_000, type: 'DELETED', object: pod('u-1', W[0], true) },
    { atMs: 12_100, type: 'DELETED', object: claim('Bound', 'pv-a') },
    { atMs: 12_200, type: 'ADDED', object: claim('Pending') },
    { atMs: 12_250, type: 'ADDED', object: pod('u-2') },
    { atMs: 12_400, type: 'MODIFIED', object: volume('pv-b', 'Bound', W[1], 'data-pg-0') },
    { atMs: 12_450, type: 'MODIFIED', object: claim('Bound', 'pv-b') },
    { atMs: 12_500, type: 'MODIFIED', object: pod('u-2', W[1]) },
    { atMs: 15_000, type: 'MODIFIED', object: pod('u-2', W[1], true) },
  ]);
  tl.beginCycle({ cycle: 0, type: 'pod-force-delete', node: 'node-0', pod: 'pg-0', kubeNode: W[0], forceDeleteAfterMs: null, injectedAtMs: 10_000 });
  const t = tl.cycles()[0];
  expect(t.entries.filter((e) => e.source === 'claim' || e.source === 'volume').map((e) => `${e.source} ${e.object}: ${e.what}`)).toEqual([
    'claim data-pg-0: deleted',
    'claim data-pg-0: Pending',
    'volume pv-b: Bound',
    'claim data-pg-0: Bound to pv-b',
  ]);
  expect(t.claim).toEqual({ name: 'data-pg-0', phase: 'Bound', volume: 'pv-b', pinnedTo: W[1], volumeBefore: 'pv-a' });
  // Not the same member any more: statefulset.stable-identity fails on exactly this.
  expect(t.replacement).toMatchObject({ kubeNode: W[1], scheduledAtMs: 12_500, readyAtMs: 15_000 });
});

test('compaction keeps API paths and drops what changes on every heartbeat', () => {
  const [nodeEvent] = recorded('watch-kubelet-stop-patroni.jsonl');
  const c = compact(nodeEvent.object);
  expect(c).toEqual({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: W[0], uid: '0b6a1c2e-7d1f-4c3a-9e00-5a8f2d1c9b70' },
    spec: {},
    status: {
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status' }],
      addresses: [{ type: 'InternalIP', address: '172.18.0.3' }],
      nodeInfo: { containerRuntimeVersion: 'containerd://1.7.18', kubeletVersion: 'v1.31.0' },
    },
  });
  const pv = recorded('watch-kubelet-stop-patroni.jsonl').find((e) => e.object.kind === 'PersistentVolume')!;
  expect(pinnedNode(compact(pv.object))).toBe(W[0]);
});

describe('the recorder against the fake API server', () => {
  let api: FakeApiServer;
  beforeEach(async () => {
    api = await new FakeApiServer().start();
  });
  afterEach(async () => {
    await api.stop();
  });

  const node = (name: string, status: string, reason: string): StoredObject => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name },
    status: { conditions: [{ type: 'Ready', status, reason, lastHeartbeatTime: new Date().toISOString() }], addresses: [{ type: 'InternalIP', address: '172.18.0.3' }] },
  });
  const pod = (name: string, uid: string, ready: boolean, labels: Record<string, string> = {}): StoredObject => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS, uid, labels: { app: 'db', ...labels } },
    spec: { nodeName: 'w1' },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  });

  test('lists first, then follows changes, across a watch the server closes, with the run clock', async () => {
    api.put(node('w1', 'True', 'KubeletReady'));
    api.put(pod('pg-0', 'u-1', true, { role: 'master' }));
    api.put({ apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: 'pv-other' }, spec: { claimRef: { namespace: 'someone-else', name: 'x' } }, status: { phase: 'Bound' } });
    const clock = new RunClock();
    const tl = new KubernetesTimeline({ kubeConfig: api.kubeConfig(), namespace: NS, podSelector: 'app=db', clock, leaderLabel: LEADER });
    await tl.start();
    try {
      expect(tl.get('Node', 'w1')?.status.conditions[0].status).toBe('True');
      expect(tl.get('Pod', 'pg-0')?.metadata?.uid).toBe('u-1');
      // Another namespace's volume is none of this target's business.
      expect(tl.get('PersistentVolume', 'pv-other')).toBeUndefined();
      const mark = tl.beginCycle({ cycle: 0, type: 'kubelet-stop', node: 'node-0', pod: 'pg-0', kubeNode: 'w1', forceDeleteAfterMs: null });
      const notReady = tl.waitFor('w1 NotReady', () => (tl.get('Node', 'w1')?.status.conditions[0].status === 'Unknown' ? clock.now() : undefined), { timeoutMs: 5_000 });
      api.update('v1', 'Node', undefined, 'w1', (n) => ((n.status as { conditions: object[] }).conditions = [{ type: 'Ready', status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.' }]));
      expect(await notReady).toBeGreaterThan(mark.injectedAtMs);
      // The server ends every watch (its timeout); the recorder lists again and misses nothing.
      api.closeWatches();
      api.update('v1', 'Pod', NS, 'pg-0', (p) => ((p.status as { conditions: object[] }).conditions = [{ type: 'Ready', status: 'False' }]));
      await tl.waitFor('pg-0 not Ready', () => (tl.get('Pod', 'pg-0')?.status.conditions[0].status === 'False' ? true : undefined), { timeoutMs: 5_000 });
      // A heartbeat alone is no change.
      const before = tl.observations.length;
      api.update('v1', 'Node', undefined, 'w1', (n) => ((n.status as { conditions: { lastHeartbeatTime?: string }[] }).conditions[0].lastHeartbeatTime = new Date(Date.now() + 10_000).toISOString()));
      await new Promise((r) => setTimeout(r, 200));
      expect(tl.observations.length).toBe(before);
      const t = tl.cycles()[0];
      expect(t.nodeStatus).toMatchObject({ condition: 'Unknown', reason: 'NodeStatusUnknown' });
      expect(t.member.notReadyAtMs).not.toBeNull();
      expect(t.member.notReadyAtMs!).toBeGreaterThan(t.nodeStatus.notReadyAtMs!);
    } finally {
      await tl.stop();
    }
    // The server sees each aborted watch close a moment later.
    for (let i = 0; i < 40 && api.openWatches > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(api.openWatches).toBe(0);
  });

  test('a relist records no change for objects that did not change (listed objects carry Dates, watched ones text)', async () => {
    // What a real server sends: second-precision timestamps, objects in the server's key order (the
    // client's models reorder them), a terminating pod, and a pinned volume of this namespace.
    api.put({ ...node('w1', 'True', 'KubeletReady'), spec: { taints: [{ key: 'node.kubernetes.io/unreachable', effect: 'NoExecute', timeAdded: '2026-11-27T14:30:00Z' }] } });
    api.put({ ...pod('pg-0', 'u-1', true, { role: 'master' }), metadata: { name: 'pg-0', namespace: NS, uid: 'u-1', labels: { app: 'db' }, deletionTimestamp: '2026-11-27T14:30:05Z', deletionGracePeriodSeconds: 30 } });
    api.put({
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: 'pv-a' },
      spec: { claimRef: { namespace: NS, name: 'data-pg-0' }, nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['w1'] }] }] } } },
      status: { phase: 'Bound' },
    });
    const tl = new KubernetesTimeline({ kubeConfig: api.kubeConfig(), namespace: NS, podSelector: 'app=db', clock: new RunClock(), leaderLabel: LEADER });
    await tl.start();
    try {
      // Seen once by the first list; the watch then delivers the same objects as the server's JSON.
      api.update('v1', 'Pod', NS, 'pg-0', () => {});
      api.update('v1', 'Node', undefined, 'w1', () => {});
      await new Promise((r) => setTimeout(r, 300));
      const first = tl.observations.map((o) => `${o.type} ${o.object.kind}/${o.object.metadata?.name}`);
      expect(first).toEqual(['ADDED Node/w1', 'ADDED Pod/pg-0', 'ADDED PersistentVolume/pv-a']);
      // Every relist after a closed watch goes through the client's models again.
      for (let i = 0; i < 3; i++) {
        api.closeWatches();
        await new Promise((r) => setTimeout(r, 400));
      }
      expect(tl.observations.map((o) => `${o.type} ${o.object.kind}/${o.object.metadata?.name}`)).toEqual(first);
      expect(tl.get('Pod', 'pg-0')?.metadata?.deletionTimestamp).toBe('2026-11-27T14:30:05Z');
    } finally {
      await tl.stop();
    }
  });

  test('a wait that cannot succeed names what it waited for and the state it saw', async () => {
    api.put(node('w1', 'True', 'KubeletReady'));
    const tl = new KubernetesTimeline({ kubeConfig: api.kubeConfig(), namespace: NS, podSelector: 'app=db', clock: new RunClock(), leaderLabel: null });
    await tl.start();
    try {
      await expect(tl.waitFor('node w1 to be NotReady', () => undefined, { timeoutMs: 300, state: () => 'node w1 Ready=True' })).rejects.toThrow(/^timed out after 300 ms waiting for node w1 to be NotReady \(\d+ looks?\); last seen: node w1 Ready=True$/);
    } finally {
      await tl.stop();
    }
  });
});

describe('waits on the record (no API server: changes are fed to the recorder directly)', () => {
  const nodeObj = (ready: string): KubeObject => ({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'w1' }, status: { conditions: [{ type: 'Ready', status: ready }] } }) as KubeObject;
  const readyOf = (tl: KubernetesTimeline) => (tl.get('Node', 'w1')?.status?.conditions as { status: string }[] | undefined)?.[0]?.status;

  test('a change ends the pause at once: the wait does not sit out its half-second interval', async () => {
    // A clock whose pauses never end on their own: only a recorded change moves the wait on.
    const stalled: WaitClock = { now: () => 0, sleep: (_ms, signal) => new Promise((_, reject) => signal?.addEventListener('abort', () => reject(signal.reason), { once: true })) };
    const tl = offlineTimeline(null, stalled);
    tl.observe('ADDED', nodeObj('True'));
    const notReady = tl.waitFor('node w1 NotReady', () => (readyOf(tl) === 'Unknown' ? 'seen' : undefined), { timeoutMs: 60_000 });
    await new Promise((r) => setImmediate(r));
    tl.observe('MODIFIED', nodeObj('Unknown'));
    expect(await notReady).toBe('seen');
  });

  test('on the fake clock a condition that never holds times out at once, with what was awaited and the state seen', async () => {
    const clock = new FakeClock();
    const tl = offlineTimeline(null, clock);
    tl.observe('ADDED', nodeObj('True'));
    const e = await tl.waitFor('node w1 NotReady', () => (readyOf(tl) === 'Unknown' ? true : undefined), { timeoutMs: 6 * 3_600_000, state: () => `node w1 Ready=${readyOf(tl)}` }).catch((x) => x);
    expect(e).toBeInstanceOf(WaitTimeoutError);
    expect(e.message).toBe('timed out after 21600000 ms waiting for node w1 NotReady (43201 looks); last seen: node w1 Ready=True');
    expect(clock.now()).toBe(21_600_000);
    expect(new Set(clock.sleeps)).toEqual(new Set([500]));
  });

  test('an aborted wait ends with the signal\'s reason', async () => {
    const tl = offlineTimeline(null, new FakeClock());
    const stop = new AbortController();
    stop.abort(new Error('interrupted'));
    await expect(tl.waitFor('anything', () => undefined, { timeoutMs: 1_000, signal: stop.signal })).rejects.toThrow('interrupted');
  });
});
