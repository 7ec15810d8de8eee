// Render tests: every manifest validates against the Kubernetes schemas (kubernetes-models), and the
// properties that make a deployment work hold — Local PVs pinned to the workers kind creates,
// selectors that match the pods, Patroni's RBAC and environment, the same postgresql.conf as bare metal.
import { describe, expect, test } from 'vitest';
import { parse, stringify } from 'yaml';
import type { IPersistentVolume } from 'kubernetes-models/v1/PersistentVolume';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IStatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import type { IRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IStorageClass } from 'kubernetes-models/storage.k8s.io/v1/StorageClass';
import { renderManifests, quantity, remoteVolumePath, runDir, PATRONI_SCOPE_LABEL, type K8sObject, type TargetManifests } from './manifests.ts';
import { validateAll, validateObject } from './validate.ts';
import { renderKindConfig } from './kind-config.ts';
import { kubernetesTarget } from '../testing/plan.ts';
import { kindRemoteMounts, kindWorkerCount } from './render.ts';
import { KIND_CLIENT_NODE_PORT, LEADER_LABEL_VALUE, NAMES, NODE_DISK_PATH, PATRONI_SCOPE, REMOTE_VOLUMES_PATH, ROLE_LABEL, RUN_LABEL, TARGET_LABEL, VOLUME_LABEL, kindClusterName, kindWorkerNames } from '../names.ts';
import { BASE_SETTINGS, renderConf } from '../../../engine/postgres-config.ts';
import { fioArgs } from '../../../io/probe.ts';
import type { PlannedTarget } from '../../../model/plan.ts';

const RUN = '20261127-143022-ab12';
const PASSWORD = 'p4ss-only-in-the-secret';

function kindRender(t: PlannedTarget): { m: TargetManifests; workers: string[] } {
  const workers = kindWorkerNames(kindClusterName(RUN, t.name), kindWorkerCount(t));
  return { m: renderManifests(t, RUN, { nodes: workers, password: PASSWORD }), workers };
}

function all(m: TargetManifests): K8sObject[] {
  return [...m.base, ...m.engine, ...(m.probe ? [m.probe.claim, m.probe.job(true), m.probe.job(false)] : [])];
}

function find<T extends K8sObject>(objs: K8sObject[], kind: T['kind'], name?: string): T {
  const o = objs.find((x) => x.kind === kind && (name === undefined || x.metadata?.name === name));
  if (!o) throw new Error(`no ${kind} ${name ?? ''}`);
  return o as T;
}

function isSubset(sub: Record<string, string>, of: Record<string, string>): boolean {
  return Object.entries(sub).every(([k, v]) => of[k] === v);
}

const VARIANTS: { name: string; target: () => PlannedTarget; nodes?: string[] }[] = [
  { name: 'kind, postgres, local-pv', target: () => kubernetesTarget() },
  { name: 'kind, patroni×3, local-pv', target: () => kubernetesTarget({ engine: { kind: 'patroni', members: 3 } }) },
  { name: 'kind, postgres, remote block device', target: () => kubernetesTarget({ storage: { kind: 'remote', preset: 'cloud-block', size: '2GiB' } }) },
  { name: 'kind, patroni×3, remote StorageClass', target: () => kubernetesTarget({ storage: { kind: 'remote', storageClass: 'standard', size: '2GiB' }, engine: { kind: 'patroni', members: 3 } }) },
  {
    name: 'kubernetes, patroni×3, remote StorageClass, resources',
    target: () =>
      kubernetesTarget({
        platform: 'kubernetes',
        storage: { kind: 'remote', storageClass: 'gp3', size: '4GiB' },
        engine: { kind: 'patroni', members: 3 },
        target: { resources: { cpus: 1.5, memory: '2GiB' }, context: 'eval' },
      }),
  },
  { name: 'kubernetes, postgres, local-pv', target: () => kubernetesTarget({ platform: 'kubernetes' }), nodes: ['w1', 'w2', 'w3'] },
];

