// End to end on a real kind cluster: create it, probe a Local PV with fio, run PostgreSQL, query it
// through the NodePort, crash its worker's node container (bringing it back at a new address) and
// stop its kubelet (one cycle each, with the Kubernetes timeline of each), and delete everything. Needs kind, a running docker, kind's node
// image and the database image (STATEBENCH_KIND_IMAGE, default statebench/postgres:latest from
// images/build.ts, with fio added) in the local docker.
//
// Where any of that is missing the test is skipped and says why — the one skip allowed under CI,
// because kind cannot run on every machine. STATEBENCH_REQUIRE_KIND=1 turns the skip into a failure.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { sleep } from '../../core/clock.ts';
import { newRunId } from '../../core/workspace.ts';
import { withClient } from '../../engine/pg.ts';
import { FaultInjection } from '../../fault/fault.ts';
import type { KubernetesFaultTimeline } from './timeline/assemble.ts';
import { KubernetesPlatform } from './platform.ts';
import { KindCli } from './cluster.ts';
import { defaultImage } from './render/manifests.ts';
import { kindClusterName } from './names.ts';
import { kubernetesTarget } from './testing/plan.ts';
import { kindRequired, kindTestGaps } from './testing/kind-requirements.ts';
import { kindTestRuntime } from './testing/kind-runtime.ts';

const IMAGE = process.env.STATEBENCH_KIND_IMAGE ?? defaultImage('postgres');

const reason = kindTestGaps({ test: 'kind end-to-end test', image: IMAGE, imageHint: 'set STATEBENCH_KIND_IMAGE', nodeImage: false });
const required = kindRequired;
if (reason && !required) console.warn(`SKIP ${reason}`);

describe('kind end to end', () => {
  test.skipIf(!!reason && !required)(
    'local-pv: cluster, fio on the PV, PostgreSQL through the NodePort, a node crash and a kubelet stop survived, everything deleted after',
    async () => {
      if (reason) throw new Error(`STATEBENCH_REQUIRE_KIND=1 but ${reason}; install what is missing or unset it`);
      const runId = newRunId();
      const target = kubernetesTarget({
        storage: { kind: 'local-pv', size: '1GiB' },
        engine: { startTimeout: '120s' },
        target: { image: IMAGE, pull: 'never' },
        // Run here one after the other, not on the schedule: the kubelet stays down past the node
        // monitor grace period (40–50 s), so the node is reported NotReady while the database runs on.
        faults: [
          { type: 'node-crash', at: '0s', downFor: '20s', recoveryTimeout: '240s' },
          { type: 'kubelet-stop', at: '60s', downFor: '75s', recoveryTimeout: '240s' },
        ],
      });
      target.io = { ...target.io, tool: 'fio', size: 16 * 1024 ** 2, runtime: 3_000 };
      const { base, rt } = kindTestRuntime('e2e', runId, target.slug);
      const cluster = kindClusterName(runId, target.name);
      try {
        const provisioned = await new KubernetesPlatform('kind', { runId }).provision(target, rt);
        const io = await provisioned.probeIo();
        expect(io.tool).toMatch(/^fio-/);
        expect(io.fsyncSamples).toBeGreaterThan(0);
        const engine = await provisioned.deployEngine();
        expect(await engine.version()).toMatch(/^PostgreSQL \d+/);
        await withClient(engine.clientConn(), async (c) => {
          await c.query('create table kind_e2e (v int)');
          await c.query('insert into kind_e2e values (42)');
          expect((await c.query('select v from kind_e2e')).rows[0].v).toBe(42);
        });
        expect(await new KindCli().statebenchClusters()).toContain(cluster);

        const timelines: KubernetesFaultTimeline[] = [];
        for (const cycle of target.faults) {
          const node = await engine.primary();
          const fault = new FaultInjection(provisioned.faultMode!(cycle, { engine, node })!);
          const injectedAtMs = rt.clock.now();
          await fault.inject();
          // While the crashed node is down a stand-in container takes the address it freed (docker
          // hands out the lowest free one), so the node comes back at a new address: the case where
          // the NodePort's route has to follow it. Bounded by its own sleep, removed after recovery.
          const standIn = cycle.type === 'node-crash' ? `statebench-standin-${runId}` : undefined;
          if (standIn) {
            execFileSync('docker', ['run', '-d', '--rm', '--name', standIn, '--network', 'kind', '--label', `statebench.run=${runId}`, '--entrypoint', 'sleep', IMAGE, '600'], { stdio: 'ignore' });
            console.log(`[kind e2e] stand-in ${standIn} at ${execFileSync('docker', ['inspect', '--format', '{{.NetworkSettings.Networks.kind.IPAddress}}', standIn], { encoding: 'utf8' }).trim()}`);
          }
          try {
            await sleep(cycle.holdMs);
            await fault.recover();
            await fault.waitForRecovery(cycle.recoveryTimeoutMs);
          } finally {
            if (standIn) execFileSync('docker', ['rm', '-f', standIn], { stdio: 'ignore' });
          }
          expect(fault.state).toBe('recovered');
          const t = (provisioned as unknown as { faultTimeline(r: object): KubernetesFaultTimeline | undefined }).faultTimeline({ type: cycle.type, cycle: cycle.cycle, injectedAtMs })!;
          // The node's address before and after: the NodePort's route follows a change of it.
          console.log(`[kind e2e] ${cycle.type}:\n  ${t.findings.join('\n  ')}\n  node address ${JSON.stringify(t.nodeStatus.address)}`);
          timelines.push(t);
          // The acknowledged row survived, read at once through the NodePort: recovery counts only
          // once the workload's path answers again.
          await withClient(engine.clientConn(), async (c) => expect((await c.query('select v from kind_e2e')).rows[0]?.v).toBe(42));
        }
        const [crash, kubelet] = timelines;
        expect(crash.entries.filter((e) => e.source === 'statebench').map((e) => e.what.split(':')[0])).toEqual(expect.arrayContaining(['docker kill --signal KILL', 'docker start']));
        expect(crash.healthyAtMs).not.toBeNull();
        // The kubelet stayed away past the grace period: NodeStatusUnknown, while PostgreSQL kept serving.
        expect(kubelet.nodeStatus).toMatchObject({ condition: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.' });
        expect(kubelet.nodeStatus.readyAgainAtMs).not.toBeNull();
        expect(kubelet.oldPrimary?.servingWhileNodeNotReady).toBe(true);
        expect(kubelet.policy.unreachableToleration).toBe(300);
        expect(kubelet.member.evictedAtMs).toBeNull();
        expect(kubelet.leader.secondPrimaryAtMs).toBeNull();
      } finally {
        expect(await rt.registry.releaseAll()).toEqual([]);
        rmSync(base, { recursive: true, force: true });
      }
      expect(await new KindCli().statebenchClusters()).not.toContain(cluster);
    },
    900_000,
  );
});
