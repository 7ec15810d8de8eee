// What else the host was doing while a phase ran: load average and run queue, CPU steal and iowait
// from /proc/stat, CPU used by processes outside the run, and pressure stall information
// (/proc/pressure, where the kernel has it). One sample per interval, streamed as it is taken, and a
// summary per phase that flags a busy host with the figures behind the flag.
//
// "Outside the run" is measured, not guessed: the host's busy CPU time from /proc/stat minus the CPU
// time of the run's own processes (this process and its descendants, plus any root the platform
// adds: a container's init, a kind node), both in clock ticks over the same interval.
//
// Why the busy flag looks at CPU outside the run and not at the run queue alone: the run's own load
// generator and database keep the run queue at or above the core count on a small machine by
// design, so "run queue > cores" fires on every honest benchmark of a 2-core host. The run queue is
// still recorded (and the share of samples above the core count), as a figure, not as the flag.
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';

export interface CpuTicks {
  user: number;
  nice: number;
  system: number;
  idle: number;
  iowait: number;
  irq: number;
  softirq: number;
  steal: number;
}

export interface ProcStat {
  cpu: CpuTicks;
  /** Runnable tasks right now (the instantaneous run queue). */
  procsRunning: number;
  procsBlocked: number;
}

export interface LoadAvg {
  load1: number;
  load5: number;
  load15: number;
}

export interface Pressure {
  someAvg10: number;
  fullAvg10?: number;
}

export interface ProcEntry {
  ppid: number;
  state: string;
  /** utime + stime, clock ticks. */
  ticks: number;
  /** cutime + cstime: what children it has waited for used, over their whole lives. */
  childTicks?: number;
}

export interface HostSnapshot {
  tMs: number;
  stat: ProcStat;
  load: LoadAvg;
  pressure: { cpu?: Pressure; memory?: Pressure; io?: Pressure };
  procs: Map<number, ProcEntry>;
}

/** One line of samples.jsonl with kind "host". */
export interface HostNoiseSample {
  kind: 'host';
  /** Run-clock ms at the end of the interval. */
  tMs: number;
  intervalMs: number;
  phase: string;
  cores: number;
  load1: number;
  runQueue: number;
  /** Shares of all CPU time over the interval, percent. */
  busyPct: number;
  iowaitPct: number;
  stealPct: number;
  /** CPU used by processes of the run, and by everything else, in cores (1 = one CPU busy all the time). */
  runCpuCores: number;
  outsideCpuCores: number;
  /** PSI "some" avg10, percent; null where /proc/pressure is missing. */
  cpuPressure: number | null;
  memoryPressure: number | null;
  ioPressure: number | null;
  busy: boolean;
}

export interface BusyRule {
  /** Processes outside the run used more than this many cores… @default max(0.5, cores/4) */
  outsideCpuCores?: number;
  /** …or steal exceeded this percentage… @default 5 */
  stealPct?: number;
  /** …for more than this share of the phase's time. @default 0.1 */
  share?: number;
}

export function parseProcStat(text: string): ProcStat {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) throw new Error('/proc/stat has no aggregate "cpu" line');
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const num = (name: string) => Number(/^(\S+)\s+(\d+)/m.exec(text.split('\n').find((l) => l.startsWith(name + ' ')) ?? '')?.[2] ?? 0);
  return {
    cpu: { user: f[0] ?? 0, nice: f[1] ?? 0, system: f[2] ?? 0, idle: f[3] ?? 0, iowait: f[4] ?? 0, irq: f[5] ?? 0, softirq: f[6] ?? 0, steal: f[7] ?? 0 },
    procsRunning: num('procs_running'),
    procsBlocked: num('procs_blocked'),
  };
}

export function parseLoadAvg(text: string): LoadAvg {
  const [a, b, c] = text.trim().split(/\s+/).map(Number);
  return { load1: a, load5: b, load15: c };
}

