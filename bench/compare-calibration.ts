// Calibrates `compare` and the in-run ratios on this machine: how often they raise a false alarm
// when nothing changed (A/A), and how often they catch a known slowdown (power).
//
//   npx tsx bench/compare-calibration.ts [--runs 6] [--repetitions 4] [--seconds 5] [--slowdown group-commit|commit-delay] [--budget 35] [--out DIR]
//   npx tsx bench/compare-calibration.ts --analyze DIR      (re-analyse runs already on disk)
//
// One profile, run --runs times (a run already complete in DIR is kept, so an interrupted
// experiment resumes). Each run has three bare-metal targets: `a` and `a2` (both stock settings:
// an A/A pair inside every run) and `slow`, a known server-side slowdown: by default
// `--slowdown group-commit` (commit_delay = 20 µs once at least 2 other transactions are open: with 4
// clients most commits sleep before their WAL flush; 17 % of TPS in a quiet pilot here, 95 % CI
// 8–25 %), or `--slowdown commit-delay` (commit_delay = 300 µs with commit_siblings = 0: every flush
// sleeps; 30–65 % here). Pinning the database to one CPU cost nothing measurable: this workload
// waits on fdatasync, not on CPU. Each target runs --repetitions times in a seeded randomized-block
// order, every repetition a fresh deploy.
//
// What it reports:
// - where the noise is: the SD of log TPS between repetitions of a run, and between run means;
// - ratios inside one run as summary.json gives them (paired by block): a2 vs a (A/A) and slow vs a
//   (power), next to the unpaired Welch interval for contrast;
// - `compare` between runs (compareRunData, the function behind `statebench compare`) for one run a
//   side, 2 and 3 runs a side and a history of 3 runs against one run, from disjoint sets of runs:
//   A/A (each target against itself) and power (a against slow), with the busy-host refusal on and
//   off;
// - the old method replayed on the same data (Mann–Whitney U on per-second TPS of one repetition a
//   side, as if seconds were independent);
// - by simulation at the noise measured, what 80 % power against a 15 % drop would take.
import { parseArgs } from 'node:util';
import { mkdirSync, readFileSync, readdirSync, existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseProfileOnHost } from '../harness/run/profile-files.ts';
import { runPlan } from '../harness/run/runner.ts';
import { createProgress } from '../harness/run/progress.ts';
import { interruptOnSignals } from '../harness/run/interrupt.ts';
import { loadRun, type RunData } from '../harness/report/html/run-data.ts';
import { compareRunData, type Comparison, type MetricChange } from '../harness/report/compare/compare.ts';
import { mannWhitneyU } from '../harness/report/compare/stats.ts';
import { pairedRatioInterval, ratioInterval } from '../harness/measure/interval.ts';
import { comparisonsOf } from '../harness/report/ratios.ts';
import type { RatioSummary } from '../harness/model/summary.ts';
import { Rng } from '../harness/workload/rng.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '6' },
    repetitions: { type: 'string', default: '4' },
    seconds: { type: 'string', default: '5' },
    slowdown: { type: 'string', default: 'group-commit' },
    out: { type: 'string', default: 'reports/compare-calibration' },
    analyze: { type: 'string' },
    // The machine is shared: no new run starts when it would likely end past this many minutes.
    budget: { type: 'string', default: '35' },
  },
});

const SLOWDOWNS: Record<string, string> = {
  'group-commit': 'engineSettings: { commit_delay: 20, commit_siblings: 2 }',
  'commit-delay': 'engineSettings: { commit_delay: 300, commit_siblings: 0 }',
};
const slowdown = SLOWDOWNS[values.slowdown!];
if (!slowdown) {
  console.error(`--slowdown must be one of ${Object.keys(SLOWDOWNS).join(', ')}`);
  process.exit(2);
}

