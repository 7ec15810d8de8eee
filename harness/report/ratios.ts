// Ratios between targets, over repetitions, with their 95 % intervals and the verdict the interval
// allows. The same figures feed summary.json (`comparisons`), report.md, report.html and `compare`,
// so a reader can recompute every ratio and interval from the per-repetition values next to it.
import { ioComparable } from '../io/types.ts';
import type { RatioSummary, Summary, TargetSummary } from '../model/summary.ts';
import { pairedRatioInterval, ratioInterval, repetitionsToResolve } from '../measure/interval.ts';

export interface FigureDef {
  /** Stable key: `tps:oltp-tpcb`, `io:fsyncP99`… */
  key: string;
  group: RatioSummary['group'];
  metric: string;
  unit: string;
  better: 'higher' | 'lower';
  get(t: TargetSummary): number | undefined;
}

/** The figures of a target worth a ratio: per workload TPS and latency, the I/O probe, recovery, bulk MiB/s. */
export function figureDefs(targets: TargetSummary[]): FigureDef[] {
  const defs: FigureDef[] = [];
  const workloads = [...new Set(targets.flatMap((t) => t.workloads.map((w) => w.name)))];
  for (const name of workloads) {
    const w = (t: TargetSummary) => t.workloads.find((x) => x.name === name);
    const kind = targets.flatMap((t) => t.workloads).find((x) => x.name === name)?.kind;
    if (kind === 'bulk-load') {
      defs.push({ key: `bulk:${name}`, group: 'bulk', metric: `${name} MiB/s`, unit: 'MiB/s', better: 'higher', get: (t) => num((w(t)?.details as { mibPerSec?: number } | undefined)?.mibPerSec) });
      continue;
    }
    defs.push({ key: `tps:${name}`, group: 'tps', metric: `${name} TPS`, unit: 'tx/s', better: 'higher', get: (t) => num(w(t)?.tps) });
    for (const p of ['p50', 'p95', 'p99'] as const) {
      defs.push({ key: `latency:${name}:${p}`, group: 'latency', metric: `${name} latency ${p}`, unit: 'ms', better: 'lower', get: (t) => (w(t)?.transactions ? num(w(t)?.latencyMs[p]) : undefined) });
    }
  }
  if (targets.some((t) => t.io)) {
    defs.push({ key: 'io:randWriteIops', group: 'io', metric: 'rand 4k write IOPS', unit: 'IOPS', better: 'higher', get: (t) => num(t.io?.randWriteIops) });
    defs.push({ key: 'io:seqWriteMiBps', group: 'io', metric: 'seq write', unit: 'MiB/s', better: 'higher', get: (t) => num(t.io?.seqWriteMiBps) });
    defs.push({ key: 'io:fsyncP50', group: 'io', metric: 'fdatasync p50', unit: 'ms', better: 'lower', get: (t) => num(t.io?.fsyncLatencyMs.p50) });
    defs.push({ key: 'io:fsyncP99', group: 'io', metric: 'fdatasync p99', unit: 'ms', better: 'lower', get: (t) => num(t.io?.fsyncLatencyMs.p99) });
  }
  if (targets.some((t) => t.faults.length)) {
    defs.push({ key: 'recovery:median', group: 'recovery', metric: 'fault → first write, median', unit: 'ms', better: 'lower', get: (t) => (t.recoveryMs?.count ? t.recoveryMs.median : undefined) });
  }
  return defs;
}

const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** Completed repetitions of each target name, in repetition order. */
export function repetitionsByTarget(targets: TargetSummary[]): Map<string, TargetSummary[]> {
  const out = new Map<string, TargetSummary[]>();
  for (const t of targets) {
    if (!out.has(t.name)) out.set(t.name, []);
    if (t.status === 'completed') out.get(t.name)!.push(t);
  }
  for (const list of out.values()) list.sort((a, b) => (a.repetition ?? 1) - (b.repetition ?? 1));
  return out;
}

/** "+8.0 %", "−12.3 %" */
export const signedPct = (x: number) => (Math.abs(x * 100) < 0.05 ? '±0.0 %' : `${x > 0 ? '+' : '−'}${Math.abs(x * 100).toFixed(1)} %`);

/**
 * The ratio entry of one figure from its per-repetition values. With `blocks` (the repetition
 * number of each value) and at least two repetitions that ran on both sides, the interval is
 * paired by block: repetition r of every target ran in round r of the interleaved or
 * randomized-block order, so host drift that the round shared cancels in the per-block ratio, and
 * run-to-run drift does not widen the interval it does not bias. Without blocks, Welch's t on the
 * two sides' logs.
 */
