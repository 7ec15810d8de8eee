// report.html: one self-contained page a person reads after a run. Verdict first, then the target
// matrix side by side with ratios to the baseline and the spread behind each figure, then timelines,
// latency distributions, recovery, safety, environment and the profile. Charts are SVG drawn here (see
// charts.ts); the page has no script and loads nothing. What a run did not measure says so, rather
// than showing an empty chart.
import { rename, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FaultSummary, Summary, TargetSummary } from '../../model/summary.ts';
import { artifactsSlug, baselineOf, loadRun, samplesOf, type RunData, type RunEvent, type SecondSample } from './run-data.ts';
import { repetitionLabel, ciText } from '../markdown.ts';
import { comparisonsOf, comparisonWarnings, intervalMethodText } from '../ratios.ts';
import { renderSvg, frame, axisName, PALETTE, FAULT_COLOR, UNAVAILABLE_COLOR, type ChartOption } from './charts.ts';
import { cdfPoints, workloadHistogram } from './latency.ts';
import { esc, figure, notMeasured, num, page, table } from './page.ts';

export async function renderHtml(runDir: string): Promise<string> {
  return renderRunHtml(loadRun(runDir));
}

/** Writes report.html into the run directory (atomically, like the other reports); returns its path. */
export async function writeHtmlReport(runDir: string): Promise<string> {
  const run = loadRun(runDir);
  const file = join(run.dir, 'report.html');
  await writeFile(file + '.tmp', renderRunHtml(run));
  await rename(file + '.tmp', file);
  return file;
}

export function renderRunHtml(run: RunData): string {
  const s = run.summary;
  const view = new RunView(run);
  const body = [
    `<h1>statebench: ${esc(s.profile)}</h1>`,
    `<p class="meta">Run <code>${esc(s.runId)}</code> · ${esc(s.startedAt)} → ${esc(s.finishedAt)} · status <strong>${esc(s.status)}</strong> · ${s.targets.length} target${s.targets.length === 1 ? '' : 's'} · baseline <code>${esc(view.base?.name ?? '—')}</code></p>`,
    `<nav class="toc">${[
      ['verdict', 'Verdict'],
      ['matrix', 'Targets'],
      ['timelines', 'Timelines'],
      ['latency', 'Latency distribution'],
      ['recovery', 'Recovery'],
      ['safety', 'Data safety'],
      ['checks', 'Checks'],
      ['environment', 'Environment'],
      ['profile', 'Profile'],
    ]
      .map(([id, label]) => `<a href="#${id}">${label}</a>`)
      .join('')}</nav>`,
    verdictSection(view),
    matrixSection(view),
    timelineSection(view),
    latencySection(view),
    recoverySection(view),
    safetySection(view),
    checksSection(s),
    environmentSection(run),
    profileSection(run),
  ].join('\n');
  return page(`statebench ${s.profile} ${s.runId}`, body);
}

/** What the sections share: the run, its baseline, and each target's samples on one time origin. */
class RunView {
  readonly summary: Summary;
  readonly base: TargetSummary | undefined;
  readonly workloadNames: string[];

  constructor(readonly run: RunData) {
    this.summary = run.summary;
    this.base = baselineOf(run.summary);
    this.workloadNames = [...new Set(run.summary.targets.flatMap((t) => t.workloads.map((w) => w.name)))];
  }

  color(target: TargetSummary): string {
    return PALETTE[this.summary.targets.indexOf(target) % PALETTE.length];
  }

  /** The target's samples; with repetitions, only this repetition's. */
  samples(target: TargetSummary, workload?: string): SecondSample[] {
    return samplesOf(this.run, target.name, workload, target.repetition ?? 1);
  }

  /** `docker/local #2` when targets repeat, else the name. */
  label(target: TargetSummary): string {
    return repetitionLabel(this.summary)(target);
  }

  private eventsOf(target: TargetSummary): RunEvent[] {
    const rep = target.repetition ?? 1;
    return this.run.events.filter((e) => e.target === target.name && ((e.repetition as number | undefined) ?? 1) === rep);
  }

  /** Run-clock ms the timeline of a target starts at: the first measured phase, else its first sample. */
  originMs(target: TargetSummary): number {
    const start = this.eventsOf(target).find((e) => e.type === 'measure-start');
    if (start) return start.tMs;
    const first = this.samples(target)[0];
    return first ? first.tMs - 1000 : 0;
  }

  /** Faults from the summary; from events.jsonl when an interrupted run's summary has none. */
  faults(target: TargetSummary): FaultSummary[] {
    if (target.faults.length) return target.faults;
    return faultsFromEvents(this.eventsOf(target), target.name);
  }

  isBase(t: TargetSummary): boolean {
    return !!this.base && t.name === this.base.name;
  }
}

