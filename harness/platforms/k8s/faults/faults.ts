// Fault modes of the kind and kubernetes platforms: what `ProvisionedTarget.faultMode` hands the fault
// schedule, tried before the NodeControl-based modes every platform shares.
//
//   pod-delete        the member pod is deleted with its own grace period (SIGTERM, then SIGKILL after
//                     terminationGracePeriodSeconds); the StatefulSet recreates it
//   pod-force-delete  the same with gracePeriodSeconds 0: the API object goes at once, the containers
//                     are killed by the kubelet afterwards, the replacement may start before they are
//   node-crash        kind: `docker kill --signal KILL` of the worker node container hosting the pod;
//                     `docker start` after downFor
//   node-hang         kind: `docker pause`/`unpause` of that node container (kubelet and pods freeze)
//                     existing cluster: systemd's cgroup freezer on the node (kubelet, container
//                     runtime, kubepods.slice), through a privileged helper pod, when allowed
//   kubelet-stop      kind: `docker exec <node> systemctl stop kubelet`, containers keep running;
//                     `systemctl start kubelet` after downFor
//                     existing cluster: the same through a privileged helper pod, when allowed
//
// Every mode fills in its cycle's mark on the KubernetesTimeline (what statebench did, and for
// kubelet-stop on kind, whether the old primary still answers on its node), so the cycle's timeline
// says what Kubernetes made of the fault. The undo of every mode is idempotent: cleanup() after an
// interrupt calls it whatever state the fault was left in.
//
// kind node restarts: only workers are ever faulted — the control plane's address is in the API
// server's certificate and every kubeconfig, so it is never killed or paused. A killed worker comes
// back under `docker start` with a new address on the kind network more often than not; kind's node
// entrypoint rewrites the kubelet's --node-ip from the old address (/kind/old-ipv4) on start, the kubelet
// reports the new InternalIP and kindnet re-routes to it. statebench records the container's address
// before and after and waits, as part of recovery, for the Node to be Ready with the new InternalIP.
// `docker kill` with SIGKILL counts as a manual stop for docker, so the node containers' restart policy
// (on-failure) does not bring the node back early; propagation checks that it stayed down.
import type { IPod } from 'kubernetes-models/v1/Pod';
import type { IToleration } from 'kubernetes-models/v1/Toleration';
import type { IClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import type { IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Exec as KubeExec, PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';
import { DEFAULT_FAULT_POLICY, type FaultCycle, type FaultPolicy, type PlannedTarget } from '../../../model/plan.ts';
import type { FaultMode } from '../../../fault/fault.ts';
import type { FaultSubject } from '../../../fault/modes.ts';
import type { EngineNode } from '../../../engine/types.ts';
import type { Clock } from '../../../core/clock.ts';
import { sleep } from '../../../core/clock.ts';
import { run } from '../../../core/exec.ts';
import { withClient } from '../../../engine/pg.ts';
import { StatebenchError, EXIT } from '../../../errors.ts';
import { apiMessage, type Exec, type KubeCluster } from '../cluster.ts';
import type { K8sObject, TargetManifests } from '../render/manifests.ts';
import { NAMES, labelValue } from '../names.ts';
import { NOT_READY_TAINT, UNREACHABLE_TAINT, leaderKeyHolder, type CycleMark, type KubeObject } from '../timeline/assemble.ts';
import type { KubernetesTimeline } from '../timeline/recorder.ts';

/** What each platform injects itself; harness/model/capabilities.ts lists exactly these. */
export const KIND_FAULT_TYPES = ['node-crash', 'node-hang', 'kubelet-stop', 'pod-delete', 'pod-force-delete'] as const;
export const KUBERNETES_FAULT_TYPES = ['pod-delete', 'pod-force-delete', 'kubelet-stop', 'node-hang'] as const;
/** On an existing cluster these need `faultPolicy.nodeAccess: helper-pod`. */
export const NODE_ACCESS_FAULT_TYPES = ['kubelet-stop', 'node-hang'] as const;

// ---------------------------------------------------------------------------------------------------
// Policy: the knobs that decide what Kubernetes does with a failed node, as a target states them

/** The target's fault policy, resolved once by the planner (PlannedTarget.faultPolicy). */
export type KubernetesFaultPolicy = FaultPolicy;
export { DEFAULT_FAULT_POLICY };

/**
 * The member pods' NoExecute tolerations for the policy, for the StatefulSet's pod template. Empty when
 * the policy sets none: the API server then adds its defaults (300 s), which the timeline reports.
 */
export function policyTolerations(p: KubernetesFaultPolicy): IToleration[] {
  const out: IToleration[] = [];
  if (p.notReadyTolerationSeconds !== undefined) out.push({ key: NOT_READY_TAINT, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: p.notReadyTolerationSeconds });
  if (p.unreachableTolerationSeconds !== undefined) out.push({ key: UNREACHABLE_TAINT, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: p.unreachableTolerationSeconds });
  return out;
}

/** The rendered manifests with the policy's tolerations on the StatefulSet's pod template. Pure. */
export function withFaultPolicy(m: TargetManifests, p: KubernetesFaultPolicy): TargetManifests {
  const tolerations = policyTolerations(p);
  if (!tolerations.length) return m;
  const engine = m.engine.map((o) => {
    if (o.kind !== 'StatefulSet') return o;
    const sts = structuredClone(o) as Extract<K8sObject, { kind: 'StatefulSet' }>;
    const spec = sts.spec!.template.spec!;
    spec.tolerations = [...(spec.tolerations ?? []).filter((t) => t.key !== NOT_READY_TAINT && t.key !== UNREACHABLE_TAINT), ...tolerations];
    return sts;
  });
  return { ...m, engine };
}

// ---------------------------------------------------------------------------------------------------
// Node access on an existing cluster: the helper pod and the rights it takes

export const NODE_ACCESS_SERVICE_ACCOUNT = 'statebench-node-access';
/** Field manager of the namespace's Pod Security label, so the run's own apply of the namespace is untouched. */
const NODE_ACCESS_FIELD_MANAGER = 'statebench-node-access';
const HELPER_CONTAINER = 'node-access';

/**
 * Runs on the node, in the host's namespaces, when statebench execs it in the helper pod — which it does
 * only once the API server shows the pod Running, as reported by this node's kubelet: a kubelet stopped
 * before it reported the pod would leave the run waiting for a status that never comes. Fixed text: the
 * action, hold and unit name arrive in the environment. The undo is scheduled on the host (a transient
 * systemd timer) before anything is done, so the node recovers after the hold even if this pod,
 * statebench or the API server are gone by then — with the kubelet stopped or frozen nothing could be
 * sent to the node any more. The fault itself is queued (--no-block), so the exec, which runs through
 * this very kubelet, returns before the kubelet stops.
 */
export const NODE_ACCESS_SCRIPT = `set -eu
hold="$STATEBENCH_HOLD_SECONDS"
unit="$STATEBENCH_UNIT"
systemctl=$(command -v systemctl)
case "$STATEBENCH_ACTION" in
  kubelet-stop)
    systemd-run --unit "$unit-undo" --on-active="\${hold}s" --timer-property=AccuracySec=100ms "$systemctl" start kubelet.service
    "$systemctl" --no-block stop kubelet.service
    ;;
  node-hang)
    systemd-run --unit "$unit-undo" --on-active="\${hold}s" --timer-property=AccuracySec=100ms "$systemctl" thaw kubepods.slice "$STATEBENCH_RUNTIME_UNIT" kubelet.service
    # Run by systemd, outside kubepods.slice: this pod freezes with the rest of the node's pods.
    systemd-run --unit "$unit-do" --no-block "$systemctl" freeze kubelet.service "$STATEBENCH_RUNTIME_UNIT" kubepods.slice
    ;;
  *)
    echo "statebench: unknown action $STATEBENCH_ACTION" >&2
    exit 64
    ;;
esac
echo "statebench: $STATEBENCH_ACTION on $(hostname) until the timer $unit-undo fires in \${hold}s"
`;

/** What the helper pod runs until the action is exec'd into it. Fixed text. */
export const HELPER_IDLE = `trap 'exit 0' TERM; while :; do sleep 3600 & wait $!; done`;
/** The action, exec'd into the helper pod: into the host's namespaces, then the script. */
export const HELPER_ACTION_COMMAND = ['nsenter', '--target', '1', '--mount', '--uts', '--ipc', '--net', '--pid', '--', '/bin/sh', '-c', NODE_ACCESS_SCRIPT];

/** The identity of helper pods: no token, no bindings, so the pod has no rights in the API at all. */
export function nodeAccessServiceAccount(namespace: string, labels: Record<string, string>): IServiceAccount {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: NODE_ACCESS_SERVICE_ACCOUNT, namespace, labels: { ...labels } }, automountServiceAccountToken: false };
}

