// Baseline vs candidate, figure by figure, with a verdict that knows about noise. Per-second
// samples of one run are never the observations: consecutive seconds share checkpoints, caches and
// neighbours, so they are autocorrelated and a test that treats them as independent raises false
// alarms (measured: see bench/compare-calibration.ts and the README).
//
// The noise of a figure has two levels: repetitions inside one run vary by little, because they
// share the run's hours and host state, while runs taken at different times differ by more (a
// neighbour's compile, page cache, thermal state). Two runs compared through their repetitions
// alone treat that run-to-run drift as a real change; measured on this machine, that flagged one
// A/A pair in six. So the run is the unit a comparison between runs rests on:
// - several runs a side (`a1,a2,a3 b1,b2,b3`): each run's geometric mean is one observation,
//   Welch's t on their logs, degrees of freedom from runs. For a balanced design (the same
//   repetitions in every run) this is the exact test of a mixed model with the run as a random
//   effect;
// - several runs on one side and one run on the other: the prediction interval of one new run
//   from the other side's run means (their spread estimates the drift);
// - one run a side: the drift cannot be separated from a change, so there is no verdict; the
//   reason says what to give instead.
// A figure is a regression when that 95 % interval of candidate/baseline lies entirely on the
// worse side AND the change exceeds the minimum effect. Recovery follows the same rule with each
// run's median over its fault cycles as the run's observation; with one run a side it falls back to
// a rank test over the cycles (each a separate event after full recovery), and says the runs' drift
// is not separated.
// Data safety is not statistics: any lost, phantom, duplicated or corrupted write beyond the
// baseline's is a regression.
import type { Summary, TargetSummary } from '../../model/summary.ts';
import { loadRun, samplesOf, type RunData } from '../html/run-data.ts';
import { EXIT, StatebenchError } from '../../errors.ts';
import { figureDefs, repetitionsByTarget } from '../ratios.ts';
import { predictionRatioInterval, ratioInterval, welchLogP, type IntervalMethod, type IntervalResult } from '../../measure/interval.ts';
import { mannWhitneyU, median, type RankTest } from './stats.ts';
import { ioComparable } from '../../io/types.ts';

export interface CompareThresholds {
  /** Smallest relative change that can be a regression, for figures with a distribution. @default 0.05 */
  minEffect?: number;
  /** 1 − the confidence level of the ratio interval (and the rank test's level for recovery). @default 0.05 */
  alpha?: number;
  /**
   * Smallest relative change that counts for a figure measured once a side without a spread to
   * judge it by (recovery with fewer than two fault cycles). @default 0.2
   */
  singleValueMinEffect?: number;
  /**
   * `ignore`: judge by the interval and flag a busy host (a measured phase flagged by the host-noise
   * sampler on either side) in the reason. `decline`: report a change measured on a busy host
   * without calling it a regression or an improvement. With the run as the unit the interval
   * already carries the drift between runs: measured on a host busy in every phase, A/A false
   * alarms stayed at 4.4 % (2 runs a side) and 3.3 % (a history of 3) without declining, and
   * declining left no power at all (bench/compare-calibration.ts, README). @default 'ignore'
   */
  busyHost?: 'decline' | 'ignore';
}

export const DEFAULT_THRESHOLDS: Required<CompareThresholds> = { minEffect: 0.05, alpha: 0.05, singleValueMinEffect: 0.2, busyHost: 'ignore' };

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
  /**
   * How the verdict was reached: an interval (over runs, or over repetitions for recovery), a rank
   * test over fault cycles, a single value against a threshold, one run a side (no verdict: the
   * run-to-run drift is unknown), a count, a check.
   */
  basis: 'interval' | 'rank-test' | 'single-value' | 'one-run' | 'count' | 'check' | 'status';
  /** The ratio's interval, for basis `interval`; `of` says what the observations were. */
  interval?: { method: IntervalMethod; of: 'runs' | 'repetitions'; ratio: number; lo: number; hi: number; level: number; df: number | null; p: number; n: { baseline: number; candidate: number } };
  test?: RankTest;
  verdict: Verdict;
  /** Why the verdict is what it is, with the numbers. */
  reason: string;
  /** Per-repetition values (per-cycle for a rank test) behind a figure, for the HTML charts. */
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

