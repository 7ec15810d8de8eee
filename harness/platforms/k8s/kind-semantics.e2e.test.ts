// What a real kind cluster shows about a StatefulSet member, on a cluster this test creates and deletes
// (its name carries a fresh run id): a graceful pod delete is a clean PostgreSQL shutdown, not a kill;
// the member comes back with the same name, DNS record, claim and volume; WaitForFirstConsumer really
// delays binding until the scheduler picks the node; and release removes the database's files from
// inside the nodes before the cluster goes.
//
// Needs kind, a running docker, a kind node image (STATEBENCH_KIND_NODE_IMAGE, e.g. the offline
// statebench/kind-node:latest) and statebench/postgres:latest (STATEBENCH_KIND_IMAGE). Skipped, saying
// why, where any is missing; STATEBENCH_REQUIRE_KIND=1 turns the skip into a failure.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Log, type KubernetesObject } from '@kubernetes/client-node';
import { describe, expect, test } from 'vitest';
import { CleanupRegistry } from '../../core/cleanup.ts';
import { RunClock } from '../../core/clock.ts';
import { newRunId } from '../../core/workspace.ts';
import { withClient } from '../../engine/pg.ts';
import type { TargetRuntime } from '../types.ts';
import { KubernetesPlatform } from './platform.ts';
import { KindCli, loadKubeConfig } from './cluster.ts';
import { defaultImage } from './render/manifests.ts';
import { NAMES, kindClusterName, podLabels, selectorString } from './names.ts';
import { isPodReady, type PodLike } from './diagnose.ts';
import { kubernetesTarget } from './testing/plan.ts';
import { kindRequired, kindTestGaps } from './testing/kind-requirements.ts';

const IMAGE = process.env.STATEBENCH_KIND_IMAGE ?? defaultImage('postgres');

const reason = kindTestGaps({ test: 'kind semantics test', image: IMAGE, imageHint: 'set STATEBENCH_KIND_IMAGE', nodeImage: true });
const required = kindRequired;
if (reason && !required) console.warn(`SKIP ${reason}`);

type Pod = KubernetesObject & { spec?: { nodeName?: string; volumes?: { persistentVolumeClaim?: { claimName: string } }[] }; status?: { podIP?: string } };

