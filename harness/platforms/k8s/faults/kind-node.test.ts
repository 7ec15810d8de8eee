// kind's node verbs and the node faults on them, without a cluster: docker is a recorded stand-in that
// keeps each worker's state, the timeline is fed the member's pod directly, and the waits run on the
// fake clock.
import { describe, expect, test } from 'vitest';
import { KubeCluster } from '../cluster.ts';
import { KubernetesTimeline } from '../timeline/recorder.ts';
import type { KubeObject } from '../timeline/assemble.ts';
import { FakeDocker } from '../testing/fake-docker.ts';
import { offlineKubeConfig } from '../testing/offline.ts';
import { kubernetesTarget } from '../testing/plan.ts';
import { KindNodeControl, kindNodeFault } from './kind-node.ts';
import type { KubernetesFaultContext } from './member-cycle.ts';
import { FaultInjection } from '../../../fault/fault.ts';
import type { DeployedEngine, EngineNode, NodeControl } from '../../../engine/types.ts';
import type { FaultCycle } from '../../../model/plan.ts';
import { WaitTimeoutError } from '../../../errors.ts';
import { FakeClock } from '../../../testing/fake-clock.ts';

const WORKERS = ['sb-worker', 'sb-worker2', 'sb-worker3'];
const NS = 'statebench-unit';

describe('KindNodeControl: a member\'s verbs are its worker node container', () => {
  test('kill is remembered: start brings back the worker the pod ran on, even after the pod moved', async () => {
    const docker = new FakeDocker(WORKERS);
    let host = WORKERS[0];
    const c = new KindNodeControl(docker.exec, async () => host);
    await c.kill();
    expect(c.running).toBe(false);
    expect(c.node?.name).toBe(WORKERS[0]);
    host = WORKERS[1];
    await c.start();
    expect(c.running).toBe(true);
    expect(c.node).toBeUndefined();
    expect(docker.actions()).toEqual([`kill --signal KILL ${WORKERS[0]}`, `start ${WORKERS[0]}`]);
    expect(docker.nodes.get(WORKERS[0])!.running).toBe(true);
  });

  test('pause and resume act on one container; stop is a clean docker stop; an undo with nothing to undo does nothing', async () => {
    const docker = new FakeDocker(WORKERS);
    let host = WORKERS[0];
    const c = new KindNodeControl(docker.exec, async () => host);
    await c.pause();
    expect(c.running).toBe(true);
    host = WORKERS[2];
    await c.resume();
    await c.resume();
    await c.start();
    await c.stop();
    expect(c.running).toBe(false);
    await c.start();
    expect(docker.actions()).toEqual([`pause ${WORKERS[0]}`, `unpause ${WORKERS[0]}`, `stop --time 60 ${WORKERS[2]}`, `start ${WORKERS[2]}`]);
  });

  test('a node paused while down is unpaused before it is started (docker refuses to start a paused container)', async () => {
    const docker = new FakeDocker(WORKERS);
    const c = new KindNodeControl(docker.exec, async () => WORKERS[0]);
    await c.kill();
    docker.nodes.get(WORKERS[0])!.paused = true;
    await c.start();
    expect(docker.actions()).toEqual([`kill --signal KILL ${WORKERS[0]}`, `unpause ${WORKERS[0]}`, `start ${WORKERS[0]}`]);
  });
});

