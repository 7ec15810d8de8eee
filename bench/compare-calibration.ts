// Calibrates `compare` on this machine: how often it raises a false alarm when nothing changed (A/A),
// and how often it catches a known slowdown (power).
//
//   npx tsx bench/compare-calibration.ts [--runs 6] [--repetitions 6] [--seconds 5] [--out DIR]
//   npx tsx bench/compare-calibration.ts --analyze DIR      (re-analyse runs already on disk)
//
// One profile, run --runs times. Each run has two bare-metal targets, `a` (stock settings) and
// `slow` (commit_delay = 1 ms with commit_siblings = 0: every commit sleeps 1 ms before flushing
// WAL, a real server-side cost), each run --repetitions times in a seeded randomized-block order,
// every repetition a fresh deploy.
//
// A/A: every pair of runs is compared target by target (a vs a, slow vs slow) with compareRunData,
// the function behind `statebench compare`; the share of comparisons that report a regression is
// the false-alarm rate (nominal: at most 5 %). Power: `a` against `slow` — within each run
// (interleaved repetitions) and across every pair of runs; the share that flags the TPS drop as a
// regression is the detection rate (target: at least 80 %). For contrast the old method is replayed
// on the same data: Mann–Whitney U on the per-second TPS of one repetition per side, as if seconds
// were independent observations.
import { parseArgs } from 'node:util';
import { mkdirSync, readFileSync, readdirSync, existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseProfileOnHost } from '../harness/run/profile-files.ts';
import { runPlan } from '../harness/run/runner.ts';
import { createProgress } from '../harness/run/progress.ts';
import { loadRun, type RunData } from '../harness/report/html/run-data.ts';
import { compareRunData, type Comparison } from '../harness/report/compare/compare.ts';
import { mannWhitneyU } from '../harness/report/compare/stats.ts';
import { ratioInterval } from '../harness/measure/interval.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '6' },
    repetitions: { type: 'string', default: '6' },
    seconds: { type: 'string', default: '5' },
    out: { type: 'string', default: 'reports/compare-calibration' },
    analyze: { type: 'string' },
  },
});

