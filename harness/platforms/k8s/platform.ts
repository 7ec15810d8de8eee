// The kind and kubernetes platforms: a target's database as a StatefulSet.
//
//   kind:       creates a cluster per target (control plane + workers, each worker's "local disk" a
//               host directory, or the mount of a remote block device), loads the image, applies.
//   kubernetes: uses an existing cluster from the kubeconfig (target.context), in its own namespace.
//
// provision applies the namespace and storage; probeIo runs fio as a Job on a fresh claim of the
// target's StorageClass; deployEngine applies the engine and waits for it. Clients reach the primary
// through the client Service: its NodePort on kind (mapped to a loopback port), a port-forward to the
// current leader pod elsewhere.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { VersionApi, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import type { ResourceGrant, StatefulSetStartup } from '../../model/summary.ts';
import type { Platform, PlatformFindings, ProvisionedTarget, TargetRuntime } from '../types.ts';
import type { FaultCycle, PlannedTarget } from '../../model/plan.ts';
import type { FaultMode } from '../../fault/fault.ts';
import type { FaultSubject } from '../../fault/modes.ts';
import type { ConnInfo, DeployedEngine, EngineNode, NodeControl } from '../../engine/types.ts';
import type { IoResult } from '../../io/types.ts';
import type { IPod } from 'kubernetes-models/v1/Pod';
import type { Volume } from '../../storage/types.ts';
import type { ResourceKind, ResourceRecord } from '../../core/cleanup.ts';
import { storageFor } from '../../storage/index.ts';
import { parseFio } from '../../io/probe.ts';
import { awaitWritable, serverVersion } from '../../engine/pg.ts';
import { freePort } from '../../core/net.ts';
import { StatebenchError, EXIT } from '../../errors.ts';
import { KindCli, KubeCluster, PodPortForward, loadKubeConfig, apiMessage, type Exec } from './cluster.ts';
import { kubernetesFaultMode } from './faults/faults.ts';
import { dockerExec, kindNodeControl, wipeNodeVolumes } from './faults/kind-node.ts';
import { withFaultPolicy, type KubernetesFaultPolicy } from './faults/policy.ts';
import { KubernetesTimeline, timelineMeasurement } from './timeline/recorder.ts';
import type { Measurement } from '../../measure/measurement.ts';
import type { KubernetesFaultTimeline } from './timeline/assemble.ts';
import { statefulSetStartup } from './timeline/startup.ts';
import { renderKindConfig, kindConfigYaml, lacksCapSysResource, type RegistryMirror, registryHostsToml } from './render/kind-config.ts';
import { dataClaimName, defaultImage, podManagementPolicy, remoteVolumePath, renderManifests, runDir, type K8sObject, type TargetManifests } from './render/manifests.ts';
import { kindDiskDir, kindWorkerCount } from './render/render.ts';
import { validateAll } from './render/validate.ts';
import { DATA_ROOT } from './render/node-scripts.ts';
import { LEADER_LABEL_VALUE, NAMES, NODE_DISK_PATH, PG_PORT, ROLE_LABEL, kindClusterName, kindWorkerNames, labelValue, runLabels, selectorString } from './names.ts';

/**
 * Journal kind for a namespace and the cluster-scoped objects of one run on an existing cluster.
 * Needs `'k8s-namespace'` in ResourceKind (harness/core/cleanup.ts); `statebench clean` releases it by
 * deleting the namespace and every PV and StorageClass labelled with the run, never the cluster.
 */
export const K8S_NAMESPACE_RESOURCE: ResourceKind = 'k8s-namespace';

export interface KubernetesPlatformOptions {
  /** Defaults to the run directory's name (stateDir is `<runs>/<runId>/<target>`). */
  runId?: string;
  kind?: KindCli;
  /** kubernetes platform: use this instead of loading the default kubeconfig (tests). */
  kubeConfig?: KubeConfig;
  /** kind node image; @default $STATEBENCH_KIND_NODE_IMAGE, else kind's default. */
  nodeImage?: string;
  /** @default parsed from $STATEBENCH_KIND_REGISTRY_MIRROR=`<registry>=<endpoint>` */
  registryMirror?: Omit<RegistryMirror, 'hostsDir'>;
  /**
   * Time allowed for scheduling, volume binding and image pulls on top of engine.startTimeout.
   * @default 180_000
   */
  schedulingMarginMs?: number;
  /** The docker CLI for kind node faults (tests record it). @default `docker` on PATH */
  docker?: Exec;
  /** Overrides the target's `faultPolicy` (tests, programmatic use). */
  faultPolicy?: KubernetesFaultPolicy;
  /**
   * kind: how clients reach the database — the client Service's NodePort mapped to a loopback port
   * (`node-port`), or a port-forward through the API server to the member the client Service would
   * pick (`port-forward`, for hosts where the node port mapping does not carry traffic).
   * @default 'node-port'
   */
  clientAccess?: 'node-port' | 'port-forward';
  /** kubelet-stop on kind: how often the old primary is probed on its node. @default 2000 */
  probeIntervalMs?: number;
}

/** fio's JSON document out of a pod log that may also hold warnings before or after it. */
export function extractFioJson(log: string): { json: string; version: string } {
  const lines = log.split('\n');
  const start = lines.findIndex((l) => l.startsWith('{'));
  let end = -1;
  for (let i = lines.length - 1; i > start; i--) if (lines[i].startsWith('}')) { end = i; break; }
  if (start < 0 || end < 0) throw new StatebenchError(`fio printed no JSON document; its log ends: ${log.trim().split('\n').slice(-5).join(' | ')}`);
  const json = lines.slice(start, end + 1).join('\n');
  let version = 'fio';
  try {
    version = (JSON.parse(json) as { 'fio version'?: string })['fio version'] ?? 'fio';
  } catch (e) {
    throw new StatebenchError(`fio's JSON in the pod log does not parse: ${(e as Error).message}`);
  }
  return { json, version };
}

