// Plans with Kubernetes targets for tests, through the same planner and capabilities a profile meets.
import { parse } from 'yaml';
import { Profile, type ProfileInput } from '../../../model/profile.ts';
import { buildPlan, type Plan, type PlannedTarget } from '../../../model/plan.ts';

export function planWithKubernetes(input: ProfileInput | string): Plan {
  const raw = typeof input === 'string' ? parse(input) : input;
  const { plan, problems } = buildPlan(Profile.parse(raw));
  if (!plan) throw new Error(`plan problems: ${problems.map((p) => `${p.path.join('.')}: ${p.message}`).join('; ')}`);
  return plan;
}

export function kubernetesTarget(over: { platform?: 'kind' | 'kubernetes'; storage?: ProfileInput['targets'][number]['storage']; engine?: ProfileInput['engine']; target?: Partial<ProfileInput['targets'][number]>; faults?: ProfileInput['faults']; checks?: ProfileInput['checks'] } = {}): PlannedTarget {
  const plan = planWithKubernetes({
    name: 'k8s-test',
    targets: [{ platform: over.platform ?? 'kind', storage: over.storage ?? { kind: 'local-pv', size: '2GiB' }, ...over.target }],
    engine: over.engine,
    // Long enough for any fault schedule a test gives.
    workloads: [{ kind: 'oltp-tpcb', ...(over.faults?.length ? { duration: '1h' } : {}) }],
    faults: over.faults,
    checks: over.checks,
  });
  return plan.targets[0];
}