/** Pod Security admission would refuse a privileged hostPID pod in a `baseline` or `restricted` namespace. */
export function nodeAccessNamespaceLabels(namespace: string): KubernetesObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: { 'pod-security.kubernetes.io/enforce': 'privileged', 'pod-security.kubernetes.io/warn': 'privileged' } } };
}

/**
 * What the fault timeline and node access add to the rights a run on an existing cluster already
 * needs: reading nodes and persistent volumes cluster-wide (the timeline's watches), and patching the
 * target's namespace (its Pod Security label, for the helper pod). Rendered for a cluster admin to bind
 * (ClusterRoleBinding to the user or group statebench runs as); without it the timeline says which
 * watch was refused and carries on without it.
 */
export function observerClusterRole(): IClusterRole {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: 'statebench-fault-observer', labels: { 'app.kubernetes.io/managed-by': 'statebench' } },
    rules: [
      { apiGroups: [''], resources: ['nodes', 'persistentvolumes'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'patch'] },
    ],
  };
}

/** Unit names on the node: systemd accepts [A-Za-z0-9:_.\\-]; the run id makes them findable. */
function unitName(runId: string, cycle: FaultCycle): string {
  return `statebench-${labelValue(runId).toLowerCase().replace(/[^a-z0-9-]/g, '-')}-${cycle.faultIndex}-${cycle.cycle}`;
}

export interface HelperPodSpec {
  namespace: string;
  node: string;
  action: 'kubelet-stop' | 'node-hang';
  holdSeconds: number;
  unit: string;
  image: string;
  pullPolicy: 'Never' | 'IfNotPresent' | 'Always';
  labels: Record<string, string>;
  /** node-hang: the container runtime's systemd unit (containerd.service, crio.service). */
  runtimeUnit?: string;
  name: string;
}

/** The privileged helper pod (after Litmus' kubelet-service-kill helper): pinned by nodeName, tolerating every taint. */
export function helperPod(s: HelperPodSpec): IPod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: s.name, namespace: s.namespace, labels: { ...s.labels, 'statebench.helper': 'node-access' } },
    spec: {
      // nodeName bypasses the scheduler: the pod lands on that node even when it is cordoned or tainted.
      nodeName: s.node,
      hostPID: true,
      restartPolicy: 'Never',
      serviceAccountName: NODE_ACCESS_SERVICE_ACCOUNT,
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      terminationGracePeriodSeconds: 0,
      tolerations: [{ operator: 'Exists' }],
      containers: [
        {
          name: HELPER_CONTAINER,
          image: s.image,
          imagePullPolicy: s.pullPolicy,
          // Idle until statebench execs the action (HELPER_ACTION_COMMAND) once the pod is reported Running.
          command: ['/bin/sh', '-c', HELPER_IDLE],
          env: [
            { name: 'STATEBENCH_ACTION', value: s.action },
            { name: 'STATEBENCH_HOLD_SECONDS', value: String(s.holdSeconds) },
            { name: 'STATEBENCH_UNIT', value: s.unit },
            { name: 'STATEBENCH_RUNTIME_UNIT', value: s.runtimeUnit ?? 'containerd.service' },
          ],
          securityContext: { privileged: true },
          resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '64Mi' } },
          terminationMessagePolicy: 'FallbackToLogsOnError',
        },
      ],
    },
  };
}

/** The systemd unit of the node's container runtime, from the Node's nodeInfo (`containerd://1.7.x`). */
export function runtimeUnit(containerRuntimeVersion: string | undefined): string {
  const scheme = containerRuntimeVersion?.split('://')[0];
  if (scheme === 'cri-o') return 'crio.service';
  if (scheme === 'docker') return 'docker.service';
  return 'containerd.service';
}