function mirrorFromEnv(): Omit<RegistryMirror, 'hostsDir'> | undefined {
  const v = process.env.STATEBENCH_KIND_REGISTRY_MIRROR;
  if (!v) return undefined;
  const [registry, endpoint] = v.split('=');
  if (!registry || !endpoint) throw new StatebenchError(`STATEBENCH_KIND_REGISTRY_MIRROR="${v}" must be <registry>=<endpoint>, e.g. localhost:5001=http://kind-registry:5000`, EXIT.usage);
  return { registry, endpoint };
}

export class KubernetesPlatform implements Platform {
  constructor(
    readonly name: 'kind' | 'kubernetes',
    private readonly opts: KubernetesPlatformOptions = {},
  ) {}

  async provision(target: PlannedTarget, rt: TargetRuntime): Promise<ProvisionedTarget> {
    if (target.platform !== this.name) throw new StatebenchError(`target "${target.name}" is for ${target.platform}, not ${this.name}`);
    const runId = this.opts.runId ?? basename(dirname(rt.stateDir));
    // Resolved and checked by the planner, before anything was created.
    const faultPolicy = this.opts.faultPolicy ?? target.faultPolicy;
    const forwards = new Set<PodPortForward>();
    const watches: { timeline?: KubernetesTimeline } = {};
    const closeForwards = async () => {
      await watches.timeline?.stop().catch(() => {});
      await Promise.all([...forwards].map((f) => f.close()));
      forwards.clear();
    };
    const members = target.engine.kind === 'patroni' ? target.engine.members : 1;
    const needsNodeDisks = target.storage.kind === 'local-pv' || (target.storage.kind === 'remote' && !target.storage.storageClass);
    const image = target.spec.image ?? defaultImage(target.engine.kind);
    /** Volumes in PV order (kind: one per worker disk, or one per remote device); mapped to members once they run. */
    // The disks and volumes PVs are made from; a member's volume is named after it once assigned.
    const pvVolumes: Omit<Volume, 'node'>[] = [];
    const volumes: Volume[] = [];
    let kc: KubeConfig;
    let nodes: string[] | undefined;
    let access: ClientAccess;
    const facts: Record<string, unknown> = { platform: this.name, image, faultPolicy };
    const password = randomBytes(18).toString('base64url');
    const replicationPassword = randomBytes(18).toString('base64url');
    // Rendered (and validated) before anything is created, so a target that cannot work costs nothing.
    const render = (nodes?: string[], hostnames?: Record<string, string>) => {
      const m = withFaultPolicy(renderManifests(target, runId, { nodes, hostnames, password, replicationPassword }), faultPolicy);
      validateAll([...m.base, ...m.engine]);
      return m;
    };
    let m: TargetManifests;

    if (this.name === 'kind') {
      const kind = this.opts.kind ?? new KindCli();
      kind.requireTools();
      const cluster = kindClusterName(runId, target.name);
      const workers = kindWorkerCount(target);
      nodes = kindWorkerNames(cluster, workers);
      m = render(nodes);
      const disks: string[] = [];
      const sharedMounts: { hostPath: string; containerPath: string }[] = [];
      const remote = target.storage.kind === 'remote' && !target.storage.storageClass;
      for (let i = 0; i < workers; i++) {
        // Every worker has its "local disk", a host directory; Local PVs live there.
        const disk = kindDiskDir(rt.stateDir, i);
        mkdirSync(disk, { recursive: true, mode: 0o755 });
        const reg = rt.registry.add({ kind: 'dir', id: disk, what: `kind disk of ${nodes[i]}` }, async () => rmSync(disk, { recursive: true, force: true }));
        if (!remote) pvVolumes.push({ path: join(disk, 'data'), describe: { kind: 'local-pv', node: nodes[i] }, release: () => reg.release() });
        for (const sub of ['data', 'probe']) mkdirSync(join(disk, sub), { recursive: true, mode: 0o755 });
        disks.push(disk);
      }
      if (remote) {
        // One network block device per member, mounted on the host before kind starts and bind-mounted
        // into every worker, so the member's volume is reachable from whichever node it runs on.
        for (let i = 0; i < members; i++) {
          rt.status('storage', `remote volume ${i + 1} of ${members}`);
          const vol = await storageFor(target.storage).prepare(`kind-remote-${i + 1}`, { registry: rt.registry, stateDir: rt.stateDir, onEvent: rt.event });
          for (const sub of ['data', 'probe']) mkdirSync(join(vol.path, sub), { recursive: true, mode: 0o755 });
          pvVolumes.push(vol);
          sharedMounts.push({ hostPath: vol.path, containerPath: remoteVolumePath(i) });
        }
      }
      const hostPort = await freePort();
      const mirror = this.opts.registryMirror ?? mirrorFromEnv();
      let registryMirror: RegistryMirror | undefined;
      if (mirror) {
        const hostsDir = join(rt.stateDir, 'kind', 'certs.d');
        mkdirSync(join(hostsDir, mirror.registry), { recursive: true });
        writeFileSync(join(hostsDir, mirror.registry, 'hosts.toml'), registryHostsToml(mirror.endpoint));
        registryMirror = { ...mirror, hostsDir };
      }
      const config = renderKindConfig({
        clusterName: cluster,
        runId,
        targetName: target.name,
        workerDisks: disks,
        sharedMounts,
        clientHostPort: hostPort,
        nodeImage: this.opts.nodeImage ?? process.env.STATEBENCH_KIND_NODE_IMAGE,
        registryMirror,
        restrictOomScoreAdj: lacksCapSysResource(readFileSync('/proc/self/status', 'utf8')),
      });
      const configFile = join(rt.stateDir, 'kind-config.yaml');
      const kubeconfigFile = join(rt.stateDir, 'kubeconfig');
      writeFileSync(configFile, kindConfigYaml(config));
      rt.status('kind', `creating cluster ${cluster} (${workers} workers)`);
      // The database's files belong to the image's postgres user (0700 directories): a run that is not
      // root could not remove them from the host. They are removed from inside each node, as its root,
      // before the cluster goes; the host directories are then empty and removable.
      const docker = this.opts.docker ?? dockerExec;
      let membersGone: () => Promise<void> = async () => {};
      const wipe = async () => {
        // A member still shutting down keeps writing (postmaster.pid, WAL): wait until its pods are gone.
        await membersGone().catch(() => {});
        // Each worker its own disk; the shared network volumes once, from the first worker.
        await Promise.all(
          (nodes ?? []).map((n, i) =>
            wipeNodeVolumes(docker, n, [NODE_DISK_PATH, ...(i === 0 ? sharedMounts.map((x) => x.containerPath) : [])]).catch((e) => rt.event('kind-wipe-failed', { node: n, message: (e as Error).message })),
          ),
        );
      };
      await kind.createCluster(rt.registry, {
        name: cluster,
        configFile,
        kubeconfigFile,
        beforeDelete: async () => {
          await closeForwards();
          await wipe();
        },
      });
      rt.event('kind-cluster-created', { cluster, workers });
      kc = loadKubeConfig({ file: kubeconfigFile });
      const kube = new KubeCluster(kc);
      const selector = selectorString(m.podLabels);
      const namespace = m.namespace;
      membersGone = async () => {
        await kube.objects.patch({ apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: NAMES.statefulSet, namespace }, spec: { replicas: 0 } } as KubernetesObject, undefined, undefined, 'statebench-stop', undefined, 'application/merge-patch+json').catch(() => {});
        await kube.waitUntil({ apiVersion: 'v1', kind: 'Pod', plural: 'pods', namespace, labelSelector: selector }, (items) => (items.length === 0 ? true : undefined), {
          timeoutMs: 90_000,
          what: `the member pods of ${namespace} to be gone before their volumes are emptied`,
          explain: async () => ({ lines: [], hints: [] }),
        });
      };

      if (target.spec.pull !== 'always') {
        if (await kind.imageExistsLocally(image)) {
          rt.status('kind', `loading image ${image}`);
          await kind.loadImage(cluster, image);
          rt.event('kind-image-loaded', { image });
        } else if (target.spec.pull === 'never') {
          throw new StatebenchError(`image ${image} is not in the local docker and pull is never`, EXIT.environment, `Build or pull it into docker first (docker image inspect ${image}), or set pull: missing`);
        }
      }
      access = this.opts.clientAccess === 'port-forward' ? { kind: 'port-forward' } : { kind: 'node-port', port: hostPort };
      Object.assign(facts, { cluster, workers: nodes, clientHostPort: hostPort, kindVersion: await kind.version().catch(() => undefined) });
    } else {
      kc = this.opts.kubeConfig ?? loadKubeConfig({ context: target.spec.context });
      let hostnames: Record<string, string> | undefined;
      if (needsNodeDisks) ({ names: nodes, hostnames } = await workerNodes(new KubeCluster(kc), members));
      m = render(nodes, hostnames);
      access = { kind: 'port-forward' };
      facts.context = kc.getCurrentContext();
    }