describe('kind node faults on the verbs (fake clock)', () => {
  function setup(hostOf: () => string = () => WORKERS[0]) {
    const clock = new FakeClock();
    const runClock = { now: () => clock.now(), wall: () => '2026-11-27T14:30:00.000Z' };
    const docker = new FakeDocker(WORKERS);
    const timeline = new KubernetesTimeline({ kubeConfig: offlineKubeConfig(), namespace: NS, podSelector: 'app=db', clock: runClock, leaderLabel: null, waitClock: clock });
    timeline.observe('ADDED', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'pg-0', namespace: NS, uid: 'u-1' }, spec: { nodeName: WORKERS[0] }, status: { phase: 'Running' } } as KubeObject);
    const control = new KindNodeControl(docker.exec, async () => hostOf());
    const node: EngineNode = { name: 'node-0', conn: { host: '127.0.0.1', port: 1, user: 'postgres', database: 'postgres' }, control };
    const engine: DeployedEngine = { kind: 'postgres', nodes: [node], clientConn: () => node.conn, primary: async () => node, awaitHealthy: async () => {}, version: async () => 'PostgreSQL 17', stop: async () => {} };
    const ctx: KubernetesFaultContext = {
      platform: 'kind',
      target: kubernetesTarget(),
      runId: 'r1',
      namespace: NS,
      cluster: new KubeCluster(offlineKubeConfig(), { clock }),
      timeline,
      clock: runClock,
      policy: { nodeAccess: 'none' },
      exec: docker.exec,
      kindWorkers: WORKERS,
      image: 'statebench/postgres:latest',
      pullPolicy: 'Never',
      labels: {},
      podOf: () => 'pg-0',
      memberAnswers: async () => true,
      propagationTimeoutMs: 30_000,
      waitClock: clock,
    };
    const cycle = (type: FaultCycle['type']): FaultCycle => ({ faultIndex: 0, cycle: 0, type, target: 'primary', atMs: 0, holdMs: 0, errorRate: 0.1, recoveryTimeoutMs: 30_000 });
    return { clock, docker, control, ctx, subject: { engine, node }, cycle };
  }

  test('node-crash: a container its restart policy brought straight back times out at once on the fake clock, saying what docker said; cleanup leaves the verbs ready', async () => {
    const { clock, docker, control, ctx, subject, cycle } = setup();
    docker.after = (args) => {
      if (args[0] === 'kill') docker.nodes.get(WORKERS[0])!.running = true;
    };
    const f = new FaultInjection(kindNodeFault(cycle('node-crash'), subject, ctx));
    const e = await f.inject().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(WaitTimeoutError);
    expect((e as Error).message).toBe(`timed out after 30000 ms waiting for node container ${WORKERS[0]} to stop (121 looks); last seen: docker says running`);
    expect(clock.now()).toBe(30_000);
    await f.cleanup();
    expect(docker.actions()).toEqual([`kill --signal KILL ${WORKERS[0]}`]);
    expect(control.running).toBe(true);
    expect(control.node).toBeUndefined();
  });

  test('a pod that moved between setup and inject voids the cycle, and the node that was faulted is brought back', async () => {
    const { docker, ctx, subject, cycle } = setup(() => WORKERS[1]);
    const f = new FaultInjection(kindNodeFault(cycle('node-hang'), subject, ctx));
    const e = await f.inject().catch((x: unknown) => x);
    expect((e as Error).message).toBe(`node-hang: pod pg-0 moved from ${WORKERS[0]} to ${WORKERS[1]} before the fault; ${WORKERS[1]} was faulted instead`);
    await f.cleanup();
    expect(docker.actions()).toEqual([`pause ${WORKERS[1]}`, `unpause ${WORKERS[1]}`]);
  });

  test('one undo for node-crash and node-hang: whatever state the node was left in, it is unpaused and/or started, each step on the timeline', async () => {
    const cases = [
      // type, what happened to the node during the hold, what the undo does and records
      { type: 'node-crash', meanwhile: (n: { paused: boolean; running: boolean }) => void n, did: ['start'] },
      { type: 'node-crash', meanwhile: (n: { paused: boolean; running: boolean }) => void (n.paused = true), did: ['unpause', 'start'] },
      { type: 'node-hang', meanwhile: (n: { paused: boolean; running: boolean }) => void n, did: ['unpause'] },
      { type: 'node-hang', meanwhile: (n: { paused: boolean; running: boolean }) => void ((n.paused = false), (n.running = false)), did: ['start'] },
    ] as const;
    for (const k of cases) {
      const { docker, control, ctx, subject, cycle } = setup();
      const f = new FaultInjection(kindNodeFault(cycle(k.type), subject, ctx));
      await f.inject();
      k.meanwhile(docker.nodes.get(WORKERS[0])!);
      await f.recover();
      await f.cleanup();
      const inject = k.type === 'node-crash' ? `kill --signal KILL ${WORKERS[0]}` : `pause ${WORKERS[0]}`;
      expect(docker.actions(), `${k.type} ${k.did.join('+')}`).toEqual([inject, ...k.did.map((d) => `${d} ${WORKERS[0]}`)]);
      expect(ctx.timeline.marks[0].actions.map((a) => a.what).filter((w) => w !== 'docker kill --signal KILL' && w !== 'docker pause')).toEqual(k.did.map((d) => `docker ${d}`));
      expect(docker.nodes.get(WORKERS[0])).toMatchObject({ running: true, paused: false });
      expect(control.running).toBe(true);
    }
  });

  test('node-crash and node-hang need a kind node\'s verbs', () => {
    const { ctx, subject, cycle } = setup();
    const other: NodeControl = { kill: async () => {}, pause: async () => {}, resume: async () => {}, start: async () => {}, stop: async () => {}, running: true };
    expect(() => kindNodeFault(cycle('node-crash'), { ...subject, node: { ...subject.node, control: other } }, ctx)).toThrow("node-crash on kind acts through node-0's node verbs, which are not a kind node's");
  });
});
