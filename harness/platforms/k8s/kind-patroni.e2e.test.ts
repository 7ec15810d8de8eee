// Patroni (3 members, the Kubernetes API as its DCS) on a real kind cluster this test creates and
// deletes, on Local PVs, clients through the client Service's NodePort (the Endpoints Patroni writes
// with its leader key). One cluster, four fault cycles, each with its Kubernetes timeline checked
// against what the cluster did:
//   pod-delete of the primary        Patroni's fast shutdown releases the leader key before the pod is
//                                    gone; the container's log shows PostgreSQL shut down cleanly
//   node-crash of the primary        a replica takes the key; no second primary is reported and no write
//                                    is answered by the dead member after the switch
//   node-hang of a replica           kubelet and database frozen and thawed; the leader stays
//   pod-force-delete of a replica    the StatefulSet recreates it on its Local PV's node
//
// Needs kind, a running docker, a kind node image (STATEBENCH_KIND_NODE_IMAGE, e.g. the offline
// statebench/kind-node:latest) and statebench/patroni:latest (STATEBENCH_KIND_PATRONI_IMAGE). Skipped,
// saying why, where any is missing; under CI (STATEBENCH_REQUIRE_KIND=1 or CI=true) that is a failure.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Log } from '@kubernetes/client-node';
import { describe, expect, test } from 'vitest';
import { sleep, type Clock } from '../../core/clock.ts';
import { newRunId } from '../../core/workspace.ts';
import { connect, withClient } from '../../engine/pg.ts';
import type { DeployedEngine, EngineNode } from '../../engine/types.ts';
import { FaultInjection } from '../../fault/fault.ts';
import type { ProvisionedTarget } from '../types.ts';
import type { KubernetesFaultTimeline } from './timeline/assemble.ts';
import { KubernetesPlatform } from './platform.ts';
import { KindCli, loadKubeConfig } from './cluster.ts';
import { defaultImage } from './render/manifests.ts';
import { NAMES, kindClusterName } from './names.ts';
import { kubernetesTarget } from './testing/plan.ts';
import { kindRequired, kindTestGaps } from './testing/kind-requirements.ts';
import { kindTestRuntime } from './testing/kind-runtime.ts';

const IMAGE = process.env.STATEBENCH_KIND_PATRONI_IMAGE ?? defaultImage('patroni');

const reason = kindTestGaps({ test: 'kind Patroni test', image: IMAGE, imageHint: 'npx tsx images/build.ts patroni, or set STATEBENCH_KIND_PATRONI_IMAGE', nodeImage: true });
const required = kindRequired;
if (reason && !required) console.warn(`SKIP ${reason}`);

/** One write through the client path: which member answered it (its pod name), or why it failed. */
interface Write {
  atMs: number;
  member?: string;
  error?: string;
}