// ---------------------------------------------------------------------------------------------------
// kind node containers: argument arrays to the docker CLI, never a shell

/** Reads the old primary's role on its node through containerd, bypassing the kubelet. Fixed text. */
export const PRIMARY_PROBE_SCRIPT = `for d in \${PGBIN:-} /usr/lib/postgresql/*/bin /usr/local/bin /usr/bin; do
  if [ -x "$d/psql" ]; then
    PGPASSWORD="\${POSTGRES_PASSWORD:-\${PATRONI_SUPERUSER_PASSWORD:-}}" PGCONNECT_TIMEOUT=3 exec "$d/psql" -h 127.0.0.1 -p 5432 -U postgres -d postgres -XAtc "select case when pg_is_in_recovery() then 'replica' else 'primary ' || txid_current() end"
  fi
done
echo "no psql in the image" >&2
exit 69
`;

/**
 * Empties the volumes a kind worker mounts (its disk, the shared network volumes) from inside the node,
 * as its root: the database's files belong to the image's postgres user, in 0700 directories, which a
 * run that is not root cannot remove from the host. The mount points themselves stay.
 */
export async function wipeNodeVolumes(docker: Exec, node: string, mounts: string[], attempts = 3): Promise<void> {
  for (let i = 1; ; i++) {
    try {
      await docker('docker', ['exec', node, 'find', ...mounts, '-mindepth', '2', '-delete'], { timeoutMs: 120_000 });
      return;
    } catch (e) {
      // A file that vanished under find (a server still stopping) fails this pass; the next one finishes.
      if (i >= attempts) throw e;
      await sleep(2_000);
    }
  }
}

export class KindNodeContainer {
  constructor(
    readonly name: string,
    private readonly docker: Exec,
  ) {}

  private async inspect(format: string): Promise<string> {
    return (await this.docker('docker', ['inspect', '--format', format, this.name], { timeoutMs: 30_000 })).stdout.trim();
  }

  async state(): Promise<{ running: boolean; paused: boolean; status: string }> {
    const s = JSON.parse(await this.inspect('{{json .State}}')) as { Running?: boolean; Paused?: boolean; Status?: string };
    return { running: !!s.Running, paused: !!s.Paused, status: s.Status ?? 'unknown' };
  }

  /** Its address on the kind network (the first network otherwise). */
  async address(): Promise<string | null> {
    const nets = JSON.parse((await this.inspect('{{json .NetworkSettings.Networks}}')) || '{}') as Record<string, { IPAddress?: string }>;
    const ip = nets.kind?.IPAddress ?? Object.values(nets)[0]?.IPAddress;
    return ip || null;
  }

  kill(): Promise<unknown> {
    return this.docker('docker', ['kill', '--signal', 'KILL', this.name], { timeoutMs: 60_000 });
  }

  start(): Promise<unknown> {
    return this.docker('docker', ['start', this.name], { timeoutMs: 120_000 });
  }

  pause(): Promise<unknown> {
    return this.docker('docker', ['pause', this.name], { timeoutMs: 30_000 });
  }

  unpause(): Promise<unknown> {
    return this.docker('docker', ['unpause', this.name], { timeoutMs: 30_000 });
  }

  exec(args: string[], timeoutMs = 30_000): Promise<{ stdout: string; stderr: string }> {
    return this.docker('docker', ['exec', this.name, ...args], { timeoutMs });
  }

  async kubeletState(): Promise<string> {
    return (await this.exec(['systemctl', 'show', '--property=ActiveState', '--value', 'kubelet.service'])).stdout.trim();
  }

  /** The running database container of a pod, as containerd knows it (empty when none). */
  async memberContainer(namespace: string, pod: string): Promise<string> {
    const { stdout } = await this.exec(['crictl', 'ps', '--quiet', '--state', 'running', '--label', `io.kubernetes.pod.namespace=${namespace}`, '--label', `io.kubernetes.pod.name=${pod}`, '--label', `io.kubernetes.container.name=${NAMES.container}`]);
    return stdout.trim().split('\n')[0]?.trim() ?? '';
  }