function faultsFromEvents(events: RunEvent[], target: string): FaultSummary[] {
  const injects = events.filter((e) => e.target === target && e.type === 'fault-inject');
  return injects.map((e, i) => {
    const cycle = typeof e.cycle === 'number' ? e.cycle : i;
    const recover = events.find((x) => x.target === target && x.type === 'fault-recover' && x.cycle === cycle && x.tMs >= e.tMs);
    const kind = String(e.fault ?? e.faultType ?? e.kind ?? 'fault');
    return {
      type: kind,
      target,
      node: typeof e.node === 'string' ? e.node : undefined,
      cycle,
      injectedAtMs: e.tMs,
      recoveredAtMs: recover?.tMs ?? null,
      recovery: { unavailableMs: null, timeToFirstWriteMs: null, timeToHealthyMs: null, lastSuccessBeforeMs: null, firstFailureMs: null, firstWriteAfterMs: null, recovered: false },
      state: 'from events',
    };
  });
}

// ───────────────────────────── verdict ─────────────────────────────

function verdictSection(v: RunView): string {
  const s = v.summary;
  const checks = s.targets.flatMap((t) => t.checks.map((c) => ({ target: v.label(t), ...c })));
  const failed = checks.filter((c) => !c.passed);
  let cls: 'pass' | 'fail' | 'neutral';
  let headline: string;
  if (s.status !== 'completed') {
    cls = 'fail';
    const why = s.targets.filter((t) => t.error).map((t) => `${v.label(t)}: ${t.error}`).join('; ') || 'the run did not finish';
    headline = `${s.status.toUpperCase()}: ${esc(why)}`;
  } else if (!checks.length) {
    cls = 'neutral';
    headline = 'No conformance checks were configured';
  } else if (failed.length) {
    cls = 'fail';
    headline = `FAIL: ${failed.length} of ${checks.length} checks failed`;
  } else {
    cls = 'pass';
    headline = `PASS: all ${checks.length} checks passed`;
  }
  const out = [`<section id="verdict"><h2>Verdict</h2><div class="verdict ${cls}"><p class="headline">${headline}</p>`];
  if (checks.length) {
    out.push(
      `<p><span class="badge pass">${checks.length - failed.length} passed</span> <span class="badge ${failed.length ? 'fail' : 'info'}">${failed.length} failed</span></p>`,
    );
  }
  if (failed.length) {
    out.push(
      table(
        ['target', 'check', 'value', 'threshold', 'detail'],
        failed.map((c) => [esc(c.target), `<code>${esc(c.name)}</code>`, esc(c.value ?? '—'), esc(c.threshold ?? '—'), esc(c.message)]),
      ),
    );
  }
  if (s.malformedLines || v.run.malformed.samples || v.run.malformed.events) {
    out.push(
      `<p>Unparseable result lines: ${s.malformedLines} in the summary's count, ${v.run.malformed.samples} in samples.jsonl, ${v.run.malformed.events} in events.jsonl (a torn last line after a kill is expected; more is not).</p>`,
    );
  }
  out.push('</div>');
  out.push(headlineRatios(v));
  out.push('</section>');
  return out.join('\n');
}

function headlineRatios(v: RunView): string {
  const s = v.summary;
  const base = v.base;
  if (!base) return notMeasured('Targets', 'the run has no target results');
  const comparisons = s.comparisons ?? comparisonsOf(s);
  const warnings = s.warnings ?? comparisonWarnings(s);
  const out = [`<h3>Comparison against the baseline <code>${esc(base.name)}</code></h3>`];
  for (const w of warnings) out.push(`<p class="warning"><strong>Warning:</strong> ${esc(w)}</p>`);
  if (!comparisons.length) {
    out.push('<p class="not-measured">Only one target ran: there is nothing to compare it with. Figures are absolute.</p>');
    return out.join('\n');
  }
  const values = (xs: number[], unit: string) => {
    if (!xs.length) return 'not measured';
    const gm = Math.exp(xs.reduce((a, b) => a + Math.log(b), 0) / xs.length);
    const d = unit === 'ms' ? 3 : 1;
    return xs.length === 1 ? `${num(xs[0], d)} ${esc(unit)} <span class="spread">n=1</span>` : `${num(gm, d)} ${esc(unit)}<span class="spread">${num(Math.min(...xs), d)}–${num(Math.max(...xs), d)}, n=${xs.length}</span>`;
  };
  const badge = (verdict: string) => (verdict === 'worse' ? 'fail' : verdict === 'better' ? 'pass' : 'info');
  const text: Record<string, string> = { better: 'better', worse: 'worse', 'no-difference': 'no difference detectable', 'single-observation': 'single observation, no verdict', 'not-comparable': 'not comparable' };
  out.push(
    table(
      ['target', 'figure', 'baseline', 'target', 'ratio', 'change, 95 % CI', 'verdict'],
      comparisons.map((c) => [
        esc(c.target),
        esc(c.metric),
        values(c.baselineValues, c.unit),
        values(c.targetValues, c.unit),
        c.ratio === null ? '—' : `${c.ratio.toFixed(3)}×`,
        c.ci95 ? esc(ciText(c)) : 'no interval',
        `<span class="badge ${badge(c.verdict)}" title="${esc(c.text)}">${esc(text[c.verdict])}</span>`,
      ]),
    ),
  );
  out.push(`<p class="meta">Values: geometric mean over repetitions (each a fresh deploy), range and n. Ratio = target ÷ baseline; ${esc(intervalMethodText(comparisons))} Per-second samples are autocorrelated and are not used as observations. A difference is stated only when the interval excludes no change; one repetition is a single observation with no verdict.</p>`);
  out.push(`<ul class="verdicts">${comparisons.filter((c) => c.group === 'tps' || c.group === 'bulk').map((c) => `<li>${esc(c.text)}</li>`).join('')}</ul>`);
  return out.join('\n');
}