export function ratioEntry(
  def: Omit<FigureDef, 'get' | 'key'>,
  target: string,
  baseline: string,
  baselineValues: number[],
  targetValues: number[],
  blocks?: { baseline: number[]; target: number[] },
): RatioSummary {
  const base = { target, baseline, metric: def.metric, group: def.group, unit: def.unit, better: def.better, baselineValues, targetValues, ...(blocks ? { baselineRepetitions: blocks.baseline, targetRepetitions: blocks.target } : {}) };
  const common = blocks ? blocks.baseline.filter((r) => blocks.target.includes(r)) : [];
  const paired = blocks !== undefined && common.length >= 2;
  const r = paired
    ? pairedRatioInterval(
        common.map((rep) => baselineValues[blocks.baseline.indexOf(rep)]),
        common.map((rep) => targetValues[blocks.target.indexOf(rep)]),
      )
    : ratioInterval(baselineValues, targetValues);
  const who = `${target} ${def.metric}`;
  if (!r.ok) {
    if (r.reason === 'single-observation') {
      const gm = (xs: number[]) => Math.exp(xs.reduce((a, b) => a + Math.log(b), 0) / xs.length);
      const ratio = baselineValues.length && targetValues.length && baselineValues.every((x) => x > 0) && targetValues.every((x) => x > 0) ? gm(targetValues) / gm(baselineValues) : null;
      return {
        ...base,
        ratio,
        ci95: null,
        df: null,
        method: 'single-observation',
        verdict: 'single-observation',
        repetitionsToResolve5pct: null,
        text: `${who}: ${ratio === null ? '—' : `${ratio.toFixed(2)}×`} is a single observation (n=${r.n.candidate}/${r.n.baseline} repetitions): no verdict; run the profile with repetitions ≥ 3`,
      };
    }
    const why = r.reason === 'no-data' ? 'not measured on both targets' : 'zero or negative values have no ratio';
    return { ...base, ratio: null, ci95: null, df: null, method: 'not-comparable', verdict: 'not-comparable', repetitionsToResolve5pct: null, text: `${who}: ${why}` };
  }
  const iv = r.interval;
  const n = iv.method === 'paired-t-log' ? `paired by block, n=${iv.n.candidate} blocks` : `n=${iv.n.candidate}/${iv.n.baseline}`;
  const need = repetitionsToResolve(iv, 0.05);
  const change = iv.ratio - 1;
  const entry = { ...base, ratio: iv.ratio, ci95: { lo: iv.lo, hi: iv.hi }, df: Number.isFinite(iv.df) ? iv.df : null, method: iv.method === 'paired-t-log' ? ('paired-t-log' as const) : ('welch-t-log' as const), repetitionsToResolve5pct: need };
  if (iv.lo <= 1 && iv.hi >= 1) {
    const resolve = need === null ? 'more than 1000 repetitions would be needed to resolve 5 %' : need <= Math.min(iv.n.baseline, iv.n.candidate) ? 'a 5 % difference would have shown at this noise' : `about ${need} repetitions per target would resolve 5 %`;
    return { ...entry, verdict: 'no-difference', text: `${who}: no difference detectable at this noise (${signedPct(change)}, 95 % CI ${signedPct(iv.lo - 1)} … ${signedPct(iv.hi - 1)}, ${n}); ${resolve}` };
  }
  const higher = iv.ratio > 1;
  const word = higher ? 'higher' : 'lower';
  const lo = Math.abs(iv.lo - 1) * 100;
  const hi = Math.abs(iv.hi - 1) * 100;
  const [a, b] = [Math.min(lo, hi), Math.max(lo, hi)];
  const better = (higher && def.better === 'higher') || (!higher && def.better === 'lower');
  return {
    ...entry,
    verdict: better ? 'better' : 'worse',
    text: `${who} is ${Math.abs(change * 100).toFixed(1)} % ${word} than ${baseline} (95 % CI ${a.toFixed(1)}–${b.toFixed(1)} % ${word}, ${n}): ${better ? 'better' : 'worse'}`,
  };
}

/** Which interval the ratios of this report use, and why. */
export function intervalMethodText(comparisons: RatioSummary[]): string {
  const methods = new Set(comparisons.map((c) => c.method));
  const paired =
    'the 95 % interval is a paired t-interval on the per-block log ratios: repetition r of every target ran in block r of the order, so host drift the block shared cancels (n − 1 degrees of freedom, n the blocks both targets completed).';
  const welch = 'the 95 % interval is Welch’s t on the logarithms of the per-repetition values (no block order recorded, so the repetitions are not paired).';
  if (methods.has('paired-t-log') && methods.has('welch-t-log')) return `${paired} Where fewer than two blocks have both targets, ${welch.replace('the 95 % interval is ', '')}`;
  if (methods.has('welch-t-log')) return welch;
  return methods.has('paired-t-log') ? paired : 'no ratio has an interval (one repetition, or figures that cannot be compared).';
}

