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
    case 'ha.single-writer': {
      const sb = t.ha?.splitBrain;
      if (!sb) return notMeasured('single-writer (needs an HA engine and the safety writer)');
      return { passed: sb.singleWriter.passed, value: sb.splitBrainWrites, threshold: 0, message: sb.singleWriter.message };
    }
  }
}