  async probePrimary(container: string): Promise<{ role: 'primary' | 'replica' | 'unreachable'; detail?: string }> {
    try {
      const { stdout } = await this.exec(['crictl', 'exec', '--sync', container, '/bin/sh', '-c', PRIMARY_PROBE_SCRIPT], 15_000);
      const out = stdout.trim();
      if (out.startsWith('primary')) return { role: 'primary', detail: `wrote xid ${out.slice(8)}` };
      if (out === 'replica') return { role: 'replica' };
      return { role: 'unreachable', detail: out.slice(0, 200) || 'no answer' };
    } catch (e) {
      return { role: 'unreachable', detail: (e as Error).message.split('\n')[0].slice(0, 200) };
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// The modes

export interface KubernetesFaultContext {
  platform: 'kind' | 'kubernetes';
  target: PlannedTarget;
  runId: string;
  namespace: string;
  cluster: KubeCluster;
  timeline: KubernetesTimeline;
  clock: Clock;
  policy: KubernetesFaultPolicy;
  /** The docker CLI (kind): argument arrays only. */
  exec?: Exec;
  /** kind: the cluster's worker node containers; nothing else is ever faulted. */
  kindWorkers?: string[];
  /** Helper pod image when the policy names none (the target's database image). */
  image: string;
  pullPolicy: 'Never' | 'IfNotPresent' | 'Always';
  /** Labels every object of the run carries. */
  labels: Record<string, string>;
  /** The member pod of an engine node. */
  podOf(node: EngineNode): string;
  /** Resolves true once the member answers on its own connection (default: `select 1` through its port-forward). */
  memberAnswers?(node: EngineNode): Promise<boolean>;
  /** @default 2000 */
  probeIntervalMs?: number;
  /** Patroni: the Endpoints holding the leader key (recorded by the timeline). */
  leaderEndpoints?: string;
  /** The member's data directory inside its container (pod-force-delete watches for two postmasters on it). */
  pgdata?: string;
  /** How long propagation may take before the fault counts as not injected. @default 60_000 */
  propagationTimeoutMs?: number;
  /** Waits that outlive a cycle (operator action) stop with this. */
  signal?: AbortSignal;
}

async function answersSelect1(node: EngineNode): Promise<boolean> {
  try {
    await withClient(node.conn, (c) => c.query('select 1'));
    return true;
  } catch {
    return false;
  }
}

/**
 * The platform's mode for a cycle: its own for the types above; undefined for storage faults (the
 * volume's own, shared with every platform) and engine-level types; an error for a node fault this
 * platform cannot inject, rather than a fallback that would inject something else.
 */
export function kubernetesFaultMode(cycle: FaultCycle, s: FaultSubject, ctx: KubernetesFaultContext): FaultMode | undefined {
  switch (cycle.type) {
    case 'storage-stall':
    case 'storage-error':
      return undefined;
    case 'pod-delete':
    case 'pod-force-delete':
      return podDeletion(cycle, s, ctx);
    case 'node-crash':
    case 'node-hang':
    case 'kubelet-stop':
      if (ctx.platform === 'kind') return kindNodeFault(cycle, s, ctx);
      if (cycle.type === 'node-crash') {
        throw new StatebenchError(
          'node-crash needs the kind platform: the machines of an existing cluster are not statebench\'s to power off',
          EXIT.usage,
          'Use kubelet-stop or node-hang with faultPolicy.nodeAccess: helper-pod, or run the profile on kind',
        );
      }
      return helperNodeFault(cycle, s, ctx);
    default:
      // Engine-level types (switchover, agent-kill) belong to the engine's own modes; the planner has
      // already refused whatever no layer implements.
      return undefined;
  }
}

/** One cycle against one member: where its pod is, the timeline mark, and the waits every mode shares. */
class MemberCycle {
  readonly pod: string;
  uid: string | null = null;
  kubeNode: string | null = null;
  mark?: CycleMark;
  private operator?: AbortController;

  constructor(
    readonly cycle: FaultCycle,
    readonly s: FaultSubject,
    readonly ctx: KubernetesFaultContext,
  ) {
    this.pod = ctx.podOf(s.node);
  }

  /** Where the member runs now, from the timeline's view (or the API when the view has not seen it). */
  async locate(): Promise<void> {
    let p: KubeObject | undefined = this.ctx.timeline.get('Pod', this.pod);
    if (!p) {
      try {
        p = (await this.ctx.cluster.objects.read({ apiVersion: 'v1', kind: 'Pod', metadata: { name: this.pod, namespace: this.ctx.namespace } })) as KubeObject;
      } catch (e) {
        throw new StatebenchError(`${this.cycle.type}: cannot read pod ${this.ctx.namespace}/${this.pod}: ${apiMessage(e)}`);
      }
    }
    if (p.metadata?.deletionTimestamp) throw new StatebenchError(`${this.cycle.type}: pod ${this.pod} is already being deleted; the previous cycle has not recovered`);
    this.uid = p.metadata?.uid ?? null;
    this.kubeNode = (p.spec?.nodeName as string | undefined) ?? null;
    if (!this.kubeNode) throw new StatebenchError(`${this.cycle.type}: pod ${this.pod} is not scheduled on any node`);
  }

  begin(): CycleMark {
    this.mark = this.ctx.timeline.beginCycle({
      cycle: this.cycle.cycle,
      type: this.cycle.type,
      node: this.s.node.name,
      pod: this.pod,
      kubeNode: this.kubeNode,
      forceDeleteAfterMs: this.ctx.policy.forceDeleteAfterMs ?? null,
    });
    return this.mark;
  }

  act(what: string, detail?: string): void {
    if (this.mark) this.ctx.timeline.act(this.mark, what, detail);
  }

  markRecover(): void {
    if (this.mark && this.mark.recoverAtMs === null) this.mark.recoverAtMs = +this.ctx.clock.now().toFixed(1);
  }

  /** The pod object is gone, being deleted, or replaced (another uid). */
  podLeft(timeoutMs: number): Promise<true> {
    const tl = this.ctx.timeline;
    return tl.waitFor(
      `pod ${this.pod} to be deleted`,
      () => {
        const p = tl.get('Pod', this.pod);
        return !p || p.metadata?.deletionTimestamp || p.metadata?.uid !== this.uid ? true : undefined;
      },
      { timeoutMs, state: () => describePod(tl.get('Pod', this.pod)) },
    );
  }

  nodeIsReady(expectAddress?: string | null): boolean {
    const n = this.ctx.timeline.get('Node', this.kubeNode ?? '');
    const ready = (n?.status?.conditions as { type: string; status: string }[] | undefined)?.find((c) => c.type === 'Ready')?.status === 'True';
    if (!ready) return false;
    if (!expectAddress) return true;
    const ip = (n?.status?.addresses as { type: string; address: string }[] | undefined)?.find((a) => a.type === 'InternalIP')?.address;
    return !ip || ip === expectAddress;
  }

  /**
   * Recovered: the engine accepts writes, the faulted member answers on its own connection again,
   * (pod faults) a replacement pod is Ready, and (node faults) its node is Ready — with
   * `expectAddress` as its InternalIP, when given.
   */
  async recovered(timeoutMs: number, o: { node?: boolean; expectAddress?: string | null; replaced?: boolean } = {}): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    const left = () => Math.max(1, deadline - performance.now());
    try {
      if (o.replaced) {
        const tl = this.ctx.timeline;
        await tl.waitFor(
          `a replacement of pod ${this.pod} to be Ready`,
          () => {
            const p = tl.get('Pod', this.pod);
            const ready = (p?.status?.conditions as { type: string; status: string }[] | undefined)?.some((c) => c.type === 'Ready' && c.status === 'True');
            return p && p.metadata?.uid !== this.uid && !p.metadata?.deletionTimestamp && ready ? true : undefined;
          },
          { timeoutMs: left(), state: () => describePod(tl.get('Pod', this.pod)) },
        );
      }
      await this.s.engine.awaitHealthy(left());
      const answers = this.ctx.memberAnswers ?? answersSelect1;
      let ok = false;
      while (!ok && performance.now() < deadline) {
        ok = await answers(this.s.node);
        if (!ok) await sleep(Math.min(500, left()));
      }
      if (!ok) throw new StatebenchError(`${this.s.node.name} (pod ${this.pod}) did not answer again within ${timeoutMs}ms: ${describePod(this.ctx.timeline.get('Pod', this.pod))}`);
      if (o.node) {
        const tl = this.ctx.timeline;
        await tl.waitFor(`node ${this.kubeNode} to be Ready${o.expectAddress ? ` at ${o.expectAddress}` : ''}`, () => (this.nodeIsReady(o.expectAddress) ? true : undefined), {
          timeoutMs: left(),
          state: () => describeNode(tl.get('Node', this.kubeNode ?? '')),
        });
      }
      if (this.mark) this.mark.healthyAtMs = +this.ctx.clock.now().toFixed(1);
    } finally {
      this.stopOperator();
    }
  }

  /**
   * Operator action: once the member's node has been NotReady for forceDeleteAfter, force-delete the
   * pod (uid precondition, so a replacement is never touched), as an operator would to let the
   * StatefulSet recreate it. Runs in the background until recovery.
   */
  startOperator(): void {
    const after = this.ctx.policy.forceDeleteAfterMs;
    if (after === undefined || !this.kubeNode || !this.uid) return;
    const ctl = new AbortController();
    this.operator = ctl;
    const signal = this.ctx.signal ? AbortSignal.any([ctl.signal, this.ctx.signal]) : ctl.signal;
    const tl = this.ctx.timeline;
    void (async () => {
      await tl.waitFor(`node ${this.kubeNode} NotReady`, () => (this.nodeIsReady() ? undefined : true), { timeoutMs: 6 * 3_600_000, signal });
      await sleep(after, signal);
      const p = tl.get('Pod', this.pod);
      if (this.nodeIsReady() || !p || p.metadata?.uid !== this.uid) return;
      this.act('force-delete (operator action)', `node ${this.kubeNode} NotReady for ${(after / 1000).toFixed(0)}s`);
      try {
        // Everything in the body: the API server reads DeleteOptions from the query only when the body
        // is empty, so a body holding just the precondition would drop grace 0 and leave the pod
        // Terminating for its remaining grace period, which a dead node's kubelet never ends.
        await this.ctx.cluster.objects.delete(
          { apiVersion: 'v1', kind: 'Pod', metadata: { name: this.pod, namespace: this.ctx.namespace } },
          undefined,
          undefined,
          0,
          undefined,
          'Background',
          { gracePeriodSeconds: 0, propagationPolicy: 'Background', preconditions: { uid: this.uid! } } as never,
        );
      } catch (e) {
        this.act('force-delete (operator action) failed', apiMessage(e));
      }
    })().catch(() => {});
  }

  stopOperator(): void {
    this.operator?.abort();
    this.operator = undefined;
  }
}

function describePod(p: KubeObject | undefined): string {
  if (!p) return 'the pod does not exist';
  const conds = ((p.status?.conditions as { type: string; status: string; reason?: string }[] | undefined) ?? []).map((c) => `${c.type}=${c.status}${c.reason ? `(${c.reason})` : ''}`).join(' ');
  return `pod ${p.metadata?.name} ${p.status?.phase ?? '?'} on ${p.spec?.nodeName ?? 'no node'}${p.metadata?.deletionTimestamp ? ', terminating' : ''}${conds ? `, ${conds}` : ''}`;
}

function describeNode(n: KubeObject | undefined): string {
  if (!n) return 'the node is not known';
  const ready = (n.status?.conditions as { type: string; status: string; reason?: string; message?: string }[] | undefined)?.find((c) => c.type === 'Ready');
  const ip = (n.status?.addresses as { type: string; address: string }[] | undefined)?.find((a) => a.type === 'InternalIP')?.address;
  return `node ${n.metadata?.name} Ready=${ready?.status ?? '?'}${ready?.reason ? ` (${ready.reason}${ready.message ? `: ${ready.message}` : ''})` : ''}, InternalIP ${ip ?? 'none'}`;
}

/**
 * The postmasters running on a data directory, from a node's process list (`ps -eo pid=,ppid=,args=`):
 * processes whose arguments name `-D <pgdata>` and whose parent is not one of them.
 */
export function postmastersOn(ps: string, pgdata: string): number[] {
  const procs = ps
    .split('\n')
    .map((l) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(l))
    .filter((x): x is RegExpExecArray => !!x)
    .map((x) => ({ pid: Number(x[1]), ppid: Number(x[2]), args: x[3] }))
    .filter((p) => /(^|\/)postgres(\s|$)/.test(p.args.split(' -D ')[0] + ' ') && new RegExp(`\\s-D\\s+${pgdata.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\s|$)`).test(p.args));
  const pids = new Set(procs.map((p) => p.pid));
  return procs.filter((p) => !pids.has(p.ppid)).map((p) => p.pid).sort((a, b) => a - b);
}

/**
 * Every process of this host as `pid ppid args` lines, the form postmastersOn reads, from /proc; with
 * `podUids`, only those in the containers of these pods. On kind the host sees the processes of every
 * node, frozen ones too: `docker exec` into a paused node cannot run, so a look from inside the node
 * misses the old server of a frozen node. Every member of a target uses the same data directory path
 * inside its own container, so without the pods a look at the host would count the other members.
 */
export function hostProcesses(proc = '/proc', podUids?: string[]): string {
  // A pod's containers sit in a cgroup named after its uid: `pod<uid>` (cgroupfs driver) or with
  // underscores for dashes (systemd driver, as in kind's nodes).
  const marks = podUids?.flatMap((u) => [`pod${u}`, `pod${u.replace(/-/g, '_')}`]);
  const lines: string[] = [];
  for (const d of readdirSync(proc)) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(join(proc, d, 'stat'), 'utf8');
      // `pid (comm) state ppid …`; comm may hold spaces and parentheses, so read after the last ')'.
      const ppid = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1];
      if (marks) {
        const cgroup = readFileSync(join(proc, d, 'cgroup'), 'utf8');
        if (!marks.some((x) => cgroup.includes(x))) continue;
      }
      const args = readFileSync(join(proc, d, 'cmdline'), 'utf8').split('\0').filter(Boolean).join(' ');
      if (args && ppid) lines.push(`${d} ${ppid} ${args}`);
    } catch {
      /* the process ended while the list was read */
    }
  }
  return lines.join('\n');
}