// ───────────────────────────── matrix ─────────────────────────────

interface Cell {
  value: string;
  ratio?: string;
  spread?: string;
}

const cellHtml = (c: Cell) => `${c.value}${c.ratio ?? ''}${c.spread ? `<span class="spread">${c.spread}</span>` : ''}`;

function matrixSection(v: RunView): string {
  const s = v.summary;
  const base = v.base;
  const targets = s.targets;
  if (!targets.length) return `<section id="matrix"><h2>Targets</h2>${notMeasured('Targets', 'the run has no target results')}</section>`;
  const rows: string[] = [];
  const group = (label: string) => rows.push(`<tr class="group"><td colspan="${targets.length + 1}">${label}</td></tr>`);
  const line = (label: string, cells: Cell[]) => rows.push(`<tr><td>${label}</td>${cells.map((c) => `<td>${cellHtml(c)}</td>`).join('')}</tr>`);
  const isBase = (t: TargetSummary) => v.isBase(t);

  group('Target');
  line('status', targets.map((t) => ({ value: t.error ? `${esc(t.status)}: ${esc(t.error)}` : esc(t.status) })));
  line('platform / storage', targets.map((t) => ({ value: `${esc(t.platform)} / ${esc(t.storage)}` })));
  line('engine', targets.map((t) => ({ value: esc(t.engine.version ?? `${t.engine.kind} (not started)`) })));

  group('I/O probe (fio or the built-in probe, on the target’s data volume)');
  if (!targets.some((t) => t.io)) line('I/O', targets.map(() => ({ value: 'not measured', spread: 'the I/O probe did not run' })));
  const ioSpreads = targets.map((t) => fioSpread(v.run, t));
  const io = (label: string, get: (t: TargetSummary) => number | undefined, digits: number, better: 'higher' | 'lower', spread: (t: TargetSummary, i: number) => string | undefined) =>
    line(
      label,
      targets.map((t, i) => {
        const value = t.io ? get(t) : undefined;
        if (!t.io) return { value: 'not measured' };
        if (value === undefined) return { value: 'not measured' };
        return { value: num(value, digits), spread: spread(t, i) };
      }),
    );
  if (targets.some((t) => t.io)) io('rand 4k write IOPS', (t) => t.io?.randWriteIops, 0, 'higher', (_t, i) => ioSpreads[i]?.randwrite);
  if (targets.some((t) => t.io)) io('seq write MiB/s', (t) => t.io?.seqWriteMiBps, 1, 'higher', (_t, i) => ioSpreads[i]?.seqwrite);
  if (targets.some((t) => t.io)) io('fdatasync p50 ms', (t) => t.io?.fsyncLatencyMs.p50, 3, 'lower', (t) => `n=${num(t.io?.fsyncSamples, 0)} fdatasyncs`);
  if (targets.some((t) => t.io)) io('fdatasync p99 ms', (t) => t.io?.fsyncLatencyMs.p99, 3, 'lower', (t) => `n=${num(t.io?.fsyncSamples, 0)} fdatasyncs`);

  for (const name of v.workloadNames) {
    group(`Workload <code>${esc(name)}</code>`);
    const per = (t: TargetSummary) => t.workloads.find((w) => w.name === name);
    line(
      'TPS',
      targets.map((t) => {
        const w = per(t);
        if (!w) return { value: 'not run' };
        const sp = w.tpsPerSecond ?? tpsSpread(v.samples(t, name).filter((x) => !x.partial));
        return {
          value: num(w.tps, 1),
          spread: sp ? `per second ${num(sp.min, 0)}–${num(sp.median, 0)}–${num(sp.max, 0)} (min–median–max, n=${sp.count})` : `${num(w.transactions, 0)} transactions`,
        };
      }),
    );
    for (const p of ['p50', 'p95', 'p99'] as const) {
      line(
        `latency ${p} ms`,
        targets.map((t) => {
          const w = per(t);
          if (!w) return { value: 'not run' };
          // A second without a transaction has no latency; its zeros would only drag the minimum down.
          const perSecond = v.samples(t, name).filter((x) => x.tps > 0 && !x.partial).map((x) => x.latencyMs[p]).filter((x) => Number.isFinite(x));
          return {
            value: num(w.latencyMs[p], 3),
            spread: perSecond.length ? `per-second ${p} ${num(Math.min(...perSecond), 2)}–${num(Math.max(...perSecond), 2)} (n=${perSecond.length})` : `n=${num(w.transactions, 0)} transactions`,
          };
        }),
      );
    }
    line(
      'errors',
      targets.map((t) => {
        const w = per(t);
        if (!w) return { value: 'not run' };
        const kinds = Object.entries(w.errorsByKind).map(([k, n]) => `${k} ${n}`).join(', ');
        return { value: num(w.errors, 0), spread: kinds || undefined };
      }),
    );
    if (targets.some((t) => per(t)?.loadGenerator)) {
      line(
        'load generator CPU',
        targets.map((t) => {
          const g = per(t)?.loadGenerator;
          if (!g) return { value: 'not measured' };
          const value = `${num(g.cpuCoresMean, 2)} of ${g.cpuSet} CPUs, event loop ${num(g.eventLoopMean * 100, 0)} %`;
          return g.saturated ? { value: `<span class="lost">${value}</span>`, spread: esc(g.warning ?? '') } : { value, spread: `max ${num(g.cpuCoresMax, 2)} CPUs, ${num(g.eventLoopMax * 100, 0)} %` };
        }),
      );
    }
  }

  group('Recovery (writes unavailable per fault cycle, ms)');
  const rec = targets.map((t) => recoverySpread(t, v.faults(t)));
  const anyFaults = targets.some((t) => v.faults(t).length);
  if (!anyFaults) line('recovery', targets.map(() => ({ value: 'not measured', spread: 'no faults scheduled' })));
  else line(
    'cycles recovered',
    targets.map((t) => {
      const f = v.faults(t);
      return { value: f.length ? `${f.filter((x) => x.recovery.recovered).length}/${f.length}` : 'not measured', spread: f.length ? [...new Set(f.map((x) => x.type))].join(', ') : 'no faults scheduled' };
    }),
  );
  for (const k of ['min', 'median', 'p95', 'max'] as const) {
    if (!anyFaults) break;
    line(
      k,
      targets.map((t, i) => {
        const r = rec[i];
        if (!r) return { value: 'not measured' };
        return { value: num(r[k], 0), spread: k === 'median' ? `n=${r.count} cycles` : undefined };
      }),
    );
  }

  group('Data safety (acknowledged-write ledger)');
  const safetyRow = (label: string, get: (t: TargetSummary) => number | undefined, bad: boolean) =>
    line(
      label,
      targets.map((t) => {
        if (!t.safety) return { value: 'not measured' };
        const value = get(t) ?? 0;
        const baseValue = base?.safety ? get(base) ?? 0 : undefined;
        const diff = !isBase(t) && baseValue !== undefined && value !== baseValue ? ` (${value - baseValue > 0 ? '+' : ''}${value - baseValue} vs baseline)` : '';
        return { value: bad && value > 0 ? `<span class="lost">${num(value, 0)}</span>` : num(value, 0), spread: diff || undefined };
      }),
    );
  const anySafety = targets.some((t) => t.safety);
  if (!anySafety) line('safety', targets.map(() => ({ value: 'not measured', spread: 'the safety writer did not run' })));
  else safetyRow('attempted', (t) => t.safety?.attempted, false);
  if (anySafety) safetyRow('acknowledged', (t) => t.safety?.acknowledged, false);
  if (anySafety) safetyRow('indeterminate', (t) => t.safety?.indeterminate, false);
  if (anySafety) safetyRow('lost', (t) => t.safety?.lost, true);
  if (anySafety) safetyRow('phantom', (t) => t.safety?.phantom, true);
  if (anySafety) safetyRow('duplicated', (t) => t.safety?.duplicated, true);
  if (anySafety) safetyRow('corrupted', (t) => t.safety?.corrupted, true);

  const header = `<tr><th>figure</th>${targets.map((t) => `<th>${esc(v.label(t))}${isBase(t) ? ' <span class="badge info">baseline</span>' : ''}</th>`).join('')}</tr>`;
  return `<section id="matrix"><h2>Targets side by side</h2>
<p class="meta">Each cell: the figure of one target and repetition, and the spread behind it. Ratios between targets are in the comparison above.</p>
<table class="matrix"><thead>${header}</thead><tbody>${rows.join('')}</tbody></table></section>`;
}

