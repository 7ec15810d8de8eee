// Reads what `k6 run` writes and turns it into statebench's figures:
//  - `--out json=FILE`: one JSON object a line, {"type":"Metric",…} declaring a metric and
//    {"type":"Point","data":{"time","value","tags","metadata"?},"metric"} for each sample. The
//    iteration_duration points (outside the ::setup/::teardown groups) are the transactions: their
//    time is when the iteration ended and their value how long it took. With `--system-tags …,vu,iter`
//    each point also carries vu and iter (as metadata in current k6, as tags in older releases), which
//    ties a `statebench_errors` point to the iteration it failed.
//  - `--summary-export FILE`: the end-of-test summary, metrics flattened (trend stats, counter
//    count/rate, rate passes/fails/value, gauge value/min/max), thresholds as {source: failed}, checks
//    under root_group.
// Per-second samples and the summary use the same fields PhaseRecorder produces for native workloads.
import { newRecordingHistogram, recordMs, latencyMs, encode, type Histogram } from '../../measure/histogram.ts';
import { spread } from '../../measure/spread.ts';
import type { SecondSample } from '../recorder.ts';
import { errorKind } from '../recorder.ts';

export const ERRORS_METRIC = 'statebench_errors';

export interface K6Line {
  type: 'Metric' | 'Point';
  metric: string;
  data: { time?: string; value?: number; tags?: Record<string, string> | null; metadata?: Record<string, string> | null; type?: string };
}

export interface IterationRecord {
  /** Epoch ms when the iteration ended. */
  endAbs: number;
  durationMs: number;
  /** null when the transaction committed. */
  failedKind: string | null;
}

/** Parses k6 JSON output incrementally; keeps iterations, errors, VU counts and dropped iterations. */
export class PointsAccumulator {
  private pending = '';
  readonly iterations: (IterationRecord & { key?: string })[] = [];
  private errorsByKey = new Map<string, string>();
  /** statebench_errors points without vu/iter: counted, but not tied to an iteration. */
  readonly unmatchedErrors: Record<string, number> = {};
  readonly vus: [number, number][] = [];
  dropped = 0;
  malformed = 0;
  firstIterationAbs?: number;
  metricTypes: Record<string, string> = {};

  /** Feeds a chunk of the file; a line cut at the end of the chunk waits for the next one. */
  push(chunk: string): void {
    const lines = (this.pending + chunk).split('\n');
    this.pending = lines.pop() ?? '';
    for (const l of lines) this.line(l);
  }

  /** End of the file: a last line without newline is parsed if whole, counted as malformed if torn. */
  end(): void {
    if (this.pending.trim()) this.line(this.pending);
    this.pending = '';
  }

  private line(text: string): void {
    if (!text.trim()) return;
    let rec: K6Line;
    try {
      rec = JSON.parse(text);
    } catch {
      this.malformed++;
      return;
    }
    if (rec.type === 'Metric') {
      if (rec.data?.type) this.metricTypes[rec.metric] = rec.data.type;
      return;
    }
    if (rec.type !== 'Point' || !rec.data) return;
    const d = rec.data;
    const time = d.time ? Date.parse(d.time) : NaN;
    if (!Number.isFinite(time)) {
      this.malformed++;
      return;
    }
    const tags = d.tags ?? {};
    const meta = d.metadata ?? {};
    const vu = meta.vu ?? tags.vu;
    const iter = meta.iter ?? tags.iter;
    const key = vu !== undefined && iter !== undefined ? `${vu}:${iter}` : undefined;
    switch (rec.metric) {
      case 'iteration_duration': {
        if (tags.group === '::setup' || tags.group === '::teardown') return;
        const dur = Number(d.value);
        this.iterations.push({ endAbs: time, durationMs: dur, failedKind: null, key });
        if (this.firstIterationAbs === undefined || time - dur < this.firstIterationAbs) this.firstIterationAbs = time - dur;
        return;
      }
      case ERRORS_METRIC: {
        if (!(Number(d.value) > 0)) return;
        const kind = tags.kind || 'error';
        if (key) this.errorsByKey.set(key, kind);
        else this.unmatchedErrors[kind] = (this.unmatchedErrors[kind] ?? 0) + 1;
        return;
      }
      case 'vus':
        this.vus.push([time, Number(d.value)]);
        return;
      case 'dropped_iterations':
        this.dropped += Number(d.value) || 0;
        return;
    }
  }

