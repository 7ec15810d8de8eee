// A comparison as Markdown (for a CI job summary or a pull-request comment) and as one self-contained
// HTML page with the per-second distributions side by side.
import type { Comparison, MetricChange, Verdict } from './compare.ts';
import { fmtP } from './compare.ts';
import { esc, figure, num, page, table } from '../html/page.ts';
import { renderSvg, frame, axisName, PALETTE, type ChartOption } from '../html/charts.ts';

const VERDICT_TEXT: Record<Verdict, string> = {
  regression: 'REGRESSION',
  improvement: 'improvement',
  unchanged: 'unchanged',
  'not-significant': 'not significant',
  'not-compared': 'not compared',
};

function value(v: number | string | null, unit: string): string {
  if (v === null) return '—';
  if (typeof v === 'string') return v;
  const digits = unit === 'ms' ? 3 : unit === 'tx/s' || unit === 'MiB/s' ? 1 : 0;
  return `${num(v, digits)}${unit && unit !== 'cycles' && unit !== 'writes' && unit !== 'violations' ? ` ${unit}` : ''}`;
}

function changeText(c: MetricChange): string {
  if (c.basis === 'count') {
    if (typeof c.candidate !== 'number') return '—';
    const d = c.candidate - (typeof c.baseline === 'number' ? c.baseline : 0);
    return d === 0 ? '±0' : `${d > 0 ? '+' : '−'}${Math.abs(d)}`;
  }
  return c.change === null ? '—' : `${c.change >= 0 ? '+' : '−'}${Math.abs(c.change * 100).toFixed(1)} %`;
}

/** " (min–max, n=k)" behind a value with several observations: repetitions, or fault cycles. */
function spreadText(c: MetricChange, side: 'baseline' | 'candidate'): string {
  const xs = c.samples?.[side];
  if (!xs || xs.length < 2) return xs?.length === 1 ? ' (n=1)' : '';
  const what = c.basis === 'rank-test' ? 'cycles' : c.interval?.of === 'runs' ? 'runs' : 'reps';
  return ` (${value(Math.min(...xs), c.unit)}–${value(Math.max(...xs), c.unit)}, n=${xs.length} ${what})`;
}

const BASIS_TEXT: Record<MetricChange['basis'], string> = {
  interval: 'interval over repetitions',
  'rank-test': 'rank test',
  'single-value': 'single value',
  'one-run': 'one run a side: no verdict',
  count: 'any increase counts',
  check: 'pass → fail counts',
  status: 'target status',
};

const pctText = (x: number) => (Math.abs(x * 100) < 0.05 ? '±0.0 %' : `${x > 0 ? '+' : '−'}${Math.abs(x * 100).toFixed(1)} %`);

function testText(c: MetricChange): string {
  if (c.interval) {
    const what = c.interval.method === 'prediction-t-log' ? 'prediction interval' : 'CI';
    return `${Math.round(c.interval.level * 100)} % ${what} ${pctText(c.interval.lo - 1)} … ${pctText(c.interval.hi - 1)} (n=${c.interval.n.baseline}/${c.interval.n.candidate} ${c.interval.of === 'runs' ? 'runs' : 'reps'})`;
  }
  if (c.test) return `${fmtP(c.test.p)} (n=${c.test.n1}/${c.test.n2} cycles${c.test.exact ? ', exact' : ''})`;
  return BASIS_TEXT[c.basis];
}

function headline(cmp: Comparison): string {
  const n = cmp.regressions.length;
  return n ? `REGRESSION: ${n} figure${n === 1 ? '' : 's'} got worse` : 'No regression';
}

function thresholdsText(cmp: Comparison): string {
  const t = cmp.thresholds;
  const level = Math.round((1 - t.alpha) * 100);
  return `The unit is the run (the geometric mean of its repetitions): repetitions of one run share its host state and vary less than runs taken at different times, and per-second samples are autocorrelated, so neither is used as the observation between runs. With ≥ 2 runs a side a figure regresses when the ${level} % interval of candidate/baseline (Welch's t on the logs of run means, degrees of freedom from runs) lies entirely on the worse side and the change exceeds ${(t.minEffect * 100).toFixed(1)} %; with ≥ 2 runs on one side only, when the other side's run lies outside the ${level} % prediction interval from those runs on the worse side; with one run a side there is no verdict. Recovery: per-repetition medians, or a rank test over fault cycles of single runs. Any additional lost, phantom, duplicated or corrupted write, unrecovered cycle or newly failing check always counts.${t.busyHost === 'decline' ? ' A change measured while the host was busy (a measured phase flagged by the host-noise sampler) gets no verdict.' : ' A busy host is reported, not held against the verdict: the interval over runs already carries the drift between them.'}`;
}

