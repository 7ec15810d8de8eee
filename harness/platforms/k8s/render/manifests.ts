// A planned Kubernetes target as typed manifests. Pure: the same target, run id and options always
// give the same objects, nothing is read or contacted, and the password only enters through options.
//
// Storage comes in two shapes:
// - static: PersistentVolumes on a `kubernetes.io/no-provisioner` StorageClass with
//   WaitForFirstConsumer, kept (Retain) and not pre-bound: the scheduler picks a node and a volume
//   together when it places each member, within what the volumes' nodeAffinity admits.
//     Local PVs: one per worker, pinned to that worker by its kubernetes.io/hostname label.
//     remote storage on kind without a StorageClass: one per member, each the mount of a network
//     block device made on the host and shared into every worker, so its nodeAffinity admits every
//     worker and a member whose node is lost can start on another with its data.
// - dynamic: claims on the StorageClass the profile names (a vendor's CSI driver, say).
// Every volume holds the run's data in a directory of its own (runDir), so a volume a previous run
// left behind on an existing cluster is never adopted as this run's data directory.
import { stringify } from 'yaml';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSecurityContext } from 'kubernetes-models/v1/PodSecurityContext';
import type { ISecurityContext } from 'kubernetes-models/v1/SecurityContext';
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import type { INamespace } from 'kubernetes-models/v1/Namespace';
import type { IPersistentVolume } from 'kubernetes-models/v1/PersistentVolume';
import type { IPersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import type { ISecret } from 'kubernetes-models/v1/Secret';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import type { IStatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import type { IJob } from 'kubernetes-models/batch/v1/Job';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import type { IRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import type { IStorageClass } from 'kubernetes-models/storage.k8s.io/v1/StorageClass';
import type { PatroniOptions } from '../../../model/patroni.ts';
import type { PlannedTarget } from '../../../model/plan.ts';
import { BASE_SETTINGS, renderConf, type Settings } from '../../../engine/postgres-config.ts';
import { fioArgs } from '../../../io/probe.ts';
import { dcsSettings } from '../../../engine/patroni/config.ts';
import { StatebenchError, EXIT } from '../../../errors.ts';
import {
  KIND_CLIENT_NODE_PORT,
  LEADER_LABEL_VALUE,
  NAMES,
  NODE_DISK_PATH,
  REMOTE_VOLUMES_PATH,
  PATRONI_API_PORT,
  PATRONI_SCOPE,
  PG_PORT,
  ROLE_LABEL,
  RUN_LABEL,
  TARGET_LABEL,
  VOLUME_LABEL,
  clusterScopedPrefix,
  labelValue,
  namespaceFor,
  podLabels,
  runLabels,
} from '../names.ts';
import { CONFIG_DIR, DATA_ROOT, PGDATA, READY_SCRIPT, START_SCRIPT } from './node-scripts.ts';

export type K8sObject =
  | INamespace
  | IStorageClass
  | IPersistentVolume
  | IPersistentVolumeClaim
  | IConfigMap
  | ISecret
  | IService
  | IServiceAccount
  | IRole
  | IRoleBinding
  | IStatefulSet
  | IPodDisruptionBudget
  | IJob;

/**
 * Image used when the profile names none: what images/build.ts tags for each engine. See
 * kind-config/README.md for what it must contain (fio included, for the I/O probe).
 */
export function defaultImage(engine: PlannedTarget['engine']['kind']): string {
  return engine === 'patroni' ? 'statebench/patroni:latest' : 'statebench/postgres:latest';
}
/** Patroni's Kubernetes scope label; Patroni finds its member pods by it. */
export const PATRONI_SCOPE_LABEL = 'cluster-name';
/** Where fio writes inside its Job. */
export const PROBE_MOUNT = '/probe';
const SUPERUSER = 'postgres';
const REPLICATION_USER = 'standby';

export type StorageLayout =
  | {
      kind: 'static';
      className: string;
      /** The nodes that hold volumes (Node names), in order. */
      nodes: string[];
      /** Their kubernetes.io/hostname labels, which PV nodeAffinity matches (may differ from the names). */
      hostnames: string[];
      /** What backs each volume, for describe() and the render header. */
      backing: 'local-disk' | 'remote-block-device';
      /**
       * local: one volume per node, reachable only there. shared: one volume per member, reachable from
       * every node (kind's emulated network volumes).
       */
      reach: 'node' | 'shared';
    }
  | { kind: 'dynamic'; className: string };

export interface ManifestOptions {
  /**
   * Nodes that get a static PV each: kind's workers, or the workers of an existing cluster. Needed for
   * local-pv, and for remote storage on kind without a StorageClass.
   */
  nodes?: string[];
  /** kubernetes.io/hostname label of each node, by Node name, where it differs from the name. */
  hostnames?: Record<string, string>;
  /** Superuser password; the platform generates it per run. Rendering for inspection passes a placeholder. */
  password: string;
  replicationPassword?: string;
}

export interface TargetManifests {
  namespace: string;
  storage: StorageLayout;
  /** Namespace, StorageClass and PVs: applied when the target is provisioned. */
  base: K8sObject[];
  /** The database: applied by deployEngine. */
  engine: K8sObject[];
  /** The fio probe's claim and Job (direct I/O first; buffered when the volume refuses O_DIRECT). */
  probe?: { claim: IPersistentVolumeClaim; job(direct: boolean): IJob };
  /** Labels on every database pod; the StatefulSet and Services select by them. */
  podLabels: Record<string, string>;
  /**
   * Where clients connect. A single PostgreSQL: a Service selecting its pod. Patroni: the Service
   * without selector whose Endpoints Patroni writes together with its leader key (use_endpoints), so
   * clients follow the leader key itself — never a pod label, which stays on a primary whose node
   * died until the node monitor grace period runs out.
   */
  client: { service: string; leaderEndpoints: string | null };
}

/** Quantity text for a byte count, in the largest binary unit that divides it. */
export function quantity(bytes: number): string {
  const units: [string, number][] = [['Ti', 1024 ** 4], ['Gi', 1024 ** 3], ['Mi', 1024 ** 2], ['Ki', 1024]];
  for (const [suffix, size] of units) if (bytes >= size && bytes % size === 0) return `${bytes / size}${suffix}`;
  return String(bytes);
}

export function storageLayout(target: PlannedTarget, runId: string, nodes?: string[], hostnames: Record<string, string> = {}): StorageLayout {
  const prefix = clusterScopedPrefix(target.name, runId);
  const s = target.storage;
  if (s.kind === 'remote' && s.storageClass) return { kind: 'dynamic', className: s.storageClass };
  if (s.kind === 'remote' && target.platform !== 'kind') {
    throw new StatebenchError(
      `target "${target.name}": remote storage on an existing cluster needs storage.storageClass`,
      EXIT.usage,
      'Name the StorageClass that provides network volumes, e.g. storageClass: gp3 (list them with `kubectl get storageclass`)',
    );
  }
  if (s.kind === 'local') {
    throw new StatebenchError(`target "${target.name}": storage "local" is for baremetal and docker; on ${target.platform} use local-pv or remote`, EXIT.usage);
  }
  if (!nodes?.length) {
    throw new StatebenchError(`target "${target.name}": ${s.kind} storage needs the worker nodes that hold the volumes, and none were given`);
  }
  return {
    kind: 'static',
    className: `${prefix}-${s.kind === 'local-pv' ? 'local' : 'remote'}`,
    nodes,
    hostnames: nodes.map((n) => hostnames[n] ?? n),
    backing: s.kind === 'local-pv' ? 'local-disk' : 'remote-block-device',
    reach: s.kind === 'local-pv' ? 'node' : 'shared',
  };
}

/**
 * The run's own directory inside every volume it uses: the data directory is `<volume>/<runDir>/pgdata`
 * and fio writes under `<volume>/<runDir>`. Unique per run and target.
 */
export function runDir(target: PlannedTarget, runId: string): string {
  return clusterScopedPrefix(target.name, runId);
}

/** Where member i's kind remote volume is mounted in every worker. */
export function remoteVolumePath(i: number): string {
  return `${REMOTE_VOLUMES_PATH}/vol-${i}`;
}

function meta(name: string, labels: Record<string, string>, namespace?: string) {
  return namespace ? { name, namespace, labels: { ...labels } } : { name, labels: { ...labels } };
}

/** The claim the StatefulSet creates for member `i`: `<template>-<statefulset>-<i>`. */
export function dataClaimName(i: number): string {
  return `${NAMES.dataVolume}-${NAMES.statefulSet}-${i}`;
}

/**
 * The static PVs, none pre-bound: a claimRef would make the PV controller bind each claim at once and
 * WaitForFirstConsumer would have nothing left to decide. Instead the scheduler, when it places a
 * member, picks a node and a free volume whose nodeAffinity admits that node, together.
 *   node reach (Local PVs): a data PV per node, pinned to it; one probe PV, on the first node.
 *   shared reach (kind remote): a data PV per member on its own block device, every node admitted;
 *   the probe PV on the first device, so the probe measures what a member writes to.
 */
function staticVolumes(layout: Extract<StorageLayout, { kind: 'static' }>, target: PlannedTarget, runId: string, members: number, withProbe: boolean): IPersistentVolume[] {
  const labels = runLabels(runId, target.name);
  const prefix = clusterScopedPrefix(target.name, runId);
  const size = quantity(target.storage.size);
  const pv = (role: 'data' | 'probe', i: number, path: string, hosts: string[], node?: string): IPersistentVolume => ({
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: meta(`${prefix}-${role}-${i}`, { ...labels, [VOLUME_LABEL]: role, ...(node ? { 'statebench.node': labelValue(node) } : {}) }),
    spec: {
      capacity: { storage: size },
      volumeMode: 'Filesystem',
      accessModes: ['ReadWriteOnce'],
      // Retain: a released volume keeps its data for inspection; the run deletes the PV itself.
      persistentVolumeReclaimPolicy: 'Retain',
      storageClassName: layout.className,
      local: { path },
      nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: hosts }] }] } },
    },
  });
  const out: IPersistentVolume[] = [];
  if (layout.reach === 'node') {
    // Data and probe live on the node's one disk, so the probe measures what the database will use.
    layout.nodes.forEach((node, i) => out.push(pv('data', i, `${NODE_DISK_PATH}/data`, [layout.hostnames[i]], node)));
    if (withProbe) out.push(pv('probe', 0, `${NODE_DISK_PATH}/probe`, [layout.hostnames[0]], layout.nodes[0]));
  } else {
    for (let i = 0; i < members; i++) out.push(pv('data', i, `${remoteVolumePath(i)}/data`, [...layout.hostnames]));
    if (withProbe) out.push(pv('probe', 0, `${remoteVolumePath(0)}/probe`, [...layout.hostnames]));
  }
  return out;
}