const profile = (seed: number) => `
name: compare-calibration
description: A/A and power calibration of statebench compare.
targets:
  - name: a
    platform: baremetal
    storage: { kind: local }
  - name: a2
    platform: baremetal
    storage: { kind: local }
  - name: slow
    platform: baremetal
    storage: { kind: local }
    ${slowdown}
io: { enabled: false }
workloads:
  - kind: oltp-tpcb
    scale: 1
    clients: 4
    warmup: 1s
    duration: ${Number(values.seconds)}s
repetitions: ${Number(values.repetitions)}
order: randomized-blocks
seed: ${seed}
report: { baseline: a }
`;

/** A run directory whose summary says it finished (summary.json is rewritten after every target). */
const completed = (dir: string) => existsSync(join(dir, 'summary.json')) && (JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as { status?: string }).status === 'completed';

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);

async function runAll(outDir: string, runs: number): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const log: Array<{ run: number; loadBefore: number[]; loadAfter: number[]; seconds: number }> = [];
  const logFile = join(outDir, 'load.json');
  if (existsSync(logFile)) log.push(...(JSON.parse(readFileSync(logFile, 'utf8')) as typeof log));
  const start = performance.now();
  const took: number[] = [];
  // Killed halfway, the run in progress tears down what it created, as `statebench run` does.
  const interruption = interruptOnSignals();
  try {
    await runEach();
  } finally {
    interruption.dispose();
  }

  async function runEach(): Promise<void> {
    for (let i = 1; i <= runs; i++) {
      const dir = join(outDir, `run-${String(i).padStart(2, '0')}`);
      // A run already on disk is kept: an interrupted experiment resumes where it stopped.
      if (completed(dir)) continue;
      const elapsed = (performance.now() - start) / 1000;
      const expected = took.length ? Math.max(...took) : 0;
      if (elapsed + expected > Number(values.budget) * 60) {
        console.error(`stopping before run ${i}: ${Math.round(elapsed)} s spent, a run takes up to ${Math.round(expected)} s, budget ${values.budget} min`);
        break;
      }
      const loadBefore = loadavg();
      const t0 = performance.now();
      const outcome = await runPlan(parseProfileOnHost(profile(1000 + i), 'compare-calibration.yaml'), { outDir: dir, signal: interruption.signal, progress: createProgress(process.stderr, true) });
      const seconds = Math.round((performance.now() - t0) / 1000);
      took.push(seconds);
      log.push({ run: i, loadBefore, loadAfter: loadavg(), seconds });
      console.error(`run ${i}/${runs}: ${outcome.summary.status} in ${seconds}s, load ${loadBefore.join(' ')} → ${loadavg().join(' ')}`);
      writeFileSync(logFile, JSON.stringify(log, null, 2));
      if (outcome.summary.status !== 'completed') throw new Error(`run ${i} ${outcome.summary.status}; see ${dir}/report.md`);
    }
  }
}

/** The run seen as if it held only `target`, named `as`. */
function view(run: RunData, target: string, as = target): RunData {
  const summary = { ...run.summary, baseline: as, targets: run.summary.targets.filter((t) => t.name === target).map((t) => ({ ...t, name: as })), comparisons: undefined, warnings: undefined };
  return { ...run, summary, samples: run.samples.filter((s) => s.target === target).map((s) => ({ ...s, target: as })) };
}

