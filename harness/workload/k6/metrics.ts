// k6's four metric types with k6's aggregation rules, tag-filtered submetrics (`name{tag:value}`)
// and threshold expressions. The built-in runner keeps every metric here, so its end-of-test figures
// and threshold verdicts are computed the way k6 computes them; `exportSummary()` writes them in the
// shape of `k6 run --summary-export`, so one normalizer reads both runners' results.
import { StatebenchError, EXIT } from '../../errors.ts';

export type MetricType = 'counter' | 'gauge' | 'rate' | 'trend';

/** A threshold or metric declaration in a k6 script that k6 would refuse: a mistake in the script. */
export class K6ThresholdError extends StatebenchError {
  constructor(message: string) {
    super(message, EXIT.usage, 'Fix the thresholds or metric declarations in the k6 script (https://grafana.com/docs/k6/latest/using-k6/thresholds/)');
  }
}

/** Growable Float64 store for trend values: exact percentiles as k6 has them, 8 bytes a sample. */
class Values {
  private buf = new Float64Array(1024);
  length = 0;
  private sorted = true;
  push(v: number): void {
    if (this.length === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    if (this.length && v < this.buf[this.length - 1]) this.sorted = false;
    this.buf[this.length++] = v;
  }
  view(): Float64Array {
    const v = this.buf.subarray(0, this.length);
    if (!this.sorted) {
      v.sort();
      this.sorted = true;
    }
    return v;
  }
}

export class Sink {
  // counter: sum; gauge: last value; rate: non-zero samples; trend: values.
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;
  last = 0;
  nonZero = 0;
  private values?: Values;
  constructor(readonly type: MetricType) {
    if (type === 'trend') this.values = new Values();
  }

  add(v: number): void {
    this.count++;
    this.sum += v;
    this.last = v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
    if (v !== 0) this.nonZero++;
    this.values?.push(v);
  }

  /** k6's TrendSink.P: linear interpolation between the closest ranks. */
  percentile(p: number): number {
    if (!this.values || this.count === 0) return 0;
    const v = this.values.view();
    if (v.length === 1) return v[0];
    const i = p * (v.length - 1);
    const lo = v[Math.floor(i)];
    const hi = v[Math.ceil(i)];
    return lo + (hi - lo) * (i - Math.floor(i));
  }