function claimSelector(layout: StorageLayout, runId: string, targetName: string, role: 'data' | 'probe') {
  return layout.kind === 'static' ? { selector: { matchLabels: { [VOLUME_LABEL]: role, [RUN_LABEL]: labelValue(runId), [TARGET_LABEL]: labelValue(targetName) } } } : {};
}

function pullPolicy(pull: PlannedTarget['spec']['pull']): 'Never' | 'IfNotPresent' | 'Always' {
  return pull === 'never' ? 'Never' : pull === 'always' ? 'Always' : 'IfNotPresent';
}

function resources(target: PlannedTarget) {
  const r = target.resources ?? target.spec.resources;
  if (!r || (r.cpus === undefined && r.memory === undefined)) return {};
  const amounts: Record<string, string> = {};
  if (r.cpus !== undefined) amounts.cpu = `${Math.round(r.cpus * 1000)}m`;
  if (r.memory !== undefined) amounts.memory = quantity(r.memory);
  // Requests equal to limits: Guaranteed QoS, so the kubelet never squeezes the database mid-run.
  return { resources: { requests: { ...amounts }, limits: { ...amounts } } };
}

/**
 * Pod and container security for the target. With `runAs` the pod runs as that (non-root) user, the
 * kubelet gives the volumes to its group (fsGroup), and nothing can gain privileges: the `restricted`
 * Pod Security level. Without it the container starts as root (the image's default) and the start
 * script gives the volume to postgres before dropping privileges.
 */