/**
 * Watches, until stopped, for two postmasters on the member's data directory, and marks the first
 * sighting on the cycle. A force delete removes the pod object at once while the kubelet is still
 * killing its containers (or, on a frozen node, cannot kill them at all); the replacement then starts
 * on the same data — on the same node with a Local PV, on any node with a shared network volume — and
 * PostgreSQL's postmaster.pid check does not see across PID namespaces. The host's /proc is read
 * first (every kind node's processes, frozen ones included); where it shows no server on the data
 * directory (a docker daemon on another machine), the process list inside the pod's node.
 */
function watchPostmasters(ctx: KubernetesFaultContext, m: MemberCycle, why: string): { stop(): Promise<void> } | undefined {
  const pgdata = ctx.pgdata;
  const node = m.kubeNode;
  if (ctx.platform !== 'kind' || !ctx.exec || !pgdata || !node) return undefined;
  const exec = ctx.exec;
  const stop = new AbortController();
  // Bounded, in case recovery is never awaited (an interrupted run).
  const until = performance.now() + 600_000;
  const done = (async () => {
    while (!stop.signal.aborted && performance.now() < until) {
      try {
        // The member's old pod and, once there is one, its replacement: the same name, another uid.
        const now = ctx.timeline.get('Pod', m.pod)?.metadata?.uid;
        const uids = [m.uid, now].filter((u): u is string => !!u);
        let pids = uids.length ? postmastersOn(hostProcesses('/proc', [...new Set(uids)]), pgdata) : [];
        let where = `at once (host pids ${pids.join(', ')})`;
        if (!pids.length) {
          const { stdout } = await exec('docker', ['exec', node, 'ps', '-eo', 'pid=,ppid=,args='], { timeoutMs: 10_000 });
          pids = postmastersOn(stdout, pgdata);
          where = `on ${node} at once (pids ${pids.join(', ')} in the node)`;
        }
        if (pids.length >= 2 && m.mark && !m.mark.actions.some((a) => a.what.startsWith('two postmasters'))) {
          m.act('two postmasters', `on ${pgdata} ${where}: ${why}`);
        }
      } catch {
        /* the node may be busy or frozen; the next look counts */
      }
      await sleep(ctx.probeIntervalMs ?? 500, stop.signal).catch(() => {});
    }
  })();
  return {
    async stop() {
      stop.abort();
      await done;
    },
  };
}