function tpsSpread(samples: SecondSample[]) {
  if (!samples.length) return undefined;
  const sorted = samples.map((s) => s.tps).sort((a, b) => a - b);
  return { min: sorted[0], median: sorted[Math.ceil(sorted.length / 2) - 1], max: sorted[sorted.length - 1], count: sorted.length };
}

export function recoverySpread(t: TargetSummary, faults: FaultSummary[]) {
  if (t.recoveryMs && t.recoveryMs.count > 0) return t.recoveryMs;
  const values = faults.map((f) => f.recovery.unavailableMs).filter((x): x is number => typeof x === 'number').sort((a, b) => a - b);
  if (!values.length) return undefined;
  const at = (q: number) => values[Math.min(values.length - 1, Math.ceil(q * values.length) - 1)];
  return { min: values[0], median: at(0.5), p95: at(0.95), max: values[values.length - 1], count: values.length };
}

/** fio's per-job min–max where its JSON is kept beside the run (the probe saves it as io.raw). */
function fioSpread(run: RunData, t: TargetSummary): { randwrite?: string; seqwrite?: string } | undefined {
  if (!t.io) return undefined;
  const slug = ((run.plan?.targets as Array<{ name: string; slug: string }> | undefined) ?? []).find((x) => x.name === t.name)?.slug ?? t.name.replace(/[^A-Za-z0-9._-]+/g, '_');
  const file = t.io.raw ? join(run.dir, 'targets', artifactsSlug(slug, t.repetition), t.io.raw) : undefined;
  const single = `one ${esc(t.io.tool)} run`;
  if (!file || !existsSync(file)) return { randwrite: single, seqwrite: single };
  try {
    const jobs = (JSON.parse(readFileSync(file, 'utf8')).jobs ?? []) as Array<{ jobname: string; write?: { iops_min?: number; iops_max?: number; iops_samples?: number; bw_min?: number; bw_max?: number } }>;
    const describe = (name: string, scale: number, unit: string) => {
      const w = jobs.find((j) => j.jobname === name)?.write;
      if (!w || !w.iops_samples || w.iops_samples < 2) return `${single}, one ${unit} sample`;
      const lo = name === 'seqwrite' ? (w.bw_min ?? 0) / scale : w.iops_min;
      const hi = name === 'seqwrite' ? (w.bw_max ?? 0) / scale : w.iops_max;
      return `fio samples ${num(lo, 0)}–${num(hi, 0)} ${unit} (n=${w.iops_samples})`;
    };
    return { randwrite: describe('randwrite', 1, 'IOPS'), seqwrite: describe('seqwrite', 1024, 'MiB/s') };
  } catch {
    return { randwrite: single, seqwrite: single };
  }
}