export function podSecurity(target: PlannedTarget): { pod: IPodSecurityContext; container: ISecurityContext } | undefined {
  const r = target.spec.runAs;
  if (!r) return undefined;
  return {
    pod: {
      runAsNonRoot: true,
      runAsUser: r.user,
      runAsGroup: r.group,
      fsGroup: r.group,
      // A volume already given to the group is not walked again on every start.
      fsGroupChangePolicy: 'OnRootMismatch',
      seccompProfile: { type: 'RuntimeDefault' },
    },
    container: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
  };
}

/**
 * The StatefulSet's podManagementPolicy. Parallel by default: Patroni members race for the leader key
 * themselves, and with OrderedReady a pg-0 that stays Pending (its Local PV's node is down) would keep
 * every higher ordinal from being created. `podManagement: ordered` asks for OrderedReady, the start
 * order the statefulset.ordered-startup check verifies.
 */
export function podManagementPolicy(target: PlannedTarget): 'OrderedReady' | 'Parallel' {
  return target.spec.podManagement === 'ordered' ? 'OrderedReady' : 'Parallel';
}

/** The image pull Secrets every pod of the target names. */
export function pullSecrets(target: PlannedTarget): { imagePullSecrets?: { name: string }[] } {
  const names = target.spec.imagePullSecrets ?? [];
  return names.length ? { imagePullSecrets: names.map((name) => ({ name })) } : {};
}