    const cluster = new KubeCluster(kc);
    Object.assign(facts, { namespace: m.namespace, storageClass: m.storage.className, storage: m.storage.kind === 'static' ? `static PVs (${m.storage.backing})` : 'dynamic' });

    if (this.name === 'kubernetes') {
      // Registered before anything exists, so a killed run still names what to delete.
      const leftover: NamespaceRecord = {
        context: kc.getCurrentContext(),
        namespace: m.namespace,
        run: labelValue(runId),
        // Local PVs keep their data on the node after the PV object is gone: the run's directory is
        // removed through the claims before the namespace goes.
        ...(m.storage.kind === 'static'
          ? {
              wipe: {
                image,
                pullPolicy: pullPolicyOf(target.spec.pull),
                dir: runDir(target, runId),
                // fio's files too: the probe claim stays bound until release for this (probeIo).
                claims: [...Array.from({ length: members }, (_, i) => dataClaimName(i)), ...(target.io.enabled ? [NAMES.fioClaim] : [])],
                ...(target.spec.runAs ? { runAs: target.spec.runAs } : {}),
                ...(target.spec.imagePullSecrets?.length ? { pullSecrets: target.spec.imagePullSecrets } : {}),
              },
            }
          : {}),
      };
      rt.registry.add({ kind: K8S_NAMESPACE_RESOURCE, id: JSON.stringify(leftover), what: `namespace ${m.namespace} and run-labelled PVs/StorageClasses` }, async () => {
        await closeForwards();
        await deleteRunObjects(cluster, leftover);
      });
      if (m.storage.kind === 'static') {
        for (const node of m.storage.nodes) {
          pvVolumes.push({ path: `${node}:${NODE_DISK_PATH}/data/${runDir(target, runId)}`, describe: { kind: target.storage.kind, storageClass: m.storage.className, node }, release: async () => {} });
        }
      } else {
        for (let i = 0; i < members; i++) {
          volumes.push({ node: `node-${i}`, path: `pvc:${m.namespace}/${dataClaimName(i)}`, describe: { kind: target.storage.kind, storageClass: m.storage.className }, release: async () => {} });
        }
      }
    }
    // Until the members are placed, member i is assumed on volume i; deployEngine maps them for real.
    if (!volumes.length) volumes.push(...pvVolumes.slice(0, members).map((v, i) => ({ ...v, node: `node-${i}` })));

