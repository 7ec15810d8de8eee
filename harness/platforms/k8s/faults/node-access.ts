// Node faults on an existing cluster (kubelet-stop, node-hang), through an opt-in privileged helper pod
// on the member's node: the objects it needs, the pod, and the fault mode that waits for it to run.
import type { IPod } from 'kubernetes-models/v1/Pod';
import type { IClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import type { IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { Writable } from 'node:stream';
import { Exec as KubeExec, PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';
import type { FaultCycle } from '../../../model/plan.ts';
import type { FaultMode } from '../../../fault/fault.ts';
import type { FaultSubject } from '../../../fault/modes.ts';
import { monotonicClock, settledWithin } from '../../../core/wait.ts';
import { StatebenchError, EXIT } from '../../../errors.ts';
import { apiMessage, type KubeCluster } from '../cluster.ts';
import type { K8sObject } from '../render/manifests.ts';
import { labelValue } from '../names.ts';
import type { KubeObject } from '../timeline/assemble.ts';
import { MemberCycle, type KubernetesFaultContext } from './member-cycle.ts';

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

export function helperNodeFault(cycle: FaultCycle, s: FaultSubject, ctx: KubernetesFaultContext): FaultMode {
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
        if (wait > 0) await (ctx.waitClock ?? monotonicClock).sleep(wait);
        await m.recovered(Math.max(1, timeoutMs - Math.max(0, wait)), { node: true });
      } finally {
        await removeHelper();
      }
    },
  };
}

/** Runs `command` in a container through the API server (as `kubectl exec`); resolves on its success. */
export function execIn(cluster: KubeCluster, namespace: string, pod: string, container: string, command: string[], timeoutMs: number): Promise<string> {
  let out = '';
  const sink = new Writable({ write: (chunk, _e, done) => ((out += String(chunk)), done()) });
  const finished = new Promise<string>((resolve, reject) => {
    new KubeExec(cluster.kubeConfig)
      .exec(namespace, pod, container, command, sink, sink, null, false, (status) => {
        if (status.status === 'Success') resolve(out);
        else reject(new Error(`${status.message ?? status.reason ?? 'failed'}${out.trim() ? `: ${out.trim().slice(-500)}` : ''}`));
      })
      .catch((e: unknown) => reject(new Error(apiMessage(e))));
  });
  // The status channel may never report (a node that stops answering mid-exec): bounded in real time.
  return settledWithin(`the end of ${command[0]} in ${namespace}/${pod}`, finished, { timeoutMs, clock: monotonicClock });
}