/**
 * The postgresql.conf every platform renders from the same settings. A single PostgreSQL listens on
 * every address, as in Docker: its clients come through the Service, never over loopback (Patroni
 * sets its own listen address, PATRONI_POSTGRESQL_LISTEN).
 */
export function engineSettings(target: PlannedTarget): Settings {
  return { ...BASE_SETTINGS, ...(target.engine.kind === 'patroni' ? {} : { listen_addresses: '*' }), ...target.engine.settings };
}

/** Patroni's configuration from the options the planner resolved for the target (the same as on bare metal). */
function patroniConfig(settings: Settings, o: PatroniOptions): object {
  return {
    bootstrap: {
      // Patroni passes some parameters (max_connections, wal_level, …) on the postmaster's command
      // line from here, which would override custom_conf; giving it the same values keeps them equal.
      dcs: dcsSettings(o, settings),
      initdb: [{ encoding: 'UTF8' }, { locale: 'C' }],
    },
    postgresql: {
      custom_conf: `${CONFIG_DIR}/postgresql.conf`,
      pg_hba: [
        'local all all trust',
        'local replication all trust',
        `host replication ${REPLICATION_USER} 0.0.0.0/0 scram-sha-256`,
        `host replication ${REPLICATION_USER} ::/0 scram-sha-256`,
        'host all all 0.0.0.0/0 scram-sha-256',
        'host all all ::/0 scram-sha-256',
      ],
    },
  };
}

function fieldRef(name: string, fieldPath: string): IEnvVar {
  return { name, valueFrom: { fieldRef: { fieldPath } } };
}

function secretRef(name: string, key: string): IEnvVar {
  return { name, valueFrom: { secretKeyRef: { name: NAMES.secret, key } } };
}

