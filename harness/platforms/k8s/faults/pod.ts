// pod-delete and pod-force-delete: the member pod deleted with its own grace period or with none.
import type { FaultCycle } from '../../../model/plan.ts';
import type { FaultMode } from '../../../fault/fault.ts';
import type { FaultSubject } from '../../../fault/modes.ts';
import { MemberCycle, type KubernetesFaultContext } from './member-cycle.ts';
import { watchPostmasters } from './postmasters.ts';

export function podDeletion(cycle: FaultCycle, s: FaultSubject, ctx: KubernetesFaultContext): FaultMode {
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