// ───────────────────────────── timelines ─────────────────────────────

interface FaultMarks {
  lines: object[];
  areas: object[];
}

function faultMarks(v: RunView, t: TargetSummary, endX: number): FaultMarks {
  const origin = v.originMs(t);
  const x = (ms: number) => +((ms - origin) / 1000).toFixed(3);
  const lines: object[] = [];
  const areas: object[] = [];
  for (const f of v.faults(t)) {
    lines.push({
      xAxis: x(f.injectedAtMs),
      label: { formatter: `${f.type} #${f.cycle + 1}`, position: 'insideEndTop', color: FAULT_COLOR, fontSize: 11 },
      lineStyle: { color: FAULT_COLOR, type: 'solid', width: 1.5 },
    });
    if (f.recoveredAtMs !== null) {
      lines.push({ xAxis: x(f.recoveredAtMs), label: { show: false }, lineStyle: { color: '#7a7f87', type: 'dashed', width: 1 } });
    }
    const r = f.recovery;
    const from = r.lastSuccessBeforeMs ?? f.injectedAtMs;
    const to = r.firstWriteAfterMs;
    if (to !== null || !r.recovered) {
      areas.push([{ xAxis: x(from), itemStyle: { color: UNAVAILABLE_COLOR } }, { xAxis: to !== null ? x(to) : endX }]);
    }
  }
  return { lines, areas };
}

function withMarks(series: object, marks: FaultMarks): object {
  return {
    ...series,
    markLine: marks.lines.length ? { silent: true, symbol: ['none', 'none'], data: marks.lines } : undefined,
    markArea: marks.areas.length ? { silent: true, data: marks.areas } : undefined,
  };
}