  /** One aggregate by its threshold/summary name: avg, min, med, max, p(N), count, rate, value. */
  stat(name: string, durationMs: number): number | undefined {
    const empty = this.count === 0;
    switch (this.type) {
      case 'counter':
        if (name === 'count') return this.sum;
        if (name === 'rate') return durationMs > 0 ? (this.sum * 1000) / durationMs : 0;
        return undefined;
      case 'gauge':
        if (name === 'value') return empty ? 0 : this.last;
        if (name === 'min') return empty ? 0 : this.min;
        if (name === 'max') return empty ? 0 : this.max;
        return undefined;
      case 'rate':
        if (name === 'rate') return empty ? 0 : this.nonZero / this.count;
        if (name === 'passes') return this.nonZero;
        if (name === 'fails') return this.count - this.nonZero;
        return undefined;
      case 'trend': {
        if (name === 'avg') return empty ? 0 : this.sum / this.count;
        if (name === 'min') return empty ? 0 : this.min;
        if (name === 'max') return empty ? 0 : this.max;
        if (name === 'med') return this.percentile(0.5);
        if (name === 'count') return this.count;
        const m = /^p\((\d+(?:\.\d+)?)\)$/.exec(name);
        if (m) return this.percentile(Number(m[1]) / 100);
        return undefined;
      }
    }
  }
}

export interface ParsedThreshold {
  source: string;
  stat: string;
  op: '<' | '<=' | '>' | '>=' | '==' | '===' | '!=';
  value: number;
}

const STATS_BY_TYPE: Record<MetricType, RegExp> = {
  counter: /^(count|rate)$/,
  gauge: /^(value)$/,
  rate: /^(rate)$/,
  trend: /^(avg|min|max|med|p\(\d+(\.\d+)?\))$/,
};

export function parseThreshold(source: string): ParsedThreshold {
  const m = /^\s*(avg|min|max|med|count|rate|value|p\(\s*\d+(?:\.\d+)?\s*\))\s*(<=|>=|===|==|!=|<|>)\s*(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)\s*$/i.exec(source);
  if (!m) throw new K6ThresholdError(`threshold "${source}" is not of the form "<aggregation> <operator> <number>", e.g. "p(95)<200" or "rate>0.99"`);
  return { source, stat: m[1].replace(/\s+/g, '').toLowerCase(), op: m[2] as ParsedThreshold['op'], value: Number(m[3]) };
}

export function compare(a: number, op: ParsedThreshold['op'], b: number): boolean {
  switch (op) {
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    case '==':
    case '===':
      return a === b;
    case '!=':
      return a !== b;
  }
}

/** `http_req_duration{status:200,method:GET}` → name and tag filter. */
export function parseMetricKey(key: string): { name: string; tags: Record<string, string> } {
  const m = /^([^{}\s]+)(?:\{(.*)\})?$/.exec(key.trim());
  if (!m) throw new K6ThresholdError(`threshold metric "${key}" is not "name" or "name{tag:value}"`);
  const tags: Record<string, string> = {};
  if (m[2] !== undefined) {
    for (const part of m[2].split(',')) {
      if (!part.trim()) continue;
      const i = part.indexOf(':');
      if (i < 1) throw new K6ThresholdError(`threshold metric "${key}": tag filter "${part}" is not "tag:value"`);
      tags[part.slice(0, i).trim()] = part.slice(i + 1).trim().replace(/^["'](.*)["']$/, '$1');
    }
  }
  return { name: m[1], tags };
}

interface Submetric {
  key: string;
  tags: [string, string][];
  /** Created with the parent's type at the first matching sample. */
  sink?: Sink;
}

export interface ThresholdResult {
  metric: string;
  source: string;
  ok: boolean;
  /** The aggregate compared, or null when the metric never got a sample. */
  value: number | null;
  abortOnFail: boolean;
}

export class MetricStore {
  readonly types = new Map<string, { type: MetricType; isTime: boolean }>();
  private readonly sinks = new Map<string, Sink>();
  private readonly subs = new Map<string, Submetric[]>();
  private readonly thresholds: { key: string; name: string; parsed: ParsedThreshold; abortOnFail: boolean; delayAbortEvalMs: number }[] = [];

  define(name: string, type: MetricType, isTime: boolean): void {
    const prev = this.types.get(name);
    if (prev && prev.type !== type) throw new K6ThresholdError(`metric "${name}" is declared both as ${prev.type} and as ${type}`);
    if (!prev) {
      this.types.set(name, { type, isTime });
      this.sinks.set(name, new Sink(type));
    }
  }

  /** Registers thresholds; metrics they name must be defined by the end of the run. */
  addThresholds(thresholds: Record<string, { source: string; abortOnFail: boolean; delayAbortEvalMs: number }[]>): void {
    for (const [key, list] of Object.entries(thresholds)) {
      const { name, tags } = parseMetricKey(key);
      if (Object.keys(tags).length) {
        const subs = this.subs.get(name) ?? [];
        if (!subs.some((s) => s.key === key)) subs.push({ key, tags: Object.entries(tags) });
        this.subs.set(name, subs);
      }
      for (const t of list) this.thresholds.push({ key, name, parsed: parseThreshold(t.source), abortOnFail: t.abortOnFail, delayAbortEvalMs: t.delayAbortEvalMs });
    }
  }

  /** Checks thresholds against metric types once the script's metrics are known. */
  validateThresholds(): void {
    for (const t of this.thresholds) {
      const def = this.types.get(t.name);
      if (!def) throw new K6ThresholdError(`threshold on "${t.key}": no metric named "${t.name}" exists in this script`);
      if (!STATS_BY_TYPE[def.type].test(t.parsed.stat)) {
        throw new K6ThresholdError(`threshold "${t.parsed.source}" on "${t.key}": ${t.parsed.stat} is not an aggregation of a ${def.type} metric`);
      }
    }
  }

  /** Whether samples of `name` need their tags (a threshold filters on them). */
  needsTags(name: string): boolean {
    return this.subs.has(name);
  }

  add(name: string, value: number, tags: Record<string, string> | undefined): void {
    const sink = this.sinks.get(name);
    if (!sink) return;
    sink.add(value);
    const subs = this.subs.get(name);
    if (!subs || !tags) return;
    for (const s of subs) {
      if (!s.tags.every(([k, v]) => tags[k] === v)) continue;
      s.sink ??= new Sink(sink.type);
      s.sink.add(value);
    }
  }

  sink(key: string): Sink | undefined {
    if (this.sinks.has(key)) return this.sinks.get(key);
    const { name } = parseMetricKey(key);
    return this.subs.get(name)?.find((s) => s.key === key)?.sink;
  }

  evaluate(durationMs: number, elapsedMs = Infinity): ThresholdResult[] {
    return this.thresholds.map((t) => {
      const sink = this.sink(t.key);
      const value = sink && sink.count > 0 ? (sink.stat(t.parsed.stat, durationMs) ?? null) : null;
      // A threshold on a metric without samples passes, as in k6.
      const ok = value === null ? true : compare(value, t.parsed.op, t.parsed.value);
      return { metric: t.key, source: t.parsed.source, ok, value, abortOnFail: t.abortOnFail && elapsedMs >= t.delayAbortEvalMs };
    });
  }

  /** `k6 run --summary-export` shape: name → flat values, thresholds as source → failed. */
  exportSummary(durationMs: number, trendStats: string[], results: ThresholdResult[]): Record<string, Record<string, unknown>> {
    const out: Record<string, Record<string, unknown>> = {};
    const keys = [...this.sinks.keys(), ...[...this.subs.values()].flat().map((s) => s.key)];
    for (const key of keys) {
      const sink = this.sink(key);
      if (!sink) continue;
      const v: Record<string, unknown> = {};
      switch (sink.type) {
        case 'counter':
          v.count = sink.stat('count', durationMs);
          v.rate = sink.stat('rate', durationMs);
          break;
        case 'gauge':
          v.value = sink.stat('value', durationMs);
          v.min = sink.stat('min', durationMs);
          v.max = sink.stat('max', durationMs);
          break;
        case 'rate':
          v.passes = sink.nonZero;
          v.fails = sink.count - sink.nonZero;
          v.value = sink.stat('rate', durationMs);
          break;
        case 'trend':
          for (const st of trendStats) v[st] = sink.stat(st, durationMs);
          break;
      }
      const th = results.filter((r) => r.metric === key);
      if (th.length) v.thresholds = Object.fromEntries(th.map((r) => [r.source, !r.ok]));
      out[key] = v;
    }
    return out;
  }
}