describe('every rendered manifest validates against the Kubernetes schema', () => {
  for (const v of VARIANTS) {
    test(v.name, () => {
      const t = v.target();
      const nodes = v.nodes ?? kindWorkerNames(kindClusterName(RUN, t.name), kindWorkerCount(t));
      const m = renderManifests(t, RUN, { nodes, password: PASSWORD });
      expect(() => validateAll(all(m))).not.toThrow();
      // Every object, and the pods and claims they create, carry the run label.
      for (const o of all(m)) expect(o.metadata?.labels?.[RUN_LABEL], `${o.kind} ${o.metadata?.name}`).toBe(RUN);
      const sts = find<IStatefulSet>(m.engine, 'StatefulSet');
      expect(sts.spec!.template.metadata!.labels![RUN_LABEL]).toBe(RUN);
      expect(sts.spec!.volumeClaimTemplates![0].metadata!.labels![RUN_LABEL]).toBe(RUN);
      // Namespaced objects all live in the target's namespace.
      for (const o of [...m.engine, m.probe!.claim]) expect(o.metadata?.namespace).toBe(m.namespace);
    });
  }

  test('the validator rejects what the schema forbids, naming the object and the field', () => {
    const { m } = kindRender(kubernetesTarget());
    const sts = structuredClone(find<IStatefulSet>(m.engine, 'StatefulSet'));
    (sts.spec as { replicas: unknown }).replicas = 'three';
    expect(() => validateObject(sts)).toThrow(/StatefulSet .*\/pg does not match the Kubernetes schema: \/spec\/replicas must be integer/);
    const bad = { ...find(m.base, 'Namespace'), metadata: { name: 'Not_A_Name' } } as K8sObject;
    expect(() => validateObject(bad)).toThrow(/DNS subdomain/);
  });
});

