// The kind cluster of a target, as a typed object rendered to YAML: one control plane and N workers,
// each worker with a host directory mounted as its "local disk", the client NodePort mapped to a
// loopback port on the host, and optionally a local registry mirror. Pure: it creates nothing.
// kind-config/cluster.yaml is the same shape with placeholders, for people reading or adapting it.
import { stringify } from 'yaml';
import { StatebenchError, EXIT } from '../../../errors.ts';
import { KIND_CLIENT_NODE_PORT, NODE_DISK_PATH, RUN_LABEL, TARGET_LABEL, kindWorkerNames, labelValue } from '../names.ts';

export const KIND_API_VERSION = 'kind.x-k8s.io/v1alpha4';

export interface KindMount {
  hostPath: string;
  containerPath: string;
  readOnly?: boolean;
  /**
   * Mounts made under hostPath after the node starts are visible only with HostToContainer, which
   * docker refuses unless the host path is on a shared mount; statebench mounts before creating the
   * cluster and leaves this unset.
   */
  propagation?: 'None' | 'HostToContainer' | 'Bidirectional';
}

export interface KindPortMapping {
  containerPort: number;
  hostPort: number;
  /** @default '127.0.0.1' here: the database is never exposed beyond this host. */
  listenAddress?: string;
  protocol?: 'TCP' | 'UDP' | 'SCTP';
}

export interface KindNode {
  role: 'control-plane' | 'worker';
  image?: string;
  /** Kubernetes node labels kind sets at creation. */
  labels?: Record<string, string>;
  extraMounts?: KindMount[];
  extraPortMappings?: KindPortMapping[];
}

export interface KindClusterConfig {
  kind: 'Cluster';
  apiVersion: typeof KIND_API_VERSION;
  name: string;
  nodes: KindNode[];
  containerdConfigPatches?: string[];
}

export interface RegistryMirror {
  /** Registry host as images name it, e.g. `localhost:5001`. */
  registry: string;
  /** Where nodes reach it, e.g. `http://kind-registry:5000`. */
  endpoint: string;
  /** Host directory holding `<registry>/hosts.toml` (see registryHostsToml); mounted into every node. */
  hostsDir: string;
}

export interface KindConfigOptions {
  clusterName: string;
  runId: string;
  targetName: string;
  /** One host directory per worker; its length is the number of workers. */
  workerDisks: string[];
  /**
   * Host directories mounted into every worker (kind's emulated network volumes: one block device per
   * member, mounted on the host, reachable from whichever worker the member runs on).
   */
  sharedMounts?: { hostPath: string; containerPath: string }[];
  /** Loopback port on the host that reaches the client Service's NodePort. */
  clientHostPort: number;
  /** kind node image; @default kind's own default for the installed kind version. */
  nodeImage?: string;
  registryMirror?: RegistryMirror;
  /**
   * Where the host lacks CAP_SYS_RESOURCE (see lacksCapSysResource) the nodes lack it too, and
   * containerd must not give pod sandboxes the negative oom_score_adj they ask for.
   */
  restrictOomScoreAdj?: boolean;
}

/** containerd reads per-registry hosts.toml files from here once config_path points at it. */
export const CONTAINERD_CERTS_DIR = '/etc/containerd/certs.d';
const CONTAINERD_CONFIG_PATH_PATCH = `[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "${CONTAINERD_CERTS_DIR}"\n`;

/** containerd patch for nodes without CAP_SYS_RESOURCE: keep oom_score_adj at or above containerd's own. */
export const RESTRICT_OOM_SCORE_ADJ_PATCH = `[plugins."io.containerd.grpc.v1.cri"]\n  restrict_oom_score_adj = true\n`;

/** True when the CapBnd line of a /proc/<pid>/status text lacks CAP_SYS_RESOURCE (capability 24). */
export function lacksCapSysResource(procStatus: string): boolean {
  const hex = /^CapBnd:\s*([0-9a-f]+)\s*$/im.exec(procStatus)?.[1];
  if (!hex) return false;
  return (BigInt(`0x${hex}`) & (1n << 24n)) === 0n;
}

/** The hosts.toml that sends pulls of `registry` to `endpoint` (containerd's hosts.d format). */
export function registryHostsToml(endpoint: string): string {
  if (!/^https?:\/\/[A-Za-z0-9.-]+(:\d+)?$/.test(endpoint)) {
    throw new StatebenchError(`registry mirror endpoint "${endpoint}" must look like http://host:port`, EXIT.usage, 'Set STATEBENCH_KIND_REGISTRY_MIRROR to <registry>=<endpoint>, e.g. localhost:5001=http://kind-registry:5000');
  }
  return `[host."${endpoint}"]\n  capabilities = ["pull", "resolve"]\n`;
}

export function renderKindConfig(o: KindConfigOptions): KindClusterConfig {
  if (!/^[a-z0-9][a-z0-9.-]*$/.test(o.clusterName) || o.clusterName.length > 50) {
    throw new StatebenchError(`kind cluster name "${o.clusterName}" must be lower-case letters, digits, . and -, at most 50 characters`, EXIT.usage, 'The name comes from the run id and the target name; give the target a shorter name of letters and digits');
  }
  if (o.workerDisks.length < 1) throw new StatebenchError('a kind cluster for statebench needs at least one worker', EXIT.usage);
  const labels = { [RUN_LABEL]: labelValue(o.runId), [TARGET_LABEL]: labelValue(o.targetName) };
  const mirrorMounts: KindMount[] = o.registryMirror
    ? [{ hostPath: o.registryMirror.hostsDir, containerPath: CONTAINERD_CERTS_DIR, readOnly: true }]
    : [];
  const image = o.nodeImage ? { image: o.nodeImage } : {};
  const workerNames = kindWorkerNames(o.clusterName, o.workerDisks.length);

  const controlPlane: KindNode = {
    role: 'control-plane',
    ...image,
    labels,
    // NodePorts answer on every node; the control plane is the one node faults never take down.
    extraPortMappings: [{ containerPort: KIND_CLIENT_NODE_PORT, hostPort: o.clientHostPort, listenAddress: '127.0.0.1', protocol: 'TCP' }],
    ...(mirrorMounts.length ? { extraMounts: mirrorMounts } : {}),
  };
  const workers: KindNode[] = o.workerDisks.map((hostPath, i) => ({
    role: 'worker',
    ...image,
    labels: { ...labels, 'statebench.disk': labelValue(workerNames[i]) },
    extraMounts: [{ hostPath, containerPath: NODE_DISK_PATH }, ...(o.sharedMounts ?? []).map((m) => ({ ...m })), ...mirrorMounts],
  }));

  return {
    kind: 'Cluster',
    apiVersion: KIND_API_VERSION,
    name: o.clusterName,
    nodes: [controlPlane, ...workers],
    ...(o.registryMirror || o.restrictOomScoreAdj
      ? { containerdConfigPatches: [...(o.registryMirror ? [CONTAINERD_CONFIG_PATH_PATCH] : []), ...(o.restrictOomScoreAdj ? [RESTRICT_OOM_SCORE_ADJ_PATCH] : [])] }
      : {}),
  };
}

export function kindConfigYaml(config: KindClusterConfig): string {
  return `# kind cluster for statebench (${config.name}); written by statebench, do not edit\n${stringify(config, { lineWidth: 0, version: '1.1' })}`;
}
