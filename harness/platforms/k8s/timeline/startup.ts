// How a StatefulSet's members came up when it was created, read from the pod watch the timeline
// recorded from before the StatefulSet was applied. Pure, like assemble.ts.
//
// One watch delivers a collection's changes in the API server's order (resourceVersion), so the
// position of an observation in the pod stream says which of two changes came first even when both
// arrived within the same millisecond; the check compares those positions. A pod's creation counts as
// seen only when its first observation is unscheduled (no nodeName yet): a pod that was already placed
// when first seen was created before the watch began, and its order is unknown.
import type { StatefulSetStartup } from '../../../model/summary.ts';
import type { KubeObject, Observation } from './assemble.ts';

function isReady(p: KubeObject): boolean {
  return ((p.status?.conditions as { type: string; status: string }[] | undefined) ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

export function statefulSetStartup(observations: Observation[], o: { statefulSet: string; members: number; podManagementPolicy: string }): StatefulSetStartup {
  const pods = observations.filter((x) => x.object.kind === 'Pod');
  const members = Array.from({ length: o.members }, (_, ordinal) => {
    const pod = `${o.statefulSet}-${ordinal}`;
    const first = pods.findIndex((x) => x.object.metadata?.name === pod && x.type !== 'DELETED');
    if (first < 0) return { pod, ordinal, uid: null, createdAtMs: null, createdSeq: null, readyAtMs: null, readySeq: null };
    // The member's first pod; a replacement (another uid) is not part of the start.
    const uid = pods[first].object.metadata?.uid ?? null;
    const created = !pods[first].object.spec?.nodeName;
    const ready = pods.findIndex((x, i) => i >= first && x.type !== 'DELETED' && x.object.metadata?.name === pod && (x.object.metadata?.uid ?? null) === uid && isReady(x.object));
    return {
      pod,
      ordinal,
      uid,
      createdAtMs: created ? pods[first].atMs : null,
      createdSeq: created ? first : null,
      readyAtMs: ready < 0 ? null : pods[ready].atMs,
      readySeq: ready < 0 ? null : ready,
    };
  });
  return { podManagementPolicy: o.podManagementPolicy, members };
}