/** Writes through the client Service every 250 ms until stopped; each write names the member that took it. */
function writer(engine: DeployedEngine, clock: Clock): { stop(): Promise<Write[]> } {
  const writes: Write[] = [];
  let running = true;
  const loop = (async () => {
    let n = 0;
    while (running) {
      const atMs = clock.now();
      try {
        const c = await connect(engine.clientConn(), { connectionTimeoutMillis: 2_000, query_timeout: 2_000 });
        try {
          const r = await c.query("insert into patroni_e2e values ($1) returning pg_read_file('/etc/hostname') as member", [++n]);
          writes.push({ atMs, member: String(r.rows[0].member).trim() });
        } finally {
          await c.end().catch(() => {});
        }
      } catch (e) {
        writes.push({ atMs, error: (e as Error).message });
      }
      await sleep(250);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return writes;
    },
  };
}

describe('kind: Patroni on Local PVs', () => {
  test.skipIf(!!reason && !required)(
    'pod-delete of the primary releases the leader key first and shuts down cleanly; a primary node crash fails over with no second primary and no write to the dead member; replica node-hang and pod-force-delete recover',
    async () => {
      if (reason) throw new Error(`kind end-to-end tests are required here (CI) but ${reason}`);
      const runId = newRunId();
      const target = kubernetesTarget({
        storage: { kind: 'local-pv', size: '1GiB' },
        engine: { kind: 'patroni', members: 3, startTimeout: '240s', settings: { shared_buffers: '32MB', log_min_messages: 'log' } },
        target: { image: IMAGE, pull: 'never' },
        // Run one after the other here, not on the schedule. The crashed node stays down 60 s: past
        // Patroni's ttl + loop_wait (40 s) so a replica takes the key, past the 50 s grace period so
        // the node is NotReady, and within the 300 s unreachable toleration so nothing is evicted.
        faults: [
          { type: 'pod-delete', target: 'primary', at: '0s', recoveryTimeout: '180s' },
          { type: 'node-crash', target: 'primary', at: '60s', downFor: '60s', recoveryTimeout: '300s' },
          { type: 'node-hang', target: 'replica', at: '200s', duration: '20s', recoveryTimeout: '180s' },
          { type: 'pod-force-delete', target: 'replica', at: '300s', recoveryTimeout: '240s' },
        ],
      });
      target.io = { ...target.io, enabled: false };
      const { base, stateDir, rt } = kindTestRuntime('patroni', runId, target.slug);
      const cluster = kindClusterName(runId, target.name);
      const t0 = performance.now();
      try {
        const provisioned: ProvisionedTarget = await new KubernetesPlatform('kind', { runId }).provision(target, rt);
        console.log(`[kind patroni] cluster ${cluster} created in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
        const engine = await provisioned.deployEngine();
        console.log(`[kind patroni] Patroni accepting writes ${((performance.now() - t0) / 1000).toFixed(0)} s after the create began`);
        await withClient(engine.clientConn(), async (c) => {
          await c.query('create table patroni_e2e (v int)');
          await c.query('insert into patroni_e2e values (0)');
        });
        const kc = loadKubeConfig({ file: join(stateDir, 'kubeconfig') });
        const ns = (await provisioned.describe()).namespace as string;
        const timelineOf = (r: { type: string; cycle: number; injectedAtMs: number }) =>
          (provisioned as unknown as { faultTimeline(r: object): KubernetesFaultTimeline | undefined }).faultTimeline(r)!;
        const subjectOf = async (which: string | undefined): Promise<EngineNode> => {
          const primary = await engine.primary();
          return which === 'replica' ? engine.nodes.find((n) => n !== primary)! : primary;
        };

        const timelines: KubernetesFaultTimeline[] = [];
        const logs: string[] = [];
        const writes: Write[][] = [];
        for (const cycle of target.faults) {
          const node = await subjectOf(cycle.target);
          const pod = `${NAMES.statefulSet}-${engine.nodes.indexOf(node)}`;
          // The member's container log, followed to its end (pod-delete: its shutdown).
          let log = '';
          if (cycle.type === 'pod-delete') {
            const sink = new Writable({ write: (chunk, _e, done) => ((log += String(chunk)), done()) });
            await new Log(kc).log(ns, pod, NAMES.container, sink, { follow: true, sinceSeconds: 1 });
          }
          const w = writer(engine, rt.clock);
          await sleep(2_000);
          const fault = new FaultInjection(provisioned.faultMode!(cycle, { engine, node })!);
          const injectedAtMs = rt.clock.now();
          await fault.inject();
          await sleep(cycle.holdMs);
          await fault.recover();
          await fault.waitForRecovery(cycle.recoveryTimeoutMs);
          expect(fault.state).toBe('recovered');
          await engine.awaitHealthy(120_000);
          await sleep(3_000);
          writes.push(await w.stop());
          const t = timelineOf({ type: cycle.type, cycle: cycle.cycle, injectedAtMs });
          const answered = writes.at(-1)!.reduce<Record<string, number>>((m, x) => ((m[x.member ?? 'failed'] = (m[x.member ?? 'failed'] ?? 0) + 1), m), {});
          console.log(`[kind patroni] ${cycle.type} of ${pod}:\n  ${t.findings.join('\n  ')}\n  writes answered: ${JSON.stringify(answered)}\n  member ${JSON.stringify(t.member)} replacement ${JSON.stringify(t.replacement)} claim ${JSON.stringify(t.claim)} key ${JSON.stringify(t.leader.key)}`);
          timelines.push(t);
          logs.push(log);
        }
        const [podDelete, crash, hang, forceDelete] = timelines;

        // pod-delete of the primary: the key was released (Patroni's own shutdown) before the pod was
        // gone, PostgreSQL shut down cleanly, and another member took the key.
        expect(podDelete.leader.key).not.toBeNull();
        expect(podDelete.leader.key!.before).toBe(podDelete.pod);
        expect(podDelete.leader.key!.releasedAtMs).not.toBeNull();
        expect(podDelete.member.goneAtMs).not.toBeNull();
        expect(podDelete.leader.key!.releasedAtMs!).toBeLessThan(podDelete.member.goneAtMs!);
        expect(podDelete.member.deletedBy).toBe('statebench');
        expect(logs[0], logs[0]).toMatch(/received fast shutdown request|database system is shut down/);
        expect(logs[0]).toContain('database system is shut down');
        expect(podDelete.leader.secondPrimaryAtMs).toBeNull();

        // node-crash of the primary: the node went NotReady, a replica took the key, and no second
        // primary and no write answered by the dead member after that.
        expect(crash.entries.filter((e) => e.source === 'statebench').map((e) => e.what.split(':')[0])).toEqual(expect.arrayContaining(['docker kill --signal KILL', 'docker start']));
        expect(crash.nodeStatus.notReadyAtMs).not.toBeNull();
        expect(crash.leader.key!.before).toBe(crash.pod);
        expect(crash.leader.key!.takenBy).not.toBeNull();
        expect(crash.leader.key!.takenBy).not.toBe(crash.pod);
        expect(crash.leader.key!.takenAtMs).not.toBeNull();
        expect(crash.leader.secondPrimaryAtMs).toBeNull();
        expect(crash.findings.join('\n')).not.toContain('SECOND PRIMARY');
        const afterSwitch = writes[1].filter((x) => x.atMs >= crash.leader.key!.takenAtMs! && x.atMs < (crash.recoverAtMs ?? Infinity));
        expect(afterSwitch.filter((x) => x.member === crash.pod)).toEqual([]);
        expect(afterSwitch.filter((x) => x.member).length).toBeGreaterThan(0);
        // Before the crash the dead member answered; after it, the new leader did.
        expect(writes[1].find((x) => x.member)?.member).toBe(crash.pod);
        expect(afterSwitch.find((x) => x.member)?.member).toBe(crash.leader.key!.takenBy);

        // node-hang of a replica: the leader stayed, nothing was evicted.
        expect(hang.entries.some((e) => e.source === 'statebench' && e.what.startsWith('docker pause'))).toBe(true);
        expect(hang.leader.key!.before).toBe(hang.leader.key!.after);
        expect(hang.member.evictedAtMs).toBeNull();
        expect(hang.leader.secondPrimaryAtMs).toBeNull();

        // pod-force-delete of a replica: recreated with a new uid on the node its Local PV is pinned to.
        expect(forceDelete.member.deletedBy).toBe('statebench');
        expect(forceDelete.replacement).not.toBeNull();
        expect(forceDelete.replacement!.uid).not.toBe(forceDelete.member.uid);
        expect(forceDelete.replacement!.kubeNode).toBe(forceDelete.claim!.pinnedTo);
        expect(forceDelete.member.readyAgainAtMs).not.toBeNull();

        await engine.stop();
      } finally {
        expect(await rt.registry.releaseAll()).toEqual([]);
        rmSync(base, { recursive: true, force: true });
      }
      expect(await new KindCli().statebenchClusters()).not.toContain(cluster);
    },
    1_800_000,
  );
});
