import { describe, it, expect } from 'vitest';
import { renderMarkdown } from './markdown.ts';
import { comparisonsOf, comparisonWarnings } from './ratios.ts';
import type { Summary, TargetSummary } from '../model/summary.ts';

function target(name: string, repetition: number, tps: number): TargetSummary {
  return {
    name,
    repetition,
    platform: name.split('/')[0],
    storage: 'local',
    storageSpec: {},
    engine: { kind: 'postgres', version: 'PostgreSQL 17.10', settings: {} },
    status: 'completed',
    io: { tool: 'fio-3.33', path: '/x', randWriteIops: 30_000 + repetition, seqWriteMiBps: 500, fsyncLatencyMs: { p50: 0.3, p99: 1 + repetition / 10 }, fsyncSamples: 1200 },
    workloads: [
      {
        name: 'oltp',
        kind: 'oltp-tpcb',
        tps,
        transactions: tps * 20,
        errors: 0,
        errorsByKind: {},
        latencyMs: { p50: 4000 / tps, p95: 8000 / tps, p99: 12000 / tps, max: 50, mean: 4000 / tps, min: 1 },
        tpsPerSecond: { min: tps - 50, median: tps, p95: tps + 40, max: tps + 50, count: 20 },
        durationMs: 20_000,
        clients: 4,
        edges: { startedBeforeWindow: 3, endedAfterWindow: 4 },
      },
    ],
    faults: [],
    checks: [],
  };
}

function summary(targets: TargetSummary[], repetitions: number): Summary {
  const s: Summary = {
    schemaVersion: 2,
    runId: 'r1',
    profile: 'container-vs-baremetal',
    baseline: 'baremetal/local',
    startedAt: '2026-12-01T00:00:00Z',
    finishedAt: '2026-12-01T00:10:00Z',
    status: 'completed',
    environment: { statebench: '0.1.0', node: 'v20', kernel: '6.1', cpuModel: 'x', cpus: 2, memoryBytes: 8 * 1024 ** 3, tools: {} },
    targets,
    repetitions,
    order: { scheme: 'interleaved', seed: null, sequence: targets.map((t) => `${t.name}#${t.repetition}`) },
    malformedLines: 0,
  };
  return { ...s, comparisons: comparisonsOf(s), warnings: comparisonWarnings(s) };
}

describe('renderMarkdown', () => {
  it('gives each ratio its interval and verdict, one row per repetition, and no single-run ratios', () => {
    const targets: TargetSummary[] = [];
    const base = [1400, 1390, 1410];
    const docker = [1290, 1300, 1285];
    for (let i = 0; i < 3; i++) targets.push(target('baremetal/local', i + 1, base[i]), target('docker/local', i + 1, docker[i]));
    const md = renderMarkdown(summary(targets, 3));
    expect(md).toContain('3 repetitions per target');
    expect(md).toContain('Order (interleaved): baremetal/local#1 → docker/local#1 → baremetal/local#2');
    expect(md).toContain('### docker/local vs baremetal/local');
    expect(md).toMatch(/- docker\/local oltp TPS is 7\.7 % lower than baremetal\/local \(95 % CI \d+\.\d–\d+\.\d % lower, paired by block, n=3 blocks\): worse/);
    expect(md).toContain('the 95 % interval is a paired t-interval on the per-block log ratios');
    // Values with unit, range and n; ratio; change with its interval; verdict.
    expect(md).toMatch(/\| oltp TPS \| 1,400 tx\/s \(1,390–1,410, n=3\) \| 1,291\.7 tx\/s \(1,285–1,300, n=3\) \| 0\.923× \| −7\.7 % \(−\d+\.\d % … −\d+\.\d %\) \| \*\*worse\*\* \|/);
    // The same fdatasync p99 in every block: the paired interval is exactly no change.
    expect(md).toMatch(/\| fdatasync p99 \| 1\.197 ms \(1\.1–1\.3, n=3\) .* \| ±0\.0 % \(±0\.0 % … ±0\.0 %\) \| no difference detectable \|/);
    expect(md).toContain('| seq write | 500 MiB/s (500–500, n=3) | 500 MiB/s (500–500, n=3) | 1.000× | ±0.0 % (±0.0 % … ±0.0 %) | no difference detectable |');
    expect(md).toContain('| docker/local #2 |');
    expect(md).toContain('3 started before, 4 ended after');
    expect(md).not.toMatch(/\(\d\.\d\d×\)/);
  });

  it('without a recorded block order, says the interval is Welch on unpaired repetitions', () => {
    const targets: TargetSummary[] = [];
    for (let i = 0; i < 3; i++) targets.push(target('baremetal/local', i + 1, [1400, 1390, 1410][i]), target('docker/local', i + 1, [1290, 1300, 1285][i]));
    const s = { ...summary(targets, 3), order: undefined };
    const md = renderMarkdown({ ...s, comparisons: comparisonsOf(s) });
    expect(md).toContain('the 95 % interval is Welch’s t on the logarithms of the per-repetition values (no block order recorded');
    expect(md).toMatch(/7\.7 % lower than baremetal\/local \(95 % CI \d+\.\d–\d+\.\d % lower, n=3\/3\)/);
  });

  it('gives the bulk-load and analytic figures per target with n and spread over repetitions', () => {
    const bulk = (t: TargetSummary, mib: number, cold: number): TargetSummary => ({
      ...t,
      workloads: [
        { ...t.workloads[0], name: 'load', kind: 'bulk-load', details: { mibPerSec: mib, rowsPerSec: mib * 1000, rowsLoaded: 1e6, walBytesPerDataByte: 1.25, checkpoints: { requested: 1, timed: 0 }, retries: { retriedChunks: 0 }, verification: { exact: true } } },
        { ...t.workloads[0], name: 'queries', kind: 'analytic', details: { scaleFactor: 1, rows: 1e6, answersMatch: true, queries: { q1: { coldMs: cold, warmMs: cold / 2, answer: 'x' } } } },
      ],
    });
    const targets = [bulk(target('baremetal/local', 1, 1), 100, 40), bulk(target('baremetal/local', 2, 1), 120, 50), bulk(target('baremetal/remote', 1, 1), 60, 90)];
    const md = renderMarkdown({ ...summary(targets, 2), baseline: 'baremetal/local' });
    expect(md).toContain('| target | workload | MiB/s | rows/s | WAL bytes per data byte |');
    expect(md).toContain('| baremetal/local | load | 109.5 MiB/s (100–120, n=2) | 109,545 rows/s (100,000–120,000, n=2) | 1.25 × (1.25–1.25, n=2) |');
    expect(md).toContain('| baremetal/remote | load | 60 MiB/s (n=1) |');
    expect(md).toContain('| target | workload | q1 cold | q1 warm |');
    expect(md).toContain('| baremetal/local | queries | 44.721 ms (40–50, n=2) | 22.361 ms (20–25, n=2) |');
  });

  it('with one repetition calls every ratio a single observation and gives no verdict', () => {
    const md = renderMarkdown(summary([target('baremetal/local', 1, 1400), target('docker/local', 1, 2184)], 1));
    expect(md).toContain('1 repetition per target');
    expect(md).toContain('- docker/local oltp TPS: 1.56× is a single observation (n=1/1 repetitions): no verdict');
    expect(md).toMatch(/\| oltp TPS \| 1,400 tx\/s \(n=1\) \| 2,184 tx\/s \(n=1\) \| 1\.560× \| \+56\.0 % \(no interval\) \| single observation, no verdict \|/);
    expect(md).not.toContain('**better**');
    expect(md).toContain('| docker/local |');
  });
});