/** PATRONI_* environment for Patroni's Kubernetes DCS (leader key in Endpoints, role label on pods). */
export function patroniEnv(labels: Record<string, string>, pgdata: string = PGDATA): IEnvVar[] {
  return [
    fieldRef('POD_IP', 'status.podIP'),
    fieldRef('PATRONI_NAME', 'metadata.name'),
    fieldRef('PATRONI_KUBERNETES_NAMESPACE', 'metadata.namespace'),
    { name: 'PATRONI_SCOPE', value: PATRONI_SCOPE },
    { name: 'PATRONI_KUBERNETES_POD_IP', value: '$(POD_IP)' },
    { name: 'PATRONI_KUBERNETES_LABELS', value: JSON.stringify(labels) },
    { name: 'PATRONI_KUBERNETES_SCOPE_LABEL', value: PATRONI_SCOPE_LABEL },
    // Endpoints mode: leader key and leader address change in one write, Patroni's recommended mode.
    { name: 'PATRONI_KUBERNETES_USE_ENDPOINTS', value: 'true' },
    { name: 'PATRONI_KUBERNETES_PORTS', value: JSON.stringify([{ name: 'postgresql', port: PG_PORT }]) },
    { name: 'PATRONI_KUBERNETES_ROLE_LABEL', value: ROLE_LABEL },
    { name: 'PATRONI_KUBERNETES_LEADER_LABEL_VALUE', value: LEADER_LABEL_VALUE },
    { name: 'PATRONI_KUBERNETES_STANDBY_LEADER_LABEL_VALUE', value: LEADER_LABEL_VALUE },
    { name: 'PATRONI_RESTAPI_LISTEN', value: `0.0.0.0:${PATRONI_API_PORT}` },
    { name: 'PATRONI_RESTAPI_CONNECT_ADDRESS', value: `$(POD_IP):${PATRONI_API_PORT}` },
    { name: 'PATRONI_POSTGRESQL_LISTEN', value: `0.0.0.0:${PG_PORT}` },
    { name: 'PATRONI_POSTGRESQL_CONNECT_ADDRESS', value: `$(POD_IP):${PG_PORT}` },
    { name: 'PATRONI_POSTGRESQL_DATA_DIR', value: pgdata },
    { name: 'PATRONI_POSTGRESQL_PGPASS', value: '/tmp/pgpass' },
    { name: 'PATRONI_SUPERUSER_USERNAME', value: SUPERUSER },
    secretRef('PATRONI_SUPERUSER_PASSWORD', 'password'),
    { name: 'PATRONI_REPLICATION_USERNAME', value: REPLICATION_USER },
    secretRef('PATRONI_REPLICATION_PASSWORD', 'replication-password'),
  ];
}

/** The RBAC rules Patroni's Kubernetes DCS needs (from Patroni's own kubernetes example). */
export const PATRONI_RULES = [
  // ConfigMaps: the leader/config keys in ConfigMap mode; delete only for `patronictl remove`.
  { apiGroups: [''], resources: ['configmaps'], verbs: ['create', 'get', 'list', 'patch', 'update', 'watch', 'delete'] },
  // Endpoints: the leader/config keys with use_endpoints; create/list/watch are needed in that mode.
  { apiGroups: [''], resources: ['endpoints'], verbs: ['get', 'patch', 'update', 'create', 'list', 'watch', 'delete'] },
  // Pods: members find each other by label and write their role label and status annotation.
  { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'patch', 'update', 'watch'] },
  // Services: Patroni creates the headless `<scope>-config` Service so its Endpoints are not cleaned up.
  { apiGroups: [''], resources: ['services'], verbs: ['create'] },
];

function patroniOptions(target: PlannedTarget): PatroniOptions {
  if (!target.patroni) throw new StatebenchError(`target "${target.name}" has no Patroni options: plans come from buildPlan, which resolves them`);
  return target.patroni;
}