const profile = (seed: number) => `
name: compare-calibration
description: A/A and power calibration of statebench compare.
targets:
  - name: a
    platform: baremetal
    storage: { kind: local }
  - name: slow
    platform: baremetal
    storage: { kind: local }
    engineSettings: { commit_delay: 1000, commit_siblings: 0 }
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

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);

async function runAll(outDir: string, runs: number): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const log: Array<{ run: number; loadBefore: number[]; loadAfter: number[]; seconds: number }> = [];
  for (let i = 1; i <= runs; i++) {
    const dir = join(outDir, `run-${String(i).padStart(2, '0')}`);
    const loadBefore = loadavg();
    const t0 = performance.now();
    const outcome = await runPlan(parseProfileOnHost(profile(1000 + i), 'compare-calibration.yaml'), { outDir: dir, signal: new AbortController().signal, progress: createProgress(process.stderr, true) });
    const seconds = Math.round((performance.now() - t0) / 1000);
    log.push({ run: i, loadBefore, loadAfter: loadavg(), seconds });
    console.error(`run ${i}/${runs}: ${outcome.summary.status} in ${seconds}s, load ${loadBefore.join(' ')} → ${loadavg().join(' ')}`);
    if (outcome.summary.status !== 'completed') throw new Error(`run ${i} ${outcome.summary.status}; see ${dir}/report.md`);
  }
  writeFileSync(join(outDir, 'load.json'), JSON.stringify(log, null, 2));
}

/** The run seen as if it held only `target`, named `as`. */
function view(run: RunData, target: string, as = target): RunData {
  const summary = { ...run.summary, baseline: as, targets: run.summary.targets.filter((t) => t.name === target).map((t) => ({ ...t, name: as })), comparisons: undefined, warnings: undefined };
  return { ...run, summary, samples: run.samples.filter((s) => s.target === target).map((s) => ({ ...s, target: as })) };
}

const flagged = (c: Comparison, metric?: string) => c.regressions.some((r) => metric === undefined || r.metric === metric);

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
  const [lo, hi] = wilson(k, n);
  return `${k}/${n} = ${pct(k / n)} (95 % CI ${pct(lo)}–${pct(hi)})`;
};

function analyze(outDir: string): string {
  const dirs = readdirSync(outDir).filter((d) => d.startsWith('run-') && existsSync(join(outDir, d, 'summary.json'))).sort();
  const runs = dirs.map((d) => loadRun(join(outDir, d)));
  const TPS = 'oltp-tpcb TPS';

  // A/A: every pair of runs, each target against itself.
  let aaPairs = 0;
  let aaAny = 0;
  let aaTps = 0;
  let aaImprovedTps = 0;
  let aaGuarded = 0;
  // The old method on the same pairs: per-second TPS of repetition 1 of each side, Mann–Whitney, 5 % minimum effect.
  let oldPairs = 0;
  let oldFlags = 0;
  const perSecond = (run: RunData, target: string) => run.samples.filter((s) => s.target === target && (s.repetition ?? 1) === 1 && !s.partial).map((s) => s.tps);
  const oldFlag = (xs: number[], ys: number[]) => {
    const mean = (v: number[]) => v.reduce((p, q) => p + q, 0) / v.length;
    return mannWhitneyU(xs, ys).p < 0.05 && (mean(ys) - mean(xs)) / mean(xs) < -0.05;
  };
  for (let i = 0; i < runs.length; i++) {
    for (let j = i + 1; j < runs.length; j++) {
      for (const t of ['a', 'slow']) {
        const c = compareRunData(view(runs[i], t), view(runs[j], t), { busyHost: 'ignore' });
        aaPairs++;
        if (flagged(c)) aaAny++;
        if (flagged(c, TPS)) aaTps++;
        if (c.changes.some((x) => x.metric === TPS && x.verdict === 'improvement')) aaImprovedTps++;
        if (flagged(compareRunData(view(runs[i], t), view(runs[j], t)))) aaGuarded++;
        oldPairs++;
        if (oldFlag(perSecond(runs[i], t), perSecond(runs[j], t))) oldFlags++;
      }
    }
  }

  // Power: a vs slow, within each run and across every ordered pair of different runs.
  let within = 0;
  let withinTps = 0;
  let across = 0;
  let acrossTps = 0;
  let withinGuarded = 0;
  let acrossGuarded = 0;
  let oldPower = 0;
  let oldPowerPairs = 0;
  for (let i = 0; i < runs.length; i++) {
    for (let j = 0; j < runs.length; j++) {
      const c = compareRunData(view(runs[i], 'a'), view(runs[j], 'slow', 'a'), { busyHost: 'ignore' });
      const guarded = flagged(compareRunData(view(runs[i], 'a'), view(runs[j], 'slow', 'a')), TPS);
      if (i === j) {
        within++;
        if (flagged(c, TPS)) withinTps++;
        if (guarded) withinGuarded++;
      } else {
        across++;
        if (flagged(c, TPS)) acrossTps++;
        if (guarded) acrossGuarded++;
      }
      oldPowerPairs++;
      if (oldFlag(perSecond(runs[i], 'a'), perSecond(runs[j], 'slow'))) oldPower++;
    }
  }

  // The slowdown and the noise, from every repetition.
  const tpsOf = (name: string) => runs.flatMap((r) => r.summary.targets.filter((t) => t.name === name && t.status === 'completed').map((t) => t.workloads[0].tps));
  const a = tpsOf('a');
  const slow = tpsOf('slow');
  const effect = ratioInterval(a, slow);
  const cv = (xs: number[]) => {
    const logs = xs.map(Math.log);
    const m = logs.reduce((p, q) => p + q, 0) / logs.length;
    return Math.sqrt(logs.reduce((p, q) => p + (q - m) ** 2, 0) / (logs.length - 1));
  };
  const measured = runs.flatMap((r) => r.summary.targets.flatMap((t) => (t.hostNoise ?? []).filter((p) => p.phase.startsWith('measure'))));
  const median = (xs: number[]) => {
    const s = [...xs].sort((p, q) => p - q);
    return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
  };
  // Repetitions per side for 80 % power against a 15 % drop at the noise measured here:
  // n ≈ 2·((t₀.₉₇₅ + z₀.₈)·s / ln(1/0.85))², with s the larger log SD and t taken as 2.
  const s15 = Math.max(cv(a), cv(slow));
  const need15 = Math.ceil(2 * (((2 + 0.8416) * s15) / Math.log(1 / 0.85)) ** 2);
  const loads = existsSync(join(outDir, 'load.json')) ? (JSON.parse(readFileSync(join(outDir, 'load.json'), 'utf8')) as Array<{ loadBefore: number[]; loadAfter: number[] }>) : [];
  const load1 = loads.flatMap((l) => [l.loadBefore[0], l.loadAfter[0]]);
  const reps = runs[0]?.summary.repetitions ?? 1;

  const lines = [
    `# compare calibration (${runs.length} runs × 2 targets × ${reps} repetitions, ${resolve(outDir)})`,
    '',
    `Host: ${String(runs[0]?.environment.cpuModel)} × ${String(runs[0]?.environment.cpus)}; load average (1 min) before/after runs: ${load1.length ? `${Math.min(...load1).toFixed(1)}–${Math.max(...load1).toFixed(1)}` : 'not recorded'}; CPU used outside the run during measured phases: median ${median(measured.map((p) => p.outsideCpuCores.median)).toFixed(2)} cores (n=${measured.length} phases, ${measured.filter((p) => p.busy).length} flagged busy).`,
    `TPS per repetition: a ${median(a).toFixed(0)} tx/s median (n=${a.length}, log SD ${cv(a).toFixed(3)}), slow ${median(slow).toFixed(0)} tx/s (n=${slow.length}, log SD ${cv(slow).toFixed(3)}); slow/a = ${effect.ok ? `${effect.interval.ratio.toFixed(3)} (95 % CI ${effect.interval.lo.toFixed(3)}–${effect.interval.hi.toFixed(3)})` : 'n/a'}.`,
    '',
    '| experiment | pairs | flagged as regression |',
    '| --- | --- | --- |',
    `| A/A, TPS, interval only (every pair of runs, a vs a and slow vs slow) | ${aaPairs} | ${share(aaTps, aaPairs)} |`,
    `| A/A, any figure (TPS, latency p50/p95/p99), interval only | ${aaPairs} | ${share(aaAny, aaPairs)} |`,
    `| A/A, TPS called an improvement, interval only | ${aaPairs} | ${share(aaImprovedTps, aaPairs)} |`,
    `| A/A, any figure, as \`compare\` runs by default (busy host: no verdict) | ${aaPairs} | ${share(aaGuarded, aaPairs)} |`,
    `| power, TPS, a vs slow within a run, interval only | ${within} | ${share(withinTps, within)} |`,
    `| power, TPS, a vs slow across runs, interval only | ${across} | ${share(acrossTps, across)} |`,
    `| power, TPS, as \`compare\` runs by default, within / across runs | ${within} / ${across} | ${share(withinGuarded, within)} / ${share(acrossGuarded, across)} |`,
    `| old method (per-second Mann–Whitney, 1 repetition a side), A/A | ${oldPairs} | ${share(oldFlags, oldPairs)} |`,
    `| old method, a vs slow | ${oldPowerPairs} | ${share(oldPower, oldPowerPairs)} |`,
    '',
    `At this noise (log SD ${s15.toFixed(3)} per repetition) a 15 % TPS drop needs about ${need15} repetitions per side for 80 % power.`,
    'Pairs share runs, so they are not independent: the intervals are indicative.',
  ];
  return lines.join('\n');
}

const outDir = resolve(values.analyze ?? values.out);
if (!values.analyze) await runAll(outDir, Number(values.runs));
const text = analyze(outDir);
writeFileSync(join(outDir, 'calibration.md'), text + '\n');
process.stdout.write(text + '\n');
