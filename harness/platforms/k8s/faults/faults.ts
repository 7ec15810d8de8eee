// Fault modes of the kind and kubernetes platforms: what `ProvisionedTarget.faultMode` hands the fault
// schedule, tried before the NodeControl-based modes every platform shares.
//
//   pod-delete        the member pod is deleted with its own grace period (SIGTERM, then SIGKILL after
//                     terminationGracePeriodSeconds); the StatefulSet recreates it
//   pod-force-delete  the same with gracePeriodSeconds 0: the API object goes at once, the containers
//                     are killed by the kubelet afterwards, the replacement may start before they are
//   node-crash        kind: the member's kill verb, `docker kill --signal KILL` of the worker node
//                     container hosting the pod; its start verb (`docker start`) after downFor
//   node-hang         kind: its pause/resume verbs, `docker pause`/`unpause` of that node container
//                     (kubelet and pods freeze)
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
// This module picks the mode; each lives in its own: pod.ts (pod-delete, pod-force-delete), kind-node.ts
// (kind's node containers: the members' verbs and the modes on them), node-access.ts (the helper pod on
// an existing cluster). member-cycle.ts
// holds what they share, postmasters.ts the force-delete hazard, policy.ts the tolerations.
//
// kind node restarts: only workers are ever faulted — the control plane's address is in the API
// server's certificate and every kubeconfig, so it is never killed or paused. A killed worker comes
// back under `docker start` with a new address on the kind network more often than not; kind's node
// entrypoint rewrites the kubelet's --node-ip from the old address (/kind/old-ipv4) on start, the kubelet
// reports the new InternalIP and kindnet re-routes to it. statebench records the container's address
// before and after and waits, as part of recovery, for the Node to be Ready with the new InternalIP.
// `docker kill` with SIGKILL counts as a manual stop for docker, so the node containers' restart policy
// (on-failure) does not bring the node back early; propagation checks that it stayed down.
import type { FaultCycle } from '../../../model/plan.ts';
import type { FaultMode } from '../../../fault/fault.ts';
import type { FaultSubject } from '../../../fault/modes.ts';
import { StatebenchError, EXIT } from '../../../errors.ts';
import { podDeletion } from './pod.ts';
import { kindNodeFault } from './kind-node.ts';
import { helperNodeFault } from './node-access.ts';
import type { KubernetesFaultContext } from './member-cycle.ts';

/** What each platform injects itself; harness/model/capabilities.ts lists exactly these. */
export const KIND_FAULT_TYPES = ['node-crash', 'node-hang', 'kubelet-stop', 'pod-delete', 'pod-force-delete'] as const;
export const KUBERNETES_FAULT_TYPES = ['pod-delete', 'pod-force-delete', 'kubelet-stop', 'node-hang'] as const;
/** On an existing cluster these need `faultPolicy.nodeAccess: helper-pod`. */
export const NODE_ACCESS_FAULT_TYPES = ['kubelet-stop', 'node-hang'] as const;

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