    rt.status('kubernetes', `applying namespace ${m.namespace} and storage`);
    await cluster.apply(m.base);
    await copyPullSecrets(cluster, target, kc, m.namespace);
    rt.event('kubernetes-storage-applied', { namespace: m.namespace, storageClass: m.storage.className, objects: m.base.length });
    return new KubernetesTarget(target, rt, cluster, kc, m, access, password, volumes, pvVolumes, facts, forwards, this.opts.schedulingMarginMs ?? 180_000, {
      runId,
      policy: faultPolicy,
      docker: this.opts.docker ?? dockerExec,
      probeIntervalMs: this.opts.probeIntervalMs,
      watches,
    });
  }
}

/**
 * The target's image pull Secrets, copied into its namespace (which the run creates) from
 * `imagePullSecretsFrom`, else the kubeconfig context's namespace, else `default`.
 */
async function copyPullSecrets(cluster: KubeCluster, target: PlannedTarget, kc: KubeConfig, namespace: string): Promise<void> {
  const names = target.spec.imagePullSecrets ?? [];
  if (!names.length) return;
  const from = target.spec.imagePullSecretsFrom ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
  for (const name of names) {
    if (from === namespace) continue;
    let secret: KubernetesObject & { type?: string; data?: Record<string, string> };
    try {
      secret = await cluster.objects.read({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: from } });
    } catch (e) {
      throw new StatebenchError(`image pull Secret ${from}/${name} could not be read: ${apiMessage(e)}`, EXIT.environment, `Create it (kubectl create secret docker-registry ${name} -n ${from} …) or set imagePullSecretsFrom to where it is`);
    }
    await cluster.apply([{ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace, labels: { ...(secret.metadata?.labels ?? {}), 'app.kubernetes.io/managed-by': 'statebench' } }, type: secret.type, data: secret.data } as K8sObject]);
  }
}

/** What a `k8s-namespace` journal record names (its id is this, as JSON). */
export interface NamespaceRecord {
  context: string;
  namespace: string;
  /** Value of the statebench.run label on the run's cluster-scoped objects. */
  run: string;
  /** Static volumes: the run's directory on them, removed through these claims before they go. */
  wipe?: { image: string; pullPolicy: 'Never' | 'IfNotPresent' | 'Always'; dir: string; claims: string[]; runAs?: { user: number; group: number }; pullSecrets?: string[] };
}

function pullPolicyOf(pull: PlannedTarget['spec']['pull']): 'Never' | 'IfNotPresent' | 'Always' {
  return pull === 'never' ? 'Never' : pull === 'always' ? 'Always' : 'IfNotPresent';
}

/**
 * Removes `<volume>/<run dir>` from each static volume, through a pod on each still-bound claim: the
 * PV objects are deleted afterwards but their directories stay on the nodes, and the next run must not
 * find this one's data there. The pods run as the database did, so they can remove its files.
 */
export async function wipeRunData(cluster: KubeCluster, r: NamespaceRecord, timeoutMs = 180_000): Promise<string[]> {
  const w = r.wipe;
  if (!w) return [];
  const sts = { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: NAMES.statefulSet, namespace: r.namespace } };
  await cluster.objects.patch({ ...sts, spec: { replicas: 0 } } as KubernetesObject, undefined, undefined, 'statebench-stop', undefined, 'application/merge-patch+json').catch(() => {});
  const problems: string[] = [];
  // Only claims bound to a volume hold data; a pod on an unbound claim would only bind it now.
  const claims = (await cluster.objects.list('v1', 'PersistentVolumeClaim', r.namespace).catch(() => ({ items: [] as KubernetesObject[] }))).items as { metadata?: { name?: string }; status?: { phase?: string } }[];
  const bound = w.claims.filter((c) => claims.some((x) => x.metadata?.name === c && x.status?.phase === 'Bound'));
  const pods = bound.map((claim, i) => runDataWipePod(r.namespace, `statebench-wipe-${i}`, claim, w));
  for (const p of pods) await cluster.apply([p as unknown as K8sObject]).catch((e) => problems.push(`${p.metadata!.name}: ${apiMessage(e)}`));
  await Promise.all(
    pods.map((p) =>
      cluster
        .waitUntil(
          { apiVersion: 'v1', kind: 'Pod', plural: 'pods', namespace: r.namespace, fieldSelector: `metadata.name=${p.metadata!.name}` },
          (items) => {
            const phase = (items[0] as { status?: { phase?: string } } | undefined)?.status?.phase;
            if (phase === 'Failed') throw new Error(`${p.metadata!.name} failed`);
            return phase === 'Succeeded' ? true : undefined;
          },
          { timeoutMs, what: `pod ${p.metadata!.name} to remove ${w.dir} from its volume`, explain: async () => ({ lines: [], hints: [] }) },
        )
        .catch((e) => problems.push((e as Error).message)),
    ),
  );
  return problems;
}

/** A pod that removes the run's directory from one claim's volume. Fixed command; the path is an argument. */
export function runDataWipePod(namespace: string, name: string, claim: string, w: NonNullable<NamespaceRecord['wipe']>): IPod {
  const security = w.runAs
    ? {
        pod: { runAsNonRoot: true, runAsUser: w.runAs.user, runAsGroup: w.runAs.group, fsGroup: w.runAs.group, seccompProfile: { type: 'RuntimeDefault' as const } },
        container: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
      }
    : undefined;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels: { 'statebench.helper': 'wipe' } },
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      tolerations: [{ operator: 'Exists' }],
      ...(security ? { securityContext: security.pod } : {}),
      ...(w.pullSecrets?.length ? { imagePullSecrets: w.pullSecrets.map((n) => ({ name: n })) } : {}),
      containers: [
        {
          name: 'wipe',
          image: w.image,
          imagePullPolicy: w.pullPolicy,
          ...(security ? { securityContext: security.container } : {}),
          command: ['rm', '-rf', '--', `/volume/${w.dir}`],
          volumeMounts: [{ name: 'data', mountPath: '/volume' }],
        },
      ],
      volumes: [{ name: 'data', persistentVolumeClaim: { claimName: claim } }],
    },
  };
}