export function renderManifests(target: PlannedTarget, runId: string, opts: ManifestOptions): TargetManifests {
  if (target.platform !== 'kind' && target.platform !== 'kubernetes') {
    throw new StatebenchError(`target "${target.name}" runs on ${target.platform}, not on Kubernetes`);
  }
  const ns = namespaceFor(target.name, runId, target.spec.namespace);
  const labels = runLabels(runId, target.name);
  const patroni = target.engine.kind === 'patroni';
  const members = patroni ? target.engine.members : 1;
  const layout = storageLayout(target, runId, opts.nodes, opts.hostnames);
  if (layout.kind === 'static' && layout.nodes.length < members) {
    throw new StatebenchError(
      `target "${target.name}": ${members} members need ${members} nodes with a static volume each, but only ${layout.nodes.length} were given (${layout.nodes.join(', ')})`,
      EXIT.usage,
      'Lower engine.members or add workers',
    );
  }
  const withProbe = target.io.enabled;
  const probeBytes = 2 * Math.max(4 * 1024 ** 2, target.io.size) + 16 * 1024 ** 2;
  if (withProbe && probeBytes > target.storage.size) {
    throw new StatebenchError(
      `target "${target.name}": the fio probe writes about ${quantity(probeBytes)} but the volume is ${quantity(target.storage.size)}`,
      EXIT.usage,
      'Raise storage.size or lower io.size',
    );
  }

  const pods = { ...podLabels(runId, target.name), ...(patroni ? { [PATRONI_SCOPE_LABEL]: PATRONI_SCOPE } : {}) };
  const image = target.spec.image ?? defaultImage(target.engine.kind);
  const imagePullPolicy = pullPolicy(target.spec.pull);
  const pgdata = `${DATA_ROOT}/${runDir(target, runId)}/pgdata`;
  const settings = engineSettings(target);

  const base: K8sObject[] = [{ apiVersion: 'v1', kind: 'Namespace', metadata: meta(ns, labels) }];
  if (layout.kind === 'static') {
    base.push({
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: meta(layout.className, labels),
      provisioner: 'kubernetes.io/no-provisioner',
      // Binding waits for the pod, so the scheduler picks a node and a volume on it together (the PVs
      // are not pre-bound; see staticVolumes).
      volumeBindingMode: 'WaitForFirstConsumer',
      reclaimPolicy: 'Retain',
    });
    base.push(...staticVolumes(layout, target, runId, members, withProbe));
  }

  const configData: Record<string, string> = {
    'postgresql.conf': renderConf(settings),
    'start.sh': START_SCRIPT,
    'ready.sh': READY_SCRIPT,
  };
  // YAML 1.1 rules, as Patroni's PyYAML reads them: values such as `on` are quoted, not booleans.
  if (patroni) configData['patroni.yml'] = stringify(patroniConfig(settings, patroniOptions(target)), { lineWidth: 0, version: '1.1' });

  const env: IEnvVar[] = [
    { name: 'STATEBENCH_ENGINE', value: target.engine.kind },
    { name: 'STATEBENCH_DATA_ROOT', value: DATA_ROOT },
    { name: 'STATEBENCH_CONFIG_DIR', value: CONFIG_DIR },
    { name: 'PGDATA', value: pgdata },
    ...(patroni ? patroniEnv(podLabels(runId, target.name), pgdata) : [secretRef('POSTGRES_PASSWORD', 'password')]),
  ];

  const security = podSecurity(target);
  const container: IContainer = {
    name: NAMES.container,
    image,
    imagePullPolicy,
    ...(security ? { securityContext: security.container } : {}),
    command: ['/bin/sh', `${CONFIG_DIR}/start.sh`],
    env,
    ports: [
      { name: 'postgresql', containerPort: PG_PORT, protocol: 'TCP' },
      ...(patroni ? [{ name: 'patroni', containerPort: PATRONI_API_PORT, protocol: 'TCP' as const }] : []),
    ],
    // Readiness only: a liveness probe would restart the database in the middle of the very faults
    // whose recovery the run measures.
    readinessProbe: patroni
      ? { httpGet: { path: '/readiness', port: PATRONI_API_PORT }, periodSeconds: 2, timeoutSeconds: 2, failureThreshold: 3 }
      : { exec: { command: ['/bin/sh', `${CONFIG_DIR}/ready.sh`] }, periodSeconds: 2, timeoutSeconds: 2, failureThreshold: 3 },
    // A crashing container's last log lines become its termination message, which wait errors quote.
    terminationMessagePolicy: 'FallbackToLogsOnError',
    volumeMounts: [
      { name: NAMES.dataVolume, mountPath: DATA_ROOT },
      { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
      { name: 'dshm', mountPath: '/dev/shm' },
    ],
    ...resources(target),
  };

  const statefulSet: IStatefulSet = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: meta(NAMES.statefulSet, labels, ns),
    spec: {
      replicas: members,
      serviceName: NAMES.membersService,
      podManagementPolicy: podManagementPolicy(target),
      selector: { matchLabels: { ...pods } },
      template: {
        metadata: { labels: { ...labels, ...pods } },
        spec: {
          ...(patroni ? { serviceAccountName: NAMES.serviceAccount } : { automountServiceAccountToken: false }),
          ...(security ? { securityContext: security.pod } : {}),
          ...pullSecrets(target),
          terminationGracePeriodSeconds: 30,
          enableServiceLinks: false,
          ...(members > 1
            ? {
                affinity: {
                  podAntiAffinity: {
                    requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { ...pods } }, topologyKey: 'kubernetes.io/hostname' }],
                  },
                },
              }
            : {}),
          containers: [container],
          volumes: [
            { name: 'config', configMap: { name: NAMES.config } },
            // PostgreSQL's dynamic shared memory lives in /dev/shm, which container runtimes cap at 64 MiB.
            { name: 'dshm', emptyDir: { medium: 'Memory' } },
          ],
        },
      },
      volumeClaimTemplates: [
        {
          apiVersion: 'v1',
          kind: 'PersistentVolumeClaim',
          metadata: { name: NAMES.dataVolume, labels: { ...labels } },
          spec: {
            accessModes: ['ReadWriteOnce'],
            storageClassName: layout.className,
            resources: { requests: { storage: quantity(target.storage.size) } },
            ...claimSelector(layout, runId, target.name, 'data'),
          },
        },
      ],
    },
  };

  const engine: K8sObject[] = [
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(NAMES.config, labels, ns), data: configData },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: meta(NAMES.secret, labels, ns),
      type: 'Opaque',
      stringData: { password: opts.password, 'replication-password': opts.replicationPassword ?? opts.password },
    },
  ];
  if (patroni) {
    engine.push(
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(NAMES.serviceAccount, labels, ns) },
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: meta(NAMES.role, labels, ns), rules: PATRONI_RULES.map((r) => ({ ...r })) },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: meta(NAMES.roleBinding, labels, ns),
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: NAMES.role },
        subjects: [{ kind: 'ServiceAccount', name: NAMES.serviceAccount, namespace: ns }],
      },
      {
        // No selector: with use_endpoints Patroni itself writes this Service's Endpoints, in the same
        // write as its leader key, and empties them when it releases the key. Clients connect here.
        // The port name is the one in PATRONI_KUBERNETES_PORTS, which the Endpoints carry.
        apiVersion: 'v1',
        kind: 'Service',
        metadata: meta(NAMES.leaderService, labels, ns),
        spec:
          target.platform === 'kind'
            ? { type: 'NodePort', ports: [{ name: 'postgresql', port: PG_PORT, targetPort: PG_PORT, nodePort: KIND_CLIENT_NODE_PORT, protocol: 'TCP' }] }
            : { type: 'ClusterIP', ports: [{ name: 'postgresql', port: PG_PORT, targetPort: PG_PORT, protocol: 'TCP' }] },
      },
    );
  }
  engine.push(
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(NAMES.membersService, labels, ns),
      spec: {
        clusterIP: 'None',
        // Members must resolve each other while they bootstrap, before they are ready.
        publishNotReadyAddresses: true,
        selector: { ...pods },
        ports: [
          { name: 'postgresql', port: PG_PORT, targetPort: PG_PORT, protocol: 'TCP' },
          ...(patroni ? [{ name: 'patroni', port: PATRONI_API_PORT, targetPort: PATRONI_API_PORT, protocol: 'TCP' as const }] : []),
        ],
      },
    },
    ...(patroni
      ? []
      : [
          {
            apiVersion: 'v1',
            kind: 'Service',
            metadata: meta(NAMES.clientService, labels, ns),
            spec:
              target.platform === 'kind'
                ? {
                    type: 'NodePort' as const,
                    selector: { ...pods },
                    ports: [{ name: 'postgresql', port: PG_PORT, targetPort: PG_PORT, nodePort: KIND_CLIENT_NODE_PORT, protocol: 'TCP' as const }],
                  }
                : { type: 'ClusterIP' as const, selector: { ...pods }, ports: [{ name: 'postgresql', port: PG_PORT, targetPort: PG_PORT, protocol: 'TCP' as const }] },
          } satisfies IService,
        ]),
    {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: meta(NAMES.pdb, labels, ns),
      // Voluntary disruptions (drains) take one member at a time; faults the run injects are not voluntary.
      spec: { maxUnavailable: 1, selector: { matchLabels: { ...pods } } },
    },
    statefulSet,
  );

  let probe: TargetManifests['probe'];
  if (withProbe) {
    const claim: IPersistentVolumeClaim = {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: meta(NAMES.fioClaim, labels, ns),
      spec: {
        accessModes: ['ReadWriteOnce'],
        storageClassName: layout.className,
        resources: { requests: { storage: quantity(target.storage.size) } },
        ...claimSelector(layout, runId, target.name, 'probe'),
      },
    };
    const job = (direct: boolean): IJob => ({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: meta(`${NAMES.fioJob}-${direct ? 'direct' : 'buffered'}`, { ...labels, 'statebench.probe': 'fio' }, ns),
      spec: {
        backoffLimit: 0,
        activeDeadlineSeconds: Math.ceil(target.io.runtime / 1000) + 600,
        template: {
          metadata: { labels: { ...labels, 'statebench.probe': 'fio' } },
          spec: {
            restartPolicy: 'Never',
            automountServiceAccountToken: false,
            ...(security ? { securityContext: security.pod } : {}),
            ...pullSecrets(target),
            containers: [
              {
                name: 'fio',
                image,
                imagePullPolicy,
                ...(security ? { securityContext: security.container } : {}),
                // The same jobs and figures as on bare metal; the JSON document goes to stdout (the pod log).
                // fio does not create its directory: the run's own one on the volume is made first.
                // Fixed text; the directory and fio's arguments arrive as positional parameters.
                command: ['/bin/sh', '-c', 'mkdir -p "$1" && shift && exec fio "$@"', 'fio-probe', `${PROBE_MOUNT}/${runDir(target, runId)}`, ...fioArgs(target.io, `${PROBE_MOUNT}/${runDir(target, runId)}`, direct)],
                volumeMounts: [{ name: 'probe', mountPath: PROBE_MOUNT }],
                terminationMessagePolicy: 'FallbackToLogsOnError',
                ...resources(target),
              },
            ],
            volumes: [{ name: 'probe', persistentVolumeClaim: { claimName: NAMES.fioClaim } }],
          },
        },
      },
    });
    probe = { claim, job };
  }

  const client = patroni ? { service: NAMES.leaderService, leaderEndpoints: NAMES.leaderService } : { service: NAMES.clientService, leaderEndpoints: null };
  return { namespace: ns, storage: layout, base, engine, probe, podLabels: pods, client };
}
