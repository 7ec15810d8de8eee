// The trend of headline figures across many runs (e.g. the nightly results of one profile): TPS, p99
// latency, fdatasync p99, median recovery and lost writes per target, in run order, with steps in
// the level flagged (see changepoint.ts). Any lost write is flagged in the run it happened, whatever
// the trend.
import { existsSync, readdirSync } from 'node:fs';
import { ioComparable } from '../../io/types.ts';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Summary, TargetSummary } from '../../model/summary.ts';
import { readSummary } from '../html/run-data.ts';
import { renderSvg, frame, axisName, PALETTE, FAULT_COLOR, type ChartOption } from '../html/charts.ts';
import { esc, figure, num, page, table } from '../html/page.ts';
import { recoverySpread } from '../html/render.ts';
import { changePoints, type ChangePoint, type ChangePointOptions } from './changepoint.ts';
import { EXIT, StatebenchError } from '../../errors.ts';

export interface HistoryRun {
  dir: string;
  runId: string;
  profile: string;
  startedAt: string;
  status: Summary['status'];
  summary: Summary;
}

export type HistoryMetric = 'tps' | 'p99' | 'fsyncP99' | 'recoveryMedian' | 'lostWrites';

export interface HistorySeries {
  metric: HistoryMetric;
  /** Target, and workload for workload figures: `docker/local · oltp-tpcb`. */
  label: string;
  target: string;
  unit: string;
  better: 'higher' | 'lower';
  /** One value per run, in run order; null where the run did not measure it. */
  values: Array<number | null>;
  /** Steps, with `index` into the run list. */
  changePoints: ChangePoint[];
}

export interface HistoryFlag {
  series: string;
  metric: HistoryMetric;
  runId: string;
  startedAt: string;
  kind: 'regression' | 'improvement' | 'lost-writes';
  text: string;
}

export interface History {
  dir: string;
  runs: HistoryRun[];
  series: HistorySeries[];
  flags: HistoryFlag[];
  /** Directories with a summary.json that could not be read, and why. */
  skipped: string[];
  html: string;
}

export interface HistoryOptions extends ChangePointOptions {
  /** Only runs of this profile. Default: every run found. */
  profile?: string;
}

const METRICS: Record<HistoryMetric, { title: string; unit: string; better: 'higher' | 'lower' }> = {
  tps: { title: 'Transactions per second', unit: 'tx/s', better: 'higher' },
  p99: { title: 'Latency p99', unit: 'ms', better: 'lower' },
  fsyncP99: { title: 'fdatasync p99 (I/O probe)', unit: 'ms', better: 'lower' },
  recoveryMedian: { title: 'Writes unavailable per fault cycle, median', unit: 'ms', better: 'lower' },
  lostWrites: { title: 'Lost acknowledged writes', unit: 'writes', better: 'lower' },
};

/** Run directories (holding a summary.json) at most `depth` levels below dir. */
export function findRunDirs(dir: string, depth = 3): string[] {
  const out: string[] = [];
  const walk = (d: string, level: number) => {
    if (existsSync(join(d, 'summary.json'))) {
      out.push(d);
      return;
    }
    if (level >= depth) return;
    let entries: import('node:fs').Dirent[];
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory() && !e.name.startsWith('.') && e.name !== 'node_modules') walk(join(d, e.name), level + 1);
  };
  walk(resolve(dir), 0);
  return out;
}