function podDeletion(cycle: FaultCycle, s: FaultSubject, ctx: KubernetesFaultContext): FaultMode {
  const m = new MemberCycle(cycle, s, ctx);
  const force = cycle.type === 'pod-force-delete';
  let watching: { stop(): Promise<void> } | undefined;
  const stopWatching = async () => {
    await watching?.stop();
    watching = undefined;
  };

  return {
    type: cycle.type,
    setup: () => m.locate(),
    inject: async () => {
      m.begin();
      // A graceful delete never needs a look: the kubelet stops the old server before the replacement exists.
      if (force) watching = watchPostmasters(ctx, m, 'the force delete let the replacement start before the old server was gone');
      if (force) m.act('force-delete', `${m.pod} with gracePeriodSeconds=0`);
      else m.act('delete', `${m.pod} with its own grace period`);
      await ctx.cluster.delete({ apiVersion: 'v1', kind: 'Pod', metadata: { name: m.pod, namespace: ctx.namespace } }, force ? { gracePeriodSeconds: 0 } : {});
    },
    waitForPropagation: async () => {
      await m.podLeft(ctx.propagationTimeoutMs ?? 60_000);
    },
    // Nothing to undo: the StatefulSet controller recreates the pod.
    recover: async () => m.markRecover(),
    waitForRecovery: async (timeoutMs) => {
      try {
        await m.recovered(timeoutMs, { replaced: true });
      } finally {
        await stopWatching();
      }
    },
  };
}

