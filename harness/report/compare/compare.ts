// Baseline run vs candidate run, figure by figure, with a verdict that knows about noise. A figure
// with a distribution behind it (per-second TPS and latency percentiles from samples.jsonl, recovery
// times across fault cycles) is a regression only when the Mann–Whitney test says the two samples
// differ (p < alpha) AND the change is larger than the minimum effect size. A figure measured once per
// run (the I/O probe) has no noise estimate, so it needs a larger change to count. Data safety is not
// statistics: any lost, phantom, duplicated or corrupted write beyond the baseline's is a regression.
import type { Summary, TargetSummary } from '../../model/summary.ts';
import { loadRun, samplesOf, type RunData } from '../html/run-data.ts';
import { EXIT, StatebenchError } from '../../errors.ts';
import { mannWhitneyU, median, type RankTest } from './stats.ts';
import { ioComparable } from '../../io/types.ts';

export interface CompareThresholds {
  /** Smallest relative change that can be a regression, for figures with a distribution. @default 0.05 */
  minEffect?: number;
  /** Significance level of the Mann–Whitney test. @default 0.05 */
  alpha?: number;
  /**
   * Smallest relative change that counts for figures measured once per run (I/O probe; TPS and
   * latency when samples.jsonl is missing), which carry no noise estimate. @default 0.2
   */
  singleValueMinEffect?: number;
}

export const DEFAULT_THRESHOLDS: Required<CompareThresholds> = { minEffect: 0.05, alpha: 0.05, singleValueMinEffect: 0.2 };

/**
 * regression / improvement: a real change beyond the thresholds. unchanged: no change beyond the
 * minimum effect. not-significant: a change beyond the minimum effect that the noise can explain.
 * not-compared: one side did not measure it.
 */
export type Verdict = 'regression' | 'improvement' | 'unchanged' | 'not-significant' | 'not-compared';

export type MetricGroup = 'status' | 'io' | 'tps' | 'latency' | 'recovery' | 'safety' | 'check';

export interface MetricChange {
  target: string;
  group: MetricGroup;
  /** e.g. `oltp-tpcb TPS`, `fdatasync p99`, `lost writes`. */
  metric: string;
  unit: string;
  better: 'higher' | 'lower';
  baseline: number | string | null;
  candidate: number | string | null;
  /** (candidate − baseline) / baseline; null when either is missing or the baseline is zero. */
  change: number | null;
  /** How the verdict was reached: a rank test, a single value against a threshold, a count, a check. */
  basis: 'rank-test' | 'single-value' | 'count' | 'check' | 'status';
  test?: RankTest;
  verdict: Verdict;
  /** Why the verdict is what it is, with the numbers. */
  reason: string;
  /** Per-sample values behind a tested figure, for the HTML charts. */
  samples?: { baseline: number[]; candidate: number[] };
}

export interface RunRef {
  dir: string;
  runId: string;
  profile: string;
  startedAt: string;
  status: Summary['status'];
}

export interface Comparison {
  baseline: RunRef;
  candidate: RunRef;
  thresholds: Required<CompareThresholds>;
  changes: MetricChange[];
  regressions: MetricChange[];
  /** Things a reader should know that are not figures: targets only on one side, other profiles. */
  notes: string[];
}

export async function compareRuns(baseline: string, candidate: string, thresholds: CompareThresholds = {}): Promise<Comparison> {
  return compareRunData(loadRun(baseline), loadRun(candidate), thresholds);
}

/**
 * Refuses a run whose per-second samples contradict its summary (edited, mixed up or corrupted
 * files): a comparison of figures that disagree with themselves would print a confident verdict on
 * nonsense. Mean per-second TPS and the summary's TPS must agree within half, or 1 TPS.
 */
export function checkConsistent(run: RunData, label: string): void {
  for (const t of run.summary.targets) {
    for (const w of t.workloads) {
      const seconds = samplesOf(run, t.name, w.name);
      if (!seconds.length) continue;
      const mean = seconds.reduce((a, s) => a + s.tps, 0) / seconds.length;
      if (Math.abs(mean - w.tps) > Math.max(1, 0.5 * Math.max(mean, w.tps))) {
        throw new StatebenchError(
          `${label} ${run.dir}: samples.jsonl contradicts summary.json for ${t.name} / ${w.name}: the summary says ${w.tps.toFixed(1)} TPS, its ${seconds.length} per-second samples average ${mean.toFixed(1)} TPS; refusing to compare inconsistent results`,
          EXIT.usage,
          'Compare run directories as `statebench run` wrote them; `statebench report <run-dir>` shows which result lines were rejected.',
        );
      }
    }
  }
}