/** /proc/pressure/<resource>: "some avg10=0.12 avg60=… total=…" and, for memory and io, "full …". */
export function parsePressure(text: string): Pressure | undefined {
  const avg = (kind: string) => {
    const m = new RegExp(`^${kind}\\s.*?avg10=([0-9.]+)`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const some = avg('some');
  if (some === undefined) return undefined;
  const full = avg('full');
  return full === undefined ? { someAvg10: some } : { someAvg10: some, fullAvg10: full };
}

/** /proc/<pid>/stat: state, ppid, utime + stime. The command may contain spaces and parentheses. */
export function parsePidStat(text: string): ProcEntry | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const rest = text.slice(close + 2).split(' ');
  // Fields after the command, 0-based: 0 state, 1 ppid, 11 utime, 12 stime, 13 cutime, 14 cstime.
  const ticks = Number(rest[11]) + Number(rest[12]);
  if (!Number.isFinite(ticks)) return undefined;
  const childTicks = Number(rest[13]) + Number(rest[14]);
  return { state: rest[0], ppid: Number(rest[1]), ticks, ...(Number.isFinite(childTicks) ? { childTicks } : {}) };
}

const total = (c: CpuTicks) => c.user + c.nice + c.system + c.idle + c.iowait + c.irq + c.softirq + c.steal;

/** The run's processes: the roots and every descendant of them in this snapshot. */
export function runProcesses(procs: Map<number, ProcEntry>, roots: number[]): Set<number> {
  const children = new Map<number, number[]>();
  for (const [pid, p] of procs) {
    const list = children.get(p.ppid);
    if (list) list.push(pid);
    else children.set(p.ppid, [pid]);
  }
  const out = new Set<number>();
  const stack = roots.filter((r) => procs.has(r));
  while (stack.length) {
    const pid = stack.pop()!;
    if (out.has(pid)) continue;
    out.add(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

/**
 * The interval between two snapshots as one sample. CPU of the run is the tick delta of processes
 * that belong to the run in the later snapshot (one that started inside the interval counts from
 * zero), plus what run processes that ended inside it used: the kernel adds a process's whole life
 * to its parent's child ticks when the parent waits for it, so a surviving run parent's growth in
 * child ticks, less what its ended children had already used at the earlier snapshot, is their last
 * stretch. Without this a workload's connections closing at the end of a measured phase (their
 * backends exit, the postmaster reaps them) would show as CPU outside the run. A process whose
 * parent is gone or outside the run is still lost.
 */
export function hostNoiseSample(prev: HostSnapshot, cur: HostSnapshot, runRoots: number[], phase: string, cores: number, rule: BusyRule = {}): HostNoiseSample {
  const dTotal = Math.max(1, total(cur.stat.cpu) - total(prev.stat.cpu));
  const d = (k: keyof CpuTicks) => Math.max(0, cur.stat.cpu[k] - prev.stat.cpu[k]);
  // Steal is time this machine wanted a CPU and did not get it: not work done by anyone here.
  const busyTicks = Math.max(0, dTotal - d('idle') - d('iowait') - d('steal'));
  const runNow = runProcesses(cur.procs, runRoots);
  const runBefore = runProcesses(prev.procs, runRoots);
  // Children of the run that ended since the earlier snapshot, by parent: what they had used by then.
  const endedByParent = new Map<number, number>();
  for (const pid of runBefore) {
    if (cur.procs.has(pid)) continue;
    const was = prev.procs.get(pid)!;
    endedByParent.set(was.ppid, (endedByParent.get(was.ppid) ?? 0) + was.ticks + (was.childTicks ?? 0));
  }
  let runTicks = 0;
  for (const pid of runNow) {
    const now = cur.procs.get(pid)!;
    const before = prev.procs.get(pid);
    runTicks += Math.max(0, now.ticks - (before?.ticks ?? 0));
    if (before && now.childTicks !== undefined && before.childTicks !== undefined) {
      runTicks += Math.max(0, now.childTicks - before.childTicks - (endedByParent.get(pid) ?? 0));
    }
  }
  const toCores = (ticks: number) => (ticks / dTotal) * cores;
  const runCpuCores = Math.min(toCores(busyTicks), toCores(runTicks));
  const outsideCpuCores = Math.max(0, toCores(busyTicks) - runCpuCores);
  const stealPct = (100 * d('steal')) / dTotal;
  const limits = busyLimits(cores, rule);
  const r3 = (x: number) => +x.toFixed(3);
  return {
    kind: 'host',
    tMs: +cur.tMs.toFixed(1),
    intervalMs: +(cur.tMs - prev.tMs).toFixed(1),
    phase,
    cores,
    load1: cur.load.load1,
    runQueue: cur.stat.procsRunning,
    busyPct: r3((100 * busyTicks) / dTotal),
    iowaitPct: r3((100 * d('iowait')) / dTotal),
    stealPct: r3(stealPct),
    runCpuCores: r3(runCpuCores),
    outsideCpuCores: r3(outsideCpuCores),
    cpuPressure: cur.pressure.cpu?.someAvg10 ?? null,
    memoryPressure: cur.pressure.memory?.someAvg10 ?? null,
    ioPressure: cur.pressure.io?.someAvg10 ?? null,
    busy: outsideCpuCores > limits.outsideCpuCores || stealPct > limits.stealPct,
  };
}

function busyLimits(cores: number, rule: BusyRule): Required<BusyRule> {
  return { outsideCpuCores: rule.outsideCpuCores ?? Math.max(0.5, cores / 4), stealPct: rule.stealPct ?? 5, share: rule.share ?? 0.1 };
}

export interface FigureSpread {
  median: number;
  p95: number;
  max: number;
}

export interface HostNoiseSummary {
  phase: string;
  /** Samples (intervals) in the phase. */
  samples: number;
  durationMs: number;
  cores: number;
  load1: FigureSpread;
  runQueue: FigureSpread;
  /** Share of samples whose run queue exceeded the core count (the run's own load counts too). */
  runQueueAboveCoresShare: number;
  iowaitPct: FigureSpread;
  stealPct: FigureSpread;
  runCpuCores: FigureSpread;
  outsideCpuCores: FigureSpread;
  memoryPressure: FigureSpread | null;
  cpuPressure: FigureSpread | null;
  /** Share of samples flagged busy. */
  busyShare: number;
  busy: boolean;
  /** Why the phase counts as busy, with figures; empty when it does not. */
  reasons: string[];
}

function fig(values: number[]): FigureSpread {
  const v = [...values].sort((a, b) => a - b);
  if (!v.length) return { median: 0, p95: 0, max: 0 };
  const rank = (p: number) => v[Math.min(v.length - 1, Math.max(0, Math.ceil(p * v.length) - 1))];
  return { median: rank(0.5), p95: rank(0.95), max: v[v.length - 1] };
}

/** Per-phase summaries of host samples, in the order phases first appear. */
export function summarizeHostNoise(samples: HostNoiseSample[], rule: BusyRule = {}): HostNoiseSummary[] {
  const phases = [...new Set(samples.map((s) => s.phase))];
  return phases.map((phase) => {
    const xs = samples.filter((s) => s.phase === phase);
    const cores = xs[0].cores;
    const limits = busyLimits(cores, rule);
    // A share of the phase's time, not of its samples: the slice closed at a phase boundary can be a
    // tenth of a second and carries the previous step's last work (a server stopping), so counted as
    // one sample of six it alone would flag a quiet phase.
    const totalMs = xs.reduce((a, s) => a + s.intervalMs, 0);
    const busyShare = totalMs > 0 ? xs.filter((s) => s.busy).reduce((a, s) => a + s.intervalMs, 0) / totalMs : 0;
    const pressure = (get: (s: HostNoiseSample) => number | null) => {
      const v = xs.map(get).filter((x): x is number => x !== null);
      return v.length ? fig(v) : null;
    };
    const outside = fig(xs.map((s) => s.outsideCpuCores));
    const steal = fig(xs.map((s) => s.stealPct));
    const busy = busyShare > limits.share;
    const reasons: string[] = [];
    if (busy) {
      const pct = (x: number) => `${Math.round(x * 100)} %`;
      reasons.push(
        `in ${pct(busyShare)} of the phase's ${(totalMs / 1000).toFixed(1)} s (${xs.filter((s) => s.busy).length} of ${xs.length} samples) processes outside the run used more than ${limits.outsideCpuCores} of ${cores} cores or steal was above ${limits.stealPct} % (outside the run: median ${outside.median.toFixed(2)}, max ${outside.max.toFixed(2)} cores; steal max ${steal.max.toFixed(1)} %)`,
      );
    }
    return {
      phase,
      samples: xs.length,
      durationMs: Math.round(totalMs),
      cores,
      load1: fig(xs.map((s) => s.load1)),
      runQueue: fig(xs.map((s) => s.runQueue)),
      runQueueAboveCoresShare: +(xs.filter((s) => s.runQueue > cores).length / xs.length).toFixed(3),
      iowaitPct: fig(xs.map((s) => s.iowaitPct)),
      stealPct: steal,
      runCpuCores: fig(xs.map((s) => s.runCpuCores)),
      outsideCpuCores: outside,
      memoryPressure: pressure((s) => s.memoryPressure),
      cpuPressure: pressure((s) => s.cpuPressure),
      busyShare: +busyShare.toFixed(3),
      busy,
      reasons,
    };
  });
}

/** Reads a snapshot of the host from procRoot (normally /proc). */
export function readHostSnapshot(tMs: number, procRoot = '/proc'): HostSnapshot {
  const read = (p: string) => readFileSync(`${procRoot}/${p}`, 'utf8');
  const maybe = (p: string) => {
    try {
      return parsePressure(read(p));
    } catch {
      return undefined;
    }
  };
  const procs = new Map<number, ProcEntry>();
  for (const entry of readdirSync(procRoot)) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const p = parsePidStat(read(`${entry}/stat`));
      if (p) procs.set(Number(entry), p);
    } catch {
      // The process ended between readdir and read.
    }
  }
  return {
    tMs,
    stat: parseProcStat(read('stat')),
    load: parseLoadAvg(read('loadavg')),
    pressure: { cpu: maybe('pressure/cpu'), memory: maybe('pressure/memory'), io: maybe('pressure/io') },
    procs,
  };
}

export interface HostNoiseSamplerOptions {
  now: () => number;
  emit: (s: HostNoiseSample) => void;
  /** Processes whose trees are the run; default: this process. Called at every sample, so roots may come and go. */
  runRoots?: () => number[];
  intervalMs?: number;
  procRoot?: string;
  rule?: BusyRule;
  cores?: number;
}

/**
 * Samples the host every interval while started; `phase()` labels what follows. Everything it
 * sampled stays in `samples` for the per-phase summary.
 */
export class HostNoiseSampler {
  readonly samples: HostNoiseSample[] = [];
  private prev?: HostSnapshot;
  private timer?: NodeJS.Timeout;
  private label = 'idle';
  private readonly cores: number;
  /** Reads of /proc that failed (a container without /proc/pressure is not one of them). */
  failures = 0;

  constructor(private readonly opts: HostNoiseSamplerOptions) {
    this.cores = opts.cores ?? Math.max(1, cpus().length);
  }

  start(phase: string): void {
    this.label = phase;
    this.prev = this.snapshot();
    const interval = this.opts.intervalMs ?? 1000;
    this.timer = setInterval(() => this.take(), interval);
    this.timer.unref();
  }

  /** Closes the current interval under the old label and starts labelling the next one. */
  phase(phase: string): void {
    if (phase === this.label) return;
    this.take();
    this.label = phase;
  }

  stop(): HostNoiseSummary[] {
    clearInterval(this.timer);
    this.timer = undefined;
    this.take();
    this.prev = undefined;
    return this.summaries();
  }

  summaries(): HostNoiseSummary[] {
    return summarizeHostNoise(this.samples, this.opts.rule);
  }

  private snapshot(): HostSnapshot | undefined {
    try {
      return readHostSnapshot(this.opts.now(), this.opts.procRoot);
    } catch {
      this.failures++;
      return undefined;
    }
  }

  private take(): void {
    const cur = this.snapshot();
    if (!cur) return;
    const prev = this.prev;
    this.prev = cur;
    // An interval shorter than a tenth of a second says nothing but scheduling jitter.
    if (!prev || cur.tMs - prev.tMs < 100) return;
    const s = hostNoiseSample(prev, cur, this.opts.runRoots?.() ?? [process.pid], this.label, this.cores, this.opts.rule);
    this.samples.push(s);
    this.opts.emit(s);
  }
}
