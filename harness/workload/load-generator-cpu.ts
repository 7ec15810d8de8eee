// The harness's own CPU use while it generates load. On a host where the database and statebench share
// the CPUs, a load generator near its limit caps the database's throughput, and the figures then
// measure statebench. Two limits: the main event loop (OLTP, bulk load and the k6 coordinator run on
// it; a loop busy ~all the time on ~a core of CPU cannot issue more) and the process's CPU set (worker
// threads included).
import { availableParallelism } from 'node:os';
import type { EventLoopUtilization } from 'node:perf_hooks';

/** Above this share of a limit the report warns. */
export const LOAD_GENERATOR_LIMIT = 0.8;

export interface LoadGeneratorSecond {
  /** Process CPU time over the second, in cores (1 = one core busy all second); all threads. */
  cpuCores: number;
  /** Share of the second the main event loop was busy (0–1). */
  eventLoop: number;
}

export interface LoadGeneratorSummary {
  /** CPUs this process may run on (its CPU set or affinity). */
  cpuSet: number;
  cpuCoresMean: number;
  cpuCoresMax: number;
  eventLoopMean: number;
  eventLoopMax: number;
  /**
   * The event loop busy and the process using most of a core, or the process using most of its CPU
   * set: above LOAD_GENERATOR_LIMIT either way.
   */
  saturated: boolean;
  /** For reports, when saturated. */
  warning?: string;
}

export class LoadGeneratorMeter {
  private cpu: NodeJS.CpuUsage = process.cpuUsage();
  private elu: EventLoopUtilization = performance.eventLoopUtilization();
  private at = performance.now();
  private readonly seconds: LoadGeneratorSecond[] = [];

  constructor(
    readonly cpuSet: number = availableParallelism(),
    private readonly clock: { cpuUsage(prev?: NodeJS.CpuUsage): NodeJS.CpuUsage; elu(prev?: EventLoopUtilization): EventLoopUtilization; now(): number } = {
      cpuUsage: (p) => process.cpuUsage(p),
      elu: (p) => performance.eventLoopUtilization(p),
      now: () => performance.now(),
    },
  ) {
    this.start();
  }

  /** Starts (or restarts) the measured phase. */
  start(): void {
    this.cpu = this.clock.cpuUsage();
    this.elu = this.clock.elu();
    this.at = this.clock.now();
    this.seconds.length = 0;
  }

  /** Use since the previous call (or start), kept for the summary. */
  lap(): LoadGeneratorSecond {
    const now = this.clock.now();
    const cpu = this.clock.cpuUsage(this.cpu);
    const elu = this.clock.elu(this.elu);
    const ms = Math.max(1, now - this.at);
    const s = { cpuCores: +((cpu.user + cpu.system) / 1000 / ms).toFixed(3), eventLoop: +(elu?.utilization ?? 0).toFixed(3) };
    this.cpu = this.clock.cpuUsage();
    this.elu = this.clock.elu();
    this.at = now;
    this.seconds.push(s);
    return s;
  }

  summary(): LoadGeneratorSummary {
    const xs = this.seconds;
    const mean = (f: (s: LoadGeneratorSecond) => number) => (xs.length ? +(xs.reduce((a, s) => a + f(s), 0) / xs.length).toFixed(3) : 0);
    const max = (f: (s: LoadGeneratorSecond) => number) => (xs.length ? Math.max(...xs.map(f)) : 0);
    const out: LoadGeneratorSummary = {
      cpuSet: this.cpuSet,
      cpuCoresMean: mean((s) => s.cpuCores),
      cpuCoresMax: max((s) => s.cpuCores),
      eventLoopMean: mean((s) => s.eventLoop),
      eventLoopMax: max((s) => s.eventLoop),
      saturated: false,
    };
    // Event-loop utilization is wall time: on an oversubscribed host a loop waiting for a CPU also
    // counts as busy. It is the limit only when the process also burns most of a core.
    const loop = out.eventLoopMean > LOAD_GENERATOR_LIMIT && out.cpuCoresMean > LOAD_GENERATOR_LIMIT;
    const cpu = out.cpuCoresMean > LOAD_GENERATOR_LIMIT * this.cpuSet;
    if (loop || cpu) {
      out.saturated = true;
      const why = [
        loop ? `its event loop was busy ${Math.round(out.eventLoopMean * 100)} % of the time` : '',
        cpu ? `it used ${out.cpuCoresMean} of ${this.cpuSet} CPUs` : '',
      ].filter(Boolean);
      out.warning = `figures may measure the load generator: ${why.join(' and ')} (limit ${Math.round(LOAD_GENERATOR_LIMIT * 100)} %)`;
    }
    return out;
  }
}
