// Records transaction outcomes of a measured phase: a whole-run HDR histogram, and one sample per
// second (TPS, errors by kind, latency percentiles, the second's encoded histogram) streamed out as
// soon as the second is over.
import { newHistogram, recordMs, latencyMs, encode, type Histogram } from '../measure/histogram.ts';
import { spread } from '../measure/spread.ts';
import { LoadGeneratorMeter, type LoadGeneratorSecond } from './load-generator-cpu.ts';

export interface SecondSample {
  second: number;
  /** Run-clock ms at the end of the second. */
  tMs: number;
  tps: number;
  errors: number;
  errorsByKind: Record<string, number>;
  latencyMs: ReturnType<typeof latencyMs>;
  hist: string;
  /** statebench's own CPU over the second (see load-generator-cpu.ts); absent for the k6 binary. */
  loadGenerator?: LoadGeneratorSecond;
}

export class PhaseRecorder {
  readonly total: Histogram = newHistogram();
  private current: Histogram = newHistogram();
  private currentErrors: Record<string, number> = {};
  private second = 0;
  private timer?: NodeJS.Timeout;
  readonly perSecondTps: number[] = [];
  transactions = 0;
  errors = 0;
  readonly errorsByKind: Record<string, number> = {};
  startMs = 0;
  lastEndMs = 0;
  private readonly meter = new LoadGeneratorMeter();

  constructor(
    private readonly now: () => number,
    private readonly emit: (s: SecondSample) => void,
  ) {}

  start(): void {
    this.startMs = this.now();
    this.lastEndMs = this.startMs;
    this.meter.start();
    const tick = () => {
      this.flushSecond();
      const next = this.startMs + (this.second + 1) * 1000 - this.now();
      this.timer = setTimeout(tick, Math.max(0, next));
    };
    this.timer = setTimeout(tick, 1000);
  }

  ok(latency: number): void {
    recordMs(this.total, latency);
    recordMs(this.current, latency);
    this.transactions++;
    this.lastEndMs = this.now();
  }

  error(kind: string): void {
    this.errors++;
    this.errorsByKind[kind] = (this.errorsByKind[kind] ?? 0) + 1;
    this.currentErrors[kind] = (this.currentErrors[kind] ?? 0) + 1;
    this.lastEndMs = this.now();
  }

  private flushSecond(): void {
    const h = this.current;
    const errs = this.currentErrors;
    this.current = newHistogram();
    this.currentErrors = {};
    this.second++;
    this.perSecondTps.push(h.totalCount);
    this.emit({
      second: this.second,
      tMs: +this.now().toFixed(1),
      tps: h.totalCount,
      errors: Object.values(errs).reduce((a, b) => a + b, 0),
      errorsByKind: errs,
      latencyMs: latencyMs(h),
      hist: encode(h),
      loadGenerator: this.meter.lap(),
    });
  }

  /** Stops the ticker and flushes the partial last second (not counted in per-second TPS spread). */
  stop(): void {
    clearTimeout(this.timer);
    if (this.current.totalCount || Object.keys(this.currentErrors).length) {
      this.flushSecond();
      // A partial second would drag the per-second spread down.
      this.perSecondTps.pop();
    }
  }

  summary() {
    const durationMs = Math.max(1, this.lastEndMs - this.startMs);
    return {
      tps: +((this.transactions * 1000) / durationMs).toFixed(2),
      transactions: this.transactions,
      errors: this.errors,
      errorsByKind: { ...this.errorsByKind },
      latencyMs: latencyMs(this.total),
      tpsPerSecond: spread(this.perSecondTps),
      durationMs: Math.round(durationMs),
      histogram: encode(this.total),
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