export function renderCompareMarkdown(cmp: Comparison): string {
  const out: string[] = [];
  out.push(`# statebench compare: ${cmp.candidate.profile}`);
  out.push('');
  out.push(`Baseline \`${cmp.baseline.runId}\` (${cmp.baseline.startedAt}) → candidate \`${cmp.candidate.runId}\` (${cmp.candidate.startedAt})`);
  out.push('');
  out.push(`## ${headline(cmp)}`);
  out.push('');
  out.push(thresholdsText(cmp));
  out.push('');
  if (cmp.regressions.length) {
    for (const r of cmp.regressions) out.push(`- **${r.target}** ${r.metric}: ${value(r.baseline, r.unit)} → ${value(r.candidate, r.unit)} — ${r.reason}`);
    out.push('');
  }
  for (const n of cmp.notes) out.push(`> ${n}`);
  if (cmp.notes.length) out.push('');
  const targets = [...new Set(cmp.changes.map((c) => c.target))];
  for (const t of targets) {
    out.push(`### ${t}`);
    out.push('');
    out.push('| figure | baseline | candidate | change | test | verdict | why |');
    out.push('| --- | --- | --- | --- | --- | --- | --- |');
    for (const c of cmp.changes.filter((x) => x.target === t)) {
      const verdict = c.verdict === 'regression' ? `**${VERDICT_TEXT[c.verdict]}**` : VERDICT_TEXT[c.verdict];
      out.push(`| ${c.metric} | ${value(c.baseline, c.unit)}${spreadText(c, 'baseline')} | ${value(c.candidate, c.unit)}${spreadText(c, 'candidate')} | ${changeText(c)} | ${testText(c)} | ${verdict} | ${c.reason.replace(/\|/g, '\\|')} |`);
    }
    out.push('');
  }
  if (!targets.length) out.push('No target is in both runs: nothing was compared.\n');
  return out.join('\n');
}

export function renderCompareHtml(cmp: Comparison): string {
  const cls = cmp.regressions.length ? 'fail' : 'pass';
  const body: string[] = [];
  body.push(`<h1>statebench compare: ${esc(cmp.candidate.profile)}</h1>`);
  body.push(
    `<p class="meta">Baseline <code>${esc(cmp.baseline.runId)}</code> (${esc(cmp.baseline.startedAt)}, ${esc(cmp.baseline.dir)}) → candidate <code>${esc(cmp.candidate.runId)}</code> (${esc(cmp.candidate.startedAt)}, ${esc(cmp.candidate.dir)})</p>`,
  );
  body.push(`<section id="verdict"><h2>Verdict</h2><div class="verdict ${cls}"><p class="headline">${esc(headline(cmp))}</p><p>${esc(thresholdsText(cmp))}</p>`);
  if (cmp.regressions.length) {
    body.push(table(['target', 'figure', 'baseline', 'candidate', 'change', 'why'], cmp.regressions.map((r) => [esc(r.target), esc(r.metric), esc(value(r.baseline, r.unit)), esc(value(r.candidate, r.unit)), esc(changeText(r)), esc(r.reason)])));
  }
  body.push('</div>');
  for (const n of cmp.notes) body.push(`<p class="not-measured">${esc(n)}</p>`);
  body.push('</section>');

  const targets = [...new Set(cmp.changes.map((c) => c.target))];
  body.push('<section id="figures"><h2>Figures</h2>');
  if (!targets.length) body.push('<p class="not-measured">No target is in both runs: nothing was compared.</p>');
  for (const t of targets) {
    const rows = cmp.changes.filter((x) => x.target === t);
    body.push(`<h3>${esc(t)}</h3>`);
    body.push(
      table(
        ['figure', 'baseline', 'candidate', 'change', 'test', 'verdict', 'why'],
        rows.map((c) => [
          esc(c.metric),
          esc(value(c.baseline, c.unit)),
          esc(value(c.candidate, c.unit)),
          esc(changeText(c)),
          esc(testText(c)),
          `<span class="badge ${c.verdict === 'regression' ? 'fail' : c.verdict === 'improvement' ? 'pass' : 'info'}">${esc(VERDICT_TEXT[c.verdict])}</span>`,
          esc(c.reason),
        ]),
      ),
    );
    const sampled = rows.filter((c) => c.samples && (c.group === 'tps' || c.group === 'recovery' || c.metric.endsWith('p99')));
    if (sampled.length) body.push(`<div class="grid2">${sampled.map(distributionChart).join('\n')}</div>`);
  }
  body.push('</section>');
  return page(`statebench compare ${cmp.baseline.runId} → ${cmp.candidate.runId}`, body.join('\n'));
}

/** The two samples behind a tested figure as box plots with every sample as a dot. */
function distributionChart(c: MetricChange): string {
  const sides = [
    { name: 'baseline', values: c.samples!.baseline, color: PALETTE[0] },
    { name: 'candidate', values: c.samples!.candidate, color: PALETTE[1] },
  ];
  const box = (xs: number[]) => {
    const s = [...xs].sort((p, q) => p - q);
    const q = (f: number) => {
      const pos = (s.length - 1) * f;
      const lo = Math.floor(pos);
      return s[lo] + (s[Math.ceil(pos)] - s[lo]) * (pos - lo);
    };
    return [s[0], q(0.25), q(0.5), q(0.75), s[s.length - 1]];
  };
  const option: ChartOption = {
    ...frame(`${c.metric} (${c.basis === 'rank-test' ? 'per fault cycle' : c.interval?.of === 'runs' ? 'per run' : 'per repetition'})`, { legend: false, left: 72 }),
    xAxis: { type: 'category', data: sides.map((s) => s.name) },
    yAxis: { type: 'value', min: 0, ...axisName(c.unit), nameGap: 50 },
    series: [
      { type: 'boxplot', data: sides.map((s) => ({ value: box(s.values), itemStyle: { borderColor: s.color, color: '#f4f6fa' } })), boxWidth: [12, 70] },
      { type: 'scatter', symbolSize: 5, data: sides.flatMap((s, i) => s.values.map((v) => ({ value: [i, v], itemStyle: { color: s.color, opacity: 0.55 } }))) },
    ] as ChartOption['series'],
  };
  return figure(`compare:${c.target}:${c.metric}`, renderSvg(option, { width: 560, height: 260 }), `${esc(c.reason)}`);
}