/** Wilson score interval for k of n, 95 %. */
function wilson(k: number, n: number): [number, number] {
  if (!n) return [0, 1];
  const z = 1.959964;
  const p = k / n;
  const centre = (p + (z * z) / (2 * n)) / (1 + (z * z) / n);
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / (1 + (z * z) / n);
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
const share = (k: number, n: number) => {
  if (!n) return 'no pairs';
  const [lo, hi] = wilson(k, n);
  return `${k}/${n} = ${pct(k / n)} (95 % CI ${pct(lo)}–${pct(hi)})`;
};
const mean = (xs: number[]) => xs.reduce((p, q) => p + q, 0) / xs.length;
const variance = (xs: number[]) => {
  const m = mean(xs);
  return xs.reduce((p, q) => p + (q - m) ** 2, 0) / (xs.length - 1);
};
const median = (xs: number[]) => {
  const s = [...xs].sort((p, q) => p - q);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
};

/** Every k-subset of xs, in lexicographic order. */
function subsets<T>(xs: T[], k: number): T[][] {
  if (k === 0) return [[]];
  return xs.flatMap((x, i) => subsets(xs.slice(i + 1), k - 1).map((rest) => [x, ...rest]));
}

const TPS = 'oltp-tpcb TPS';
const isFigure = (c: MetricChange) => c.group === 'tps' || c.group === 'latency';
/** A comparison that called a change in either direction (an A/A false alarm). */
const alarm = (changes: MetricChange[], metric?: string) => changes.some((c) => isFigure(c) && (metric === undefined || c.metric === metric) && (c.verdict === 'regression' || c.verdict === 'improvement'));
const caught = (c: Comparison) => c.regressions.some((r) => r.metric === TPS);

/** Seeded standard normals (Box–Muller), for the power simulations. */
function normals(seed: number): () => number {
  const rng = new Rng(seed);
  const u = () => (rng.u32() + 0.5) / 2 ** 32;
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

/**
 * Simulated share of comparisons that call a drop of `drop` a regression (interval entirely below
 * 1 and beyond the 5 % minimum effect). `paired`: n blocks whose log ratio has SD `sd`; `runs`: n
 * run means a side, each with log SD `sd`.
 */
function simulatedPower(kind: 'paired' | 'runs', sd: number, n: number, drop = 0.15, trials = 4000): number {
  const z = normals(4242 + n);
  let hits = 0;
  for (let i = 0; i < trials; i++) {
    const xs = Array.from({ length: n }, () => (kind === 'paired' ? 1 : Math.exp(sd * z())));
    const ys = Array.from({ length: n }, () => (1 - drop) * Math.exp(sd * z()));
    const r = kind === 'paired' ? pairedRatioInterval(xs, ys) : ratioInterval(xs, ys);
    if (r.ok && r.interval.hi < 1 && r.interval.ratio < 0.95) hits++;
  }
  return hits / trials;
}

/** Smallest n (up to 60) at which simulatedPower reaches 80 %. */
function needed(kind: 'paired' | 'runs', sd: number, drop = 0.15): number | null {
  for (let n = 2; n <= 60; n++) if (simulatedPower(kind, sd, n, drop, 2000) >= 0.8) return n;
  return null;
}

function analyze(outDir: string): string {
  const dirs = readdirSync(outDir).filter((d) => d.startsWith('run-') && completed(join(outDir, d))).sort();
  const runs = dirs.map((d) => loadRun(join(outDir, d)));
  const idx = runs.map((_, i) => i);
  const names = ['a', 'a2', 'slow'].filter((n) => runs.every((r) => r.summary.targets.some((t) => t.name === n)));
  const stock = names.filter((n) => n !== 'slow');
  const reps = runs[0]?.summary.repetitions ?? 1;
  const tpsByRep = (r: RunData, name: string) => new Map(r.summary.targets.filter((t) => t.name === name && t.status === 'completed').map((t) => [t.repetition ?? 1, t.workloads[0].tps] as const));
  const logs = (r: RunData, name: string) => [...tpsByRep(r, name).values()].map(Math.log);

  // 1. Where the noise is: within a run (repetitions) and between runs (run means).
  const components = names.map((name) => {
    const within = Math.sqrt(mean(runs.map((r) => variance(logs(r, name)))));
    const runMeans = runs.map((r) => mean(logs(r, name)));
    const sdMeans = Math.sqrt(variance(runMeans));
    const between = Math.sqrt(Math.max(0, variance(runMeans) - within ** 2 / reps));
    return { name, within, sdMeans, between, icc: between ** 2 / (between ** 2 + within ** 2) };
  });
  // The spread of per-block log ratios of two targets within a run: what a paired interval sees.
  const pairedSd = (x: string, y: string) => {
    const perRun = runs.map((r) => {
      const bx = tpsByRep(r, x);
      const by = tpsByRep(r, y);
      return [...bx.keys()].filter((k) => by.has(k)).map((k) => Math.log(by.get(k)! / bx.get(k)!));
    });
    return Math.sqrt(mean(perRun.filter((d) => d.length >= 2).map(variance)));
  };
  const sdPairedAA = stock.length === 2 ? pairedSd('a', 'a2') : NaN;
  const sdPairedSlow = pairedSd('a', 'slow');

  // 2. Ratios inside one run, as summary.json and report.md give them (paired by block), and for
  //    contrast the unpaired Welch interval the report used before.
  const inRun = (r: RunData, withOrder: boolean) => comparisonsOf({ targets: r.summary.targets, baseline: 'a', order: withOrder ? r.summary.order : undefined });
  const inRunAlarm = (cs: RatioSummary[], target: string, metric?: string) => cs.some((c) => c.target === target && (metric === undefined || c.metric === metric) && (c.group === 'tps' || c.group === 'latency') && (c.verdict === 'better' || c.verdict === 'worse'));
  const inRunCaught = (cs: RatioSummary[]) => cs.some((c) => c.target === 'slow' && c.metric === TPS && c.verdict === 'worse');
  const paired = runs.map((r) => inRun(r, true));
  const unpaired = runs.map((r) => inRun(r, false));
  const count = (xs: boolean[]) => xs.filter(Boolean).length;
  const hasA2 = stock.length === 2;

  // 3. `compare` between runs, as shipped: one run a side, k runs a side (disjoint), and a history
  //    of 3 runs against one run.
  const side = (set: number[], target: string, as = target) => set.map((i) => view(runs[i], target, as));
  const designs: Array<{ label: string; aa: Array<[number[], number[]]>; power: Array<[number[], number[]]> }> = [];
  const disjoint = (k: number, m: number) => {
    const aa: Array<[number[], number[]]> = [];
    const power: Array<[number[], number[]]> = [];
    for (const s of subsets(idx, k)) {
      for (const t of subsets(idx.filter((i) => !s.includes(i)), m)) {
        power.push([s, t]);
        // A/A: each unordered pair of sets once (an alarm in one direction is the other's mirror).
        if (k !== m || s[0] < t[0]) aa.push([s, t]);
      }
    }
    return { aa, power };
  };
  designs.push({ label: 'one run a side', ...disjoint(1, 1) });
  if (runs.length >= 4) designs.push({ label: '2 runs a side', ...disjoint(2, 2) });
  if (runs.length >= 6) designs.push({ label: '3 runs a side', ...disjoint(3, 3) });
  if (runs.length >= 4) designs.push({ label: 'history of 3 runs vs 1 run', ...disjoint(3, 1) });
  const compareRows: string[] = [];
  for (const d of designs) {
    // TPS in either direction over unordered pairs of run sets (nominal 5 %), and any figure called
    // a regression — what makes `compare` exit 1 — over ordered pairs (each side once the baseline).
    let tpsN = 0;
    let tpsAlarms = 0;
    for (const [s, t] of d.aa) {
      for (const name of names) {
        tpsN++;
        if (alarm(compareRunData(side(s, name), side(t, name), { busyHost: 'ignore' }).changes, TPS)) tpsAlarms++;
      }
    }
    let aaN = 0;
    let aaIgnore = 0;
    let aaDecline = 0;
    let pN = 0;
    let pIgnore = 0;
    let pDecline = 0;
    for (const [s, t] of d.power) {
      for (const name of names) {
        aaN++;
        if (compareRunData(side(s, name), side(t, name), { busyHost: 'ignore' }).regressions.some(isFigure)) aaIgnore++;
        if (compareRunData(side(s, name), side(t, name), { busyHost: 'decline' }).regressions.some(isFigure)) aaDecline++;
      }
      pN++;
      if (caught(compareRunData(side(s, 'a'), side(t, 'slow', 'a'), { busyHost: 'ignore' }))) pIgnore++;
      if (caught(compareRunData(side(s, 'a'), side(t, 'slow', 'a'), { busyHost: 'decline' }))) pDecline++;
    }
    compareRows.push(`| ${d.label} | ${share(tpsAlarms, tpsN)} | ${share(aaIgnore, aaN)} | ${share(aaDecline, aaN)} | ${share(pIgnore, pN)} | ${share(pDecline, pN)} |`);
  }

  // 4. The old method, per-second Mann–Whitney on one repetition a side, on the same A/A pairs of runs.
  const perSecond = (run: RunData, target: string) => run.samples.filter((s) => s.target === target && (s.repetition ?? 1) === 1 && !s.partial).map((s) => s.tps);
  let oldPairs = 0;
  let oldFlags = 0;
  for (const [i, j] of subsets(idx, 2)) {
    for (const t of names) {
      const xs = perSecond(runs[i], t);
      const ys = perSecond(runs[j], t);
      oldPairs++;
      if (mannWhitneyU(xs, ys).p < 0.05 && Math.abs(mean(ys) - mean(xs)) / mean(xs) > 0.05) oldFlags++;
    }
  }

  // The slowdown, from every repetition, paired by block within runs.
  const effect = pairedRatioInterval(
    runs.flatMap((r) => [...tpsByRep(r, 'a').entries()].filter(([k]) => tpsByRep(r, 'slow').has(k)).map(([, v]) => v)),
    runs.flatMap((r) => [...tpsByRep(r, 'a').keys()].filter((k) => tpsByRep(r, 'slow').has(k)).map((k) => tpsByRep(r, 'slow').get(k)!)),
  );
  const allTps = (name: string) => runs.flatMap((r) => [...tpsByRep(r, name).values()]);
  const measured = runs.flatMap((r) => r.summary.targets.flatMap((t) => (t.hostNoise ?? []).filter((p) => p.phase.startsWith('measure'))));
  const loads = existsSync(join(outDir, 'load.json')) ? (JSON.parse(readFileSync(join(outDir, 'load.json'), 'utf8')) as Array<{ loadBefore: number[]; loadAfter: number[]; seconds: number }>) : [];
  const load1 = loads.flatMap((l) => [l.loadBefore[0], l.loadAfter[0]]);
  const sdRun = Math.sqrt(mean(components.map((c) => c.sdMeans ** 2)));
  const powerPaired = simulatedPower('paired', sdPairedAA, reps);
  const powerRuns = (k: number) => simulatedPower('runs', sdRun, k);

  const lines = [
    `# compare calibration (${runs.length} runs × ${names.length} targets × ${reps} repetitions, ${resolve(outDir)})`,
    '',
    `Host: ${String(runs[0]?.environment.cpuModel)} × ${String(runs[0]?.environment.cpus)}; load average (1 min) before/after runs: ${load1.length ? `${Math.min(...load1).toFixed(1)}–${Math.max(...load1).toFixed(1)}` : 'not recorded'}; CPU used outside the run during measured phases: median ${median(measured.map((p) => p.outsideCpuCores.median)).toFixed(2)} cores (n=${measured.length} phases, ${measured.filter((p) => p.busy).length} flagged busy); ${loads.length ? `${Math.round(mean(loads.map((l) => l.seconds)))} s per run` : ''}.`,
    `TPS per repetition: ${names.map((n) => `${n} ${median(allTps(n)).toFixed(0)} tx/s median (n=${allTps(n).length})`).join(', ')}; slow/a = ${effect.ok ? `${effect.interval.ratio.toFixed(3)} (95 % CI ${effect.interval.lo.toFixed(3)}–${effect.interval.hi.toFixed(3)}, paired by block, n=${effect.interval.n.baseline})` : 'n/a'}.`,
    '',
    '## Where the noise is (log TPS)',
    '',
    '| target | SD within a run (repetitions) | SD of run means | between-run SD (run means less the repetitions\' share) | share of variance between runs |',
    '| --- | --- | --- | --- | --- |',
    ...components.map((c) => `| ${c.name} | ${c.within.toFixed(3)} | ${c.sdMeans.toFixed(3)} | ${c.between.toFixed(3)} | ${pct(c.icc)} |`),
    '',
    `SD of per-block log ratios within a run: a2/a ${Number.isFinite(sdPairedAA) ? sdPairedAA.toFixed(3) : 'n/a'}, slow/a ${sdPairedSlow.toFixed(3)}.`,
    '',
    '## Ratios inside one run (summary.json, report.md)',
    '',
    '| experiment | runs | paired by block (as shipped) | Welch on repetitions (unpaired) |',
    '| --- | --- | --- | --- |',
    ...(hasA2
      ? [
          `| A/A a2 vs a, TPS: interval excludes 1 | ${runs.length} | ${share(count(paired.map((c) => inRunAlarm(c, 'a2', TPS))), runs.length)} | ${share(count(unpaired.map((c) => inRunAlarm(c, 'a2', TPS))), runs.length)} |`,
          `| A/A a2 vs a, any of TPS, p50, p95, p99 | ${runs.length} | ${share(count(paired.map((c) => inRunAlarm(c, 'a2'))), runs.length)} | ${share(count(unpaired.map((c) => inRunAlarm(c, 'a2'))), runs.length)} |`,
        ]
      : []),
    `| power, slow vs a, TPS called worse | ${runs.length} | ${share(count(paired.map(inRunCaught)), runs.length)} | ${share(count(unpaired.map(inRunCaught)), runs.length)} |`,
    '',
    '## `compare` between runs',
    '',
    'A/A: every target against itself from disjoint sets of runs. TPS: called a regression or an improvement, each unordered pair once (nominal 5 %). Any figure: TPS or a latency percentile called a regression, which makes `compare` exit 1, each ordered pair (both sides serve as baseline). Power: a from one set of runs against slow from a disjoint set, TPS called a regression.',
    '',
    '| design | A/A, TPS either way (busy host ignored) | A/A, any figure a regression (busy host ignored) | A/A, any figure a regression (busy host declines) | power (busy host ignored) | power (busy host declines) |',
    '| --- | --- | --- | --- | --- | --- |',
    ...compareRows,
    '',
    `Old method (per-second Mann–Whitney, one repetition a side, 5 % minimum effect), A/A over pairs of runs: ${share(oldFlags, oldPairs)}.`,
    '',
    '## What 80 % power against a 15 % TPS drop takes at this noise (simulated, 4000 trials)',
    '',
    `- inside one run, paired by block: per-block log SD ${Number.isFinite(sdPairedAA) ? sdPairedAA.toFixed(3) : 'n/a'}; with ${reps} blocks the power is ${Number.isFinite(sdPairedAA) ? pct(powerPaired) : 'n/a'}; 80 % takes ${Number.isFinite(sdPairedAA) ? (needed('paired', sdPairedAA) ?? 'more than 60') : 'n/a'} blocks (repetitions per target).`,
    `- between runs, runs as the unit: SD of run means ${sdRun.toFixed(3)}; power with 2 / 3 / 6 runs a side ${pct(powerRuns(2))} / ${pct(powerRuns(3))} / ${pct(powerRuns(6))}; 80 % takes ${needed('runs', sdRun) ?? 'more than 60'} runs a side.`,
    `- at lower noise (log SD 0.07 / 0.1 / 0.2): ${[0.07, 0.1, 0.2].map((sd) => `${needed('paired', sd) ?? '>60'} blocks or ${needed('runs', sd) ?? '>60'} runs a side`).join(' / ')}.`,
    '',
    'Targets: A/A false alarms at most 5 %, power at least 80 %. Pairs share runs, so they are not independent: the binomial intervals are indicative.',
  ];
  return lines.join('\n');
}

const outDir = resolve(values.analyze ?? values.out);
if (!values.analyze) await runAll(outDir, Number(values.runs));
const text = analyze(outDir);
writeFileSync(join(outDir, 'calibration.md'), text + '\n');
process.stdout.write(text + '\n');
