// The shipped Kubernetes profiles: valid against the profile schema, plannable once the kind and
// kubernetes platforms are enabled, and renderable into manifests that validate.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { parse } from 'yaml';
import { Profile } from '../../model/profile.ts';
import { planWithKubernetes } from './testing/plan.ts';
import { renderPlanTo } from './render/render.ts';

for (const file of ['kind-local-vs-remote.yaml', 'cluster-vendor-eval.yaml']) {
  test(`profiles/${file} is a valid profile whose targets render`, async () => {
    const text = readFileSync(new URL(`../../../profiles/${file}`, import.meta.url), 'utf8');
    const parsed = Profile.safeParse(parse(text));
    expect(parsed.success ? [] : parsed.error.issues).toEqual([]);
    const plan = planWithKubernetes(text);
    expect(plan.targets.every((t) => t.platform === 'kind' || t.platform === 'kubernetes')).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'statebench-profile-render-'));
    try {
      const files = await renderPlanTo(plan, '20261127-143022-ab12', dir);
      expect(files.length).toBeGreaterThan(plan.targets.length * 10);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

// What each kind profile promises in its header must be what its numbers can show.
const NODE_MONITOR_GRACE_MS = 50_000;
const planOf = (file: string) => planWithKubernetes(readFileSync(new URL(`../../../profiles/${file}`, import.meta.url), 'utf8'));

test('kind-local-vs-remote: the node crash outlasts the node monitor grace period, so the node is seen NotReady', () => {
  for (const t of planOf('kind-local-vs-remote.yaml').targets) {
    const crash = t.faults.find((f) => f.type === 'node-crash')!;
    expect(crash.holdMs).toBeGreaterThan(NODE_MONITOR_GRACE_MS + 10_000);
  }
});

test('failover-within thresholds leave Patroni its ttl + loop_wait (and a little for the promotion)', () => {
  for (const file of ['kind-local-vs-remote.yaml', 'kind-node-failure.yaml']) {
    const plan = planOf(file);
    const check = plan.targets[0].checks.find((c) => c.check === 'availability.failover-within');
    expect(check, file).toBeDefined();
    for (const t of plan.targets) {
      const p = t.patroni!;
      expect((check as { threshold: number }).threshold, `${file} ${t.name}`).toBeGreaterThan((p.ttl + p.loopWait) * 1000);
    }
  }
});

test('kind-node-failure: Local PV and network volume side by side; tolerations and the operator action act while the node is down', () => {
  const plan = planOf('kind-node-failure.yaml');
  expect(plan.targets.map((t) => t.storage.kind)).toEqual(['local-pv', 'remote']);
  for (const t of plan.targets) {
    const crash = t.faults.find((f) => f.type === 'node-crash')!;
    const policy = t.faultPolicy;
    expect(policy.forceDeleteAfterMs).toBeDefined();
    expect(policy.unreachableTolerationSeconds).toBeDefined();
    // NotReady after the grace period; eviction after the toleration; the force delete after its delay;
    // and time left with the node still down to see the replacement Pending (Local PV) or running elsewhere.
    expect(crash.holdMs).toBeGreaterThan(NODE_MONITOR_GRACE_MS + Math.max(policy.unreachableTolerationSeconds! * 1000, policy.forceDeleteAfterMs!) + 30_000);
  }
});
