import { describe, it, expect, afterEach } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  hostNoiseSample,
  parseLoadAvg,
  parsePidStat,
  parsePressure,
  parseProcStat,
  readHostSnapshot,
  runProcesses,
  summarizeHostNoise,
  type HostNoiseSample,
  type HostSnapshot,
  type ProcEntry,
} from './host-noise.ts';

const STAT = `cpu  1000 10 300 8000 200 5 5 50 0 0
cpu0 500 5 150 4000 100 2 2 25 0 0
cpu1 500 5 150 4000 100 3 3 25 0 0
intr 123
ctxt 456
procs_running 3
procs_blocked 1
`;

describe('parsers', () => {
  it('reads the aggregate cpu line and the run queue from /proc/stat', () => {
    expect(parseProcStat(STAT)).toEqual({ cpu: { user: 1000, nice: 10, system: 300, idle: 8000, iowait: 200, irq: 5, softirq: 5, steal: 50 }, procsRunning: 3, procsBlocked: 1 });
  });

  it('reads load averages, pressure lines and a pid stat whose command has spaces and parentheses', () => {
    expect(parseLoadAvg('2.51 1.98 1.40 4/321 12345\n')).toEqual({ load1: 2.51, load5: 1.98, load15: 1.4 });
    expect(parsePressure('some avg10=3.50 avg60=1.20 avg300=0.40 total=123\nfull avg10=1.25 avg60=0.00 avg300=0.00 total=9\n')).toEqual({ someAvg10: 3.5, fullAvg10: 1.25 });
    expect(parsePressure('some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n')).toEqual({ someAvg10: 0 });
    expect(parsePressure('')).toBeUndefined();
    const stat = '4242 (postgres: a (b) c) S 4200 4242 4242 0 -1 4194560 100 0 0 0 17 23 0 0 20 0 1 0 100 1000 10';
    expect(parsePidStat(stat)).toEqual({ state: 'S', ppid: 4200, ticks: 40, childTicks: 0 });
  });
});

function snapshot(tMs: number, cpu: Partial<ReturnType<typeof parseProcStat>['cpu']>, procs: Array<[number, ProcEntry]>, running = 2): HostSnapshot {
  return {
    tMs,
    stat: { cpu: { user: 0, nice: 0, system: 0, idle: 0, iowait: 0, irq: 0, softirq: 0, steal: 0, ...cpu }, procsRunning: running, procsBlocked: 0 },
    load: { load1: 1.5, load5: 1, load15: 1 },
    pressure: { memory: { someAvg10: 0.5 } },
    procs: new Map(procs),
  };
}