describe('kind: a StatefulSet member on a Local PV', () => {
  test.skipIf(!!reason && !required)(
    'pod delete is a clean fast shutdown; the member keeps name, DNS, claim and volume; binding waited for the scheduler; release wipes inside the nodes',
    async () => {
      if (reason) throw new Error(`STATEBENCH_REQUIRE_KIND=1 but ${reason}`);
      const runId = newRunId();
      const target = kubernetesTarget({
        storage: { kind: 'local-pv', size: '1GiB' },
        // LOG level, so the shutdown is in the container's log.
        engine: { startTimeout: '180s', settings: { log_min_messages: 'log', shared_buffers: '32MB' } },
        target: { image: IMAGE, pull: 'never' },
      });
      target.io = { ...target.io, enabled: false };
      const base = mkdtempSync(join(tmpdir(), 'statebench-kind-semantics-'));
      const stateDir = join(base, runId, target.slug);
      mkdirSync(stateDir, { recursive: true });
      const events: { type: string; data?: object }[] = [];
      const rt: TargetRuntime = {
        registry: new CleanupRegistry(join(base, 'resources.jsonl')),
        clock: new RunClock(),
        stateDir,
        artifactsDir: base,
        event: (type, data) => events.push({ type, data }),
        status: (p, d) => console.log(`[kind semantics] ${p}: ${d ?? ''}`),
        signal: new AbortController().signal,
      };
      const cluster = kindClusterName(runId, target.name);
      try {
        // Through the API server (port-forward): the client path is not what this test is about (the
        // NodePort path, which carries traffic once the host's inotify limits are raised, is covered by
        // kind.e2e.test.ts and kind-patroni.e2e.test.ts).
        const provisioned = await new KubernetesPlatform('kind', { runId, clientAccess: 'port-forward' }).provision(target, rt);
        const engine = await provisioned.deployEngine();
        await withClient(engine.clientConn(), async (c) => {
          await c.query('create table identity_check (v int)');
          await c.query('insert into identity_check values (42)');
        });
        const kc = loadKubeConfig({ file: join(stateDir, 'kubeconfig') });
        const { KubeCluster } = await import('./cluster.ts');
        const api = new KubeCluster(kc);
        const ns = (await provisioned.describe()).namespace as string;
        const read = async <T,>(kind: string, name: string, namespace?: string) => (await api.objects.read({ apiVersion: 'v1', kind, metadata: { name, ...(namespace ? { namespace } : {}) } })) as T;
        const pod0 = await read<Pod>('Pod', 'pg-0', ns);
        const claim0 = await read<KubernetesObject & { spec?: { volumeName?: string } }>('PersistentVolumeClaim', 'data-pg-0', ns);

        // WaitForFirstConsumer did the binding: no PV was pre-bound, so the binding was made when the
        // pod was scheduled (the scheduler's volume binder marks the PV bound-by-controller), on a
        // volume whose nodeAffinity admits the node the pod landed on.
        const pv = await read<KubernetesObject & { spec?: { claimRef?: { name?: string }; nodeAffinity?: { required?: { nodeSelectorTerms?: { matchExpressions?: { values?: string[] }[] }[] } } } }>('PersistentVolume', claim0.spec!.volumeName!);
        expect(pv.metadata?.annotations?.['pv.kubernetes.io/bound-by-controller']).toBe('yes');
        expect(pv.spec!.claimRef!.name).toBe('data-pg-0');
        expect(pv.spec!.nodeAffinity!.required!.nodeSelectorTerms![0].matchExpressions![0].values).toEqual([pod0.spec!.nodeName]);

        // Follow the container's log to its end, then delete the pod as `kubectl delete pod` does.
        let log = '';
        const sink = new Writable({ write: (chunk, _e, done) => ((log += String(chunk)), done()) });
        const ended = new Promise<void>((r) => sink.on('finish', () => r()));
        await new Log(kc).log(ns, 'pg-0', NAMES.container, sink, { follow: true, sinceSeconds: 1 });
        const t0 = performance.now();
        await api.delete({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'pg-0', namespace: ns } });
        await Promise.race([ended, new Promise((r) => setTimeout(r, 40_000))]);
        const stoppedInMs = performance.now() - t0;
        console.log(`[kind semantics] pg-0's log after the delete:\n${log}`);
        const fast = log.indexOf('received fast shutdown request');
        const down = log.indexOf('database system is shut down');
        expect(fast, log).toBeGreaterThanOrEqual(0);
        expect(down, log).toBeGreaterThan(fast);
        expect(log).toContain('statebench: postgres exited with status 0, cluster state: shut down');
        // Well inside the 30 s grace period: nothing waited for a SIGKILL.
        expect(stoppedInMs).toBeLessThan(25_000);

        // Stable identity: the StatefulSet recreates pg-0 with the same claim, volume and DNS name.
        const selector = selectorString(podLabels(runId, target.name));
        await api.waitUntil(
          { apiVersion: 'v1', kind: 'Pod', plural: 'pods', namespace: ns, fieldSelector: 'metadata.name=pg-0' },
          (items) => (items.some((p) => p.metadata?.uid !== pod0.metadata!.uid && !p.metadata?.deletionTimestamp && isPodReady(p as PodLike)) ? true : undefined),
          { timeoutMs: 240_000, what: 'pg-0 recreated and Ready', explain: () => api.explain(ns, selector) },
        );
        const pod1 = await read<Pod>('Pod', 'pg-0', ns);
        expect(pod1.metadata!.uid).not.toBe(pod0.metadata!.uid);
        expect(pod1.spec!.volumes!.find((v) => v.persistentVolumeClaim)!.persistentVolumeClaim!.claimName).toBe('data-pg-0');
        expect((await read<KubernetesObject & { spec?: { volumeName?: string } }>('PersistentVolumeClaim', 'data-pg-0', ns)).spec!.volumeName).toBe(claim0.spec!.volumeName);
        expect(pod1.spec!.nodeName).toBe(pod0.spec!.nodeName);
        const dns = execFileSync('docker', ['exec', pod1.spec!.nodeName!, 'crictl', 'ps', '-q', '--name', NAMES.container, '--label', `io.kubernetes.pod.namespace=${ns}`], { encoding: 'utf8' }).trim().split('\n')[0];
        const resolved = execFileSync('docker', ['exec', pod1.spec!.nodeName!, 'crictl', 'exec', dns, 'getent', 'hosts', `pg-0.${NAMES.membersService}.${ns}.svc.cluster.local`], { encoding: 'utf8' });
        expect(resolved.split(/\s+/)[0]).toBe(pod1.status!.podIP);
        await engine.awaitHealthy(120_000);
        await withClient(engine.clientConn(), async (c) => expect((await c.query('select v from identity_check')).rows[0].v).toBe(42));
        await engine.stop();
      } finally {
        expect(await rt.registry.releaseAll()).toEqual([]);
        rmSync(base, { recursive: true, force: true });
      }
      // The files were removed from inside the nodes (as their root) before the cluster went.
      expect(events.filter((e) => e.type === 'kind-wipe-failed')).toEqual([]);
      expect(await new KindCli().statebenchClusters()).not.toContain(cluster);
    },
    1_200_000,
  );
});
