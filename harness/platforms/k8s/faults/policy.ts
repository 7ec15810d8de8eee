// The fault policy as manifests: how long member pods tolerate a NotReady or unreachable node
// (the taint manager's eviction clock), applied to the StatefulSet the render produced.
import type { IToleration } from 'kubernetes-models/v1/Toleration';
import { DEFAULT_FAULT_POLICY, type FaultPolicy } from '../../../model/plan.ts';
import type { K8sObject, TargetManifests } from '../render/manifests.ts';
import { NOT_READY_TAINT, UNREACHABLE_TAINT } from '../timeline/assemble.ts';

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
