import { describe, it, expect } from 'vitest';
import { comparisonsOf, comparisonWarnings, ratioEntry } from './ratios.ts';
import type { TargetSummary } from '../model/summary.ts';

function target(name: string, repetition: number, tps: number, over: Partial<TargetSummary> = {}): TargetSummary {
  return {
    name,
    repetition,
    platform: name.split('/')[0],
    storage: 'local',
    storageSpec: {},
    engine: { kind: 'postgres', settings: {} },
    status: 'completed',
    workloads: [
      {
        name: 'oltp',
        kind: 'oltp-tpcb',
        tps,
        transactions: tps * 20,
        errors: 0,
        errorsByKind: {},
        latencyMs: { p50: 4000 / tps, p95: 8000 / tps, p99: 12000 / tps, max: 50, mean: 4000 / tps, min: 1 },
        durationMs: 20_000,
        clients: 4,
      },
    ],
    faults: [],
    checks: [],
    ...over,
  };
}

const TPS = { group: 'tps' as const, metric: 'oltp TPS', unit: 'tx/s', better: 'higher' as const };

describe('ratioEntry', () => {
  it('states a difference with its interval when the interval excludes 1', () => {
    const e = ratioEntry(TPS, 'docker/local', 'baremetal/local', [1000, 1010, 990, 1005], [920, 930, 915, 925]);
    expect(e.verdict).toBe('worse');
    expect(e.method).toBe('welch-t-log');
    expect(e.ratio!).toBeCloseTo(0.9214, 4);
    expect(e.ci95!.hi).toBeLessThan(1);
    expect(e.text).toMatch(/^docker\/local oltp TPS is 7\.9 % lower than baremetal\/local \(95 % CI \d\.\d–\d\.\d % lower, n=4\/4\): worse$/);
  });

  it('says no difference is detectable, with the interval and the repetitions that would resolve 5 %', () => {
    const e = ratioEntry(TPS, 'docker/local', 'baremetal/local', [1000, 1150, 880], [1040, 900, 1100]);
    expect(e.verdict).toBe('no-difference');
    expect(e.ci95!.lo).toBeLessThan(1);
    expect(e.ci95!.hi).toBeGreaterThan(1);
    expect(e.repetitionsToResolve5pct).toBeGreaterThan(3);
    expect(e.text).toMatch(/no difference detectable at this noise \([+−]\d+\.\d %, 95 % CI −\d+\.\d % … \+\d+\.\d %, n=3\/3\); about \d+ repetitions per target would resolve 5 %$/);
  });

  it('with one repetition gives the ratio as a single observation and no verdict', () => {
    const e = ratioEntry(TPS, 'docker/local', 'baremetal/local', [1000], [1560]);
    expect(e).toMatchObject({ verdict: 'single-observation', method: 'single-observation', ci95: null });
    expect(e.ratio).toBeCloseTo(1.56, 12);
    expect(e.text).toContain('1.56× is a single observation (n=1/1 repetitions): no verdict');
  });

  it('a latency that rose is worse, a latency that fell is better', () => {
    const lat = { group: 'latency' as const, metric: 'oltp latency p99', unit: 'ms', better: 'lower' as const };
    expect(ratioEntry(lat, 'b', 'a', [10, 10.2, 9.9], [12, 12.1, 11.9]).verdict).toBe('worse');
    expect(ratioEntry(lat, 'b', 'a', [10, 10.2, 9.9], [8, 8.1, 7.9]).verdict).toBe('better');
  });
});

describe('comparisonsOf', () => {
  it('pairs every target with the baseline over completed repetitions, keeping the values', () => {
    const targets = [
      target('baremetal/local', 1, 1000),
      target('docker/local', 1, 900),
      target('baremetal/local', 2, 1010),
      target('docker/local', 2, 880, { status: 'failed' }),
      target('docker/local', 3, 910),
      target('baremetal/local', 3, 990),
    ];
    const c = comparisonsOf({ targets, baseline: 'baremetal/local' });
    const tps = c.find((x) => x.metric === 'oltp TPS')!;
    expect(tps).toMatchObject({ target: 'docker/local', baseline: 'baremetal/local', baselineValues: [1000, 1010, 990], targetValues: [900, 910] });
    // Recomputable from the values alone: the geometric-mean ratio.
    const gm = (xs: number[]) => Math.exp(xs.reduce((a, b) => a + Math.log(b), 0) / xs.length);
    expect(tps.ratio!).toBeCloseTo(gm([900, 910]) / gm([1000, 1010, 990]), 12);
    expect(c.map((x) => x.metric)).toEqual(['oltp TPS', 'oltp latency p50', 'oltp latency p95', 'oltp latency p99']);
  });
});

