// Conformance checks: thresholds are data in the profile, evaluated against a target's summary at
// the end; a breach names the values.
import type { CheckSpec } from '../model/profile.ts';
import type { CheckResult, TargetSummary } from '../model/summary.ts';

type Evaluated = Omit<CheckResult, 'name'>;

function notMeasured(what: string): Evaluated {
  return { passed: false, value: null, threshold: null, message: `${what} was not measured, so the check cannot pass` };
}

export function evaluateCheck(spec: CheckSpec, t: TargetSummary): CheckResult {
  return { name: spec.check, ...evaluate(spec, t) };
}

function evaluate(spec: CheckSpec, t: TargetSummary): Evaluated {
  const s = t.safety;
  switch (spec.check) {
    case 'durability.no-lost-acknowledged-writes':
      if (!s) return notMeasured('data safety');
      return {
        passed: s.lost === 0,
        value: s.lost,
        threshold: 0,
        message: s.lost === 0 ? `all ${s.acknowledged} acknowledged writes were found` : `${s.lost} of ${s.acknowledged} acknowledged writes are missing${s.lostIds?.length ? ` (e.g. ${s.lostIds.slice(0, 3).join(', ')})` : ''}`,
      };
    case 'integrity.no-phantom-or-corrupt': {
      if (!s) return notMeasured('data safety');
      const bad = s.phantom + s.corrupted + s.duplicated;
      return {
        passed: bad === 0,
        value: bad,
        threshold: 0,
        message: bad === 0 ? 'no phantom, duplicated or corrupted rows' : `${s.phantom} phantom, ${s.duplicated} duplicated, ${s.corrupted} corrupted`,
      };
    }
    case 'consistency.bank-invariant': {
      const b = s?.bank;
      if (!b) return notMeasured('the bank invariant');
      const ok = b.violations === 0 && b.negativeBalances === 0 && b.finalTotal === b.expectedTotal;
      return {
        passed: ok,
        value: b.violations,
        threshold: 0,
        message: ok
          ? `total stayed ${b.expectedTotal} over ${b.checks} snapshot checks and ${b.transfers} transfers`
          : `${b.violations} violating snapshots, ${b.negativeBalances} negative balances, final total ${b.finalTotal} (expected ${b.expectedTotal})`,
      };
    }
    case 'availability.recovery-within':
    case 'availability.failover-within': {
      const limit = spec.threshold ?? 0;
      if (!t.faults.length) return notMeasured('recovery');
      const unrecovered = t.faults.filter((f) => !f.recovery.recovered || f.recovery.timeToFirstWriteMs === null);
      const worst = Math.max(...t.faults.map((f) => f.recovery.timeToFirstWriteMs ?? Infinity));
      const passed = unrecovered.length === 0 && worst <= limit;
      return {
        passed,
        value: Number.isFinite(worst) ? Math.round(worst) : null,
        threshold: limit,
        message: unrecovered.length
          ? `${unrecovered.length} of ${t.faults.length} fault cycles never saw an acknowledged write afterwards`
          : `slowest of ${t.faults.length} cycles: first acknowledged write ${Math.round(worst)} ms after injection (limit ${limit} ms)`,
      };
    }
    case 'statefulset.stable-identity': {
      // The seed lecture's StatefulSet promise: a member that is replaced comes back under the same name
      // (the timeline follows the pod by name) with the same claim bound to the same volume.
      const cycles = t.faults.map((f) => f.kubernetes).filter((k): k is NonNullable<typeof k> => !!k && !!k.replacement);
      if (!cycles.length) return notMeasured('a replaced member (needs a kind/kubernetes fault that replaces a pod)');
      const broken = cycles.filter((k) => !k.claim || k.claim.volumeBefore == null || k.claim.volume !== k.claim.volumeBefore);
      return {
        passed: broken.length === 0,
        value: broken.length,
        threshold: 0,
        message: broken.length
          ? broken.map((k) => `${k.type} cycle ${k.cycle}: ${k.pod} came back with claim ${k.claim?.name ?? 'none'} on ${k.claim?.volume ?? 'no volume'} (was ${k.claim?.volumeBefore ?? 'unknown'})`).join('; ')
          : `${cycles.length} replacement(s) came back as the same member: ${cycles.map((k) => `${k.pod} with ${k.claim!.name} on ${k.claim!.volume}`).join(', ')}`,
      };
    }
    case 'statefulset.ordered-startup': {
      // OrderedReady's promise, from what the pod watch saw rather than from the manifest: each ordinal
      // created only after the one before it was Ready, so they became Ready in ordinal order.
      const s = t.statefulSetStartup;
      if (!s?.members.length) return notMeasured("the StatefulSet's start (recorded from the pod watch on kind/kubernetes targets)");
      const broken: string[] = [];
      const at = (ms: number | null) => (ms === null ? '?' : `+${(ms / 1000).toFixed(1)}s`);
      s.members.forEach((m, i) => {
        const prev = s.members[i - 1];
        if (m.createdSeq === null) broken.push(`${m.pod}'s creation was not seen (it existed before the watch began)`);
        if (m.readySeq === null) broken.push(`${m.pod} never became Ready`);
        if (!prev) return;
        if (m.createdSeq !== null && (prev.readySeq === null || m.createdSeq < prev.readySeq)) {
          broken.push(`${m.pod} was created (${at(m.createdAtMs)}) before ${prev.pod} was Ready (${at(prev.readyAtMs)})`);
        }
        if (m.readySeq !== null && prev.readySeq !== null && m.readySeq < prev.readySeq) {
          broken.push(`${m.pod} became Ready (${at(m.readyAtMs)}) before ${prev.pod} (${at(prev.readyAtMs)})`);
        }
      });
      return {
        passed: broken.length === 0,
        value: broken.length,
        threshold: 0,
        message: broken.length ? broken.join('; ') : s.members.map((m) => `${m.pod} created ${at(m.createdAtMs)}, Ready ${at(m.readyAtMs)}`).join(', then '),
      };
    }
    case 'storage.local-pv-pinned': {
      // A Local PV ties the member to its node: after a node fault its replacement may only run on that
      // node (or stay Pending until it returns), never elsewhere without its data.
      if (t.storage !== 'local-pv' && t.storageSpec.kind !== 'local-pv') return notMeasured('Local PV pinning (the target does not use Local PVs)');
      const cycles = t.faults.map((f) => f.kubernetes).filter((k): k is NonNullable<typeof k> => !!k && ['node-crash', 'node-hang', 'kubelet-stop'].includes(k.type) && !!k.replacement);
      if (!cycles.length) return notMeasured('a member replaced after a node fault (needs tolerations or forceDeleteAfter that let the pod go)');
      const elsewhere = cycles.filter((k) => k.replacement!.kubeNode !== null && k.replacement!.kubeNode !== k.kubeNode);
      return {
        passed: elsewhere.length === 0,
        value: elsewhere.length,
        threshold: 0,
        message: elsewhere.length
          ? elsewhere.map((k) => `${k.type} cycle ${k.cycle}: ${k.pod}'s replacement ran on ${k.replacement!.kubeNode}, not on ${k.kubeNode} where its Local PV is`).join('; ')
          : cycles.map((k) => (k.stuck ? `${k.pod} stayed Pending on ${k.stuck.pinnedTo} for ${(((k.stuck.untilMs ?? k.recoverAtMs ?? k.stuck.sinceMs) - k.stuck.sinceMs) / 1000).toFixed(0)}s` : `${k.pod} came back on ${k.replacement!.kubeNode}`)).join('; '),
      };
    }
    case 'storage.volume-follows-member': {
      // The other half of the seed lecture's contrast: a network volume is reachable from every node,
      // so a member replaced after its node was lost starts on another node with its own volume.
      if (t.storageSpec.kind !== 'remote') return notMeasured('a volume following its member (the target does not use remote volumes)');
      const cycles = t.faults.map((f) => f.kubernetes).filter((k): k is NonNullable<typeof k> => !!k && ['node-crash', 'node-hang', 'kubelet-stop'].includes(k.type) && !!k.replacement);
      if (!cycles.length) return notMeasured('a member replaced after a node fault (needs tolerations or forceDeleteAfter that let the pod go)');
      const stayed = cycles.filter((k) => k.replacement!.kubeNode === null || k.replacement!.kubeNode === k.kubeNode || !k.claim || k.claim.volumeBefore == null || k.claim.volume !== k.claim.volumeBefore);
      return {
        passed: stayed.length === 0,
        value: stayed.length,
        threshold: 0,
        message: stayed.length
          ? stayed
              .map((k) =>
                k.replacement!.kubeNode === null || k.replacement!.kubeNode === k.kubeNode
                  ? `${k.type} cycle ${k.cycle}: ${k.pod}'s replacement ${k.replacement!.kubeNode === null ? 'was never scheduled' : `ran on ${k.kubeNode} again`} (the node came back first, or nothing let the pod go)`
                  : `${k.type} cycle ${k.cycle}: ${k.pod} came back on ${k.replacement!.kubeNode} with claim ${k.claim?.name ?? 'none'} on ${k.claim?.volume ?? 'no volume'} (was ${k.claim?.volumeBefore ?? 'unknown'})`,
              )
              .join('; ')
          : cycles.map((k) => `${k.pod} moved from ${k.kubeNode} to ${k.replacement!.kubeNode} with ${k.claim!.name} on ${k.claim!.volume}`).join('; '),
      };
    }
    case 'ha.single-writer': {
      const sb = t.ha?.splitBrain;
      if (!sb) return notMeasured('single-writer (needs an HA engine and the safety writer)');
      return { passed: sb.singleWriter.passed, value: sb.splitBrainWrites, threshold: 0, message: sb.singleWriter.message };
    }
  }
}
