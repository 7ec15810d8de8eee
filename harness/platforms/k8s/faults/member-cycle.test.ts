// The waits every Kubernetes fault mode shares, on the fake clock: the timeline is fed changes
// directly (no API server), the engine and the member's own connection are stand-ins that answer as
// told, so a recovery that never comes times out in no time and says what it saw.
import { describe, expect, test } from 'vitest';
import { KubeCluster } from '../cluster.ts';
import { KubernetesTimeline } from '../timeline/recorder.ts';
import type { KubeObject } from '../timeline/assemble.ts';
import { offlineKubeConfig } from '../testing/offline.ts';
import { kubernetesTarget } from '../testing/plan.ts';
import { MemberCycle, type KubernetesFaultContext } from './member-cycle.ts';
import type { DeployedEngine, EngineNode } from '../../../engine/types.ts';
import type { FaultCycle } from '../../../model/plan.ts';
import { WaitTimeoutError } from '../../../errors.ts';
import { FakeClock } from '../../../testing/fake-clock.ts';

const NS = 'statebench-unit';

function setup(answers: () => boolean) {
  const clock = new FakeClock();
  // The run clock the marks read is the fake clock too, so marks and waits tell the same time.
  const runClock = { now: () => clock.now(), wall: () => '2026-11-27T14:30:00.000Z' };
  const kc = offlineKubeConfig();
  const timeline = new KubernetesTimeline({ kubeConfig: kc, namespace: NS, podSelector: 'app=db', clock: runClock, leaderLabel: null, waitClock: clock });
  const node: EngineNode = { name: 'node-0', conn: { host: '127.0.0.1', port: 1, user: 'postgres', database: 'postgres' }, control: { kill: async () => {}, pause: async () => {}, resume: async () => {}, start: async () => {}, stop: async () => {}, running: true } };
  const healthy: number[] = [];
  const engine: DeployedEngine = { kind: 'postgres', nodes: [node], clientConn: () => node.conn, primary: async () => node, awaitHealthy: async (ms) => void healthy.push(ms), version: async () => 'PostgreSQL 17', stop: async () => {} };
  let looks = 0;
  const ctx: KubernetesFaultContext = {
    platform: 'kind',
    target: kubernetesTarget(),
    runId: 'r1',
    namespace: NS,
    cluster: new KubeCluster(kc, { clock }),
    timeline,
    clock: runClock,
    policy: { nodeAccess: 'none' },
    image: 'statebench/postgres:latest',
    pullPolicy: 'Never',
    labels: {},
    podOf: () => 'pg-0',
    memberAnswers: async () => (looks++, answers()),
    waitClock: clock,
  };
  timeline.observe('ADDED', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'pg-0', namespace: NS, uid: 'u-1' }, spec: { nodeName: 'w1' }, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }] } } as KubeObject);
  timeline.observe('ADDED', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'w1' }, status: { conditions: [{ type: 'Ready', status: 'True' }], addresses: [{ type: 'InternalIP', address: '172.18.0.3' }] } } as KubeObject);
  const cycle: FaultCycle = { faultIndex: 0, cycle: 0, type: 'node-crash', target: 'primary', atMs: 0, holdMs: 0, errorRate: 0.1, recoveryTimeoutMs: 30_000 };
  return { clock, healthy, looks: () => looks, m: new MemberCycle(cycle, { engine, node }, ctx) };
}

describe('MemberCycle.recovered on the fake clock', () => {
  test('the member is looked at every half second until it answers on its own connection; the client path is checked last, with the time that is left', async () => {
    let n = 0;
    const { clock, healthy, looks, m } = setup(() => ++n === 3);
    await m.locate();
    const mark = m.begin();
    await m.recovered(30_000, { node: true });
    expect(looks()).toBe(3);
    expect(clock.sleeps).toEqual([500, 500]);
    // After the member answered (two pauses of 500 ms): what the workload's path is given.
    expect(healthy).toEqual([29_000]);
    expect(mark.healthyAtMs).toBe(1_000);
  });

  test('the client path is not asked before the node is back at its new address', async () => {
    const { healthy, m } = setup(() => true);
    await m.locate();
    await m.recovered(10_000, { node: true, expectAddress: '172.18.0.9' }).catch(() => {});
    expect(healthy).toEqual([]);
  });

  test('a member that never answers: a timeout that names it, its pod and what the pod looked like', async () => {
    const { clock, m } = setup(() => false);
    await m.locate();
    const e = await m.recovered(30_000).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(WaitTimeoutError);
    expect((e as Error).message).toBe('timed out after 30000 ms waiting for node-0 (pod pg-0) to answer on its own connection again (61 looks); last seen: pod pg-0 Running on w1, Ready=False');
    expect(clock.now()).toBe(30_000);
  });

  test('a node that does not come back at the new address: the deadline is the one recovery was given, shared by every step', async () => {
    const { clock, m } = setup(() => true);
    await m.locate();
    const e = await m.recovered(10_000, { node: true, expectAddress: '172.18.0.9' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(WaitTimeoutError);
    expect((e as Error).message).toMatch(/^timed out after 10000 ms waiting for node w1 to be Ready at 172\.18\.0\.9 \(\d+ looks\); last seen: node w1 Ready=True, InternalIP 172\.18\.0\.3$/);
    expect(clock.now()).toBe(10_000);
  });
});
