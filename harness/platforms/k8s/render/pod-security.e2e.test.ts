// The rendered database pod against a real kube-apiserver's Pod Security admission: in a namespace that
// enforces `restricted` (as locked-down clusters and OpenShift-like setups do), the pod of a target
// with `runAs` is admitted, and the default one (root start, chown, setpriv) is refused with the
// reasons. Also that pull Secrets reach the pod spec. No kubelet: admission is the API server's.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { IStatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { KubeCluster, apiMessage } from '../cluster.ts';
import { RealApiServer, kubeBinDir } from '../testing/real-apiserver.ts';
import { kubernetesTarget } from '../testing/plan.ts';
import { renderManifests } from './manifests.ts';

const bin = kubeBinDir();
if (!bin) console.warn('SKIP Pod Security against a real kube-apiserver: no kube-apiserver/etcd (set STATEBENCH_K8S_BIN)');

describe.skipIf(!bin)('Pod Security admission of a real kube-apiserver', () => {
  let api: RealApiServer;
  let cluster: KubeCluster;
  beforeAll(async () => {
    api = await new RealApiServer(bin!).start();
    cluster = new KubeCluster(api.kubeConfig());
  }, 120_000);
  afterAll(async () => {
    await api?.stop();
  });

  /** The StatefulSet's pod as the controller would create it, in a namespace enforcing `restricted`. */
  async function admit(runAs: { user: number; group: number } | undefined, ns: string): Promise<string> {
    const t = kubernetesTarget({ platform: 'kubernetes', storage: { kind: 'remote', storageClass: 'standard', size: '1GiB' }, target: { ...(runAs ? { runAs } : {}), imagePullSecrets: ['registry-cred'] } });
    const m = renderManifests(t, '20261201-000000-aa11', { password: 'x' });
    await cluster.apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' } } }]);
    // No controller manager here: the namespace's default ServiceAccount is made by hand.
    await cluster.apply([{ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: ns } }]);
    const sts = m.engine.find((o) => o.kind === 'StatefulSet') as IStatefulSet;
    const tpl = sts.spec!.template;
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'pg-0', namespace: ns, labels: tpl.metadata!.labels }, spec: { ...tpl.spec, volumes: [...tpl.spec!.volumes!, { name: 'data', emptyDir: {} }] } };
    expect(pod.spec.imagePullSecrets).toEqual([{ name: 'registry-cred' }]);
    try {
      await cluster.objects.create(pod as KubernetesObject);
      return 'admitted';
    } catch (e) {
      return apiMessage(e);
    }
  }

  test('runAs: the database pod is admitted under restricted Pod Security', async () => {
    expect(await admit({ user: 999, group: 999 }, 'restricted-runas')).toBe('admitted');
  });

  test('without runAs the root-started pod is refused, and the API server says why', async () => {
    const refused = await admit(undefined, 'restricted-default');
    expect(refused).toMatch(/violates PodSecurity "restricted:latest"/);
    expect(refused).toMatch(/allowPrivilegeEscalation != false/);
    expect(refused).toMatch(/runAsNonRoot != true/);
  });
});
