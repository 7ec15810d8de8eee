import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareCommand, compareRuns } from './index.ts';
import { writeRun, type SyntheticTarget } from '../../../test/fixtures/runs/synthetic.ts';
import { StatebenchError } from '../../errors.ts';

const FIXTURES = join(import.meta.dirname, '../../../test/fixtures/runs');

/** n evenly spaced values from a to b, interleaved so the series has no trend over time. */
function spreadOf(a: number, b: number, n: number): number[] {
  const v = Array.from({ length: n }, (_, i) => a + ((b - a) * i) / (n - 1));
  return v.map((_, i) => v[(i * 7) % n]);
}

let root: string;
const target = (over: Partial<SyntheticTarget>): SyntheticTarget => ({ name: 'baremetal/local', platform: 'baremetal', storage: 'local', latencyMs: 5, ...over });
const run = (name: string, seed: number, t: Partial<SyntheticTarget>) =>
  writeRun(join(root, name), { runId: `run-${name}`, profile: 'cmp', startedAt: '2026-11-20T10:00:00.000Z', seed, targets: [target(t)] });

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'sb-compare-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('compareRuns', () => {
  it('identical runs: no regression, every figure unchanged', async () => {
    const dir = run('same', 1, { tps: spreadOf(480, 520, 30), safety: {} });
    const cmp = await compareRuns(dir, join(dir, 'summary.json'));
    expect(cmp.regressions).toEqual([]);
    expect(new Set(cmp.changes.map((c) => c.verdict))).toEqual(new Set(['unchanged']));
    const tps = cmp.changes.find((c) => c.metric === 'oltp-tpcb TPS')!;
    expect(tps.test?.p).toBeCloseTo(1, 6);
  });

  it('two runs of the same distribution: no regression', async () => {
    const a = run('steady-a', 11, { tpsMean: 500, tpsNoise: 0.05, seconds: 30, safety: {} });
    const b = run('steady-b', 12, { tpsMean: 500, tpsNoise: 0.05, seconds: 30, safety: {} });
    const cmp = await compareRuns(a, b);
    expect(cmp.regressions.map((r) => `${r.metric}: ${r.reason}`)).toEqual([]);
  });

  it('a 20 % TPS drop with low noise is a regression', async () => {
    const base = spreadOf(495, 505, 30);
    const a = run('low-a', 21, { tps: base });
    const b = run('low-b', 21, { tps: base.map((x) => x * 0.8) });
    const cmp = await compareRuns(a, b);
    const tps = cmp.changes.find((c) => c.metric === 'oltp-tpcb TPS')!;
    expect(tps.verdict).toBe('regression');
    expect(tps.change).toBeCloseTo(-0.2, 2);
    expect(tps.test!.p).toBeLessThan(1e-6);
    expect(tps.reason).toMatch(/−20\.0 % \(worse\), Mann–Whitney p<0\.0001 \(n=30 vs 30\)/);
    expect(cmp.regressions.map((r) => r.metric)).toContain('oltp-tpcb TPS');
  });

  it('the same 20 % drop inside high noise is not significant and not a regression', async () => {
    const base = spreadOf(100, 900, 30);
    const a = run('noisy-a', 31, { tps: base });
    const b = run('noisy-b', 31, { tps: base.map((x) => x * 0.8) });
    const cmp = await compareRuns(a, b);
    const tps = cmp.changes.find((c) => c.metric === 'oltp-tpcb TPS')!;
    expect(tps.change).toBeCloseTo(-0.2, 2);
    expect(tps.verdict).toBe('not-significant');
    expect(tps.test!.p).toBeGreaterThan(0.05);
    expect(tps.reason).toContain('within the noise');
    expect(cmp.regressions.filter((r) => r.group === 'tps')).toEqual([]);
  });

  it('a drop within the minimum effect is unchanged even when significant; a lower threshold makes it count', async () => {
    const base = spreadOf(498, 502, 30);
    const a = run('small-a', 41, { tps: base });
    const b = run('small-b', 41, { tps: base.map((x) => x * 0.97) });
    const tps = (await compareRuns(a, b)).changes.find((c) => c.metric === 'oltp-tpcb TPS')!;
    expect(tps.test!.p).toBeLessThan(0.05);
    expect(tps.verdict).toBe('unchanged');
    const strict = (await compareRuns(a, b, { minEffect: 0.01 })).changes.find((c) => c.metric === 'oltp-tpcb TPS')!;
    expect(strict.verdict).toBe('regression');
  });

  it('one lost write is a regression regardless of statistics', async () => {
    const tps = spreadOf(480, 520, 30);
    const a = run('safe-a', 51, { tps, safety: {} });
    const b = run('safe-b', 51, { tps, safety: { lost: 1, lostIds: ['w0-000001'] } });
    const cmp = await compareRuns(a, b);
    expect(cmp.regressions.map((r) => r.metric)).toEqual(['lost writes']);
    expect(cmp.regressions[0].reason).toContain('regardless of statistics');
    expect(cmp.regressions[0].basis).toBe('count');
  });

  it('recovery: longer unavailability over enough cycles regresses; unrecovered cycles always do', async () => {
    const cycles = (ms: number[], recovered = true) => ms.map((m, i) => ({ type: 'node-crash', node: 'node-0', atS: 2 + i * 3, unavailableMs: m, recovered: i === ms.length - 1 ? recovered : true }));
    const a = run('rec-a', 61, { seconds: 40, faults: cycles([1000, 1100, 1050, 980, 1020, 1060]) });
    const b = run('rec-b', 61, { seconds: 40, faults: cycles([2000, 2100, 2050, 1980, 2020, 2060]) });
    const c = run('rec-c', 61, { seconds: 40, faults: cycles([1000, 1100, 1050, 980, 1020, 1060], false) });
    const slower = (await compareRuns(a, b)).changes.find((x) => x.metric.startsWith('writes unavailable'))!;
    expect(slower.verdict).toBe('regression');
    expect(slower.test!.exact).toBe(true);
    const unrecovered = await compareRuns(a, c);
    expect(unrecovered.regressions.map((r) => r.metric)).toContain('cycles not recovered');
  });

  it('I/O figures measured once need the larger single-value threshold', async () => {
    const tps = spreadOf(480, 520, 30);
    const io = { randWriteIops: 40000, seqWriteMiBps: 600, fsyncP50: 0.3, fsyncP99: 5 };
    const a = run('io-a', 71, { tps, io });
    const b = run('io-b', 71, { tps, io: { ...io, randWriteIops: 36000, fsyncP99: 7 } });
    const cmp = await compareRuns(a, b);
    expect(cmp.changes.find((c) => c.metric === 'rand 4k write IOPS')!.verdict).toBe('unchanged');
    const fsync = cmp.changes.find((c) => c.metric === 'fdatasync p99')!;
    expect(fsync.verdict).toBe('regression');
    expect(fsync.basis).toBe('single-value');
  });

  it('I/O figures from fio and from the built-in probe are not compared, and the reason names both tools', async () => {
    const tps = spreadOf(480, 520, 30);
    const io = { randWriteIops: 40000, seqWriteMiBps: 600, fsyncP50: 0.3, fsyncP99: 5 };
    const a = run('io-tool-a', 72, { tps, io });
    const b = run('io-tool-b', 72, { tps, io: { ...io, fsyncP99: 9, tool: 'builtin' } });
    const cmp = await compareRuns(a, b);
    const fsync = cmp.changes.find((c) => c.metric === 'fdatasync p99')!;
    expect(fsync.verdict).toBe('not-compared');
    expect(fsync.reason).toBe('not comparable: measured by different tools (fio-3.33 vs builtin)');
    expect(cmp.regressions).toEqual([]);
    // Two fio versions are the same instrument.
    const c = run('io-tool-c', 72, { tps, io: { ...io, fsyncP99: 9, tool: 'fio-3.35' } });
    expect((await compareRuns(a, c)).changes.find((x) => x.metric === 'fdatasync p99')!.verdict).toBe('regression');
  });

  it('a check that passed in the baseline and fails in the candidate is a regression', async () => {
    const tps = spreadOf(480, 520, 30);
    const check = (passed: boolean) => [{ name: 'availability.recovery-within', passed, value: passed ? 2000 : 40000, threshold: 30000, message: passed ? 'ok' : 'slowest recovery 40000 ms > 30000 ms' }];
    const a = run('chk-a', 81, { tps, checks: check(true) });
    const b = run('chk-b', 81, { tps, checks: check(false) });
    const cmp = await compareRuns(a, b);
    expect(cmp.regressions.map((r) => r.metric)).toEqual(['availability.recovery-within']);
  });

  it('compares the committed fixtures by target name and notes what is on one side only', async () => {
    const cmp = await compareRuns(join(FIXTURES, 'two-targets-faults'), join(FIXTURES, 'no-faults'));
    expect(cmp.notes.some((n) => n.includes('docker/local is in the baseline only'))).toBe(true);
    expect(cmp.changes.find((c) => c.metric === 'lost writes')!.verdict).toBe('not-compared');
  });
});