describe('comparisonsOf with a recorded block order', () => {
  const order = { scheme: 'randomized-blocks' as const, seed: 7, sequence: [] };
  // Each block's host state moves both targets alike (×1.0, ×0.7, ×1.3, ×0.9); docker is 8 % slower in every block.
  const drift = [1, 0.7, 1.3, 0.9];
  const targets = drift.flatMap((d, i) => [target('baremetal/local', i + 1, 1000 * d * (1 + 0.005 * (i % 2))), target('docker/local', i + 1, 920 * d)]);

  it('pairs repetitions by block, so drift the block shared cancels, and says so', () => {
    const tps = comparisonsOf({ targets, baseline: 'baremetal/local', order }).find((x) => x.metric === 'oltp TPS')!;
    expect(tps.method).toBe('paired-t-log');
    expect(tps.df).toBe(3);
    expect(tps.baselineRepetitions).toEqual([1, 2, 3, 4]);
    expect(tps.targetRepetitions).toEqual([1, 2, 3, 4]);
    expect(tps.verdict).toBe('worse');
    expect(tps.ci95!.hi).toBeLessThan(0.93);
    expect(tps.text).toMatch(/^docker\/local oltp TPS is 8\.\d % lower than baremetal\/local \(95 % CI \d\.\d–\d\.\d % lower, paired by block, n=4 blocks\): worse$/);
    // Recomputable from summary.json: the t-interval on the per-block log ratios.
    const d = tps.targetValues.map((v, i) => Math.log(v / tps.baselineValues[i]));
    const m = d.reduce((a, b) => a + b, 0) / d.length;
    const sd = Math.sqrt(d.reduce((a, b) => a + (b - m) ** 2, 0) / (d.length - 1));
    expect(Math.log(tps.ci95!.hi)).toBeCloseTo(m + (3.182446 * sd) / 2, 5);
    // Without the order the same values are unpaired, and the drift hides the 8 %.
    const welch = comparisonsOf({ targets, baseline: 'baremetal/local' }).find((x) => x.metric === 'oltp TPS')!;
    expect(welch.method).toBe('welch-t-log');
    expect(welch.verdict).toBe('no-difference');
  });

  it('leaves out a block one target did not complete', () => {
    const some = targets.map((t) => (t.name === 'docker/local' && t.repetition === 2 ? { ...t, status: 'failed' as const } : t));
    const tps = comparisonsOf({ targets: some, baseline: 'baremetal/local', order }).find((x) => x.metric === 'oltp TPS')!;
    expect(tps.method).toBe('paired-t-log');
    expect(tps.df).toBe(2);
    expect(tps.targetRepetitions).toEqual([1, 3, 4]);
    expect(tps.text).toContain('paired by block, n=3 blocks');
  });
});

describe('comparisonWarnings', () => {
  const grant = (cpuset: string | null, memoryBytes: number | null) => ({ cpuset, cpus: null, memoryBytes, mechanism: 'taskset' });
  it('warns when compared targets had different resources, and about busy repetitions with figures', () => {
    const a = target('baremetal/local', 1, 1000, { resources: { database: grant('0', 1024 ** 3), loadGenerator: grant('1', null) } });
    const b = target('docker/local', 1, 900, {
      resources: { database: grant('0-1', 1024 ** 3), loadGenerator: grant('1', null) },
      hostNoise: [
        {
          phase: 'measure',
          samples: 20,
          durationMs: 20_000,
          cores: 2,
          load1: { median: 3, p95: 4, max: 4 },
          runQueue: { median: 3, p95: 5, max: 6 },
          runQueueAboveCoresShare: 0.8,
          iowaitPct: { median: 1, p95: 2, max: 2 },
          stealPct: { median: 0, p95: 0, max: 0 },
          runCpuCores: { median: 1, p95: 1.2, max: 1.3 },
          outsideCpuCores: { median: 0.9, p95: 1, max: 1.1 },
          memoryPressure: null,
          cpuPressure: null,
          busyShare: 0.9,
          busy: true,
          reasons: ['in 90 % of the phase\'s 20.0 s (18 of 20 samples) processes outside the run used more than 0.5 of 2 cores'],
        },
      ],
    });
    const w = comparisonWarnings({ targets: [a, b], baseline: 'baremetal/local' });
    expect(w).toHaveLength(2);
    expect(w[0]).toBe('Targets gave the database different resources: baremetal/local: CPUs 0, 1024 MiB; docker/local: CPUs 0-1, 1024 MiB. Differences between them may come from that, not from the platform or storage.');
    expect(w[1]).toBe('Busy host in 1 of 1 measured phases — processes outside the run used more than a quarter of the cores (at least half a core) or steal exceeded 5 % in over a tenth of the phase: docker/local #1 measure (90 % of 20.0 s; outside the run median 0.90, max 1.10 of 2 cores; steal max 0.0 %). Figures measured then carry that host\'s noise.');
    expect(comparisonWarnings({ targets: [a, { ...a, name: 'x' }], baseline: 'baremetal/local' })).toEqual([]);
  });
});