function timelineSection(v: RunView): string {
  const out = ['<section id="timelines"><h2>Timelines</h2>'];
  out.push(
    '<p class="meta">Per second of each target’s measured phase. <span style="color:#c62828">Red lines</span>: fault injected (type and cycle); dashed grey: fault undone; shaded: writes unavailable, from the last acknowledged write before the fault to the first after it (shaded to the end when a cycle never recovered).</p>',
  );
  if (!v.summary.targets.length) out.push(notMeasured('Timelines', 'the run has no target results'));
  for (const t of v.summary.targets) {
    out.push(`<h3>${esc(v.label(t))}</h3>`);
    const samples = v.samples(t);
    if (!samples.length) {
      out.push(notMeasured(`Per-second timeline of ${v.label(t)}`, 'samples.jsonl has no samples for this target'));
      continue;
    }
    const origin = v.originMs(t);
    const x = (ms: number) => +((ms - origin) / 1000).toFixed(3);
    const workloads = [...new Set(samples.map((s) => s.workload))];
    const endX = Math.max(...samples.map((s) => x(s.tMs)));
    const faults = v.faults(t);
    const marks = faultMarks(v, t, endX);
    const color = v.color(t);
    const tpsSeries = workloads.map((w, i) => {
      const series = {
        type: 'line',
        name: `${w} TPS`,
        showSymbol: false,
        step: false,
        lineStyle: { width: 1.6 },
        color: i === 0 ? color : PALETTE[(v.summary.targets.indexOf(t) + i * 3) % PALETTE.length],
        data: samples.filter((s) => s.workload === w).map((s) => [x(s.tMs), s.tps]),
      };
      return i === 0 ? withMarks(series, marks) : series;
    });
    const tpsOption: ChartOption = {
      ...frame(`${v.label(t)}: transactions per second`),
      xAxis: { type: 'value', min: 0, max: Math.ceil(endX), ...axisName('seconds into the measured phase') },
      yAxis: { type: 'value', min: 0, ...axisName('TPS'), nameGap: 44 },
      series: tpsSeries as ChartOption['series'],
    };
    const latSeries = workloads.flatMap((w, i) => {
      const data = samples.filter((s) => s.workload === w);
      // Seconds without a completed transaction have no latency: a gap in the line, not a zero.
      const point = (s: SecondSample, p: 'p50' | 'p99') => [x(s.tMs), s.tps > 0 ? s.latencyMs[p] : null];
      const p50 = { type: 'line', name: `${w} p50`, showSymbol: false, connectNulls: false, lineStyle: { width: 1.4 }, color: PALETTE[(2 * i + 2) % PALETTE.length], data: data.map((s) => point(s, 'p50')) };
      const p99 = { type: 'line', name: `${w} p99`, showSymbol: false, connectNulls: false, lineStyle: { width: 1.4, type: 'dashed' }, color: PALETTE[(2 * i + 3) % PALETTE.length], data: data.map((s) => point(s, 'p99')) };
      return i === 0 ? [withMarks(p50, marks), p99] : [p50, p99];
    });
    const latOption: ChartOption = {
      ...frame(`${v.label(t)}: latency per second`),
      xAxis: { type: 'value', min: 0, max: Math.ceil(endX), ...axisName('seconds into the measured phase') },
      yAxis: { type: 'value', min: 0, ...axisName('ms'), nameGap: 44 },
      series: latSeries as ChartOption['series'],
    };
    out.push(figure(`tps:${v.label(t)}`, renderSvg(tpsOption, { height: 280 }), faults.length ? `${faults.length} fault cycle${faults.length === 1 ? '' : 's'} on this target.` : 'No faults were injected on this target.'));
    out.push(figure(`latency:${v.label(t)}`, renderSvg(latOption, { height: 260 }), 'Per-second p50 (solid) and p99 (dashed) of transaction latency.'));
  }
  out.push('</section>');
  return out.join('\n');
}

// ───────────────────────────── latency distribution ─────────────────────────────

function latencySection(v: RunView): string {
  const out = ['<section id="latency"><h2>Latency distribution</h2>'];
  out.push('<p class="meta">Cumulative distribution of transaction latency over the whole measured phase, from the HDR histograms (microsecond resolution, 3 significant digits). Latency on a log scale; the further right a line, the slower.</p>');
  if (!v.workloadNames.length) out.push(notMeasured('Latency distribution', 'no workload ran'));
  for (const name of v.workloadNames) {
    const missing: string[] = [];
    const series = v.summary.targets.flatMap((t) => {
      const w = t.workloads.find((x) => x.name === name);
      if (!w) return [];
      const h = workloadHistogram(w.histogram, v.samples(t, name));
      if (!h) {
        missing.push(v.label(t));
        return [];
      }
      return [{ type: 'line', name: `${v.label(t)} (n=${h.totalCount.toLocaleString('en-US')})`, showSymbol: false, color: v.color(t), lineStyle: { width: 1.8 }, data: cdfPoints(h) }];
    });
    out.push(`<h3>Workload <code>${esc(name)}</code></h3>`);
    if (!series.length) {
      out.push(notMeasured(`Latency distribution of ${name}`, 'no HDR histogram was recorded for it'));
      continue;
    }
    const option: ChartOption = {
      ...frame(`${name}: latency CDF`),
      xAxis: { type: 'log', logBase: 10, ...axisName('latency, ms (log scale)') },
      yAxis: { type: 'value', min: 0, max: 100, ...axisName('percentile'), nameGap: 40 },
      series: series as ChartOption['series'],
    };
    out.push(figure(`cdf:${name}`, renderSvg(option, { height: 320 }), missing.length ? `No histogram for ${esc(missing.join(', '))}: not measured.` : undefined));
  }
  out.push('</section>');
  return out.join('\n');
}

// ───────────────────────────── recovery ─────────────────────────────