/** Every figure of every non-baseline target against the baseline target. */
export function comparisonsOf(summary: Pick<Summary, 'targets' | 'baseline'> & Partial<Pick<Summary, 'order'>>): RatioSummary[] {
  const reps = repetitionsByTarget(summary.targets);
  const baseName = reps.has(summary.baseline) ? summary.baseline : summary.targets[0]?.name;
  if (!baseName) return [];
  const base = reps.get(baseName)!;
  const defs = figureDefs(summary.targets);
  const out: RatioSummary[] = [];
  for (const [name, list] of reps) {
    if (name === baseName) continue;
    for (const d of defs) {
      const bs = base.flatMap((t) => (d.get(t) === undefined ? [] : [{ v: d.get(t)!, rep: t.repetition ?? 1 }]));
      const ts = list.flatMap((t) => (d.get(t) === undefined ? [] : [{ v: d.get(t)!, rep: t.repetition ?? 1 }]));
      const bv = bs.map((x) => x.v);
      const tv = ts.map((x) => x.v);
      // Both order schemes run repetition r of every target in round r: the rounds are the blocks.
      const blocks = summary.order ? { baseline: bs.map((x) => x.rep), target: ts.map((x) => x.rep) } : undefined;
      if (!bv.length && !tv.length) continue;
      if (d.group === 'io') {
        // A ratio between fio's and the built-in probe's figures would measure the tools.
        const tools = ioComparable(base.find((t) => t.io)?.io, list.find((t) => t.io)?.io);
        if (bv.length && tv.length && !tools.comparable) {
          out.push({ target: name, baseline: baseName, metric: d.metric, group: d.group, unit: d.unit, better: d.better, baselineValues: bv, targetValues: tv, ratio: null, ci95: null, df: null, method: 'not-comparable', verdict: 'not-comparable', repetitionsToResolve5pct: null, text: `${name} ${d.metric}: ${tools.reason}` });
          continue;
        }
      }
      out.push(ratioEntry(d, name, baseName, bv, tv, blocks));
    }
  }
  return out;
}

/** Warnings a comparison must carry: different resources between compared targets, busy repetitions. */
export function comparisonWarnings(summary: Pick<Summary, 'targets' | 'baseline'>): string[] {
  const out: string[] = [];
  const reps = repetitionsByTarget(summary.targets);
  const grantText = (t: TargetSummary, part: 'database' | 'loadGenerator') => {
    const g = t.resources?.[part];
    if (!g) return 'not recorded';
    const bits = [g.cpuset === null ? 'any CPU' : `CPUs ${g.cpuset}`, g.cpus === null ? null : `${g.cpus} CPU quota`, g.memoryBytes === null ? 'no memory limit' : `${Math.round(g.memoryBytes / 1024 ** 2)} MiB`].filter(Boolean);
    return bits.join(', ');
  };
  const firsts = [...reps.keys()].map((name) => summary.targets.find((t) => t.name === name)!);
  for (const part of ['database', 'loadGenerator'] as const) {
    const seen = new Map<string, string[]>();
    for (const t of firsts) {
      const text = grantText(t, part);
      seen.set(text, [...(seen.get(text) ?? []), t.name]);
    }
    if (seen.size > 1) {
      const what = part === 'database' ? 'the database' : 'the load generator';
      out.push(`Targets gave ${what} different resources: ${[...seen].map(([text, names]) => `${names.join(', ')}: ${text}`).join('; ')}. Differences between them may come from that, not from the platform or storage.`);
    }
  }
  // A busy host matters where figures are measured; other phases are in the host-noise table.
  const measured = summary.targets.flatMap((t) => (t.hostNoise ?? []).filter((p) => p.phase.startsWith('measure')).map((p) => ({ t, p })));
  const busy = measured.filter((x) => x.p.busy);
  if (busy.length) {
    const what = busy.map(({ t, p }) => `${t.name} #${t.repetition ?? 1} ${p.phase.slice('measure:'.length) || 'measure'} (${Math.round(p.busyShare * 100)} % of ${(p.durationMs / 1000).toFixed(1)} s; outside the run median ${p.outsideCpuCores.median.toFixed(2)}, max ${p.outsideCpuCores.max.toFixed(2)} of ${p.cores} cores; steal max ${p.stealPct.max.toFixed(1)} %)`);
    out.push(`Busy host in ${busy.length} of ${measured.length} measured phases — processes outside the run used more than a quarter of the cores (at least half a core) or steal exceeded 5 % in over a tenth of the phase: ${what.join('; ')}. Figures measured then carry that host's noise.`);
  }
  return out;
}