describe('Local PVs', () => {
  test('StorageClass: no provisioner, WaitForFirstConsumer, Retain', () => {
    const { m } = kindRender(kubernetesTarget());
    const sc = find<IStorageClass>(m.base, 'StorageClass');
    expect(sc.provisioner).toBe('kubernetes.io/no-provisioner');
    expect(sc.volumeBindingMode).toBe('WaitForFirstConsumer');
    expect(m.storage).toMatchObject({ kind: 'static', className: sc.metadata!.name, backing: 'local-disk' });
  });

  test("one data PV per kind worker, pinned to that worker's extraMount by its hostname; one probe PV, on the first", () => {
    const t = kubernetesTarget({ engine: { kind: 'patroni', members: 3 } });
    const { m, workers } = kindRender(t);
    // One worker more than members: where a member whose node is lost could be rescheduled.
    expect(workers).toHaveLength(4);
    const kind = renderKindConfig({ clusterName: kindClusterName(RUN, t.name), runId: RUN, targetName: t.name, workerDisks: workers.map((_, i) => `/d/${i}`), clientHostPort: 1 });
    const kindWorkers = kind.nodes.filter((n) => n.role === 'worker');
    expect(kindWorkers).toHaveLength(workers.length);

    const pvs = m.base.filter((o): o is IPersistentVolume => o.kind === 'PersistentVolume');
    const pinnedOf = (role: string) =>
      pvs
        .filter((p) => p.metadata!.labels![VOLUME_LABEL] === role)
        .map((p) => {
          const terms = p.spec!.nodeAffinity!.required!.nodeSelectorTerms;
          expect(terms).toHaveLength(1);
          const [expr] = terms[0].matchExpressions!;
          expect(expr).toMatchObject({ key: 'kubernetes.io/hostname', operator: 'In' });
          expect(expr.values).toHaveLength(1);
          expect(p.spec!.persistentVolumeReclaimPolicy).toBe('Retain');
          expect(p.spec!.storageClassName).toBe(m.storage.className);
          expect(p.spec!.capacity!.storage).toBe(quantity(t.storage.size));
          // The path is inside the directory every worker mounts from the host.
          expect(p.spec!.local!.path).toBe(`${NODE_DISK_PATH}/${role}`);
          return expr.values![0];
        });
    expect(pinnedOf('data').sort()).toEqual([...workers].sort());
    expect(pinnedOf('probe')).toEqual([workers[0]]);
    for (const w of kindWorkers) expect(w.extraMounts!.some((mnt) => mnt.containerPath === NODE_DISK_PATH)).toBe(true);
  });

  test('claims select data and probe PVs of this run and target by label; the PVs carry those labels', () => {
    const { m } = kindRender(kubernetesTarget());
    const sts = find<IStatefulSet>(m.engine, 'StatefulSet');
    const dataSel = sts.spec!.volumeClaimTemplates![0].spec!.selector!.matchLabels!;
    const probeSel = m.probe!.claim.spec!.selector!.matchLabels!;
    expect(Object.keys(dataSel).sort()).toEqual([RUN_LABEL, TARGET_LABEL, VOLUME_LABEL].sort());
    const pvs = m.base.filter((o): o is IPersistentVolume => o.kind === 'PersistentVolume');
    expect(pvs.filter((p) => isSubset(dataSel, p.metadata!.labels!))).toHaveLength(3);
    expect(pvs.filter((p) => isSubset(probeSel, p.metadata!.labels!))).toHaveLength(1);
    expect(pvs.filter((p) => isSubset(dataSel, p.metadata!.labels!) && isSubset(probeSel, p.metadata!.labels!))).toHaveLength(0);
  });

  test('no PV is pre-bound: WaitForFirstConsumer lets the scheduler choose node and volume together', () => {
    // A claimRef makes the PV controller bind at once, before delayed binding is ever considered.
    const t = kubernetesTarget({ engine: { kind: 'patroni', members: 2 } });
    const { m } = kindRender(t);
    const pvs = m.base.filter((o): o is IPersistentVolume => o.kind === 'PersistentVolume');
    expect(pvs.filter((p) => p.spec!.claimRef)).toEqual([]);
    expect(find<IStorageClass>(m.base, 'StorageClass').volumeBindingMode).toBe('WaitForFirstConsumer');
  });

  test('each run keeps its data in a directory of its own on the volume', () => {
    const t = kubernetesTarget({ engine: { kind: 'patroni', members: 3 } });
    const { m } = kindRender(t);
    const env = Object.fromEntries(find<IStatefulSet>(m.engine, 'StatefulSet').spec!.template.spec!.containers[0].env!.map((e) => [e.name, e.value]));
    expect(env.PGDATA).toBe(`/var/lib/statebench/${runDir(t, RUN)}/pgdata`);
    expect(env.PATRONI_POSTGRESQL_DATA_DIR).toBe(env.PGDATA);
    const other = renderManifests(t, '20261128-000000-cd34', { nodes: ['a', 'b', 'c'], password: PASSWORD });
    const otherEnv = find<IStatefulSet>(other.engine, 'StatefulSet').spec!.template.spec!.containers[0].env!.find((e) => e.name === 'PGDATA')!.value;
    expect(otherEnv).not.toBe(env.PGDATA);
  });

  test("existing clusters: PVs match the Node's kubernetes.io/hostname label, not its name", () => {
    const t = kubernetesTarget({ platform: 'kubernetes' });
    const m = renderManifests(t, RUN, { nodes: ['ip-10-0-1-5.ec2.internal', 'w2', 'w3'], hostnames: { 'ip-10-0-1-5.ec2.internal': 'worker-a' }, password: PASSWORD });
    const values = m.base.filter((o): o is IPersistentVolume => o.kind === 'PersistentVolume' && o.metadata!.labels![VOLUME_LABEL] === 'data').map((p) => p.spec!.nodeAffinity!.required!.nodeSelectorTerms[0].matchExpressions![0].values);
    expect(values).toEqual([['worker-a'], ['w2'], ['w3']]);
  });

  test('no probe PVs when the I/O probe is off', () => {
    const t = kubernetesTarget();
    const m = renderManifests({ ...t, io: { ...t.io, enabled: false } }, RUN, { nodes: ['a', 'b', 'c'], password: PASSWORD });
    expect(m.probe).toBeUndefined();
    expect(m.base.filter((o) => o.kind === 'PersistentVolume')).toHaveLength(3);
    expect(m.base.filter((o) => o.kind === 'PersistentVolume' && o.metadata!.labels![VOLUME_LABEL] === 'probe')).toHaveLength(0);
  });

  test('more members than nodes with a volume is an error that says what to change', () => {
    const t = kubernetesTarget({ engine: { kind: 'patroni', members: 3 } });
    expect(() => renderManifests(t, RUN, { nodes: ['a', 'b'], password: PASSWORD })).toThrow(/3 members need 3 nodes .* only 2 were given \(a, b\)/);
  });
});