async function deleteRunObjects(cluster: KubeCluster, r: NamespaceRecord): Promise<void> {
  const problems = await wipeRunData(cluster, r).catch((e) => [apiMessage(e)]);
  if (problems.length) {
    // The objects go anyway; what stays on the nodes is said, with where to find it.
    console.warn(`statebench: the run's data may remain on the nodes' Local PV directories (${r.wipe?.dir}): ${problems.join('; ')}`);
  }
  await cluster.delete({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: r.namespace } });
  await cluster.deleteByRun('v1', 'PersistentVolume', r.run);
  await cluster.deleteByRun('storage.k8s.io/v1', 'StorageClass', r.run);
}

/**
 * For `statebench clean`: releases a journal record this module wrote — a kind cluster (kind
 * `cluster`) or a namespace with its run's PVs and StorageClasses on an existing cluster — and returns
 * false for records of other kinds.
 */
export async function releaseKubernetesLeftover(record: ResourceRecord, kind: KindCli = new KindCli()): Promise<boolean> {
  if (record.kind === 'cluster') {
    if (!record.id.startsWith('statebench-')) throw new StatebenchError(`cluster record ${record.id} is not a statebench kind cluster; not deleting it`);
    await kind.deleteCluster(record.id);
    return true;
  }
  if (record.kind === K8S_NAMESPACE_RESOURCE) {
    const r = JSON.parse(record.id) as NamespaceRecord;
    await deleteRunObjects(new KubeCluster(loadKubeConfig({ context: r.context })), r);
    return true;
  }
  return false;
}

/** Taints that keep a database member off a node: it would never be scheduled there. */
const BLOCKING_EFFECTS = ['NoSchedule', 'NoExecute'];

interface NodeLike {
  metadata?: { name?: string; labels?: Record<string, string> };
  spec?: { unschedulable?: boolean; taints?: { key: string; effect: string }[] };
}

/**
 * Nodes for one static volume each, enough for one member each: not control-plane, not cordoned, no
 * NoSchedule/NoExecute taint. Each with its kubernetes.io/hostname label, which is what a PV's
 * nodeAffinity matches (it differs from the Node name where the kubelet runs with --hostname-override).
 */
export function pickWorkerNodes(items: NodeLike[], members: number): { names: string[]; hostnames: Record<string, string>; skipped: string[] } {
  const skipped: string[] = [];
  const ok = items.filter((n) => {
    const name = n.metadata?.name ?? '?';
    if ('node-role.kubernetes.io/control-plane' in (n.metadata?.labels ?? {})) return false;
    if (n.spec?.unschedulable) return skipped.push(`${name} (cordoned)`), false;
    const taint = (n.spec?.taints ?? []).find((t) => BLOCKING_EFFECTS.includes(t.effect));
    if (taint) return skipped.push(`${name} (tainted ${taint.key}:${taint.effect})`), false;
    return true;
  });
  const names = ok
    .map((n) => n.metadata!.name!)
    .sort()
    // One node per member is enough on a shared cluster; the rest are left alone.
    .slice(0, Math.max(members, 1));
  const hostnames = Object.fromEntries(ok.filter((n) => names.includes(n.metadata!.name!)).map((n) => [n.metadata!.name!, n.metadata?.labels?.['kubernetes.io/hostname'] ?? n.metadata!.name!]));
  return { names, hostnames, skipped };
}

async function workerNodes(cluster: KubeCluster, members: number): Promise<{ names: string[]; hostnames: Record<string, string> }> {
  let items: KubernetesObject[];
  try {
    items = (await cluster.objects.list('v1', 'Node')).items;
  } catch (e) {
    throw new StatebenchError(`listing the cluster's nodes failed: ${apiMessage(e)}`, EXIT.environment, 'local-pv on an existing cluster needs the right to list nodes');
  }
  const picked = pickWorkerNodes(items as NodeLike[], members);
  if (picked.names.length < Math.max(members, 1)) {
    throw new StatebenchError(
      `local-pv needs ${members} schedulable worker node(s); the cluster has ${picked.names.length}${picked.skipped.length ? ` (skipped: ${picked.skipped.join(', ')})` : ''}`,
      EXIT.environment,
    );
  }
  return picked;
}

type ClientAccess = { kind: 'node-port'; port: number } | { kind: 'port-forward' };

/** What the fault modes and the timeline need beyond the target itself. */
interface FaultWiring {
  runId: string;
  policy: KubernetesFaultPolicy;
  docker: Exec;
  probeIntervalMs?: number;
  /** Shared with provision's cleanup, which stops the timeline before the cluster goes. */
  watches: { timeline?: KubernetesTimeline };
}

class KubernetesTarget implements ProvisionedTarget {
  constructor(
    private readonly target: PlannedTarget,
    private readonly rt: TargetRuntime,
    private readonly cluster: KubeCluster,
    private readonly kc: KubeConfig,
    private readonly m: TargetManifests,
    private readonly access: ClientAccess,
    private readonly password: string,
    readonly volumes: Volume[],
    private readonly pvVolumes: Omit<Volume, 'node'>[],
    private readonly facts: Record<string, unknown>,
    private readonly forwards: Set<PodPortForward>,
    private readonly schedulingMarginMs: number,
    private readonly wiring: FaultWiring,
  ) {}

