// Names and labels every Kubernetes object of a run carries. Pure: no runtime imports, so the render
// step and `statebench clean` agree on them without touching a cluster.
import { createHash } from 'node:crypto';

/** Server-side apply field manager: every field statebench sets is owned by this name. */
export const FIELD_MANAGER = 'statebench';
/** On every object, node and cluster of a run; `statebench clean` deletes by it. */
export const RUN_LABEL = 'statebench.run';
/** Which target of the run an object belongs to (several targets may share a cluster). */
export const TARGET_LABEL = 'statebench.target';
/** On static PVs and their claims' selectors: `data` for the database, `probe` for the fio Job. */
export const VOLUME_LABEL = 'statebench.volume';
export const APP_LABEL = 'app.kubernetes.io/name';
export const APP = 'statebench-db';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';

/** Patroni's cluster name (`scope`); also the name of the Endpoints that hold its leader key. */
export const PATRONI_SCOPE = 'pg';
/** Label Patroni sets on its own pod: the client Service selects the leader by it. */
export const ROLE_LABEL = 'role';
/**
 * Value of ROLE_LABEL on the leader. Patroni 3.0 hard-codes `master`; 3.1+ lets
 * `kubernetes.leader_label_value` choose and 4.0 defaults to `primary`. Setting `master` explicitly is
 * the one value every Patroni release puts on its leader, so the Service selector works with the
 * Debian 12 package (3.0.2) as well as with current releases.
 */
export const LEADER_LABEL_VALUE = 'master';

/** Object names inside a target's namespace. */
export const NAMES = {
  statefulSet: 'pg',
  /** Governing (headless) Service of the StatefulSet: stable DNS per member. */
  membersService: 'pg-members',
  /** Where clients connect: NodePort on kind, ClusterIP elsewhere; selects the primary. */
  clientService: 'pg-client',
  /** Patroni with use_endpoints: a Service without selector whose Endpoints Patroni writes. */
  leaderService: PATRONI_SCOPE,
  config: 'pg-settings',
  secret: 'pg-credentials',
  pdb: 'pg',
  serviceAccount: 'pg-patroni',
  role: 'pg-patroni',
  roleBinding: 'pg-patroni',
  fioJob: 'fio',
  fioClaim: 'fio-probe',
  /** volumeClaimTemplates name; claims are `data-pg-<n>`. */
  dataVolume: 'data',
  container: 'db',
} as const;

export const PG_PORT = 5432;
export const PATRONI_API_PORT = 8008;
/** Fixed NodePort of the client Service on kind, mapped to a host port by extraPortMappings. */
export const KIND_CLIENT_NODE_PORT = 30432;
/** Where each kind worker sees its host directory ("local disk"). */
export const NODE_DISK_PATH = '/mnt/statebench';
/** Where every kind worker sees the run's emulated network volumes (remote storage without a StorageClass). */
export const REMOTE_VOLUMES_PATH = '/mnt/statebench-remote';

function shortHash(text: string, chars = 6): string {
  return createHash('sha256').update(text).digest('hex').slice(0, chars);
}

/** Label values: at most 63 characters of [A-Za-z0-9._-], starting and ending alphanumeric. */
export function labelValue(text: string): string {
  const cleaned = text.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  if (cleaned.length <= 63) return cleaned || 'x';
  return `${cleaned.slice(0, 56).replace(/[^A-Za-z0-9]+$/, '')}-${shortHash(text)}`;
}

/**
 * The kind cluster of one target. `statebench-<runId>` is the prefix `statebench clean` looks for; the
 * suffix keeps two kind targets of one run (say local-pv and remote) on separate clusters, because
 * each needs its own host volumes mounted into its workers at creation.
 */
export function kindClusterName(runId: string, targetName: string): string {
  return `statebench-${runId}-${shortHash(targetName, 4)}`.toLowerCase();
}

/** kind names its nodes `<cluster>-control-plane`, `<cluster>-worker`, `<cluster>-worker2`, … */
export function kindWorkerNames(cluster: string, workers: number): string[] {
  return Array.from({ length: workers }, (_, i) => `${cluster}-worker${i === 0 ? '' : i + 1}`);
}

/** The target's namespace: the profile's `namespace`, or one per run and target. */
export function namespaceFor(targetName: string, runId: string, explicit?: string): string {
  if (explicit) return explicit;
  return `statebench-${runId}-${shortHash(targetName)}`.toLowerCase().slice(0, 63);
}

/** Prefix for the target's cluster-scoped objects (StorageClass, PVs): unique per run and target. */
export function clusterScopedPrefix(targetName: string, runId: string): string {
  return `sb-${runId}-${shortHash(targetName)}`.toLowerCase();
}

export function runLabels(runId: string, targetName: string): Record<string, string> {
  return { [RUN_LABEL]: labelValue(runId), [TARGET_LABEL]: labelValue(targetName), [MANAGED_BY_LABEL]: 'statebench' };
}

/** Labels of the database pods; selectors use exactly these. */
export function podLabels(runId: string, targetName: string): Record<string, string> {
  return { [APP_LABEL]: APP, [RUN_LABEL]: labelValue(runId), [TARGET_LABEL]: labelValue(targetName) };
}

export function selectorString(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}