describe('hostNoiseSample', () => {
  it('splits busy CPU into the run and everything else, in cores', () => {
    // 2 cores, 1 s at 100 ticks/s: 200 ticks in all; 140 busy, 40 idle, 10 iowait, 10 steal.
    const prev = snapshot(0, {}, [
      [1, { ppid: 0, state: 'S', ticks: 0 }],
      [10, { ppid: 1, state: 'R', ticks: 1000 }],
      [11, { ppid: 10, state: 'R', ticks: 500 }],
      [20, { ppid: 1, state: 'R', ticks: 0 }],
    ]);
    const cur = snapshot(1000, { user: 120, system: 20, idle: 40, iowait: 10, steal: 10 }, [
      [1, { ppid: 0, state: 'S', ticks: 0 }],
      [10, { ppid: 1, state: 'R', ticks: 1060 }],
      [11, { ppid: 10, state: 'R', ticks: 520 }],
      // Started inside the interval, child of the run: counts from zero.
      [12, { ppid: 10, state: 'R', ticks: 5 }],
      [20, { ppid: 1, state: 'R', ticks: 65 }],
    ], 4);
    const s = hostNoiseSample(prev, cur, [10], 'measure', 2);
    expect(s).toMatchObject({ kind: 'host', phase: 'measure', intervalMs: 1000, cores: 2, runQueue: 4, load1: 1.5, memoryPressure: 0.5, cpuPressure: null });
    expect(s.busyPct).toBeCloseTo(70, 6);
    expect(s.iowaitPct).toBeCloseTo(5, 6);
    expect(s.stealPct).toBeCloseTo(5, 6);
    // Run: 60 + 20 + 5 = 85 ticks of 200 on 2 cores; the rest of the 140 busy ticks is outside.
    expect(s.runCpuCores).toBeCloseTo(0.85, 6);
    expect(s.outsideCpuCores).toBeCloseTo(0.55, 6);
    expect(s.busy).toBe(true);
    expect(hostNoiseSample(prev, cur, [1], 'measure', 2)).toMatchObject({ outsideCpuCores: 0, busy: false });
  });

  it('counts the last stretch of run processes that ended inside the interval, through their parent\'s child ticks', () => {
    // A postmaster (10) and a backend (11) of the run; the backend runs 30 more ticks, exits and is
    // reaped: the postmaster's child ticks grow by the backend's whole life (50 + 30).
    const prev = snapshot(0, {}, [
      [10, { ppid: 1, state: 'S', ticks: 10, childTicks: 0 }],
      [11, { ppid: 10, state: 'R', ticks: 50, childTicks: 0 }],
      [20, { ppid: 1, state: 'R', ticks: 0, childTicks: 0 }],
    ]);
    const cur = snapshot(1000, { user: 40, idle: 160 }, [
      [10, { ppid: 1, state: 'S', ticks: 11, childTicks: 80 }],
      [20, { ppid: 1, state: 'R', ticks: 9, childTicks: 0 }],
    ]);
    const s = hostNoiseSample(prev, cur, [10], 'measure', 2);
    // Run: 1 + (80 − 0 − 50) = 31 ticks of 200 on 2 cores; outside: 40 − 31 = 9.
    expect(s.runCpuCores).toBeCloseTo(0.31, 6);
    expect(s.outsideCpuCores).toBeCloseTo(0.09, 6);
    // A child born and reaped inside the interval counts whole; one reaped by a process outside the run does not.
    const born = snapshot(1000, { user: 40, idle: 160 }, [
      [10, { ppid: 1, state: 'S', ticks: 10, childTicks: 25 }],
      [11, { ppid: 10, state: 'R', ticks: 50, childTicks: 0 }],
      [20, { ppid: 1, state: 'R', ticks: 15, childTicks: 0 }],
    ]);
    expect(hostNoiseSample(prev, born, [10], 'measure', 2).runCpuCores).toBeCloseTo(0.25, 6);
    expect(hostNoiseSample(prev, cur, [11], 'measure', 2).runCpuCores).toBe(0);
  });

  it('runProcesses follows descendants only from the given roots', () => {
    const procs = new Map<number, ProcEntry>([
      [1, { ppid: 0, state: 'S', ticks: 0 }],
      [2, { ppid: 1, state: 'S', ticks: 0 }],
      [3, { ppid: 2, state: 'S', ticks: 0 }],
      [4, { ppid: 1, state: 'S', ticks: 0 }],
    ]);
    expect([...runProcesses(procs, [2])].sort()).toEqual([2, 3]);
    expect([...runProcesses(procs, [2, 4, 99])].sort()).toEqual([2, 3, 4]);
  });
});