function recoverySection(v: RunView): string {
  const out = ['<section id="recovery"><h2>Recovery</h2>'];
  const withFaults = v.summary.targets.filter((t) => v.faults(t).length);
  if (!withFaults.length) {
    out.push(notMeasured('Recovery time', 'no faults were scheduled in this run'));
    out.push('</section>');
    return out.join('\n');
  }
  out.push('<p class="meta">Writes unavailable per fault cycle: from the last acknowledged write before the fault to the first acknowledged write after it, as the safety writer saw it. Box: quartiles and median; whiskers: min and max; dots: single cycles.</p>');
  const cats = withFaults.map((t) => v.label(t));
  const boxes = withFaults.map((t) => {
    const values = v.faults(t).map((f) => f.recovery.unavailableMs).filter((x): x is number => typeof x === 'number').sort((a, b) => a - b);
    if (!values.length) return { value: [] as number[] };
    const q = (p: number) => quantile(values, p);
    return { value: [values[0], q(0.25), q(0.5), q(0.75), values[values.length - 1]], itemStyle: { borderColor: v.color(t), color: '#f4f6fa' } };
  });
  const dots = withFaults.flatMap((t, i) =>
    v.faults(t).flatMap((f) => (typeof f.recovery.unavailableMs === 'number' ? [{ value: [i, f.recovery.unavailableMs], itemStyle: { color: v.color(t) } }] : [])),
  );
  if (dots.length) {
    const option: ChartOption = {
      ...frame('Writes unavailable per fault cycle', { legend: false, left: 72 }),
      xAxis: { type: 'category', data: cats },
      yAxis: { type: 'value', min: 0, ...axisName('ms'), nameGap: 50 },
      series: [
        { type: 'boxplot', name: 'cycles', data: boxes, boxWidth: [12, 60] },
        { type: 'scatter', name: 'cycle', symbolSize: 9, data: dots },
      ] as ChartOption['series'],
    };
    out.push(figure('recovery', renderSvg(option, { height: 300 })));
  } else {
    out.push(notMeasured('Recovery time distribution', 'no fault cycle recovered with a measurable window'));
  }
  for (const t of v.summary.targets) {
    const faults = v.faults(t);
    out.push(`<h3>${esc(v.label(t))}: fault cycles</h3>`);
    if (!faults.length) {
      out.push(notMeasured(`Recovery on ${v.label(t)}`, 'no faults were scheduled on this target'));
      continue;
    }
    const origin = v.originMs(t);
    const at = (ms: number | null) => (ms === null ? '—' : `${num((ms - origin) / 1000, 2)} s`);
    out.push(
      table(
        ['cycle', 'fault', 'node', 'injected', 'first failure', 'first write after', 'unavailable ms', 'to first write ms', 'to healthy ms', 'state'],
        faults.map((f) => [
          String(f.cycle + 1),
          esc(f.type),
          esc(f.node ?? '—'),
          at(f.injectedAtMs),
          at(f.recovery.firstFailureMs),
          at(f.recovery.firstWriteAfterMs),
          num(f.recovery.unavailableMs, 0),
          num(f.recovery.timeToFirstWriteMs, 0),
          num(f.recovery.timeToHealthyMs, 0),
          f.recovery.recovered ? esc(f.state) : `<span class="lost">not recovered</span> (${esc(f.state)}${f.error ? `: ${esc(f.error)}` : ''})`,
        ]),
      ),
    );
  }
  out.push('</section>');
  return out.join('\n');
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 1) return sorted[0];
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

// ───────────────────────────── safety ─────────────────────────────

export const SAFETY_EXPLANATION = `<dl>
<dt><strong>lost</strong></dt><dd>the database acknowledged the commit, and the row is not there afterwards. A lost acknowledged write is a durability failure; any non-zero count is a finding.</dd>
<dt><strong>phantom</strong></dt><dd>a row is there that was never attempted, or whose attempt definitely failed (the server answered with an error and rolled back). The client was told "no" and the write happened anyway.</dd>
<dt><strong>indeterminate</strong></dt><dd>the client could not know the outcome: the connection broke or timed out while the commit was in flight. Either result is correct; reading back resolves each one as present or absent.</dd>
<dt><strong>duplicated / corrupted</strong></dt><dd>an id found more than once, or a row whose payload checksum does not match what was written.</dd>
</dl>`;

