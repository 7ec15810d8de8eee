// Records transaction outcomes of a measured phase: a whole-run HDR histogram, and one sample per
// second (TPS, errors by kind, latency percentiles, the second's encoded histogram) streamed out as
// soon as the second is over.
//
// Edges of the measured window. A transaction counts only when it started and ended inside the
// window: one that began during warmup carries warmup time in its latency, and one that ends after
// the deadline (it was in flight when the clock ran out) is work outside the window — both are
// counted in `edges` and nowhere else. Seconds are bucketed by the completion timestamp, not by when
// the ticker happens to fire. A last bucket shorter than a second (a window that is not a whole
// number of seconds, or a phase stopped early) is emitted flagged `partial` with its span and its
// rate normalised to per second, and left out of the per-second spread; readers skip it where a
// figure needs whole seconds.
import { newRecordingHistogram, recordMs, latencyMs, encode, type Histogram } from '../measure/histogram.ts';
import { spread } from '../measure/spread.ts';
import { LoadGeneratorMeter, type LoadGeneratorSecond } from './load-generator-cpu.ts';

export interface SecondSample {
  second: number;
  /** Run-clock ms at the end of the second (of the bucket, for a partial one). */
  tMs: number;
  /** Transactions per second; for a partial bucket, its count scaled to a second. */
  tps: number;
  errors: number;
  errorsByKind: Record<string, number>;
  latencyMs: ReturnType<typeof latencyMs>;
  hist: string;
  /** Present on a bucket shorter than a second. */
  partial?: true;
  /** Length of a partial bucket, ms. */
  spanMs?: number;
  /** Committed transactions in a partial bucket (tps is normalised). */
  count?: number;
  /** statebench's own CPU over the second (see load-generator-cpu.ts); absent for the k6 binary. */
  loadGenerator?: LoadGeneratorSecond;
}

export interface PhaseEdges {
  /** Completed inside the window but started before it (during warmup). */
  startedBeforeWindow: number;
  /** Completed or failed after the window closed. */
  endedAfterWindow: number;
}

export interface PhaseRecorderOptions {
  /** Length of the measured window; outcomes after start + windowMs are outside it. Default: until stop(). */
  windowMs?: number;
}

export class PhaseRecorder {
  readonly total: Histogram = newRecordingHistogram();
  private current: Histogram = newRecordingHistogram();
  private currentErrors: Record<string, number> = {};
  /** Whole seconds flushed so far. */
  private second = 0;
  private timer?: NodeJS.Timeout;
  readonly perSecondTps: number[] = [];
  transactions = 0;
  errors = 0;
  readonly errorsByKind: Record<string, number> = {};
  readonly edges: PhaseEdges = { startedBeforeWindow: 0, endedAfterWindow: 0 };
  startMs = 0;
  private endMs = Infinity;
  private stoppedAtMs?: number;
  lastEndMs = 0;
  private readonly meter = new LoadGeneratorMeter();

  constructor(
    private readonly now: () => number,
    private readonly emit: (s: SecondSample) => void,
    private readonly opts: PhaseRecorderOptions = {},
  ) {}

  start(): void {
    this.startMs = this.now();
    this.endMs = this.opts.windowMs === undefined ? Infinity : this.startMs + this.opts.windowMs;
    this.lastEndMs = this.startMs;
    this.meter.start();
    const tick = () => {
      const t = Math.min(this.now(), this.endMs);
      this.advance(t);
      if (t >= this.endMs) return;
      const next = this.startMs + (this.second + 1) * 1000 - this.now();
      this.timer = setTimeout(tick, Math.max(0, next));
    };
    this.timer = setTimeout(tick, 1000);
  }

  ok(latency: number): void {
    const t = this.now();
    if (t > this.endMs || this.stoppedAtMs !== undefined) {
      this.edges.endedAfterWindow++;
      return;
    }
    if (t - latency < this.startMs) {
      this.edges.startedBeforeWindow++;
      return;
    }
    this.advance(t);
    recordMs(this.total, latency);
    recordMs(this.current, latency);
    this.transactions++;
  }

