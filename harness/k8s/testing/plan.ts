// Plans with Kubernetes targets for tests. The kind and kubernetes platforms are enabled in
// harness/spec/capabilities.ts only once the run wires them; until then the planner refuses them, so
// this enables them for the duration of one buildPlan call with what this module supports.
import { parse } from 'yaml';
import { Profile, type ProfileInput } from '../../spec/profile.ts';
import { buildPlan, type Plan, type PlannedTarget } from '../../spec/plan.ts';
import { CAPABILITIES, type PlatformCapabilities } from '../../spec/capabilities.ts';

/** What this module's platforms can host; faults as DESIGN.md lists them for kind and Kubernetes. */
const KUBERNETES_CAPABILITIES: PlatformCapabilities = {
  storage: ['local-pv', 'remote'],
  engines: ['postgres', 'patroni'],
  faults: { postgres: ['pod-delete', 'pod-force-delete'], patroni: ['pod-delete', 'pod-force-delete', 'switchover'] },
};
/** kind also reaches its nodes: docker kill/pause of the node container, kubelet inside it. */
const KIND_CAPABILITIES: PlatformCapabilities = {
  ...KUBERNETES_CAPABILITIES,
  faults: {
    postgres: [...KUBERNETES_CAPABILITIES.faults.postgres, 'node-crash', 'node-hang', 'kubelet-stop'],
    patroni: [...KUBERNETES_CAPABILITIES.faults.patroni, 'node-crash', 'node-hang', 'kubelet-stop'],
  },
};

export function planWithKubernetes(input: ProfileInput | string): Plan {
  const raw = typeof input === 'string' ? parse(input) : input;
  const profile = Profile.parse(raw);
  const saved = { kind: CAPABILITIES.kind, kubernetes: CAPABILITIES.kubernetes };
  const caps = CAPABILITIES as Record<string, PlatformCapabilities>;
  caps.kind = KIND_CAPABILITIES;
  caps.kubernetes = KUBERNETES_CAPABILITIES;
  try {
    const { plan, problems } = buildPlan(profile);
    if (!plan) throw new Error(`plan problems: ${problems.map((p) => `${p.path.join('.')}: ${p.message}`).join('; ')}`);
    return plan;
  } finally {
    caps.kind = saved.kind;
    caps.kubernetes = saved.kubernetes;
  }
}

export function kubernetesTarget(over: { platform?: 'kind' | 'kubernetes'; storage?: ProfileInput['targets'][number]['storage']; engine?: ProfileInput['engine']; target?: Partial<ProfileInput['targets'][number]> } = {}): PlannedTarget {
  const plan = planWithKubernetes({
    name: 'k8s-test',
    targets: [{ platform: over.platform ?? 'kind', storage: over.storage ?? { kind: 'local-pv', size: '2GiB' }, ...over.target }],
    engine: over.engine,
    workloads: [{ kind: 'oltp-tpcb' }],
  });
  return plan.targets[0];
}