function kindNodeFault(cycle: FaultCycle, s: FaultSubject, ctx: KubernetesFaultContext): FaultMode {
  const m = new MemberCycle(cycle, s, ctx);
  if (!ctx.exec) throw new StatebenchError(`${cycle.type} on kind needs the docker CLI`);
  const docker = ctx.exec;
  let node: KindNodeContainer | undefined;
  let addressBefore: string | null = null;
  let addressAfter: string | null = null;
  let container = '';
  let probing: { stop: AbortController; done: Promise<void> } | undefined;
  let frozenWatch: { stop(): Promise<void> } | undefined;

  const target = async (): Promise<KindNodeContainer> => {
    await m.locate();
    const workers = ctx.kindWorkers ?? [];
    if (!m.kubeNode || !workers.includes(m.kubeNode)) {
      throw new StatebenchError(`${cycle.type}: pod ${m.pod} runs on ${m.kubeNode ?? 'no node'}, not on a worker of this kind cluster (${workers.join(', ')}); the control plane is never faulted`);
    }
    return new KindNodeContainer(m.kubeNode, docker);
  };

  /**
   * Probes the old primary on its node and, once the leader key names another member, that member on
   * its node too: a second primary is reported only when both accept writes.
   */
  const probeLoop = (n: KindNodeContainer) => {
    const stop = new AbortController();
    const every = ctx.probeIntervalMs ?? 2_000;
    const done = (async () => {
      while (!stop.signal.aborted) {
        const started = ctx.clock.now();
        const r = await n.probePrimary(container);
        m.mark?.probes.push({ atMs: +started.toFixed(1), role: r.role, ...(r.detail ? { detail: r.detail } : {}) });
        const holder = ctx.leaderEndpoints ? leaderKeyHolder(ctx.timeline.get('Endpoints', ctx.leaderEndpoints)) : null;
        const holderNode = holder ? (ctx.timeline.get('Pod', holder)?.spec?.nodeName as string | undefined) : undefined;
        if (holder && holderNode && (holder !== m.pod || holderNode !== m.kubeNode) && (ctx.kindWorkers ?? []).includes(holderNode)) {
          const at = ctx.clock.now();
          const peer = new KindNodeContainer(holderNode, docker);
          const id = await peer.memberContainer(ctx.namespace, holder).catch(() => '');
          const p = id ? await peer.probePrimary(id) : { role: 'unreachable' as const, detail: 'no running container' };
          m.mark?.probes.push({ atMs: +at.toFixed(1), role: p.role, ...(p.detail ? { detail: p.detail } : {}), pod: holder, kubeNode: holderNode });
        }
        await sleep(every, stop.signal).catch(() => {});
      }
    })();
    return { stop, done };
  };

  const stopProbes = async () => {
    const p = probing;
    probing = undefined;
    p?.stop.abort();
    await p?.done;
  };

  switch (cycle.type) {
    case 'node-crash':
      return {
        type: cycle.type,
        setup: async () => {
          node = await target();
          const st = await node.state();
          if (!st.running || st.paused) throw new StatebenchError(`node-crash: node container ${node.name} is ${st.status}${st.paused ? ' (paused)' : ''}, not running`);
          addressBefore = await node.address();
        },
        inject: async () => {
          m.begin();
          m.act('docker kill --signal KILL', `${node!.name} (address ${addressBefore ?? 'unknown'})`);
          await node!.kill();
        },
        waitForPropagation: async () => {
          await until(`node container ${node!.name} to stop`, async () => !(await node!.state()).running, ctx.propagationTimeoutMs ?? 30_000);
          m.startOperator();
        },
        recover: async () => {
          m.stopOperator();
          m.markRecover();
          const n = node;
          if (!n) return;
          const st = await n.state();
          if (st.paused) await n.unpause();
          if (!st.running) {
            m.act('docker start', n.name);
            await n.start();
          }
          addressAfter = await n.address().catch(() => null);
          if (addressBefore && addressAfter && addressAfter !== addressBefore) {
            m.act('node address changed', `${addressBefore} → ${addressAfter}; kind's entrypoint points the kubelet's --node-ip at the new address`);
          }
        },
        waitForRecovery: (timeoutMs) => m.recovered(timeoutMs, { node: true, expectAddress: addressAfter }),
      };
    case 'node-hang':
      return {
        type: cycle.type,
        setup: async () => {
          node = await target();
          const st = await node.state();
          if (!st.running || st.paused) throw new StatebenchError(`node-hang: node container ${node.name} is ${st.status}${st.paused ? ' (already paused)' : ''}`);
        },
        inject: async () => {
          m.begin();
          m.act('docker pause', node!.name);
          await node!.pause();
        },
        waitForPropagation: async () => {
          await until(`node container ${node!.name} to be paused`, async () => (await node!.state()).paused, ctx.propagationTimeoutMs ?? 30_000);
          m.startOperator();
          // The operator action can let a replacement start while the old server is frozen, not gone.
          if (ctx.policy.forceDeleteAfterMs !== undefined) frozenWatch = watchPostmasters(ctx, m, "the operator's force delete let the replacement start while the old server was frozen on its paused node");
        },
        recover: async () => {
          m.stopOperator();
          m.markRecover();
          const n = node;
          if (!n) return;
          const st = await n.state();
          if (st.paused) {
            m.act('docker unpause', n.name);
            await n.unpause();
          } else if (!st.running) {
            await n.start();
          }
        },
        waitForRecovery: async (timeoutMs) => {
          try {
            await m.recovered(timeoutMs, { node: true });
          } finally {
            await frozenWatch?.stop();
            frozenWatch = undefined;
          }
        },
      };
    case 'kubelet-stop':
      return {
        type: cycle.type,
        setup: async () => {
          node = await target();
          const kubelet = await node.kubeletState();
          if (kubelet !== 'active') throw new StatebenchError(`kubelet-stop: the kubelet on ${node.name} is ${kubelet || 'unknown'}, not active`);
          container = await node.memberContainer(ctx.namespace, m.pod);
          if (!container) throw new StatebenchError(`kubelet-stop: containerd on ${node.name} runs no ${NAMES.container} container of pod ${m.pod}`);
        },
        inject: async () => {
          m.begin();
          m.act('systemctl stop kubelet', node!.name);
          await node!.exec(['systemctl', 'stop', 'kubelet.service']);
        },
        // The point of this fault is a database that outlives its kubelet: check that it did.
        waitForPropagation: async () => {
          await until(`the kubelet on ${node!.name} to stop`, async () => ['inactive', 'failed'].includes(await node!.kubeletState()), ctx.propagationTimeoutMs ?? 30_000);
          const still = await node!.memberContainer(ctx.namespace, m.pod);
          if (still !== container) throw new StatebenchError(`kubelet-stop: the database container of ${m.pod} (${container.slice(0, 12)}) stopped with the kubelet, so this was not a kubelet-only failure`);
          probing = probeLoop(node!);
          m.startOperator();
        },
        recover: async () => {
          m.stopOperator();
          await stopProbes();
          m.markRecover();
          const n = node;
          if (!n) return;
          if ((await n.kubeletState()) !== 'active') {
            m.act('systemctl start kubelet', n.name);
            await n.exec(['systemctl', 'start', 'kubelet.service']);
          }
        },
        waitForRecovery: (timeoutMs) => m.recovered(timeoutMs, { node: true }),
      };
    default:
      throw new StatebenchError(`${cycle.type} is not a node fault`);
  }
}

