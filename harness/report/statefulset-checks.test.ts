// The StatefulSet checks as data, evaluated on a recorded kind cycle: a single PostgreSQL on a Local PV
// whose node crashed, force-deleted by the operator action after 30 s NotReady, its replacement stuck
// Pending on the dead node until the node came back (harness/platforms/k8s/testing/*.jsonl).
import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { assembleCycle, type CycleMark, type KubernetesFaultTimeline, type Observation } from '../platforms/k8s/timeline/assemble.ts';
import { statefulSetStartup } from '../platforms/k8s/timeline/startup.ts';
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

// Patroni ×3 with podManagement: ordered on kind (harness/platforms/k8s/kind-existing.e2e.test.ts):
// the pod watch from before the StatefulSet was applied until the members were Ready.
function orderedWatch(): Observation[] {
  return readFileSync(new URL('../platforms/k8s/testing/watch-ordered-startup-patroni.jsonl', import.meta.url), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Observation);
}

function startupSummary(observations: Observation[]): TargetSummary {
  const startup = statefulSetStartup(observations, { statefulSet: 'pg', members: 3, podManagementPolicy: 'OrderedReady' });
  return { name: 'kubernetes/local-pv', platform: 'kubernetes', storage: 'local-pv', storageSpec: { kind: 'local-pv' }, faults: [], statefulSetStartup: startup } as unknown as TargetSummary;
}

const isPod = (o: Observation, name: string) => o.object.kind === 'Pod' && o.object.metadata?.name === name;
const ready = (o: Observation) => ((o.object.status?.conditions ?? []) as { type: string; status: string }[]).some((c) => c.type === 'Ready' && c.status === 'True');

test('statefulset.ordered-startup: on kind each member was created once the one before it was Ready', () => {
  const obs = orderedWatch();
  const s = startupSummary(obs);
  expect(s.statefulSetStartup!.members.map((m) => m.pod)).toEqual(['pg-0', 'pg-1', 'pg-2']);
  const r = evaluateCheck({ check: 'statefulset.ordered-startup' }, s);
  expect(r, r.message).toMatchObject({ passed: true, value: 0 });
  expect(r.message).toMatch(/^pg-0 created \+[\d.]+s, Ready \+[\d.]+s, then pg-1 created \+[\d.]+s, Ready \+[\d.]+s, then pg-2 created/);
});

test('statefulset.ordered-startup fails on altered watch data', () => {
  const obs = orderedWatch();
  // As with Parallel: pg-1 created right after pg-0, before pg-0 was Ready.
  const firstOf = (name: string) => obs.findIndex((o) => isPod(o, name));
  const parallel = [...obs];
  const [pg1] = parallel.splice(firstOf('pg-1'), 1);
  parallel.splice(firstOf('pg-0') + 1, 0, pg1);
  const p = evaluateCheck({ check: 'statefulset.ordered-startup' }, startupSummary(parallel));
  expect(p).toMatchObject({ passed: false, value: 1 });
  expect(p.message).toMatch(/^pg-1 was created \(\+[\d.]+s\) before pg-0 was Ready \(\+[\d.]+s\)$/);

  // pg-2 Ready before pg-1: pg-1's Ready observations moved to the end of the stream.
  const late = [...obs.filter((o) => !(isPod(o, 'pg-1') && ready(o))), ...obs.filter((o) => isPod(o, 'pg-1') && ready(o))];
  const l = evaluateCheck({ check: 'statefulset.ordered-startup' }, startupSummary(late));
  expect(l.passed).toBe(false);
  expect(l.message).toContain('pg-2 was created');
  expect(l.message).toContain('pg-2 became Ready');

  // A member that never became Ready.
  const never = obs.filter((o) => !(isPod(o, 'pg-2') && ready(o)));
  expect(evaluateCheck({ check: 'statefulset.ordered-startup' }, startupSummary(never))).toMatchObject({ passed: false, message: 'pg-2 never became Ready' });

  // The watch began after the pods were placed: their creation (unscheduled) was not seen.
  const afterTheFact = obs.filter((o) => !(o.object.kind === 'Pod' && !o.object.spec?.nodeName));
  const a = evaluateCheck({ check: 'statefulset.ordered-startup' }, startupSummary(afterTheFact));
  expect(a.passed).toBe(false);
  expect(a.message).toContain("pg-0's creation was not seen");

  // No record of the start at all.
  expect(evaluateCheck({ check: 'statefulset.ordered-startup' }, { ...startupSummary(obs), statefulSetStartup: undefined }).passed).toBe(false);
});