export function compareRunData(a: RunData, b: RunData, thresholds: CompareThresholds = {}): Comparison {
  const th = { ...DEFAULT_THRESHOLDS, ...dropUndefined(thresholds) };
  validateThresholds(th);
  checkConsistent(a, 'baseline');
  checkConsistent(b, 'candidate');
  const notes: string[] = [];
  if (a.summary.profile !== b.summary.profile) notes.push(`The runs used different profiles (${a.summary.profile} vs ${b.summary.profile}); figures are compared by target and workload name.`);
  const changes: MetricChange[] = [];
  const bNames = new Set(b.summary.targets.map((t) => t.name));
  for (const ta of a.summary.targets) {
    const tb = b.summary.targets.find((t) => t.name === ta.name);
    if (!tb) {
      notes.push(`Target ${ta.name} is in the baseline only: not compared.`);
      continue;
    }
    changes.push(...compareTarget(a, ta, b, tb, th));
  }
  for (const name of bNames) if (!a.summary.targets.some((t) => t.name === name)) notes.push(`Target ${name} is in the candidate only: not compared.`);
  for (const [run, label] of [[a, 'baseline'], [b, 'candidate']] as const) {
    if (!run.samples.length) notes.push(`The ${label} has no samples.jsonl samples: TPS and latency are judged on single values, against ${pct(th.singleValueMinEffect)}.`);
  }
  return {
    baseline: ref(a),
    candidate: ref(b),
    thresholds: th,
    changes,
    regressions: changes.filter((c) => c.verdict === 'regression'),
    notes,
  };
}