/** Polls `check` every 250 ms until it holds; throws naming `what` after `timeoutMs`. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last = '';
  while (performance.now() < deadline) {
    try {
      if (await check()) return;
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(250);
  }
  throw new StatebenchError(`timed out after ${timeoutMs}ms waiting for ${what}${last ? ` (last error: ${last})` : ''}`);
}

function helperNodeFault(cycle: FaultCycle, s: FaultSubject, ctx: KubernetesFaultContext): FaultMode {
  const action = cycle.type as 'kubelet-stop' | 'node-hang';
  const m = new MemberCycle(cycle, s, ctx);
  const name = `statebench-${action}-${cycle.faultIndex}-${cycle.cycle}`;
  const holdSeconds = Math.max(1, Math.ceil(cycle.holdMs / 1000));
  let created = false;
  /** Run-clock time at which the node's timer undoes the fault. */
  let undoAtMs = 0;

  const removeHelper = async () => {
    if (!created) return;
    await ctx.cluster.delete({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ctx.namespace } }, { gracePeriodSeconds: 0 }).catch(() => {});
    created = false;
  };

  return {
    type: cycle.type,
    setup: async () => {
      if (ctx.policy.nodeAccess !== 'helper-pod') {
        throw new StatebenchError(
          `${cycle.type} on an existing cluster reaches the node through a privileged helper pod (hostPID, nsenter into the host), which target "${ctx.target.name}" does not allow`,
          EXIT.usage,
          'Set faultPolicy.nodeAccess: helper-pod on the target if stopping the kubelet of a node in this cluster is acceptable, or run the profile on kind',
        );
      }
      await m.locate();
      await ctx.cluster.apply([nodeAccessServiceAccount(ctx.namespace, ctx.labels)]);
      try {
        await ctx.cluster.objects.patch(nodeAccessNamespaceLabels(ctx.namespace), undefined, undefined, NODE_ACCESS_FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
      } catch (e) {
        throw new StatebenchError(`labelling namespace ${ctx.namespace} for privileged pods failed: ${apiMessage(e)}`, EXIT.environment, 'The kubeconfig user needs to patch its namespace; see kind-config/README.md (existing clusters)');
      }
    },
    inject: async () => {
      m.begin();
      const nodeObj = ctx.timeline.get('Node', m.kubeNode!);
      const pod = helperPod({
        name,
        namespace: ctx.namespace,
        node: m.kubeNode!,
        action,
        holdSeconds,
        unit: unitName(ctx.runId, cycle),
        image: ctx.policy.helperImage ?? ctx.image,
        pullPolicy: ctx.policy.helperImage ? 'IfNotPresent' : ctx.pullPolicy,
        labels: ctx.labels,
        runtimeUnit: runtimeUnit(nodeObj?.status?.nodeInfo?.containerRuntimeVersion as string | undefined),
      });
      created = true;
      await ctx.cluster.apply([pod as unknown as K8sObject]);
      // The action waits until the kubelet has reported the pod Running: after it stops, the node
      // reports nothing more, and the pod would stay Pending in the API for the whole hold.
      await ctx.cluster.waitUntil(
        { apiVersion: 'v1', kind: 'Pod', plural: 'pods', namespace: ctx.namespace, fieldSelector: `metadata.name=${name}` },
        (items) => {
          const p = items.find((x) => x.metadata?.name === name) as KubeObject | undefined;
          const phase = p?.status?.phase as string | undefined;
          if (phase === 'Failed') {
            const term = (p?.status?.containerStatuses as { state?: { terminated?: { message?: string; exitCode?: number } } }[] | undefined)?.[0]?.state?.terminated;
            throw new StatebenchError(`${cycle.type}: helper pod ${name} failed on ${m.kubeNode} (exit ${term?.exitCode ?? '?'}): ${term?.message?.trim() ?? 'no message'}`, EXIT.runFailed, 'The node needs systemd (and for node-hang cgroup v2 with the systemd cgroup driver); the helper image needs nsenter');
          }
          const running = (p?.status?.containerStatuses as { state?: { running?: object } }[] | undefined)?.[0]?.state?.running;
          return phase === 'Running' && running ? true : undefined;
        },
        { timeoutMs: ctx.propagationTimeoutMs ?? 120_000, what: `helper pod ${ctx.namespace}/${name} to be reported Running on ${m.kubeNode}`, explain: () => ctx.cluster.explain(ctx.namespace, 'statebench.helper=node-access') },
      );
      m.act(`helper pod ${name}`, `${action} on ${m.kubeNode} for ${holdSeconds}s (undone by a systemd timer on the node)`);
      await execIn(ctx.cluster, ctx.namespace, name, HELPER_CONTAINER, HELPER_ACTION_COMMAND, 60_000).catch((e: Error) => {
        throw new StatebenchError(`${cycle.type}: the action in helper pod ${name} on ${m.kubeNode} failed: ${e.message}`, EXIT.runFailed, 'The node needs systemd (and for node-hang cgroup v2 with the systemd cgroup driver); the helper image needs nsenter');
      });
      undoAtMs = ctx.clock.now() + holdSeconds * 1000;
    },
    // Whether the kubelet really stopped shows in the timeline (NodeStatusUnknown).
    waitForPropagation: async () => {
      m.startOperator();
    },
    // The node undoes the fault itself when its timer fires; with the kubelet stopped or frozen there
    // is no earlier way in. An interrupted run therefore recovers at the end of the hold, not sooner.
    recover: async () => {
      m.stopOperator();
      m.markRecover();
      m.act('waiting for the node timer', `${unitName(ctx.runId, cycle)}-undo restores ${m.kubeNode} when the ${holdSeconds}s hold ends`);
    },
    waitForRecovery: async (timeoutMs) => {
      try {
        // Until the timer fires the node is as faulted as before, whatever Kubernetes reports yet.
        const wait = Math.min(timeoutMs, undoAtMs - ctx.clock.now());
        if (wait > 0) await sleep(wait);
        await m.recovered(Math.max(1, timeoutMs - Math.max(0, wait)), { node: true });
      } finally {
        await removeHelper();
      }
    },
  };
}

/** Runs `command` in a container through the API server (as `kubectl exec`); resolves on its success. */
export async function execIn(cluster: KubeCluster, namespace: string, pod: string, container: string, command: string[], timeoutMs: number): Promise<string> {
  let out = '';
  const sink = new Writable({ write: (chunk, _e, done) => ((out += String(chunk)), done()) });
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer after ${timeoutMs}ms`)), timeoutMs);
    new KubeExec(cluster.kubeConfig)
      .exec(namespace, pod, container, command, sink, sink, null, false, (status) => {
        clearTimeout(timer);
        if (status.status === 'Success') resolve(out);
        else reject(new Error(`${status.message ?? status.reason ?? 'failed'}${out.trim() ? `: ${out.trim().slice(-500)}` : ''}`));
      })
      .catch((e: unknown) => {
        clearTimeout(timer);
        reject(new Error(apiMessage(e)));
      });
  });
}

/** The docker CLI for KindNodeContainer, through the same Exec type KindCli takes (argument arrays). */
export const dockerExec: Exec = (cmd, args, opts) => run(cmd, args, { timeoutMs: opts?.timeoutMs });