describe('summarizeHostNoise', () => {
  const sample = (phase: string, outside: number, runQueue = 2): HostNoiseSample => ({
    kind: 'host',
    tMs: 0,
    intervalMs: 1000,
    phase,
    cores: 2,
    load1: 2,
    runQueue,
    busyPct: 50,
    iowaitPct: 1,
    stealPct: 0,
    runCpuCores: 1,
    outsideCpuCores: outside,
    cpuPressure: null,
    memoryPressure: null,
    ioPressure: null,
    busy: outside > 0.5,
  });

  it('flags a phase busy when more than a tenth of its samples were, and says why with the figures', () => {
    const quiet = [...Array(19).fill(0).map(() => sample('measure', 0.1, 3)), sample('measure', 1.2)];
    const busy = [...Array(8).fill(0).map(() => sample('load', 0.1)), sample('load', 0.9), sample('load', 1.1)];
    const [q, b] = summarizeHostNoise([...quiet, ...busy]);
    expect(q).toMatchObject({ phase: 'measure', samples: 20, durationMs: 20_000, busyShare: 0.05, busy: false, reasons: [], runQueueAboveCoresShare: 0.95 });
    expect(q.outsideCpuCores).toEqual({ median: 0.1, p95: 0.1, max: 1.2 });
    expect(b).toMatchObject({ phase: 'load', samples: 10, busyShare: 0.2, busy: true });
    expect(b.reasons[0]).toMatch(/^in 20 % of the phase's 10\.0 s \(2 of 10 samples\) processes outside the run used more than 0\.5 of 2 cores .*max 1\.10 cores/);
    expect(b.memoryPressure).toBeNull();
  });

  it('weighs samples by their length: a short busy slice at a phase boundary does not flag a quiet phase', () => {
    const slice = { ...sample('measure:oltp', 1.1), intervalMs: 150 };
    const quiet = [slice, ...Array(5).fill(0).map(() => sample('measure:oltp', 0.02))];
    const [q] = summarizeHostNoise(quiet);
    expect(q).toMatchObject({ samples: 6, durationMs: 5150, busy: false, reasons: [] });
    expect(q.busyShare).toBeCloseTo(150 / 5150, 3);
    // Two full busy seconds out of six are a busy phase whatever their position.
    const [b] = summarizeHostNoise([sample('run', 1.1), sample('run', 1.2), ...Array(4).fill(0).map(() => sample('run', 0.02))]);
    expect(b).toMatchObject({ busy: true, busyShare: 0.333 });
  });
});

describe('readHostSnapshot on this host', () => {
  let burner: ChildProcess | undefined;
  let idle: ChildProcess | undefined;
  afterEach(() => {
    burner?.kill('SIGKILL');
    idle?.kill('SIGKILL');
  });

  it('attributes a busy process to the run only when it descends from a run root', async () => {
    // A CPU burner and an idle process; between two real snapshots, the burner's ticks must be
    // outside the run when the idle process is the root, and inside when the burner is.
    burner = spawn(process.execPath, ['-e', 'const end = Date.now() + 20000; while (Date.now() < end) {}'], { stdio: 'ignore' });
    idle = spawn('sleep', ['30'], { stdio: 'ignore' });
    await sleep(300);
    const a = readHostSnapshot(0);
    await sleep(1500);
    const b = readHostSnapshot(1500);
    const burnerTicks = b.procs.get(burner.pid!)!.ticks - a.procs.get(burner.pid!)!.ticks;
    expect(burnerTicks).toBeGreaterThan(0);
    const cores = 2;
    const outsideIdle = hostNoiseSample(a, b, [idle.pid!], 'test', cores);
    const outsideBurner = hostNoiseSample(a, b, [burner.pid!], 'test', cores);
    const totalTicks = Object.values(b.stat.cpu).reduce((x, y) => x + y, 0) - Object.values(a.stat.cpu).reduce((x, y) => x + y, 0);
    const burnerCores = (burnerTicks / totalTicks) * cores;
    expect(outsideBurner.runCpuCores).toBeCloseTo(burnerCores, 2);
    expect(outsideIdle.runCpuCores).toBe(0);
    expect(outsideIdle.outsideCpuCores - outsideBurner.outsideCpuCores).toBeCloseTo(burnerCores, 2);
    expect(b.load.load1).toBeGreaterThanOrEqual(0);
    if (existsSync('/proc/pressure/memory')) expect(typeof b.pressure.memory?.someAvg10).toBe('number');
  });
});