  private engine?: KubernetesEngine;

  /**
   * The platform's own fault modes (harness/platforms/k8s/faults/faults.ts): pod deletions, and on kind node crashes
   * and hangs through the members' verbs and kubelet stops through docker; undefined for storage
   * faults, which the volume injects.
   */
  faultMode(cycle: FaultCycle, subject: FaultSubject): FaultMode | undefined {
    const timeline = this.wiring.watches.timeline;
    if (!timeline || !this.engine) throw new StatebenchError(`${cycle.type}: the engine of target "${this.target.name}" is not deployed`);
    const engine = this.engine;
    const pull = this.target.spec.pull;
    return kubernetesFaultMode(cycle, subject, {
      platform: this.target.platform as 'kind' | 'kubernetes',
      target: this.target,
      runId: this.wiring.runId,
      namespace: this.m.namespace,
      cluster: this.cluster,
      timeline,
      clock: this.rt.clock,
      policy: this.wiring.policy,
      exec: this.wiring.docker,
      kindWorkers: this.facts.workers as string[] | undefined,
      image: this.target.spec.image ?? defaultImage(this.target.engine.kind),
      pullPolicy: pull === 'never' ? 'Never' : pull === 'always' ? 'Always' : 'IfNotPresent',
      labels: runLabels(this.wiring.runId, this.target.name),
      podOf: (node) => `${NAMES.statefulSet}-${engine.nodes.indexOf(node)}`,
      probeIntervalMs: this.wiring.probeIntervalMs,
      leaderEndpoints: this.m.client.leaderEndpoints ?? undefined,
      pgdata: `${DATA_ROOT}/${runDir(this.target, this.wiring.runId)}/pgdata`,
    });
  }

  /** Kubernetes' account of one fault cycle (the proposed FaultSummary.kubernetes), once faults ran. */
  faultTimeline(record: { type: string; cycle: number; injectedAtMs: number }): KubernetesFaultTimeline | undefined {
    return this.wiring.watches.timeline?.timelineFor(record);
  }

  /** The timeline as one of the target's measurements, once the engine is deployed (only targets with faults have one). */
  measurements(): Measurement<PlatformFindings>[] {
    const timeline = this.wiring.watches.timeline;
    if (!timeline) return [];
    const m = timelineMeasurement(timeline);
    return [
      {
        ...m,
        collect: async (findings: PlatformFindings) => {
          await m.collect(findings);
          findings.statefulSetStartup = () => this.statefulSetStartup();
        },
      },
    ];
  }

  /** How the members came up, from the pod watch; recorded for targets with faults or the ordered-startup check. */
  statefulSetStartup(): StatefulSetStartup | undefined {
    const timeline = this.wiring.watches.timeline;
    if (!timeline) return undefined;
    const members = this.target.engine.kind === 'patroni' ? this.target.engine.members : 1;
    return statefulSetStartup(timeline.observations, { statefulSet: NAMES.statefulSet, members, podManagementPolicy: podManagementPolicy(this.target) });
  }

  /**
   * Starts recording nodes, member pods, claims and volumes: for the fault cycles' timelines, and for
   * the members' start order (statefulset.ordered-startup). Other targets do without the watches.
   */
  private async startTimeline(): Promise<void> {
    const ordered = this.target.checks.some((c) => c.check === 'statefulset.ordered-startup');
    if ((!this.target.faults.length && !ordered) || this.wiring.watches.timeline) return;
    const patroni = this.target.engine.kind === 'patroni';
    const timeline = new KubernetesTimeline({
      kubeConfig: this.kc,
      namespace: this.m.namespace,
      podSelector: selectorString(this.m.podLabels),
      clock: this.rt.clock,
      leaderLabel: patroni ? { key: ROLE_LABEL, value: LEADER_LABEL_VALUE } : null,
      leaderEndpoints: this.m.client.leaderEndpoints ?? undefined,
      file: join(this.rt.artifactsDir, 'kubernetes-watch.jsonl'),
      onEvent: (type, data) => this.rt.event(type, data),
    });
    this.wiring.watches.timeline = timeline;
    await timeline.start();
    this.rt.event('kubernetes-timeline-started', { namespace: this.m.namespace, problems: timeline.problems });
  }

  /** Stops the watches and writes every cycle's timeline next to the watch log. */
  private async stopTimeline(): Promise<void> {
    const timeline = this.wiring.watches.timeline;
    if (!timeline || timeline.stopped) return;
    await timeline.stop();
    if (timeline.marks.length) {
      try {
        timeline.write(join(this.rt.artifactsDir, 'kubernetes-timeline.json'));
      } catch (e) {
        this.rt.event('kubernetes-timeline-error', { message: (e as Error).message });
      }
    }
  }