describe('compareCommand', () => {
  it('exits 0 without a regression and 1 with one; writes Markdown and a self-contained HTML file', async () => {
    const base = spreadOf(495, 505, 30);
    const a = run('cmd-a', 91, { tps: base, safety: {} });
    const b = run('cmd-b', 91, { tps: base.map((x) => x * 0.8), safety: {} });
    const ok = await compareCommand(a, a);
    expect(ok.exitCode).toBe(0);
    expect(ok.markdown).toContain('## No regression');

    const htmlFile = join(root, 'cmp.html');
    const bad = await compareCommand(a, b, { html: htmlFile, minEffect: 0.05, alpha: 0.05 });
    expect(bad.exitCode).toBe(1);
    expect(bad.markdown).toContain('## REGRESSION: ');
    expect(bad.markdown).toMatch(/\| oltp-tpcb TPS \| 500(\.0)? tx\/s \| 400(\.0)? tx\/s \| −20\.0 % \|/);
    expect(existsSync(htmlFile)).toBe(true);
    const html = readFileSync(htmlFile, 'utf8');
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain('<div class="verdict fail">');
    expect(html).toMatch(/<figure class="chart" data-chart="compare:baremetal\/local:oltp-tpcb TPS"><svg[\s\S]*?<path /);
  });

  it('rejects nonsense thresholds and missing run directories with usage errors', async () => {
    const a = run('usage-a', 101, { tps: spreadOf(480, 520, 10) });
    const e1 = await compareCommand(a, a, { minEffect: 5 }).catch((e) => e);
    expect(e1).toBeInstanceOf(StatebenchError);
    expect(e1.exitCode).toBe(2);
    expect(e1.message).toContain('minEffect 5');
    const e2 = await compareCommand(a, join(root, 'nope')).catch((e) => e);
    expect(e2).toBeInstanceOf(StatebenchError);
    expect(e2.exitCode).toBe(2);
  });
});