describe('remote storage', () => {
  test('a named StorageClass is used as is: dynamic claims, no PVs, no selector', () => {
    const t = kubernetesTarget({ platform: 'kubernetes', storage: { kind: 'remote', storageClass: 'vendor-replicated', size: '2GiB' } });
    const m = renderManifests(t, RUN, { password: PASSWORD });
    expect(m.storage).toEqual({ kind: 'dynamic', className: 'vendor-replicated' });
    expect(m.base.map((o) => o.kind)).toEqual(['Namespace']);
    const claim = find<IStatefulSet>(m.engine, 'StatefulSet').spec!.volumeClaimTemplates![0];
    expect(claim.spec!.storageClassName).toBe('vendor-replicated');
    expect(claim.spec!.selector).toBeUndefined();
    expect(m.probe!.claim.spec!.storageClassName).toBe('vendor-replicated');
  });

  test('on kind without a StorageClass: one PV per member on its own block device, reachable from every worker', () => {
    const t = kubernetesTarget({ storage: { kind: 'remote', preset: 'slow-network', size: '2GiB' }, engine: { kind: 'patroni', members: 3 } });
    const { m, workers } = kindRender(t);
    expect(m.storage).toMatchObject({ kind: 'static', backing: 'remote-block-device', reach: 'shared' });
    expect(find<IStorageClass>(m.base, 'StorageClass').metadata!.name).toMatch(/-remote$/);
    const data = m.base.filter((o): o is IPersistentVolume => o.kind === 'PersistentVolume' && o.metadata!.labels![VOLUME_LABEL] === 'data');
    expect(data.map((p) => p.spec!.local!.path)).toEqual([0, 1, 2].map((i) => `${remoteVolumePath(i)}/data`));
    // Every worker is admitted: after a node loss the member can start on another worker with its data.
    for (const p of data) expect(p.spec!.nodeAffinity!.required!.nodeSelectorTerms[0].matchExpressions![0].values).toEqual(workers);
    // ...because every worker mounts every member's device.
    const mounts = kindRemoteMounts('/state', 3);
    const kind = renderKindConfig({ clusterName: kindClusterName(RUN, t.name), runId: RUN, targetName: t.name, workerDisks: workers.map((_, i) => `/d/${i}`), sharedMounts: mounts, clientHostPort: 1 });
    for (const w of kind.nodes.filter((n) => n.role === 'worker')) {
      expect(w.extraMounts!.filter((x) => x.containerPath.startsWith(REMOTE_VOLUMES_PATH)).map((x) => x.containerPath)).toEqual(data.map((p) => p.spec!.local!.path.replace(/\/data$/, '')));
    }
    // A Local PV target of the same shape pins each volume to one worker instead.
    const local = kindRender(kubernetesTarget({ engine: { kind: 'patroni', members: 3 } })).m;
    for (const p of local.base.filter((o): o is IPersistentVolume => o.kind === 'PersistentVolume')) expect(p.spec!.nodeAffinity!.required!.nodeSelectorTerms[0].matchExpressions![0].values).toHaveLength(1);
  });

  test('on an existing cluster a StorageClass is required, and the error says so', () => {
    // The planner refuses it, before any target is provisioned or rendered.
    expect(() => kubernetesTarget({ platform: 'kubernetes', storage: { kind: 'remote', preset: 'cloud-block', size: '2GiB' } })).toThrow(
      /targets\.0\.storage\.storageClass: remote storage on an existing cluster needs storage\.storageClass/,
    );
  });

  test('a volume too small for the fio probe is refused before anything is applied', () => {
    const t = kubernetesTarget({ storage: { kind: 'local-pv', size: '64MiB' } });
    expect(() => renderManifests(t, RUN, { nodes: ['a', 'b', 'c'], password: PASSWORD })).toThrow(/fio probe writes about .* but the volume is 64Mi/);
  });
});