  async probeIo(): Promise<IoResult> {
    const probe = this.m.probe;
    if (!probe) throw new StatebenchError(`target "${this.target.name}" has the I/O probe disabled`);
    const ns = this.m.namespace;
    const timeoutMs = this.target.io.runtime + this.schedulingMarginMs + 60_000;
    this.rt.status('io', `fio Job on a fresh ${this.m.storage.className} claim`);
    await this.cluster.apply([probe.claim]);
    try {
      let job = probe.job(true);
      await this.cluster.apply([job]);
      let outcome = await this.cluster.waitForJob(ns, job.metadata!.name!, { timeoutMs, signal: this.rt.signal });
      let log = outcome.pod ? await this.cluster.podLog(ns, outcome.pod, 'fio') : '';
      if (!outcome.succeeded && /O_DIRECT|direct|Invalid argument|EINVAL/i.test(log)) {
        // Same fallback as on bare metal: some volumes refuse O_DIRECT; measure buffered with fsync.
        await this.cluster.delete(job as never);
        job = probe.job(false);
        await this.cluster.apply([job]);
        outcome = await this.cluster.waitForJob(ns, job.metadata!.name!, { timeoutMs, signal: this.rt.signal });
        log = outcome.pod ? await this.cluster.podLog(ns, outcome.pod, 'fio') : '';
      }
      if (!outcome.succeeded) {
        throw new StatebenchError(`fio Job ${ns}/${job.metadata!.name} failed (${outcome.reason ?? 'no reason given'}); its log ends: ${log.trim().split('\n').slice(-5).join(' | ')}`, EXIT.runFailed, 'The image must contain fio; see kind-config/README.md');
      }
      const { json, version } = extractFioJson(log);
      await writeFile(join(this.rt.artifactsDir, 'fio.json'), json);
      const result = parseFio(json, `pvc ${ns}/${NAMES.fioClaim} (${this.m.storage.className})`, version, 'fio.json');
      await this.cluster.delete(job as never);
      return result;
    } finally {
      // On an existing cluster a static probe volume keeps its claim until release, which removes the
      // run's directory (fio's files) through it: once Released (Retain) nothing could mount it any
      // more, and the files would stay on the node. Elsewhere the claim goes now (kind empties its
      // node disks itself; a dynamic volume goes with its claim).
      if (!(this.target.platform === 'kubernetes' && this.m.storage.kind === 'static')) await this.cluster.delete(probe.claim as never).catch(() => {});
    }
  }

  async deployEngine(): Promise<DeployedEngine> {
    const ns = this.m.namespace;
    const patroni = this.target.engine.kind === 'patroni';
    const members = patroni ? this.target.engine.members : 1;
    const selector = selectorString(this.m.podLabels);
    this.rt.status('engine', `${this.target.engine.kind} StatefulSet with ${members} member(s)`);
    // Watching before the StatefulSet exists, so the members' creation and readiness are recorded too.
    await this.startTimeline();
    await this.cluster.apply(this.m.engine);
    // Scheduling, binding volumes and initdb come on top of the engine's own start time.
    const timeoutMs = this.target.engine.startTimeout + this.schedulingMarginMs;
    const started = this.cluster.clock.now();
    await this.cluster.waitForPods(ns, selector, { count: members, owner: { kind: 'StatefulSet', name: NAMES.statefulSet } }, { timeoutMs, signal: this.rt.signal });
    await this.placeVolumes(members);
    const leaderEndpoints = this.m.client.leaderEndpoints;
    if (leaderEndpoints) {
      const leader = await this.cluster.waitForLeader(ns, leaderEndpoints, { podSelector: selector, timeoutMs: Math.max(1, Math.round(timeoutMs - (this.cluster.clock.now() - started))), signal: this.rt.signal });
      this.rt.event('kubernetes-leader-key', { namespace: ns, endpoints: leaderEndpoints, ...leader });
    }
    this.rt.event('kubernetes-engine-ready', { namespace: ns, members });

    const base = { user: 'postgres', database: 'postgres', password: this.password };
    const podNames = Array.from({ length: members }, (_, i) => `${NAMES.statefulSet}-${i}`);
    const nodes: EngineNode[] = [];
    for (const [i, pod] of podNames.entries()) {
      const fwd = new PodPortForward(this.kc, ns, async () => pod, PG_PORT);
      this.forwards.add(fwd);
      const port = await fwd.start();
      // On kind a member's verbs are its worker node container; elsewhere its pod's.
      const control: NodeControl =
        this.target.platform === 'kind'
          ? kindNodeControl({ docker: this.wiring.docker, cluster: this.cluster, namespace: ns, pod, workers: (this.facts.workers as string[] | undefined) ?? [] })
          : new PodNodeControl(this.cluster, ns, pod, selector, this.target);
      nodes.push({ name: `node-${i}`, conn: { host: '127.0.0.1', port, ...base }, control });
    }
    let client: ConnInfo;
    if (this.access.kind === 'node-port') {
      client = { host: '127.0.0.1', port: this.access.port, ...base };
    } else {
      // Each connection goes to the member the leader key names at that moment (Patroni's member
      // name is its pod's name), or to the single PostgreSQL's one pod.
      const leaderEndpoints = this.m.client.leaderEndpoints;
      const fwd = new PodPortForward(this.kc, ns, async () => {
        if (!leaderEndpoints) return podNames[0];
        const leader = await this.cluster.leaderOf(ns, leaderEndpoints);
        if (!leader) throw new Error(`no member holds the leader key in Endpoints ${ns}/${leaderEndpoints}`);
        return leader.member;
      }, PG_PORT);
      this.forwards.add(fwd);
      client = { host: '127.0.0.1', port: await fwd.start(), ...base };
    }
    const engine = new KubernetesEngine(this.target.engine.kind, nodes, client, this.cluster, ns, this.m, this.forwards, () => this.stopTimeline());
    this.engine = engine;
    await awaitWritable(client, this.target.engine.startTimeout, this.rt.signal);
    return engine;
  }