function ref(r: RunData): RunRef {
  return { dir: r.dir, runId: r.summary.runId, profile: r.summary.profile, startedAt: r.summary.startedAt, status: r.summary.status };
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function validateThresholds(th: Required<CompareThresholds>): void {
  const bad: string[] = [];
  if (!(th.minEffect >= 0 && th.minEffect < 1)) bad.push(`minEffect ${th.minEffect} (use a fraction such as 0.05)`);
  if (!(th.alpha > 0 && th.alpha < 1)) bad.push(`alpha ${th.alpha} (use a probability such as 0.05)`);
  if (!(th.singleValueMinEffect >= 0 && th.singleValueMinEffect < 10)) bad.push(`singleValueMinEffect ${th.singleValueMinEffect} (use a fraction such as 0.2)`);
  if (bad.length) throw new RangeError(`invalid compare thresholds: ${bad.join('; ')}`);
}

const pct = (x: number) => `${(x * 100).toFixed(x < 0.1 ? 1 : 0)} %`;
const signedPct = (x: number) => `${x >= 0 ? '+' : '−'}${(Math.abs(x) * 100).toFixed(1)} %`;

function relChange(base: number | null | undefined, cand: number | null | undefined): number | null {
  if (base === null || base === undefined || cand === null || cand === undefined || !Number.isFinite(base) || !Number.isFinite(cand) || base === 0) return null;
  return (cand - base) / base;
}

/** Is the relative change in the worse direction, and by more than `threshold`? */
function direction(change: number, better: 'higher' | 'lower', threshold: number): 'worse' | 'better' | 'within' {
  const signed = better === 'higher' ? change : -change;
  if (signed < -threshold) return 'worse';
  if (signed > threshold) return 'better';
  return 'within';
}

interface Figure {
  target: string;
  group: MetricGroup;
  metric: string;
  unit: string;
  better: 'higher' | 'lower';
  baseline: number | null | undefined;
  candidate: number | null | undefined;
}

/** A figure with per-sample values on both sides: rank test plus minimum effect. */
function tested(f: Figure, xs: number[], ys: number[], th: Required<CompareThresholds>): MetricChange {
  if (xs.length < 2 || ys.length < 2) return single(f, th, `fewer than 2 samples on a side (${xs.length} vs ${ys.length})`);
  const change = relChange(f.baseline, f.candidate);
  const test = mannWhitneyU(xs, ys);
  const base = { ...f, baseline: f.baseline ?? null, candidate: f.candidate ?? null, change, basis: 'rank-test' as const, test, samples: { baseline: xs, candidate: ys } };
  if (change === null) return { ...base, verdict: 'not-compared', reason: 'the baseline figure is zero or missing' };
  const dir = direction(change, f.better, th.minEffect);
  const stat = `Mann–Whitney ${fmtP(test.p)} (n=${test.n1} vs ${test.n2})`;
  if (dir === 'within') return { ...base, verdict: 'unchanged', reason: `${signedPct(change)} is within the ${pct(th.minEffect)} minimum effect; ${stat}` };
  if (test.p >= th.alpha) return { ...base, verdict: 'not-significant', reason: `${signedPct(change)} but ${stat} ≥ α=${th.alpha}: within the noise` };
  return dir === 'worse'
    ? { ...base, verdict: 'regression', reason: `${signedPct(change)} (worse), ${stat} < α=${th.alpha}` }
    : { ...base, verdict: 'improvement', reason: `${signedPct(change)} (better), ${stat} < α=${th.alpha}` };
}

/** A figure measured once per run: no noise estimate, so only a change beyond singleValueMinEffect counts. */
function single(f: Figure, th: Required<CompareThresholds>, why = 'measured once per run, no noise estimate'): MetricChange {
  const base = { ...f, baseline: f.baseline ?? null, candidate: f.candidate ?? null, change: relChange(f.baseline, f.candidate), basis: 'single-value' as const };
  if (f.baseline === null || f.baseline === undefined || f.candidate === null || f.candidate === undefined) {
    return { ...base, verdict: 'not-compared', reason: `${f.baseline == null ? 'baseline' : 'candidate'} did not measure it` };
  }
  if (base.change === null) return { ...base, verdict: 'not-compared', reason: 'the baseline figure is zero' };
  const dir = direction(base.change, f.better, th.singleValueMinEffect);
  const text = `${signedPct(base.change)}; ${why}, threshold ${pct(th.singleValueMinEffect)}`;
  return { ...base, verdict: dir === 'worse' ? 'regression' : dir === 'better' ? 'improvement' : 'unchanged', reason: text };
}

/** Counts where any increase is a regression, whatever the statistics. */
function count(f: Figure, what: string): MetricChange {
  const b = f.baseline ?? 0;
  const c = f.candidate;
  const base = { ...f, baseline: f.baseline ?? null, candidate: c ?? null, change: relChange(f.baseline, c), basis: 'count' as const };
  if (c === null || c === undefined) return { ...base, verdict: 'not-compared', reason: 'the candidate did not measure it' };
  if (c > b) return { ...base, verdict: 'regression', reason: `${c - b} more ${what} than the baseline${f.baseline == null ? ' (baseline not measured, taken as 0)' : ''}: a regression regardless of statistics` };
  if (c < b) return { ...base, verdict: 'improvement', reason: `${b - c} fewer ${what}` };
  return { ...base, verdict: 'unchanged', reason: c ? `still ${c} ${what}, as in the baseline` : `no ${what}` };
}

function compareTarget(a: RunData, ta: TargetSummary, b: RunData, tb: TargetSummary, th: Required<CompareThresholds>): MetricChange[] {
  const out: MetricChange[] = [];
  const target = ta.name;

  if (tb.status !== 'completed' && ta.status === 'completed') {
    out.push({ target, group: 'status', metric: 'status', unit: '', better: 'higher', baseline: ta.status, candidate: tb.status, change: null, basis: 'status', verdict: 'regression', reason: `the candidate target ${tb.status}${tb.error ? `: ${tb.error}` : ''}` });
  }

  // I/O probe: one fio (or built-in probe) run per target and run. Figures from different tools are
  // never set against each other: the difference would be the tools'.
  const ioTools = ioComparable(ta.io, tb.io);
  const io = (metric: string, unit: string, better: 'higher' | 'lower', get: (t: TargetSummary) => number | undefined) => {
    if (!ta.io && !tb.io) return;
    const f: Figure = { target, group: 'io', metric, unit, better, baseline: ta.io ? get(ta) : null, candidate: tb.io ? get(tb) : null };
    if (ta.io && tb.io && !ioTools.comparable) {
      out.push({ ...f, baseline: f.baseline ?? null, candidate: f.candidate ?? null, change: null, basis: 'single-value', verdict: 'not-compared', reason: ioTools.reason! });
      return;
    }
    out.push(single(f, th));
  };
  io('rand 4k write IOPS', 'IOPS', 'higher', (t) => t.io?.randWriteIops);
  io('seq write', 'MiB/s', 'higher', (t) => t.io?.seqWriteMiBps);
  io('fdatasync p50', 'ms', 'lower', (t) => t.io?.fsyncLatencyMs.p50);
  io('fdatasync p99', 'ms', 'lower', (t) => t.io?.fsyncLatencyMs.p99);

  for (const wa of ta.workloads) {
    const wb = tb.workloads.find((w) => w.name === wa.name);
    if (!wb) {
      out.push({ target, group: 'tps', metric: `${wa.name} TPS`, unit: 'tx/s', better: 'higher', baseline: wa.tps, candidate: null, change: null, basis: 'rank-test', verdict: 'not-compared', reason: 'the candidate did not run this workload' });
      continue;
    }
    const sa = samplesOf(a, target, wa.name);
    const sb = samplesOf(b, target, wa.name);
    const tpsFigure: Figure = { target, group: 'tps', metric: `${wa.name} TPS`, unit: 'tx/s', better: 'higher', baseline: wa.tps, candidate: wb.tps };
    out.push(sa.length && sb.length ? tested(tpsFigure, sa.map((s) => s.tps), sb.map((s) => s.tps), th) : single(tpsFigure, th, 'no per-second samples'));
    for (const p of ['p50', 'p95', 'p99'] as const) {
      const f: Figure = { target, group: 'latency', metric: `${wa.name} latency ${p}`, unit: 'ms', better: 'lower', baseline: wa.latencyMs[p], candidate: wb.latencyMs[p] };
      // Seconds without a transaction have no latency, only a placeholder zero.
      const xs = sa.filter((s) => s.tps > 0).map((s) => s.latencyMs[p]);
      const ys = sb.filter((s) => s.tps > 0).map((s) => s.latencyMs[p]);
      out.push(xs.length && ys.length ? tested(f, xs, ys, th) : single(f, th, 'no per-second samples'));
    }
  }

  // Recovery across fault cycles.
  if (ta.faults.length || tb.faults.length) {
    const times = (t: TargetSummary) => t.faults.flatMap((f) => (typeof f.recovery.unavailableMs === 'number' ? [f.recovery.unavailableMs] : []));
    const xa = times(ta);
    const xb = times(tb);
    const f: Figure = { target, group: 'recovery', metric: 'writes unavailable per cycle (median)', unit: 'ms', better: 'lower', baseline: median(xa), candidate: median(xb) };
    if (!ta.faults.length || !tb.faults.length) {
      out.push({ ...f, baseline: f.baseline ?? null, candidate: f.candidate ?? null, change: null, basis: 'rank-test', verdict: 'not-compared', reason: `${ta.faults.length ? 'the candidate' : 'the baseline'} injected no faults` });
    } else {
      const r = tested(f, xa, xb, th);
      // With only a handful of cycles no rank test can reach significance; say so instead of
      // leaving a reader to wonder why a doubling is "within the noise".
      if (r.verdict === 'not-significant' && r.test && r.test.n1 + r.test.n2 < 8) r.reason += `; ${r.test.n1}+${r.test.n2} cycles are too few to tell, schedule more with repeat`;
      out.push(r);
    }
    const unrecovered = (t: TargetSummary) => t.faults.filter((x) => !x.recovery.recovered).length;
    out.push(count({ target, group: 'recovery', metric: 'cycles not recovered', unit: 'cycles', better: 'lower', baseline: ta.faults.length ? unrecovered(ta) : null, candidate: tb.faults.length ? unrecovered(tb) : null }, 'unrecovered fault cycles'));
  }

  // Data safety.
  if (ta.safety || tb.safety) {
    const safety = (metric: string, what: string, get: (t: TargetSummary) => number | undefined) =>
      out.push(count({ target, group: 'safety', metric, unit: 'writes', better: 'lower', baseline: ta.safety ? (get(ta) ?? 0) : null, candidate: tb.safety ? (get(tb) ?? 0) : null }, what));
    safety('lost writes', 'lost acknowledged writes', (t) => t.safety?.lost);
    safety('phantom writes', 'phantom writes', (t) => t.safety?.phantom);
    safety('duplicated writes', 'duplicated writes', (t) => t.safety?.duplicated);
    safety('corrupted writes', 'corrupted writes', (t) => t.safety?.corrupted);
    if (ta.safety?.bank || tb.safety?.bank) {
      out.push(count({ target, group: 'safety', metric: 'bank invariant violations', unit: 'violations', better: 'lower', baseline: ta.safety?.bank?.violations ?? null, candidate: tb.safety?.bank?.violations ?? null }, 'bank invariant violations'));
    }
  }

  // Conformance checks: passing in the baseline and failing now is a regression.
  for (const cb of tb.checks) {
    const ca = ta.checks.find((c) => c.name === cb.name);
    const figure = { target, group: 'check' as const, metric: cb.name, unit: '', better: 'higher' as const, baseline: ca ? (ca.passed ? 'pass' : 'fail') : null, candidate: cb.passed ? 'pass' : 'fail', change: null, basis: 'check' as const };
    if (!cb.passed && (!ca || ca.passed)) out.push({ ...figure, verdict: 'regression', reason: `${ca ? 'passed in the baseline, fails now' : 'new check, fails'}: ${cb.message}` });
    else if (cb.passed && ca && !ca.passed) out.push({ ...figure, verdict: 'improvement', reason: `failed in the baseline, passes now` });
    else out.push({ ...figure, verdict: 'unchanged', reason: cb.passed ? 'passes' : `still fails: ${cb.message}` });
  }
  return out;
}

/** "p=0.031", "p<0.0001". */
export function fmtP(p: number): string {
  if (!Number.isFinite(p)) return 'p=—';
  if (p < 0.0001) return 'p<0.0001';
  return `p=${p < 0.01 ? p.toFixed(4) : p.toFixed(3)}`;
}