describe('selectors', () => {
  for (const engine of [{ kind: 'postgres' as const }, { kind: 'patroni' as const, members: 3 }]) {
    test(`${engine.kind}: StatefulSet, Services and PDB select exactly the database pods`, () => {
      const { m } = kindRender(kubernetesTarget({ engine }));
      const sts = find<IStatefulSet>(m.engine, 'StatefulSet');
      const podLabels = sts.spec!.template.metadata!.labels!;
      expect(sts.spec!.selector.matchLabels).toEqual(m.podLabels);
      expect(isSubset(sts.spec!.selector.matchLabels!, podLabels)).toBe(true);
      expect(sts.spec!.serviceName).toBe(NAMES.membersService);

      const members = find<IService>(m.engine, 'Service', NAMES.membersService);
      expect(members.spec!.clusterIP).toBe('None');
      expect(isSubset(members.spec!.selector!, podLabels)).toBe(true);

      const pdb = find<IPodDisruptionBudget>(m.engine, 'PodDisruptionBudget');
      expect(isSubset(pdb.spec!.selector!.matchLabels!, podLabels)).toBe(true);

      const client = find<IService>(m.engine, 'Service', m.client.service);
      expect(client.spec!.type).toBe('NodePort');
      expect(client.spec!.ports![0].nodePort).toBe(KIND_CLIENT_NODE_PORT);
      if (engine.kind === 'patroni') {
        // Clients follow Patroni's leader key: the Service without selector whose Endpoints Patroni
        // writes (use_endpoints, scope pg), on the port name Patroni puts into them. No Service selects
        // by the role label, which stays on a primary whose node died until the grace period ends.
        expect(m.client).toEqual({ service: PATRONI_SCOPE, leaderEndpoints: PATRONI_SCOPE });
        expect(client.spec!.selector).toBeUndefined();
        const env = Object.fromEntries(sts.spec!.template.spec!.containers[0].env!.map((e) => [e.name, e.value]));
        expect(env.PATRONI_SCOPE).toBe(PATRONI_SCOPE);
        expect(env.PATRONI_KUBERNETES_USE_ENDPOINTS).toBe('true');
        expect(JSON.parse(env.PATRONI_KUBERNETES_PORTS!)).toEqual([{ name: client.spec!.ports![0].name, port: client.spec!.ports![0].targetPort }]);
        const services = m.engine.filter((o): o is IService => o.kind === 'Service');
        expect(services.filter((x) => x.spec?.selector && ROLE_LABEL in x.spec.selector)).toEqual([]);
        expect(services.map((x) => x.metadata!.name)).not.toContain(NAMES.clientService);
        expect(podLabels[ROLE_LABEL]).toBeUndefined();
      } else {
        expect(m.client).toEqual({ service: NAMES.clientService, leaderEndpoints: null });
        expect(isSubset(client.spec!.selector!, podLabels)).toBe(true);
      }
    });
  }

  test('the client NodePort is the port kind maps to the host', () => {
    const t = kubernetesTarget();
    const kind = renderKindConfig({ clusterName: 'statebench-x', runId: RUN, targetName: t.name, workerDisks: ['/a', '/b', '/c'], clientHostPort: 45678 });
    const mapping = kind.nodes[0].extraPortMappings![0];
    expect(mapping).toEqual({ containerPort: KIND_CLIENT_NODE_PORT, hostPort: 45678, listenAddress: '127.0.0.1', protocol: 'TCP' });
  });

  test('on an existing cluster the client Service is ClusterIP (reached by port-forward)', () => {
    const t = kubernetesTarget({ platform: 'kubernetes', storage: { kind: 'remote', storageClass: 'gp3', size: '2GiB' } });
    const client = find<IService>(renderManifests(t, RUN, { password: PASSWORD }).engine, 'Service', NAMES.clientService);
    expect(client.spec!.type).toBe('ClusterIP');
    expect(client.spec!.ports![0].nodePort).toBeUndefined();
  });

  test('patroni members are spread over nodes: required anti-affinity on the pod labels', () => {
    const { m } = kindRender(kubernetesTarget({ engine: { kind: 'patroni', members: 3 } }));
    const term = find<IStatefulSet>(m.engine, 'StatefulSet').spec!.template.spec!.affinity!.podAntiAffinity!.requiredDuringSchedulingIgnoredDuringExecution![0];
    expect(term.topologyKey).toBe('kubernetes.io/hostname');
    expect(term.labelSelector!.matchLabels).toEqual(m.podLabels);
  });
});

/**
 * What Patroni's Kubernetes DCS does with the API, from Patroni's documentation and its kubernetes
 * example (patroni_k8s.yaml): resource → verbs it needs.
 */
