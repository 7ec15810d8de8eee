// The StatefulSet checks as data, evaluated on a recorded kind cycle: a single PostgreSQL on a Local PV
// whose node crashed, force-deleted by the operator action after 30 s NotReady, its replacement stuck
// Pending on the dead node until the node came back (harness/platforms/k8s/testing/*.jsonl).
import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { assembleCycle, type CycleMark, type KubernetesFaultTimeline, type Observation } from '../platforms/k8s/timeline/assemble.ts';
import type { TargetSummary } from '../model/summary.ts';
import { evaluateCheck } from './checks.ts';

const W1 = 'statebench-20261127-143022-ab12-7b3e-worker2';

function crashCycle(): KubernetesFaultTimeline {
  const observations = readFileSync(new URL('../platforms/k8s/testing/watch-node-crash-local-pv.jsonl', import.meta.url), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Observation);
  const mark: CycleMark = {
    cycle: 0,
    type: 'node-crash',
    node: 'node-0',
    pod: 'pg-0',
    kubeNode: W1,
    injectedAtMs: 20_000,
    recoverAtMs: 140_000,
    healthyAtMs: 153_000,
    forceDeleteAfterMs: 30_000,
    actions: [{ atMs: 91_000, what: 'force-delete (operator action)', detail: `node ${W1} NotReady for 30s` }],
    probes: [],
  };
  return assembleCycle(mark, observations, Number.POSITIVE_INFINITY, { leaderLabel: null });
}

function summary(k: KubernetesFaultTimeline, storage = 'local-pv'): TargetSummary {
  return { name: 'kind/local-pv', platform: 'kind', storage, storageSpec: { kind: storage }, faults: [{ kubernetes: k }] } as unknown as TargetSummary;
}

test('storage.local-pv-pinned: after the node crash the replacement waited Pending on its node, never ran elsewhere', () => {
  const k = crashCycle();
  const r = evaluateCheck({ check: 'storage.local-pv-pinned' }, summary(k));
  expect(r).toMatchObject({ passed: true, value: 0 });
  expect(r.message).toMatch(new RegExp(`^pg-0 stayed Pending on ${W1} for \\d+s$`));
  // Had the scheduler started it on another worker, the member would have come up without its data.
  const moved = structuredClone(k);
  moved.replacement!.kubeNode = 'statebench-20261127-143022-ab12-7b3e-worker3';
  expect(evaluateCheck({ check: 'storage.local-pv-pinned' }, summary(moved))).toMatchObject({ passed: false, value: 1 });
  expect(evaluateCheck({ check: 'storage.local-pv-pinned' }, summary(k, 'remote')).message).toMatch(/does not use Local PVs/);
});

test('statefulset.stable-identity: the replacement came back as pg-0 with the same claim on the same volume', () => {
  const k = crashCycle();
  expect(k.claim).toMatchObject({ name: 'data-pg-0' });
  expect(k.claim!.volumeBefore).toBe(k.claim!.volume);
  const r = evaluateCheck({ check: 'statefulset.stable-identity' }, summary(k));
  expect(r).toMatchObject({ passed: true, value: 0 });
  const rebound = structuredClone(k);
  rebound.claim!.volume = 'some-other-volume';
  expect(evaluateCheck({ check: 'statefulset.stable-identity' }, summary(rebound))).toMatchObject({ passed: false, value: 1 });
});

test('storage.volume-follows-member: a remote member replaced after its node was lost ran on another node with its own volume', () => {
  const k = crashCycle();
  const moved = structuredClone(k);
  moved.replacement!.kubeNode = 'statebench-20261127-143022-ab12-7b3e-worker3';
  const r = evaluateCheck({ check: 'storage.volume-follows-member' }, summary(moved, 'remote'));
  expect(r).toMatchObject({ passed: true, value: 0 });
  expect(r.message).toMatch(new RegExp(`^pg-0 moved from ${W1} to statebench-20261127-143022-ab12-7b3e-worker3 with `));
  // The recorded Local PV cycle: the replacement waited for the dead node and ran there again.
  const stayed = evaluateCheck({ check: 'storage.volume-follows-member' }, summary(k, 'remote'));
  expect(stayed).toMatchObject({ passed: false, value: 1 });
  expect(stayed.message).toMatch(/ran on .* again/);
  // Another volume under the same claim name would be a new member, not this one.
  const otherVolume = structuredClone(moved);
  otherVolume.claim!.volume = 'some-other-pv';
  expect(evaluateCheck({ check: 'storage.volume-follows-member' }, summary(otherVolume, 'remote'))).toMatchObject({ passed: false, value: 1 });
  expect(evaluateCheck({ check: 'storage.volume-follows-member' }, summary(moved)).message).toMatch(/does not use remote volumes/);
});