/** Each side is one run directory or several (their repetitions are pooled). */
export async function compareRuns(baseline: string | string[], candidate: string | string[], thresholds: CompareThresholds = {}): Promise<Comparison> {
  const load = (x: string | string[]) => (Array.isArray(x) ? x : [x]).map((d) => loadRun(d));
  return compareRunData(load(baseline), load(candidate), thresholds);
}

/**
 * Refuses a run whose per-second samples contradict its summary (edited, mixed up or corrupted
 * files): a comparison of figures that disagree with themselves would print a confident verdict on
 * nonsense. Mean per-second TPS and the summary's TPS must agree within half, or 1 TPS.
 */
export function checkConsistent(run: RunData, label: string): void {
  for (const t of run.summary.targets) {
    for (const w of t.workloads) {
      // Per repetition: repetitions of one target can differ several-fold on a busy host.
      const seconds = samplesOf(run, t.name, w.name, t.repetition ?? 1);
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

export function compareRunData(aIn: RunData | RunData[], bIn: RunData | RunData[], thresholds: CompareThresholds = {}): Comparison {
  const th = { ...DEFAULT_THRESHOLDS, ...dropUndefined(thresholds) };
  validateThresholds(th);
  const aRuns = Array.isArray(aIn) ? aIn : [aIn];
  const bRuns = Array.isArray(bIn) ? bIn : [bIn];
  if (!aRuns.length || !bRuns.length) throw new RangeError('compare needs at least one run on each side');
  aRuns.forEach((r) => checkConsistent(r, 'baseline'));
  bRuns.forEach((r) => checkConsistent(r, 'candidate'));
  const a = aRuns[0];
  const b = bRuns[0];
  const notes: string[] = [];
  const profiles = new Set([...aRuns, ...bRuns].map((r) => r.summary.profile));
  if (profiles.size > 1) notes.push(`The runs used different profiles (${[...profiles].join(', ')}); figures are compared by target and workload name.`);
  for (const [runs, side] of [[aRuns, 'Baseline'], [bRuns, 'Candidate']] as const) {
    if (runs.length > 1) notes.push(`${side}: ${runs.length} runs pooled (${runs.map((r) => r.summary.runId).join(', ')}).`);
  }
  const changes: MetricChange[] = [];
  const aReps = pooled(aRuns);
  const bReps = pooled(bRuns);
  for (const [name, ra] of aReps) {
    const rb = bReps.get(name);
    if (!rb) {
      notes.push(`Target ${name} is in the baseline only: not compared.`);
      continue;
    }
    changes.push(...compareTarget(name, ra, rb, th));
  }
  for (const name of bReps.keys()) if (!aReps.has(name)) notes.push(`Target ${name} is in the candidate only: not compared.`);
  if ([...aReps.keys()].some((n) => bReps.has(n)) && aRuns.length < 2 && bRuns.length < 2) {
    notes.push(
      'One run a side: repetitions inside a run share its host state, and runs at different times differ by more than that (on a shared host, by more than the repetitions vary), so no TPS, latency or I/O difference between the two runs can be defended. Give ≥ 2 runs a side (`compare a1,a2 b1,b2`), or a history of baseline runs against one candidate (`compare h1,h2,h3 candidate`). Differences between targets inside one run are in that run\'s report, paired by block.',
    );
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

/** Every repetition of a target over the runs of one side: all (for status and checks), and the completed ones (for figures). */
interface Side {
  all: TargetSummary[];
  completed: TargetSummary[];
  /** Completed repetitions grouped by run. */
  byRun: TargetSummary[][];
}

function pooled(runs: RunData[]): Map<string, Side> {
  const out = new Map<string, Side>();
  for (const r of runs) {
    for (const [name, completed] of repetitionsByTarget(r.summary.targets)) {
      const side = out.get(name) ?? { all: [], completed: [], byRun: [] };
      side.completed.push(...completed);
      if (completed.length) side.byRun.push(completed);
      side.all.push(...r.summary.targets.filter((t) => t.name === name));
      out.set(name, side);
    }
  }
  return out;
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function validateThresholds(th: Required<CompareThresholds>): void {
  const bad: string[] = [];
  if (!(th.minEffect >= 0 && th.minEffect < 1)) bad.push(`minEffect ${th.minEffect} (use a fraction such as 0.05)`);
  if (!(th.alpha > 0 && th.alpha < 1)) bad.push(`alpha ${th.alpha} (use a probability such as 0.05)`);
  if (th.busyHost !== 'decline' && th.busyHost !== 'ignore') bad.push(`busyHost ${String(th.busyHost)} (use decline or ignore)`);
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

/** Measured phases of these repetitions, and those the host-noise sampler flagged busy. */
function busyPhases(ts: TargetSummary[]): { measured: number; busy: number; outsideMedian: number } {
  const phases = ts.flatMap((t) => (t.hostNoise ?? []).filter((p) => p.phase.startsWith('measure')));
  const busy = phases.filter((p) => p.busy);
  const med = busy.map((p) => p.outsideCpuCores.median).sort((x, y) => x - y);
  return { measured: phases.length, busy: busy.length, outsideMedian: med.length ? med[Math.floor((med.length - 1) / 2)] : 0 };
}

/** The host-noise flag on a figure whose verdict stands: the reader sees the host was busy, with the figures. */
function flagBusyHost(c: MetricChange, busy: { measured: number; busy: number; outsideMedian: number }): MetricChange {
  if (!busy.busy || c.basis === 'count' || c.basis === 'check' || c.basis === 'status') return c;
  return { ...c, reason: `${c.reason}; host busy in ${busy.busy} of ${busy.measured} measured phases (processes outside the run: median ${busy.outsideMedian.toFixed(2)} cores)` };
}

/** The busy-host policy applied to one judged figure. */
function onBusyHost(c: MetricChange, busy: { measured: number; busy: number; outsideMedian: number }, policy: 'decline' | 'ignore'): MetricChange {
  return policy === 'decline' ? declineOnBusyHost(c, busy) : flagBusyHost(c, busy);
}

/** A regression or improvement measured on a busy host is reported as a change, without the verdict. */
function declineOnBusyHost(c: MetricChange, busy: { measured: number; busy: number; outsideMedian: number }): MetricChange {
  if (!busy.busy || (c.verdict !== 'regression' && c.verdict !== 'improvement')) return c;
  return {
    ...c,
    verdict: 'not-significant',
    reason: `${c.reason}; but the host was busy in ${busy.busy} of ${busy.measured} measured phases (processes outside the run: median ${busy.outsideMedian.toFixed(2)} cores), and runs under different host load differ by more than their repetitions vary: no verdict, rerun on a quiet host`,
  };
}

/** A figure with at least two observations a side: the ratio's interval plus the minimum effect. */
function intervalVerdict(f: Figure, xs: number[], ys: number[], th: Required<CompareThresholds>, of: 'repetitions' | 'runs' = 'repetitions', computed?: IntervalResult): MetricChange {
  const level = 1 - th.alpha;
  const r = computed ?? ratioInterval(xs, ys, level);
  const base = { ...f, baseline: f.baseline ?? null, candidate: f.candidate ?? null, samples: { baseline: xs, candidate: ys } };
  if (!r.ok) {
    if (r.reason === 'single-observation') return { ...single(f, th, `one repetition on a side (${xs.length} vs ${ys.length}): run-to-run noise unknown`), samples: base.samples };
    return { ...base, change: null, basis: 'interval', verdict: 'not-compared', reason: r.reason === 'no-data' ? 'not measured on both sides' : 'zero or negative values have no ratio' };
  }
  const iv = r.interval;
  const change = iv.ratio - 1;
  const interval = { method: iv.method, of, ratio: iv.ratio, lo: iv.lo, hi: iv.hi, level, df: Number.isFinite(iv.df) ? iv.df : null, p: welchLogP(iv), n: iv.n };
  const res = { ...base, baseline: geoMean(xs), candidate: geoMean(ys), change, basis: 'interval' as const, interval };
  const what = iv.method === 'prediction-t-log' ? `${Math.round(level * 100)} % prediction interval of one run from ${Math.max(xs.length, ys.length)} runs` : `${Math.round(level * 100)} % CI`;
  const ci = `${what} ${signedPct(iv.lo - 1)} … ${signedPct(iv.hi - 1)}, n=${xs.length} vs ${ys.length} ${of}`;
  const excludesOne = iv.lo > 1 || iv.hi < 1;
  const dir = direction(change, f.better, th.minEffect);
  if (!excludesOne) return { ...res, verdict: dir === 'within' ? 'unchanged' : 'not-significant', reason: `${signedPct(change)} (${ci}): the interval includes no change${dir === 'within' ? '' : ', within the noise'}` };
  if (dir === 'within') return { ...res, verdict: 'unchanged', reason: `${signedPct(change)} (${ci}) is within the ${pct(th.minEffect)} minimum effect` };
  return dir === 'worse' ? { ...res, verdict: 'regression', reason: `${signedPct(change)} (worse; ${ci})` } : { ...res, verdict: 'improvement', reason: `${signedPct(change)} (better; ${ci})` };
}

/**
 * One figure between the runs of two sides, the run as the unit (see the header): Welch on run
 * means with ≥ 2 runs a side, a prediction interval with ≥ 2 runs on one side only, no verdict with
 * one run a side.
 */
function runVerdict(f: Figure, xs: number[], ys: number[], reps: { baseline: number[]; candidate: number[] }, th: Required<CompareThresholds>): MetricChange {
  const level = 1 - th.alpha;
  if (xs.length >= 2 && ys.length >= 2) return intervalVerdict(f, xs, ys, th, 'runs');
  if (xs.length >= 2 || ys.length >= 2) {
    // The side with several runs supplies the spread of run means; the interval is candidate/baseline either way.
    const r = xs.length >= 2 ? predictionRatioInterval(xs, ys[0], level) : predictionRatioInterval(ys, xs[0], level);
    const flipped: IntervalResult = r.ok && ys.length >= 2 ? { ok: true, interval: { ...r.interval, ratio: 1 / r.interval.ratio, lo: 1 / r.interval.hi, hi: 1 / r.interval.lo } } : r;
    return intervalVerdict(f, xs, ys, th, 'runs', flipped);
  }
  // One run a side: its repetitions share the run's host state, so their spread says nothing about
  // how far another run at another time would land.
  const change = relChange(xs[0], ys[0]);
  const within = ratioInterval(reps.baseline, reps.candidate, level);
  const inRun = within.ok ? `; the repetitions alone give ${Math.round(level * 100)} % CI ${signedPct(within.interval.lo - 1)} … ${signedPct(within.interval.hi - 1)} (n=${within.interval.n.baseline} vs ${within.interval.n.candidate}), which leaves out the drift between runs` : '';
  const dir = change === null ? 'within' : direction(change, f.better, th.minEffect);
  return {
    ...f,
    baseline: f.baseline ?? null,
    candidate: f.candidate ?? null,
    change,
    basis: 'one-run',
    verdict: change === null ? 'not-compared' : dir === 'within' ? 'unchanged' : 'not-significant',
    reason: `${change === null ? 'no ratio' : signedPct(change)}: one run a side cannot separate run-to-run drift from a change; give ≥ 2 runs a side (compare a1,a2 b1,b2), or a history of baseline runs (compare h1,h2,h3 candidate)${inRun}`,
    samples: { baseline: reps.baseline, candidate: reps.candidate },
  };
}

/** Fault cycles with one repetition: a rank test over cycles plus the minimum effect. */
function tested(f: Figure, xs: number[], ys: number[], th: Required<CompareThresholds>): MetricChange {
  if (xs.length < 2 || ys.length < 2) return single(f, th, `fewer than 2 cycles on a side (${xs.length} vs ${ys.length})`);
  const change = relChange(f.baseline, f.candidate);
  const test = mannWhitneyU(xs, ys);
  const base = { ...f, baseline: f.baseline ?? null, candidate: f.candidate ?? null, change, basis: 'rank-test' as const, test, samples: { baseline: xs, candidate: ys } };
  if (change === null) return { ...base, verdict: 'not-compared', reason: 'the baseline figure is zero or missing' };
  const dir = direction(change, f.better, th.minEffect);
  const stat = `Mann–Whitney ${fmtP(test.p)} over fault cycles (n=${test.n1} vs ${test.n2})`;
  if (dir === 'within') return { ...base, verdict: 'unchanged', reason: `${signedPct(change)} is within the ${pct(th.minEffect)} minimum effect; ${stat}` };
  if (test.p >= th.alpha) return { ...base, verdict: 'not-significant', reason: `${signedPct(change)} but ${stat} ≥ α=${th.alpha}: within the noise` };
  return dir === 'worse'
    ? { ...base, verdict: 'regression', reason: `${signedPct(change)} (worse), ${stat} < α=${th.alpha}` }
    : { ...base, verdict: 'improvement', reason: `${signedPct(change)} (better), ${stat} < α=${th.alpha}` };
}

function geoMean(xs: number[]): number | null {
  const v = xs.filter((x) => x > 0 && Number.isFinite(x));
  return v.length ? Math.exp(v.reduce((a, b) => a + Math.log(b), 0) / v.length) : null;
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

function compareTarget(target: string, a: Side, b: Side, th: Required<CompareThresholds>): MetricChange[] {
  const out: MetricChange[] = [];
  const failedB = b.all.filter((t) => t.status !== 'completed');
  if (failedB.length && a.all.every((t) => t.status === 'completed')) {
    const tb = failedB[0];
    out.push({ target, group: 'status', metric: 'status', unit: '', better: 'higher', baseline: 'completed', candidate: tb.status, change: null, basis: 'status', verdict: 'regression', reason: `${failedB.length} candidate repetition${failedB.length === 1 ? '' : 's'} ${tb.status}${tb.error ? `: ${tb.error}` : ''}` });
  }

  // Figures with one value per repetition: TPS, latency percentiles, the I/O probe, bulk MiB/s.
  // The observations are the runs, each the geometric mean of its repetitions: repetitions of one
  // run share its time and host state, so between runs the run is the unit that varies
  // independently.
  const ta = a.completed;
  const tb = b.completed;
  const values = (side: Side, get: (t: TargetSummary) => number | undefined) =>
    side.byRun.map((reps) => geoMean(reps.map(get).filter((x): x is number => x !== undefined))).filter((x): x is number => x !== null);
  const repValues = (side: Side, get: (t: TargetSummary) => number | undefined) => side.completed.map(get).filter((x): x is number => x !== undefined);
  const busy = busyPhases([...ta, ...tb]);
  for (const d of figureDefs([...ta, ...tb])) {
    if (d.group === 'recovery') continue;
    const xs = values(a, d.get);
    const ys = values(b, d.get);
    const f: Figure = { target, group: d.group === 'bulk' ? 'tps' : d.group, metric: d.metric, unit: d.unit, better: d.better, baseline: geoMean(xs), candidate: geoMean(ys) };
    if (!xs.length || !ys.length) {
      out.push({ ...f, baseline: f.baseline ?? null, candidate: f.candidate ?? null, change: null, basis: 'interval', verdict: 'not-compared', reason: `${xs.length ? 'the candidate' : 'the baseline'} did not measure it` });
      continue;
    }
    if (d.group === 'io') {
      // Figures from fio and from the built-in probe are never set against each other: the
      // difference would be the tools'.
      const tools = ioComparable(ta.find((t) => t.io)?.io, tb.find((t) => t.io)?.io);
      if (!tools.comparable) {
        out.push({ ...f, baseline: f.baseline ?? null, candidate: f.candidate ?? null, change: null, basis: 'single-value', verdict: 'not-compared', reason: tools.reason! });
        continue;
      }
    }
    const judged = runVerdict(f, xs, ys, { baseline: repValues(a, d.get), candidate: repValues(b, d.get) }, th);
    out.push(onBusyHost(judged, busy, th.busyHost));
  }

  // Recovery: the run is the unit here too (its median over every cycle of its repetitions) when a
  // side has several runs; with one run a side only the cycles vary, so a rank test over them.
  const faultsA = ta.flatMap((t) => t.faults);
  const faultsB = tb.flatMap((t) => t.faults);
  if (faultsA.length || faultsB.length) {
    const times = (ts: TargetSummary[]) => ts.flatMap((t) => t.faults.flatMap((f) => (typeof f.recovery.unavailableMs === 'number' ? [f.recovery.unavailableMs] : [])));
    const runMedians = (side: Side) => side.byRun.map((reps) => median(times(reps))).filter((x): x is number => x !== null);
    const f: Figure = { target, group: 'recovery', metric: 'writes unavailable per cycle (median)', unit: 'ms', better: 'lower', baseline: median(times(ta)), candidate: median(times(tb)) };
    if (!faultsA.length || !faultsB.length) {
      out.push({ ...f, baseline: f.baseline ?? null, candidate: f.candidate ?? null, change: null, basis: 'rank-test', verdict: 'not-compared', reason: `${faultsA.length ? 'the candidate' : 'the baseline'} injected no faults` });
    } else if (runMedians(a).length >= 2 || runMedians(b).length >= 2) {
      const judged = runVerdict({ ...f, metric: 'writes unavailable per cycle (median per run)' }, runMedians(a), runMedians(b), { baseline: times(ta), candidate: times(tb) }, th);
      out.push(onBusyHost(judged, busy, th.busyHost));
    } else {
      const r = tested(f, times(ta), times(tb), th);
      // With only a handful of cycles no rank test can reach significance; say so instead of
      // leaving a reader to wonder why a doubling is "within the noise".
      if (r.verdict === 'not-significant' && r.test && r.test.n1 + r.test.n2 < 8) r.reason += `; ${r.test.n1}+${r.test.n2} cycles are too few to tell, schedule more with repeat`;
      if (r.basis === 'rank-test') r.reason += '; cycles of one run a side: drift between runs is not separated (give ≥ 2 runs a side for that)';
      out.push(onBusyHost(r, busy, th.busyHost));
    }
    const unrecovered = (ts: TargetSummary[]) => ts.reduce((n, t) => n + t.faults.filter((x) => !x.recovery.recovered).length, 0);
    out.push(count({ target, group: 'recovery', metric: 'cycles not recovered', unit: 'cycles', better: 'lower', baseline: faultsA.length ? unrecovered(ta) : null, candidate: faultsB.length ? unrecovered(tb) : null }, 'unrecovered fault cycles'));
  }

  // Data safety, summed over repetitions.
  const anySafety = (ts: TargetSummary[]) => ts.some((t) => t.safety);
  if (anySafety(ta) || anySafety(tb)) {
    const total = (ts: TargetSummary[], get: (t: TargetSummary) => number | undefined) => (anySafety(ts) ? ts.reduce((n, t) => n + (get(t) ?? 0), 0) : null);
    const safety = (metric: string, what: string, get: (t: TargetSummary) => number | undefined) =>
      out.push(count({ target, group: 'safety', metric, unit: 'writes', better: 'lower', baseline: total(ta, get), candidate: total(tb, get) }, what));
    safety('lost writes', 'lost acknowledged writes', (t) => t.safety?.lost);
    safety('phantom writes', 'phantom writes', (t) => t.safety?.phantom);
    safety('duplicated writes', 'duplicated writes', (t) => t.safety?.duplicated);
    safety('corrupted writes', 'corrupted writes', (t) => t.safety?.corrupted);
    if ([...ta, ...tb].some((t) => t.safety?.bank)) {
      const bank = (ts: TargetSummary[]) => (ts.some((t) => t.safety?.bank) ? ts.reduce((n, t) => n + (t.safety?.bank?.violations ?? 0), 0) : null);
      out.push(count({ target, group: 'safety', metric: 'bank invariant violations', unit: 'violations', better: 'lower', baseline: bank(ta), candidate: bank(tb) }, 'bank invariant violations'));
    }
  }

  // Conformance checks: passing in every baseline repetition and failing in a candidate one is a regression.
  const names = [...new Set(tb.flatMap((t) => t.checks.map((c) => c.name)))];
  for (const name of names) {
    const ca = ta.flatMap((t) => t.checks.filter((c) => c.name === name));
    const cb = tb.flatMap((t) => t.checks.filter((c) => c.name === name));
    const aPassed = ca.length ? ca.every((c) => c.passed) : null;
    const failing = cb.find((c) => !c.passed);
    const figure = { target, group: 'check' as const, metric: name, unit: '', better: 'higher' as const, baseline: aPassed === null ? null : aPassed ? 'pass' : 'fail', candidate: failing ? 'fail' : 'pass', change: null, basis: 'check' as const };
    if (failing && aPassed !== false) out.push({ ...figure, verdict: 'regression', reason: `${aPassed === null ? 'new check, fails' : 'passed in the baseline, fails now'}: ${failing.message}` });
    else if (!failing && aPassed === false) out.push({ ...figure, verdict: 'improvement', reason: `failed in the baseline, passes now` });
    else out.push({ ...figure, verdict: 'unchanged', reason: failing ? `still fails: ${failing.message}` : 'passes' });
  }
  return out;
}

/** "p=0.031", "p<0.0001". */
export function fmtP(p: number): string {
  if (!Number.isFinite(p)) return 'p=—';
  if (p < 0.0001) return 'p<0.0001';
  return `p=${p < 0.01 ? p.toFixed(4) : p.toFixed(3)}`;
}