const PATRONI_DOCUMENTED_NEEDS: Record<string, string[]> = {
  // leader and config keys (ConfigMap mode), and the leader race
  configmaps: ['create', 'get', 'list', 'patch', 'update', 'watch'],
  // leader and config keys with use_endpoints: create, list and watch are needed in that mode
  endpoints: ['get', 'patch', 'update', 'create', 'list', 'watch'],
  // members are found by label; each writes its role label and status annotation on its own pod
  pods: ['get', 'list', 'patch', 'update', 'watch'],
  // the headless `<scope>-config` Service that keeps the config Endpoints from being cleaned up
  services: ['create'],
};

describe('Patroni on the Kubernetes API', () => {
  const t = kubernetesTarget({ engine: { kind: 'patroni', members: 3, settings: { work_mem: '16MB' } } });
  const { m } = kindRender(t);
  const sts = find<IStatefulSet>(m.engine, 'StatefulSet');
  const container = sts.spec!.template.spec!.containers[0];
  const env = Object.fromEntries(container.env!.map((e) => [e.name, e]));

  test("the Role grants every verb Patroni's Kubernetes DCS documents, in the core API group", () => {
    const role = find<IRole>(m.engine, 'Role');
    for (const [resource, verbs] of Object.entries(PATRONI_DOCUMENTED_NEEDS)) {
      for (const verb of verbs) {
        const granted = role.rules!.some((r) => r.apiGroups?.includes('') && r.resources?.includes(resource) && r.verbs.includes(verb));
        expect(granted, `${verb} ${resource}`).toBe(true);
      }
    }
  });

  test('the pods run as the ServiceAccount the RoleBinding binds to the Role', () => {
    const binding = find<K8sObject & { roleRef: { name: string; kind: string }; subjects: { kind: string; name: string; namespace: string }[] }>(m.engine, 'RoleBinding');
    const role = find<IRole>(m.engine, 'Role');
    expect(binding.roleRef).toMatchObject({ kind: 'Role', name: role.metadata!.name });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: sts.spec!.template.spec!.serviceAccountName, namespace: m.namespace }]);
    expect(find(m.engine, 'ServiceAccount', sts.spec!.template.spec!.serviceAccountName).kind).toBe('ServiceAccount');
  });

  test('PATRONI_KUBERNETES_* configure the Endpoints DCS, the labels and the leader label', () => {
    expect(env.PATRONI_KUBERNETES_USE_ENDPOINTS.value).toBe('true');
    expect(env.PATRONI_KUBERNETES_POD_IP.value).toBe('$(POD_IP)');
    expect(env.POD_IP.valueFrom!.fieldRef!.fieldPath).toBe('status.podIP');
    expect(env.PATRONI_KUBERNETES_NAMESPACE.valueFrom!.fieldRef!.fieldPath).toBe('metadata.namespace');
    expect(env.PATRONI_NAME.valueFrom!.fieldRef!.fieldPath).toBe('metadata.name');
    expect(env.PATRONI_KUBERNETES_ROLE_LABEL.value).toBe(ROLE_LABEL);
    expect(env.PATRONI_KUBERNETES_LEADER_LABEL_VALUE.value).toBe(LEADER_LABEL_VALUE);
    // POD_IP must be defined before the variables that expand it.
    const names = container.env!.map((e) => e.name);
    expect(names.indexOf('POD_IP')).toBeLessThan(names.indexOf('PATRONI_KUBERNETES_POD_IP'));
    // Patroni finds its members by its labels plus the scope label; the pods carry all of them.
    const labels = parse(env.PATRONI_KUBERNETES_LABELS.value!) as Record<string, string>;
    const podLabels = sts.spec!.template.metadata!.labels!;
    expect(isSubset({ ...labels, [env.PATRONI_KUBERNETES_SCOPE_LABEL.value!]: env.PATRONI_SCOPE.value! }, podLabels)).toBe(true);
    expect(podLabels[PATRONI_SCOPE_LABEL]).toBe(PATRONI_SCOPE);
    // The leader Endpoints' port names must match the Service's port names.
    const leader = find<IService>(m.engine, 'Service', PATRONI_SCOPE);
    expect(JSON.parse(env.PATRONI_KUBERNETES_PORTS.value!)).toEqual(leader.spec!.ports!.map((p) => ({ name: p.name, port: p.port })));
  });

  test('the leader Service is named after the scope and has no selector: Patroni writes its Endpoints', () => {
    const leader = find<IService>(m.engine, 'Service', PATRONI_SCOPE);
    expect(leader.spec!.selector).toBeUndefined();
    // No Service with a selector may share that name, or the endpoints controller would fight Patroni.
    for (const s of m.engine.filter((o): o is IService => o.kind === 'Service' && !!o.spec?.selector)) expect(s.metadata!.name).not.toBe(PATRONI_SCOPE);
  });

  test('passwords come from the Secret, and Patroni gets the same settings as every other platform', () => {
    expect(env.PATRONI_SUPERUSER_PASSWORD.valueFrom!.secretKeyRef).toEqual({ name: NAMES.secret, key: 'password' });
    expect(env.PATRONI_REPLICATION_PASSWORD.valueFrom!.secretKeyRef).toEqual({ name: NAMES.secret, key: 'replication-password' });
    const cm = find<IConfigMap>(m.engine, 'ConfigMap');
    const patroni = parse(cm.data!['patroni.yml'], { version: '1.1' }) as { bootstrap: { dcs: { postgresql: { parameters: Record<string, unknown> } } }; postgresql: { custom_conf: string } };
    expect(patroni.bootstrap.dcs.postgresql.parameters).toEqual({ ...BASE_SETTINGS, work_mem: '16MB' });
    expect(patroni.postgresql.custom_conf).toBe('/etc/statebench/postgresql.conf');
    // PyYAML reads YAML 1.1: `on` must arrive as a string.
    expect(cm.data!['patroni.yml']).toContain('synchronous_commit: "on"');
    expect(container.readinessProbe!.httpGet).toMatchObject({ path: '/readiness', port: 8008 });
  });
});