  error(kind: string): void {
    const t = this.now();
    if (t > this.endMs || this.stoppedAtMs !== undefined) {
      this.edges.endedAfterWindow++;
      return;
    }
    this.advance(t);
    this.errors++;
    this.errorsByKind[kind] = (this.errorsByKind[kind] ?? 0) + 1;
    this.currentErrors[kind] = (this.currentErrors[kind] ?? 0) + 1;
  }

  /** Index of the bucket t falls in; the instant the window closes belongs to its last second. */
  private bucketOf(t: number): number {
    const b = Math.floor((t - this.startMs) / 1000);
    return Number.isFinite(this.endMs) ? Math.min(b, Math.max(0, Math.ceil((this.endMs - this.startMs) / 1000) - 1)) : b;
  }

  /** Flushes every whole second before the one t falls in. */
  private advance(t: number): void {
    const bucket = this.bucketOf(t);
    while (this.second < bucket) this.flush(1000);
  }

  private flush(spanMs: number): void {
    const h = this.current;
    const errs = this.currentErrors;
    this.current = newRecordingHistogram();
    this.currentErrors = {};
    const partial = spanMs < 1000;
    const tMs = this.startMs + this.second * 1000 + spanMs;
    this.second++;
    if (!partial) this.perSecondTps.push(h.totalCount);
    this.emit({
      second: this.second,
      tMs: +tMs.toFixed(1),
      tps: partial ? +((h.totalCount * 1000) / spanMs).toFixed(2) : h.totalCount,
      errors: Object.values(errs).reduce((a, b) => a + b, 0),
      errorsByKind: errs,
      latencyMs: latencyMs(h),
      hist: encode(h),
      ...(partial ? { partial: true as const, spanMs: +spanMs.toFixed(1), count: h.totalCount } : {}),
      loadGenerator: this.meter.lap(),
    });
  }

  /** Stops the ticker, flushes the whole seconds left and a partial last bucket if it holds anything. */
  stop(): void {
    clearTimeout(this.timer);
    if (this.stoppedAtMs !== undefined) return;
    const t = Math.min(this.now(), this.endMs);
    this.stoppedAtMs = t;
    this.advance(t);
    const span = t - (this.startMs + this.second * 1000);
    if (span >= 1000) this.flush(1000);
    else if (span > 0 && (this.current.totalCount || Object.keys(this.currentErrors).length)) this.flush(span);
  }

  summary() {
    // The window, not the last completion: transactions per second of the measured window.
    const end = this.stoppedAtMs ?? Math.min(this.now(), this.endMs);
    const durationMs = Math.max(1, end - this.startMs);
    return {
      tps: +((this.transactions * 1000) / durationMs).toFixed(2),
      transactions: this.transactions,
      errors: this.errors,
      errorsByKind: { ...this.errorsByKind },
      latencyMs: latencyMs(this.total),
      tpsPerSecond: spread(this.perSecondTps),
      durationMs: Math.round(durationMs),
      histogram: encode(this.total),
      edges: { ...this.edges },
      loadGenerator: this.meter.summary(),
    };
  }
}

/** Sorts a driver error into a kind for errorsByKind. */
export function errorKind(e: unknown): string {
  const err = e as { code?: string; message?: string };
  switch (err.code) {
    case '40P01':
      return 'deadlock';
    case '40001':
      return 'serialization';
    case '57014':
      return 'timeout';
    case '57P01':
    case '57P02':
    case '57P03':
      return 'server-shutdown';
    case 'ECONNREFUSED':
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ETIMEDOUT':
      return 'connection';
  }
  const msg = err.message ?? '';
  if (/timeout/i.test(msg)) return 'timeout';
  if (/terminat|Connection|connect|closed|ended/i.test(msg)) return 'connection';
  if (err.code && /^[0-9A-Z]{5}$/.test(err.code)) return `sqlstate-${err.code}`;
  return 'other';
}