export async function historyReport(dir: string, opts: HistoryOptions = {}): Promise<History> {
  const skipped: string[] = [];
  const runs: HistoryRun[] = [];
  for (const d of findRunDirs(dir)) {
    try {
      const s = readSummary(d);
      if (opts.profile && s.profile !== opts.profile) continue;
      runs.push({ dir: d, runId: s.runId, profile: s.profile, startedAt: s.startedAt, status: s.status, summary: s });
    } catch (e) {
      skipped.push(`${d}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  runs.sort((a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt) || a.runId.localeCompare(b.runId));
  const series = buildSeries(runs, opts);
  const flags = flagsOf(runs, series);
  const history = { dir: resolve(dir), runs, series, flags, skipped, html: '' };
  history.html = renderHistoryHtml(history, opts);
  return history;
}

function buildSeries(runs: HistoryRun[], opts: ChangePointOptions): HistorySeries[] {
  const out: HistorySeries[] = [];
  const targets = [...new Set(runs.flatMap((r) => r.summary.targets.map((t) => t.name)))];
  const of = (run: HistoryRun, target: string) => run.summary.targets.find((t) => t.name === target);
  // A run with repetitions contributes one value per figure: the geometric mean over its
  // repetitions (lost writes: their sum), so runs with and without repetitions line up.
  const add = (metric: HistoryMetric, label: string, target: string, get: (t: TargetSummary) => number | null | undefined) => {
    const values = runs.map((r) => {
      const vs = r.summary.targets.filter((t) => t.name === target).map(get).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
      if (!vs.length) return null;
      if (metric === 'lostWrites') return vs.reduce((a, b) => a + b, 0);
      if (vs.length === 1 || vs.some((v) => v <= 0)) return vs.reduce((a, b) => a + b, 0) / vs.length;
      return Math.exp(vs.reduce((a, b) => a + Math.log(b), 0) / vs.length);
    });
    if (values.every((v) => v === null)) return;
    const present = values.flatMap((v, i) => (v === null ? [] : [{ v, i }]));
    const cps = metric === 'lostWrites' ? [] : changePoints(present.map((x) => x.v), opts).map((c) => ({ ...c, index: present[c.index].i }));
    out.push({ metric, label, target, unit: METRICS[metric].unit, better: METRICS[metric].better, values, changePoints: cps });
  };
  for (const target of targets) {
    const workloads = [...new Set(runs.flatMap((r) => of(r, target)?.workloads.map((w) => w.name) ?? []))];
    for (const w of workloads) {
      add('tps', `${target} · ${w}`, target, (t) => t.workloads.find((x) => x.name === w)?.tps);
      add('p99', `${target} · ${w}`, target, (t) => t.workloads.find((x) => x.name === w)?.latencyMs.p99);
    }
    // One series per I/O tool's figures would be two instruments on one axis: keep the latest tool's.
    const latestIo = runs.map((r) => of(r, target)?.io).filter((io) => io !== undefined).at(-1);
    add('fsyncP99', target, target, (t) => (ioComparable(t.io, latestIo).comparable ? t.io?.fsyncLatencyMs.p99 : null));
    add('recoveryMedian', target, target, (t) => recoverySpread(t, t.faults)?.median);
    add('lostWrites', target, target, (t) => t.safety?.lost);
  }
  return out;
}

function flagsOf(runs: HistoryRun[], series: HistorySeries[]): HistoryFlag[] {
  const flags: HistoryFlag[] = [];
  for (const s of series) {
    for (const c of s.changePoints) {
      const run = runs[c.index];
      const worse = s.better === 'higher' ? c.after < c.before : c.after > c.before;
      const change = c.change === null ? '' : ` (${c.change >= 0 ? '+' : '−'}${Math.abs(c.change * 100).toFixed(1)} %)`;
      flags.push({
        series: s.label,
        metric: s.metric,
        runId: run.runId,
        startedAt: run.startedAt,
        kind: worse ? 'regression' : 'improvement',
        text: `${METRICS[s.metric].title} of ${s.label} stepped from a median of ${num(c.before, 3)} to ${num(c.after, 3)} ${s.unit}${change} from run ${run.runId} on (Mann–Whitney p=${c.p.toPrecision(2)})`,
      });
    }
    if (s.metric === 'lostWrites') {
      s.values.forEach((v, i) => {
        if (v) flags.push({ series: s.label, metric: s.metric, runId: runs[i].runId, startedAt: runs[i].startedAt, kind: 'lost-writes', text: `${v} acknowledged write${v === 1 ? '' : 's'} lost on ${s.label} in run ${runs[i].runId}` });
      });
    }
  }
  return flags;
}

function renderHistoryHtml(h: Omit<History, 'html'>, opts: HistoryOptions): string {
  const body: string[] = [];
  const profiles = [...new Set(h.runs.map((r) => r.profile))];
  body.push(`<h1>statebench history${profiles.length === 1 ? `: ${esc(profiles[0])}` : ''}</h1>`);
  const span = h.runs.length ? `${esc(h.runs[0].startedAt)} → ${esc(h.runs[h.runs.length - 1].startedAt)}` : 'no runs';
  body.push(`<p class="meta">${h.runs.length} run${h.runs.length === 1 ? '' : 's'} under <code>${esc(h.dir)}</code> · ${span}${profiles.length > 1 ? ` · profiles ${profiles.map(esc).join(', ')}` : ''}</p>`);

  const regressions = h.flags.filter((f) => f.kind !== 'improvement');
  body.push(`<section id="flags"><h2>Flagged</h2>`);
  body.push(
    `<p class="meta">A step is flagged when a split of the series into before/after has Mann–Whitney p below ${opts.alpha ?? 0.05} divided by the number of possible splits, the medians differ by more than ${((opts.minEffect ?? 0.05) * 100).toFixed(1)} %, and each side has at least ${opts.minSegment ?? 4} runs. Any lost write is flagged in its run.</p>`,
  );
  if (!h.flags.length) body.push(`<div class="verdict pass"><p class="headline">No step change and no lost write</p></div>`);
  else {
    body.push(`<div class="verdict ${regressions.length ? 'fail' : 'pass'}"><p class="headline">${regressions.length} regression${regressions.length === 1 ? '' : 's'} or lost-write run${regressions.length === 1 ? '' : 's'}, ${h.flags.length - regressions.length} improvement${h.flags.length - regressions.length === 1 ? '' : 's'}</p>`);
    body.push(table(['kind', 'run', 'started', 'what'], h.flags.map((f) => [`<span class="badge ${f.kind === 'improvement' ? 'pass' : 'fail'}">${esc(f.kind)}</span>`, `<code>${esc(f.runId)}</code>`, esc(f.startedAt), esc(f.text)])));
    body.push('</div>');
  }
  for (const s of h.skipped) body.push(`<p class="not-measured">Skipped ${esc(s)}</p>`);
  body.push('</section>');

  body.push(`<section id="trends"><h2>Trends</h2>`);
  if (h.runs.length < 2) body.push(`<p class="not-measured">${h.runs.length} run found: a trend needs at least two.</p>`);
  const labels = h.runs.map((r) => `${r.startedAt.slice(5, 10)} ${r.startedAt.slice(11, 16)}`);
  for (const metric of Object.keys(METRICS) as HistoryMetric[]) {
    const series = h.series.filter((s) => s.metric === metric);
    const meta = METRICS[metric];
    body.push(`<h3>${esc(meta.title)}</h3>`);
    if (!series.length) {
      body.push(`<p class="not-measured"><strong>${esc(meta.title)}: not measured</strong> in any of these runs</p>`);
      continue;
    }
    const option: ChartOption = {
      ...frame(`${meta.title}, ${meta.unit}`),
      xAxis: { type: 'category', data: labels, axisLabel: { rotate: labels.length > 12 ? 40 : 0, fontSize: 11 }, ...axisName('run started (UTC)'), nameGap: labels.length > 12 ? 46 : 28 },
      yAxis: { type: 'value', min: 0, minInterval: metric === 'lostWrites' ? 1 : undefined, ...axisName(meta.unit), nameGap: 48 },
      grid: { left: 68, right: 28, top: 66, bottom: labels.length > 12 ? 72 : 48 },
      series: series.map((s, i) => ({
        type: metric === 'lostWrites' ? 'bar' : 'line',
        name: s.label,
        color: PALETTE[i % PALETTE.length],
        showSymbol: true,
        symbolSize: 5,
        connectNulls: false,
        data: s.values,
        markLine: s.changePoints.length
          ? {
              silent: true,
              symbol: ['none', 'none'],
              data: s.changePoints.map((c) => ({
                xAxis: c.index,
                label: { formatter: c.change === null ? 'step' : `${c.change >= 0 ? '+' : '−'}${Math.abs(c.change * 100).toFixed(0)} %`, color: FAULT_COLOR, fontSize: 11 },
                lineStyle: { color: FAULT_COLOR, type: 'dashed', width: 1.5 },
              })),
            }
          : undefined,
      })) as ChartOption['series'],
    };
    const steps = series.reduce((n, s) => n + s.changePoints.length, 0);
    body.push(figure(`history:${metric}`, renderSvg(option, { height: 300 }), steps ? `Dashed red lines: ${steps} step change${steps === 1 ? '' : 's'} in level.` : 'No step change.'));
  }
  body.push('</section>');

  body.push(`<section id="runs"><h2>Runs</h2>`);
  body.push(
    table(
      ['started', 'run', 'profile', 'status', 'targets', 'directory'],
      h.runs.map((r) => [esc(r.startedAt), `<code>${esc(r.runId)}</code>`, esc(r.profile), esc(r.status), esc(r.summary.targets.map((t) => t.name).join(', ')), `<code>${esc(r.dir)}</code>`]),
    ),
  );
  body.push('</section>');
  return page(`statebench history ${profiles.join(', ')}`, body.join('\n'));
}

export interface HistoryCommandOptions extends HistoryOptions {
  /** Where to write the page. Default: history.html in dir. */
  out?: string;
  /** Exit 1 when a regression step or a lost write is flagged (for a nightly job). @default false */
  failOnRegression?: boolean;
}

export interface HistoryCommandResult {
  /** 0 when the page was written; 1 with failOnRegression and a regression or lost write flagged. */
  exitCode: number;
  file: string;
  html: string;
  history: History;
  /** One line per flag, for the terminal. */
  text: string;
}

export async function historyCommand(dir: string, opts: HistoryCommandOptions = {}): Promise<HistoryCommandResult> {
  if (!existsSync(dir)) throw new StatebenchError(`${dir} does not exist`, EXIT.usage, 'Pass a directory holding run directories, such as reports/.');
  const history = await historyReport(dir, opts);
  if (!history.runs.length) {
    throw new StatebenchError(
      `no run directory with a readable summary.json under ${resolve(dir)}${opts.profile ? ` for profile ${opts.profile}` : ''}`,
      EXIT.usage,
      history.skipped.length ? `Unreadable: ${history.skipped.join('; ')}` : 'Point it at the parent of the directories `statebench run --out` wrote.',
    );
  }
  const file = resolve(opts.out ?? join(dir, 'history.html'));
  await writeFile(file, history.html);
  const text = [
    `${history.runs.length} runs, ${history.runs[0].startedAt} → ${history.runs[history.runs.length - 1].startedAt}`,
    ...(history.flags.length ? history.flags.map((f) => `${f.kind}: ${f.text}`) : ['no step change and no lost write']),
    `wrote ${file}`,
  ].join('\n');
  const bad = history.flags.some((f) => f.kind !== 'improvement');
  return { exitCode: opts.failOnRegression && bad ? EXIT.checksFailed : EXIT.ok, file, html: history.html, history, text };
}