  /** Iterations with their failure kind resolved, in end-time order. */
  resolved(): IterationRecord[] {
    const out = this.iterations.map((i) => ({ endAbs: i.endAbs, durationMs: i.durationMs, failedKind: (i.key && this.errorsByKey.get(i.key)) || null }));
    return out.sort((a, b) => a.endAbs - b.endAbs);
  }
}

export interface PhaseFigures {
  seconds: SecondSample[];
  tps: number;
  transactions: number;
  errors: number;
  errorsByKind: Record<string, number>;
  latencyMs: ReturnType<typeof latencyMs>;
  tpsPerSecond: ReturnType<typeof spread>;
  durationMs: number;
  histogram: string;
  warmupTransactions: number;
}

/**
 * The measured phase from iteration records: iterations that ended before `measureStartAbs` are
 * warmup; seconds count from `measureStartAbs`; the last partial second is emitted but not part of
 * the per-second spread — the rules of PhaseRecorder. `toRunMs` maps epoch ms to the run clock.
 */
export function measuredPhase(iterations: IterationRecord[], measureStartAbs: number, toRunMs: (abs: number) => number, extraErrors: Record<string, number> = {}): PhaseFigures {
  const total = newRecordingHistogram();
  const seconds: SecondSample[] = [];
  const perSecondTps: number[] = [];
  const errorsByKind: Record<string, number> = {};
  let transactions = 0;
  let errors = 0;
  let warmup = 0;
  let lastEnd = measureStartAbs;
  let current: { h: Histogram; errs: Record<string, number>; second: number } = { h: newRecordingHistogram(), errs: {}, second: 1 };
  const flush = (partial: boolean) => {
    const errs = current.errs;
    const n = Object.values(errs).reduce((a, b) => a + b, 0);
    if (partial && current.h.totalCount === 0 && n === 0) return;
    // A partial last bucket is flagged, spans up to the last completion and carries a per-second
    // rate, as PhaseRecorder does.
    const spanMs = partial ? Math.max(1, lastEnd - (measureStartAbs + (current.second - 1) * 1000)) : 1000;
    seconds.push({
      second: current.second,
      tMs: +toRunMs(measureStartAbs + (current.second - 1) * 1000 + spanMs).toFixed(1),
      tps: partial ? +((current.h.totalCount * 1000) / spanMs).toFixed(2) : current.h.totalCount,
      ...(partial ? { partial: true as const, spanMs: +spanMs.toFixed(1), count: current.h.totalCount } : {}),
      errors: n,
      errorsByKind: errs,
      latencyMs: latencyMs(current.h),
      hist: encode(current.h),
    });
    if (!partial) perSecondTps.push(current.h.totalCount);
    current = { h: newRecordingHistogram(), errs: {}, second: current.second + 1 };
  };
  for (const it of iterations) {
    if (it.endAbs < measureStartAbs) {
      warmup++;
      continue;
    }
    while (it.endAbs >= measureStartAbs + current.second * 1000) flush(false);
    lastEnd = Math.max(lastEnd, it.endAbs);
    if (it.failedKind) {
      errors++;
      errorsByKind[it.failedKind] = (errorsByKind[it.failedKind] ?? 0) + 1;
      current.errs[it.failedKind] = (current.errs[it.failedKind] ?? 0) + 1;
    } else {
      transactions++;
      recordMs(total, it.durationMs);
      recordMs(current.h, it.durationMs);
    }
  }
  flush(true);
  // Errors that could not be tied to their iteration (no vu/iter on the points): counted as errors
  // and taken off the committed transactions; their latency stays in the histogram.
  for (const [k, n] of Object.entries(extraErrors)) {
    errors += n;
    errorsByKind[k] = (errorsByKind[k] ?? 0) + n;
    transactions -= Math.min(transactions, n);
  }
  const durationMs = Math.max(1, lastEnd - measureStartAbs);
  return {
    seconds,
    tps: +((transactions * 1000) / durationMs).toFixed(2),
    transactions,
    errors,
    errorsByKind,
    latencyMs: latencyMs(total),
    tpsPerSecond: spread(perSecondTps),
    durationMs: Math.round(durationMs),
    histogram: encode(total),
    warmupTransactions: warmup,
  };
}