describe('Patroni options on Kubernetes', () => {
  const dcsOf = (t: ReturnType<typeof kubernetesTarget>) => {
    const cm = find<IConfigMap>(kindRender(t).m.engine, 'ConfigMap');
    return (parse(cm.data!['patroni.yml'], { version: '1.1' }) as { bootstrap: { dcs: Record<string, unknown> & { postgresql: Record<string, unknown> } } }).bootstrap.dcs;
  };

  test("Patroni's defaults when the profile sets none", () => {
    const dcs = dcsOf(kubernetesTarget({ engine: { kind: 'patroni', members: 3 } }));
    expect(dcs).toMatchObject({ ttl: 30, loop_wait: 10, retry_timeout: 10, maximum_lag_on_failover: 1024 * 1024, synchronous_mode: false, synchronous_mode_strict: false });
    expect(dcs.postgresql.use_pg_rewind).toBe(true);
  });

  test('engine.patroni, then targets[].patroni, as the planner resolved them', () => {
    const t = kubernetesTarget({
      engine: { kind: 'patroni', members: 3, patroni: { ttl: 20, loopWait: 4, retryTimeout: 5, replication: 'sync' } },
      target: { patroni: { replication: 'sync-strict', usePgRewind: false, maximumLagOnFailover: 0 } },
    });
    expect(t.patroni).toMatchObject({ ttl: 20, loopWait: 4, retryTimeout: 5, replication: 'sync-strict', usePgRewind: false });
    const dcs = dcsOf(t);
    expect(dcs).toMatchObject({ ttl: 20, loop_wait: 4, retry_timeout: 5, maximum_lag_on_failover: 0, synchronous_mode: true, synchronous_mode_strict: true });
    expect(dcs.postgresql.use_pg_rewind).toBe(false);
  });
});