function safetySection(v: RunView): string {
  const out = ['<section id="safety"><h2>Data safety</h2>'];
  const targets = v.summary.targets;
  if (!targets.some((t) => t.safety)) {
    out.push(notMeasured('Data safety', 'the safety writer did not run, so no acknowledged write was verified'));
    out.push('</section>');
    return out.join('\n');
  }
  out.push('<p>Beside the workload a writer inserts rows with unique ids and logs every attempt with its outcome; after recovery each id is read back and compared with the log.</p>');
  out.push(SAFETY_EXPLANATION);
  out.push(
    table(
      ['target', 'attempted', 'acknowledged', 'failed', 'indeterminate (present / absent)', 'lost', 'phantom', 'duplicated', 'corrupted', 'bank invariant'],
      targets.map((t) => {
        const s = t.safety;
        if (!s) return [esc(v.label(t)), 'not measured', '', '', '', '', '', '', '', ''];
        const bad = (n: number) => (n ? `<span class="lost">${n}</span>` : '0');
        const bank = s.bank
          ? s.bank.violations === 0 && s.bank.negativeBalances === 0 && s.bank.finalTotal === s.bank.expectedTotal
            ? `held (${s.bank.checks} checks, ${s.bank.transfers} transfers)`
            : `<span class="lost">violated</span> (${s.bank.violations} violations, total ${num(s.bank.finalTotal, 0)} of ${num(s.bank.expectedTotal, 0)})`
          : 'not measured';
        return [esc(v.label(t)), num(s.attempted, 0), num(s.acknowledged, 0), num(s.failed, 0), `${s.indeterminate} (${s.indeterminatePresent} / ${s.indeterminateAbsent})`, bad(s.lost), bad(s.phantom), bad(s.duplicated), bad(s.corrupted), bank];
      }),
    ),
  );
  for (const t of targets.filter((x) => x.safety?.lostIds?.length)) {
    out.push(`<details><summary>${esc(v.label(t))}: ids of lost writes</summary><pre>${esc(t.safety!.lostIds!.join('\n'))}</pre></details>`);
  }
  out.push('</section>');
  return out.join('\n');
}

// ───────────────────────────── checks, environment, profile ─────────────────────────────

function checksSection(s: Summary): string {
  const label = repetitionLabel(s);
  const checks = s.targets.flatMap((t) => t.checks.map((c) => ({ target: label(t), ...c })));
  const body = checks.length
    ? table(
        ['target', 'check', 'result', 'value', 'threshold', 'detail'],
        checks.map((c) => [esc(c.target), `<code>${esc(c.name)}</code>`, c.passed ? '<span class="badge pass">pass</span>' : '<span class="badge fail">FAIL</span>', esc(c.value ?? '—'), esc(c.threshold ?? '—'), esc(c.message)]),
      )
    : notMeasured('Conformance checks', 'the profile configures none');
  return `<section id="checks"><h2>Checks</h2>${body}</section>`;
}

function environmentSection(run: RunData): string {
  const e = run.environment;
  const tools = (e.tools as Record<string, string | null> | undefined) ?? {};
  const facts: Array<[string, string]> = [
    ['statebench', String(e.statebench ?? '—')],
    ['node', String(e.node ?? '—')],
    ['OS / kernel', `${e.os ?? '—'} / ${e.kernel ?? '—'} (${e.arch ?? '—'})`],
    ['CPU', `${e.cpuModel ?? '—'} × ${e.cpus ?? '—'}`],
    ['memory', typeof e.memoryBytes === 'number' ? `${num(e.memoryBytes / 1024 ** 3, 1)} GiB` : '—'],
    ['host', `${e.hostname ?? '—'} (user ${e.user ?? '—'})`],
    ...[...new Map(run.summary.targets.map((t) => [t.name, `${t.engine.kind} ${t.engine.version ?? '(not started)'}`])).entries()].map(([name, version]): [string, string] => [`engine on ${name}`, version]),
    ...Object.entries(tools).map(([k, val]): [string, string] => [k, val ?? 'not installed']),
  ];
  const known = new Set(['statebench', 'node', 'os', 'kernel', 'arch', 'cpuModel', 'cpus', 'memoryBytes', 'hostname', 'user', 'tools']);
  for (const [k, val] of Object.entries(e)) if (!known.has(k)) facts.push([k, typeof val === 'string' ? val : JSON.stringify(val)]);
  const out = [`<section id="environment"><h2>Environment and versions</h2>`, table(['fact', 'value'], facts.map(([k, val]) => [esc(k), esc(val)]))];
  for (const t of run.summary.targets) {
    const detail = { storageSpec: t.storageSpec, engineSettings: t.engine.settings, platformInfo: t.platformInfo ?? {} };
    out.push(`<details><summary>${esc(repetitionLabel(run.summary)(t))}: storage, engine settings, platform</summary><pre>${esc(JSON.stringify(detail, null, 2))}</pre></details>`);
  }
  out.push('</section>');
  return out.join('\n');
}

function profileSection(run: RunData): string {
  const out = ['<section id="profile"><h2>Profile</h2>'];
  out.push(run.profileYaml !== undefined ? `<pre>${esc(run.profileYaml)}</pre>` : '<p class="not-measured">profile.yaml is not in the run directory.</p>');
  if (run.plan) out.push(`<details><summary>Expanded plan (plan.json)</summary><pre>${esc(JSON.stringify(run.plan, null, 2))}</pre></details>`);
  out.push('</section>');
  return out.join('\n');
}