export interface ExportedSummary {
  metrics: Record<string, Record<string, unknown>>;
  thresholds: { metric: string; source: string; ok: boolean }[];
  thresholdsOk: boolean;
  checks: { path: string; name: string; passes: number; fails: number }[];
  iterations: number;
  droppedIterations: number;
  vusMax: number | null;
}

interface ExportGroup {
  name?: string;
  path?: string;
  groups?: Record<string, ExportGroup> | ExportGroup[];
  checks?: Record<string, { name?: string; path?: string; passes?: number; fails?: number }> | { name?: string; path?: string; passes?: number; fails?: number }[];
}

/** Reads a `--summary-export` document. */
export function parseSummaryExport(text: string): ExportedSummary {
  let doc: { metrics?: Record<string, Record<string, unknown>>; root_group?: ExportGroup };
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`k6 summary export is not JSON: ${(e as Error).message}`);
  }
  if (!doc || typeof doc !== 'object' || !doc.metrics || typeof doc.metrics !== 'object') throw new Error('k6 summary export has no "metrics" object');
  const metrics = doc.metrics;
  const thresholds: ExportedSummary['thresholds'] = [];
  for (const [metric, v] of Object.entries(metrics)) {
    const th = v.thresholds as Record<string, unknown> | undefined;
    if (!th) continue;
    // The export's value is "failed": true means the threshold was crossed. Newer handleSummary-shaped
    // data has {ok: bool} instead.
    for (const [source, failed] of Object.entries(th)) {
      const ok = typeof failed === 'object' && failed !== null ? Boolean((failed as { ok?: boolean }).ok) : !failed;
      thresholds.push({ metric, source, ok });
    }
  }
  const checks: ExportedSummary['checks'] = [];
  const walk = (g: ExportGroup | undefined, path: string) => {
    if (!g) return;
    const list = Array.isArray(g.checks) ? g.checks : Object.values(g.checks ?? {});
    for (const c of list) checks.push({ path: g.path ?? path, name: c.name ?? '', passes: Number(c.passes ?? 0), fails: Number(c.fails ?? 0) });
    const groups = Array.isArray(g.groups) ? g.groups : Object.values(g.groups ?? {});
    for (const sub of groups) walk(sub, sub.path ?? `${path}::${sub.name}`);
  };
  walk(doc.root_group, '');
  const num = (m: string, k: string): number | null => {
    const v = metrics[m]?.[k] ?? (metrics[m]?.values as Record<string, unknown> | undefined)?.[k];
    return typeof v === 'number' ? v : null;
  };
  return {
    metrics,
    thresholds,
    thresholdsOk: thresholds.every((t) => t.ok),
    checks,
    iterations: num('iterations', 'count') ?? 0,
    droppedIterations: num('dropped_iterations', 'count') ?? 0,
    vusMax: num('vus_max', 'max') ?? num('vus_max', 'value'),
  };
}

/** The failure kind of an iteration that threw (built-in runner): SQLSTATE first, then the message. */
export function exceptionKind(e: { code?: string; message?: string } | undefined): string {
  if (!e) return 'exception';
  const k = errorKind(e);
  return k === 'other' ? 'exception' : k;
}