  /**
   * The static PVs are not pre-bound: the scheduler chose each member's volume. volumes[i] becomes the
   * volume member i's claim was bound to, so storage faults on a member hit the volume under it.
   */
  private async placeVolumes(members: number): Promise<void> {
    if (this.m.storage.kind !== 'static' || !this.pvVolumes.length) return;
    const placed: Volume[] = [];
    for (let i = 0; i < members; i++) {
      const claim = (await this.cluster.objects.read({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: dataClaimName(i), namespace: this.m.namespace } })) as { spec?: { volumeName?: string } };
      const index = Number(/-data-(\d+)$/.exec(claim.spec?.volumeName ?? '')?.[1]);
      const v = this.pvVolumes[index];
      if (!v) throw new StatebenchError(`claim ${this.m.namespace}/${dataClaimName(i)} is bound to ${claim.spec?.volumeName ?? 'no volume'}, which is not one of this run's volumes`);
      placed.push({ ...v, node: `node-${i}` });
    }
    this.volumes.splice(0, this.volumes.length, ...placed);
    this.rt.event('kubernetes-volumes-placed', { volumes: placed.map((v, i) => ({ member: i, path: v.path })) });
  }

  /** Requests = limits as rendered into the StatefulSet (the scheduler's and kubelet's contract, not a read-back). */
  async resources(): Promise<ResourceGrant> {
    const r = this.target.resources ?? this.target.spec.resources ?? {};
    const notes: string[] = [];
    if (r.cpuset) notes.push(`cpuset ${r.cpuset} is not applied on Kubernetes: exclusive CPUs come from the kubelet's static CPU manager policy for Guaranteed pods with whole CPUs`);
    return { cpuset: null, cpus: r.cpus ?? null, memoryBytes: r.memory ?? null, mechanism: 'kubernetes', ...(notes.length ? { notes } : {}) };
  }

  async describe(): Promise<Record<string, unknown>> {
    let apiVersion: string | undefined;
    try {
      const v = await this.kc.makeApiClient(VersionApi).getCode();
      apiVersion = v.gitVersion;
    } catch {
      /* reported as unknown */
    }
    return { ...this.facts, kubernetesVersion: apiVersion };
  }
}

/**
 * A member pod's verbs on an existing cluster, whose machines are not statebench's: the StatefulSet
 * controller recreates a deleted pod at once, so kill/stop are pod deletions (forced / graceful) and
 * start waits for the recreated pod to be ready. Nothing can freeze a node from here.
 */
class PodNodeControl implements NodeControl {
  running = true;

  constructor(
    private readonly cluster: KubeCluster,
    private readonly ns: string,
    private readonly pod: string,
    private readonly selector: string,
    private readonly target: PlannedTarget,
  ) {}

  private ref() {
    return { apiVersion: 'v1', kind: 'Pod', metadata: { name: this.pod, namespace: this.ns } };
  }

  async kill(): Promise<void> {
    await this.cluster.delete(this.ref(), { gracePeriodSeconds: 0 });
    this.running = false;
  }

  async stop(): Promise<void> {
    await this.cluster.delete(this.ref());
    this.running = false;
  }

  async start(): Promise<void> {
    await this.cluster.waitUntil(
      { apiVersion: 'v1', kind: 'Pod', plural: 'pods', namespace: this.ns, fieldSelector: `metadata.name=${this.pod}` },
      (items) => (items.some((p) => p.metadata?.name === this.pod && !p.metadata?.deletionTimestamp && (p as { status?: { conditions?: { type: string; status: string }[] } }).status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) ? true : undefined),
      { timeoutMs: this.target.engine.startTimeout + 120_000, what: `pod ${this.ns}/${this.pod} to be ready again`, explain: () => this.cluster.explain(this.ns, this.selector) },
    );
    this.running = true;
  }

  async pause(): Promise<void> {
    throw new StatebenchError('pausing a node needs the kind platform; an existing cluster gives no access to its nodes', EXIT.usage, 'node-hang on an existing cluster goes through the helper pod: faultPolicy.nodeAccess: helper-pod');
  }

  async resume(): Promise<void> {
    // Nothing was paused.
  }
}

class KubernetesEngine implements DeployedEngine {
  constructor(
    readonly kind: string,
    readonly nodes: EngineNode[],
    private readonly client: ConnInfo,
    private readonly cluster: KubeCluster,
    private readonly ns: string,
    private readonly m: TargetManifests,
    private readonly forwards: Set<PodPortForward>,
    /** Ends the fault timeline before scaling down, so the scale-down is not read as part of a cycle. */
    private readonly beforeStop: () => Promise<void> = async () => {},
  ) {}

  clientConn(): ConnInfo {
    return this.client;
  }

  /** The member Patroni's leader key names: the one clients are routed to. */
  async primary(): Promise<EngineNode> {
    const endpoints = this.m.client.leaderEndpoints;
    if (this.kind !== 'patroni' || !endpoints) return this.nodes[0];
    const leader = await this.cluster.leaderOf(this.ns, endpoints);
    const node = this.nodes.find((_, i) => `${NAMES.statefulSet}-${i}` === leader?.member);
    if (!node) throw new StatebenchError(`no member holds Patroni's leader key (Endpoints ${this.ns}/${endpoints}${leader ? ` names ${leader.member}` : ''}): Patroni has no leader right now`);
    return node;
  }

  awaitHealthy(timeoutMs: number): Promise<void> {
    return awaitWritable(this.client, timeoutMs);
  }

  version(): Promise<string> {
    return serverVersion(this.client);
  }

  async stop(): Promise<void> {
    await this.beforeStop().catch(() => {});
    try {
      await this.cluster.objects.patch(
        { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: NAMES.statefulSet, namespace: this.ns }, spec: { replicas: 0 } } as KubernetesObject,
        undefined,
        undefined,
        'statebench-stop',
        undefined,
        'application/merge-patch+json',
      );
    } finally {
      await Promise.all([...this.forwards].map((f) => f.close()));
      this.forwards.clear();
    }
  }
}

/** The platform factory's entry: `platformFor('kind' | 'kubernetes')`. */
export function kubernetesPlatform(name: 'kind' | 'kubernetes', opts: KubernetesPlatformOptions = {}): KubernetesPlatform {
  return new KubernetesPlatform(name, opts);
}