describe('the database configuration and its secrets', () => {
  test('postgresql.conf is renderConf of the same settings bare metal uses, target overrides last', () => {
    const t = kubernetesTarget({ engine: { settings: { work_mem: '8MB' } }, target: { engineSettings: { work_mem: '32MB', shared_buffers: '128MB' } } });
    const { m } = kindRender(t);
    const cm = find<IConfigMap>(m.engine, 'ConfigMap');
    // Plus listen_addresses: clients come through the Service, never over the pod's loopback.
    expect(cm.data!['postgresql.conf']).toBe(renderConf({ ...BASE_SETTINGS, listen_addresses: '*', work_mem: '32MB', shared_buffers: '128MB' }));
    const sts = find<IStatefulSet>(m.engine, 'StatefulSet');
    expect(sts.spec!.template.spec!.containers[0].command).toEqual(['/bin/sh', '/etc/statebench/start.sh']);
    expect(cm.data!['start.sh']).toContain('include');
  });

  test('the password appears in the Secret and nowhere else', () => {
    for (const engine of [{ kind: 'postgres' as const }, { kind: 'patroni' as const, members: 3 }]) {
      const { m } = kindRender(kubernetesTarget({ engine }));
      const secret = find<K8sObject & { stringData: Record<string, string> }>(m.engine, 'Secret');
      expect(secret.stringData.password).toBe(PASSWORD);
      for (const o of all(m).filter((x) => x.kind !== 'Secret')) expect(stringify(o)).not.toContain(PASSWORD);
    }
  });

  test('resources: requests equal limits (Guaranteed QoS), cpus in millicores', () => {
    const t = kubernetesTarget({ target: { resources: { cpus: 1.5, memory: '2GiB' } } });
    const { m } = kindRender(t);
    const r = find<IStatefulSet>(m.engine, 'StatefulSet').spec!.template.spec!.containers[0].resources!;
    expect(r.limits).toEqual({ cpu: '1500m', memory: '2Gi' });
    expect(r.requests).toEqual(r.limits);
  });

  test('pull policy follows the profile', () => {
    for (const [pull, policy] of [['never', 'Never'], ['missing', 'IfNotPresent'], ['always', 'Always']] as const) {
      const { m } = kindRender(kubernetesTarget({ target: { pull, image: 'db:1' } }));
      const c = find<IStatefulSet>(m.engine, 'StatefulSet').spec!.template.spec!.containers[0];
      expect([c.image, c.imagePullPolicy]).toEqual(['db:1', policy]);
    }
  });

  test('rendering is pure: the same inputs give the same objects', () => {
    const t = kubernetesTarget({ engine: { kind: 'patroni', members: 3 } });
    expect(kindRender(t).m.engine).toEqual(kindRender(t).m.engine);
  });
});

test('podManagement: Parallel unless the target asks for ordered members', () => {
  const policy = (t: PlannedTarget) => find<IStatefulSet>(kindRender(t).m.engine, 'StatefulSet').spec!.podManagementPolicy;
  expect(policy(kubernetesTarget({ engine: { kind: 'patroni', members: 3 } }))).toBe('Parallel');
  expect(policy(kubernetesTarget({ engine: { kind: 'patroni', members: 3 }, target: { podManagement: 'parallel' } }))).toBe('Parallel');
  const ordered = kubernetesTarget({ engine: { kind: 'patroni', members: 3 }, target: { podManagement: 'ordered' } });
  expect(policy(ordered)).toBe('OrderedReady');
  validateAll(kindRender(ordered).m.engine);
});

describe('the fio probe Job', () => {
  test('runs the same fio jobs as bare metal on a fresh claim of the target StorageClass', () => {
    const t = kubernetesTarget();
    const { m } = kindRender(t);
    const direct = m.probe!.job(true);
    const c = direct.spec!.template.spec!.containers[0];
    const dir = `/probe/${runDir(t, RUN)}`;
    expect(c.command).toEqual(['/bin/sh', '-c', 'mkdir -p "$1" && shift && exec fio "$@"', 'fio-probe', dir, ...fioArgs(t.io, dir, true)]);
    expect(m.probe!.job(false).spec!.template.spec!.containers[0].command!.slice(5)).toEqual(fioArgs(t.io, dir, false));
    expect(c.volumeMounts).toEqual([{ name: 'probe', mountPath: '/probe' }]);
    expect(direct.spec!.template.spec!.volumes![0].persistentVolumeClaim!.claimName).toBe(m.probe!.claim.metadata!.name);
    expect(m.probe!.claim.spec!.storageClassName).toBe(m.storage.className);
    expect(direct.spec!.backoffLimit).toBe(0);
    expect(direct.spec!.template.spec!.restartPolicy).toBe('Never');
    expect(direct.metadata!.name).not.toBe(m.probe!.job(false).metadata!.name);
  });
});

test('quantity picks the largest binary unit that divides the size', () => {
  expect([quantity(2 * 1024 ** 3), quantity(1536 * 1024 ** 2), quantity(1000), quantity(4096)]).toEqual(['2Gi', '1536Mi', '1000', '4Ki']);
});
