import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareCommand, compareRuns } from './index.ts';
import { writeRun, type SyntheticTarget } from '../../../test/fixtures/runs/synthetic.ts';
import { StatebenchError } from '../../errors.ts';

const FIXTURES = join(import.meta.dirname, '../../../test/fixtures/runs');

let root: string;
const target = (over: Partial<SyntheticTarget>): SyntheticTarget => ({ name: 'baremetal/local', platform: 'baremetal', storage: 'local', latencyMs: 5, ...over });
const run = (name: string, seed: number, t: Partial<SyntheticTarget>) =>
  writeRun(join(root, name), { runId: `run-${name}`, profile: 'cmp', startedAt: '2026-11-20T10:00:00.000Z', seed, targets: [target(t)] });
/** One run with a repetition per mean TPS; each repetition 5 s of ±2 % per-second noise. */
const reps = (name: string, seed: number, means: number[], over: Partial<SyntheticTarget> = {}) =>
  writeRun(join(root, name), {
    runId: `run-${name}`,
    profile: 'cmp',
    startedAt: '2026-11-20T10:00:00.000Z',
    seed,
    targets: means.map((m, i) => target({ tpsMean: m, tpsNoise: 0.02, seconds: 5, repetition: i + 1, latencyMs: 2000 / m, ...over })),
  });

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'sb-compare-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('compareRuns over repetitions', () => {
  it('identical runs: no regression, every figure unchanged', async () => {
    const dir = reps('same', 1, [500, 510, 495], { safety: {} });
    const cmp = await compareRuns(dir, join(dir, 'summary.json'));
    expect(cmp.regressions).toEqual([]);
    expect(new Set(cmp.changes.map((c) => c.verdict))).toEqual(new Set(['unchanged']));
    const tps = cmp.changes.find((c) => c.metric === 'oltp-tpcb TPS')!;
    expect(tps.basis).toBe('one-run');
    expect(tps.change).toBeCloseTo(0, 12);
    expect(tps.samples!.baseline).toHaveLength(3);
  });

  it('accepts repetitions of one target that differ several-fold: each is checked against its own seconds', async () => {
    const dir = reps('spread', 2, [500, 100, 520]);
    const cmp = await compareRuns(dir, dir);
    expect(cmp.changes.find((c) => c.metric === 'oltp-tpcb TPS')!.samples!.baseline.map(Math.round)).toEqual([500, 100, 520].map((x) => expect.closeTo(x, -1)));
  });

  it('two runs of the same distribution: no regression', async () => {
    const a = reps('steady-a', 11, [500, 480, 515]);
    const b = reps('steady-b', 12, [505, 490, 498]);
    const cmp = await compareRuns(a, b);
    expect(cmp.regressions.map((r) => `${r.metric}: ${r.reason}`)).toEqual([]);
  });

  it('one run a side: a 20 % drop that every repetition shows gets no verdict, and the reason says what to give instead', async () => {
    const a = reps('low-a', 21, [500, 505, 495]);
    const b = reps('low-b', 22, [400, 404, 396]);
    const cmp = await compareRuns(a, b);
    const tps = cmp.changes.find((c) => c.metric === 'oltp-tpcb TPS')!;
    expect(tps.basis).toBe('one-run');
    expect(tps.verdict).toBe('not-significant');
    expect(tps.interval).toBeUndefined();
    expect(tps.reason).toMatch(/^−(19|20)\.\d %: one run a side cannot separate run-to-run drift from a change; give ≥ 2 runs a side \(compare a1,a2 b1,b2\), or a history of baseline runs \(compare h1,h2,h3 candidate\); the repetitions alone give 95 % CI −2\d\.\d % … −1\d\.\d % \(n=3 vs 3\), which leaves out the drift between runs$/);
    expect(cmp.regressions).toEqual([]);
    expect(cmp.notes.some((n) => n.startsWith('One run a side:'))).toBe(true);
  });

  it('with runs as the unit, a 20 % drop that every run shows is a regression; inside large run-to-run noise it is not', async () => {
    const a = [reps('low-a1', 23, [500, 505, 495]), reps('low-a2', 24, [510, 512, 508]), reps('low-a3', 25, [490, 494, 488])];
    const b = [reps('low-b1', 26, [400, 404, 396]), reps('low-b2', 27, [408, 410, 405]), reps('low-b3', 28, [392, 395, 391])];
    const tps = (await compareRuns(a, b)).changes.find((c) => c.metric === 'oltp-tpcb TPS')!;
    expect(tps.verdict).toBe('regression');
    expect(tps.interval).toMatchObject({ method: 'welch-t-log', of: 'runs', n: { baseline: 3, candidate: 3 } });
    expect(tps.interval!.hi).toBeLessThan(0.85);
    expect(tps.reason).toMatch(/^−(19|20)\.\d % \(worse; 95 % CI −2\d\.\d % … −1\d\.\d %, n=3 vs 3 runs\)$/);
    const na = [reps('noisy-a1', 31, [300, 301, 299]), reps('noisy-a2', 32, [700, 702, 698]), reps('noisy-a3', 33, [500, 500, 500])];
    const nb = [reps('noisy-b1', 34, [240, 241, 239]), reps('noisy-b2', 35, [560, 562, 558]), reps('noisy-b3', 36, [400, 400, 400])];
    const noisy = (await compareRuns(na, nb)).changes.find((c) => c.metric === 'oltp-tpcb TPS')!;
    expect(noisy.change!).toBeCloseTo(-0.2, 2);
    expect(noisy.verdict).toBe('not-significant');
    expect(noisy.reason).toContain('the interval includes no change, within the noise');
  });

  it('a consistent drop within the minimum effect is unchanged; a lower threshold makes it count', async () => {
    const a = [reps('small-a1', 41, [500, 501, 499]), reps('small-a2', 43, [502, 503, 501])];
    const b = [reps('small-b1', 42, [485, 486, 484]), reps('small-b2', 44, [487, 488, 486])];
    const tps = (await compareRuns(a, b)).changes.find((c) => c.metric === 'oltp-tpcb TPS')!;
    expect(tps.interval!.hi).toBeLessThan(1);
    expect(tps.verdict).toBe('unchanged');
    expect(tps.reason).toContain('within the 5.0 % minimum effect');
    const strict = (await compareRuns(a, b, { minEffect: 0.01 })).changes.find((c) => c.metric === 'oltp-tpcb TPS')!;
    expect(strict.verdict).toBe('regression');
  });

  it('a history of baseline runs against one candidate run: the prediction interval of a new run', async () => {
    const history = [run('hist-a1', 51, { tpsMean: 500, tpsNoise: 0.001, seconds: 30 }), run('hist-a2', 52, { tpsMean: 520, tpsNoise: 0.001, seconds: 30 }), run('hist-a3', 53, { tpsMean: 485, tpsNoise: 0.001, seconds: 30 })];
    const within = run('hist-b', 54, { tpsMean: 470, tpsNoise: 0.001, seconds: 30 });
    const slow = run('hist-c', 55, { tpsMean: 350, tpsNoise: 0.001, seconds: 30 });
    const ok = (await compareRuns(history, within)).changes.find((x) => x.metric === 'oltp-tpcb TPS')!;
    expect(ok.interval).toMatchObject({ method: 'prediction-t-log', of: 'runs', n: { baseline: 3, candidate: 1 }, df: 2 });
    expect(ok.verdict).toBe('not-significant');
    const bad = (await compareRuns(history, slow)).changes.find((x) => x.metric === 'oltp-tpcb TPS')!;
    expect(bad.verdict).toBe('regression');
    expect(bad.reason).toMatch(/^−30\.\d % \(worse; 95 % prediction interval of one run from 3 runs −\d\d\.\d % … −\d+\.\d %, n=3 vs 1 runs\)$/);
    // The same history on the candidate side gives the mirrored interval.
    const back = (await compareRuns(slow, history)).changes.find((x) => x.metric === 'oltp-tpcb TPS')!;
    expect(back.interval!.lo).toBeCloseTo(1 / bad.interval!.hi, 9);
    expect(back.verdict).toBe('improvement');
  });

  it('pools the repetitions of several runs per side, as for a history', async () => {
    const a = [run('pool-a1', 61, { tpsMean: 500, seconds: 5 }), run('pool-a2', 62, { tpsMean: 505, seconds: 5 }), run('pool-a3', 63, { tpsMean: 495, seconds: 5 })];
    const b = [run('pool-b1', 64, { tpsMean: 400, seconds: 5 }), run('pool-b2', 65, { tpsMean: 404, seconds: 5 }), run('pool-b3', 66, { tpsMean: 398, seconds: 5 })];
    const tps = (await compareRuns(a, b)).changes.find((c) => c.metric === 'oltp-tpcb TPS')!;
    expect(tps.basis).toBe('interval');
    expect(tps.interval!.n).toEqual({ baseline: 3, candidate: 3 });
    expect(tps.verdict).toBe('regression');
  });

  it('on a busy host a clear drop is reported without a verdict; --busy-host ignore judges by the interval alone', async () => {
    const a = [reps('busy-a', 75, [500, 505, 495], { outsideCpuCores: 1.6 }), reps('busy-a2', 78, [510, 506, 508], { outsideCpuCores: 1.6 })];
    const b = [reps('busy-b', 76, [400, 404, 396]), reps('busy-b2', 79, [405, 401, 403])];
    const declined = (await compareRuns(a, b, { busyHost: 'decline' })).changes.find((c) => c.metric === 'oltp-tpcb TPS')!;
    expect(declined.verdict).toBe('not-significant');
    expect(declined.interval!.hi).toBeLessThan(0.9);
    expect(declined.reason).toContain('but the host was busy in 6 of 6 measured phases (processes outside the run: median 1.60 cores)');
    const judged = (await compareRuns(a, b, { busyHost: 'ignore' })).changes.find((c) => c.metric === 'oltp-tpcb TPS')!;
    expect(judged.verdict).toBe('regression');
    expect(judged.reason).toContain('; host busy in 6 of 6 measured phases (processes outside the run: median 1.60 cores)');
    // A quiet host (under half a core outside the run) keeps the verdict.
    const q = [reps('quiet-a', 77, [500, 505, 495], { outsideCpuCores: 0.2 }), reps('quiet-a2', 80, [510, 506, 508], { outsideCpuCores: 0.2 })];
    expect((await compareRuns(q, b, { busyHost: 'decline' })).changes.find((c) => c.metric === 'oltp-tpcb TPS')!.verdict).toBe('regression');
  });

  it('with two or more runs a side, each run is one observation: a shift between runs is not hidden by tight repetitions', async () => {
    // Repetitions agree within each run, but the runs of each side scatter by ±15 %.
    const a = [reps('runs-a1', 81, [500, 501, 499]), reps('runs-a2', 82, [430, 431, 429]), reps('runs-a3', 83, [575, 576, 574])];
    const b = [reps('runs-b1', 84, [470, 471, 469]), reps('runs-b2', 85, [400, 401, 399]), reps('runs-b3', 86, [540, 541, 539])];
    const tps = (await compareRuns(a, b)).changes.find((c) => c.metric === 'oltp-tpcb TPS')!;
    expect(tps.interval!.n).toEqual({ baseline: 3, candidate: 3 });
    expect(tps.reason).toContain('n=3 vs 3 runs');
    expect(tps.verdict).toBe('not-significant');
    // One run a side would look far more certain than it is through its repetitions: no verdict.
    const one = (await compareRuns(a[0], b[0])).changes.find((c) => c.metric === 'oltp-tpcb TPS')!;
    expect(one.basis).toBe('one-run');
    expect(one.reason).toContain('which leaves out the drift between runs');
  });

  it('one lost write is a regression regardless of statistics', async () => {
    const a = reps('safe-a', 71, [500, 505, 495], { safety: {} });
    const b = writeRun(join(root, 'safe-b'), {
      runId: 'run-safe-b',
      profile: 'cmp',
      startedAt: '2026-11-20T10:00:00.000Z',
      seed: 72,
      targets: [500, 505, 495].map((m, i) => target({ tpsMean: m, tpsNoise: 0.02, seconds: 5, repetition: i + 1, latencyMs: 4, safety: i === 1 ? { lost: 1, lostIds: ['w0-000001'] } : {} })),
    });
    const cmp = await compareRuns(a, b);
    expect(cmp.regressions.map((r) => r.metric)).toEqual(['lost writes']);
    expect(cmp.regressions[0].reason).toContain('regardless of statistics');
    expect(cmp.regressions[0].basis).toBe('count');
  });

  it('recovery of single runs: longer unavailability over enough cycles regresses by a rank test over cycles; unrecovered cycles always do', async () => {
    const cycles = (ms: number[], recovered = true) => ms.map((m, i) => ({ type: 'node-crash', node: 'node-0', atS: 2 + i * 3, unavailableMs: m, recovered: i === ms.length - 1 ? recovered : true }));
    const a = run('rec-a', 81, { seconds: 40, faults: cycles([1000, 1100, 1050, 980, 1020, 1060]) });
    const b = run('rec-b', 81, { seconds: 40, faults: cycles([2000, 2100, 2050, 1980, 2020, 2060]) });
    const c = run('rec-c', 81, { seconds: 40, faults: cycles([1000, 1100, 1050, 980, 1020, 1060], false) });
    const slower = (await compareRuns(a, b)).changes.find((x) => x.metric.startsWith('writes unavailable'))!;
    expect(slower.verdict).toBe('regression');
    expect(slower.basis).toBe('rank-test');
    expect(slower.test!.exact).toBe(true);
    const unrecovered = await compareRuns(a, c);
    expect(unrecovered.regressions.map((r) => r.metric)).toContain('cycles not recovered');
  });

  it('recovery with several runs a side: each run is one observation (its median over cycles), as for TPS', async () => {
    const cycles = (ms: number[]) => ms.map((m, i) => ({ type: 'node-crash', node: 'node-0', atS: 2 + i * 3, unavailableMs: m, recovered: true }));
    const side = (name: string, seed: number, runs: number[][]) => runs.map((ms, i) => run(`${name}${i}`, seed + i, { seconds: 20, faults: cycles(ms) }));
    const a = side('rec-runs-a', 101, [[1000, 1040, 990], [1100, 1060, 1080], [1020, 1010, 1050]]);
    const slower = side('rec-runs-b', 111, [[1500, 1560, 1490], [1620, 1580, 1600]]);
    const same = side('rec-runs-c', 121, [[1010, 1050, 1000], [1090, 1070, 1030]]);
    const worse = (await compareRuns(a, slower)).changes.find((x) => x.metric.startsWith('writes unavailable'))!;
    expect(worse).toMatchObject({ metric: 'writes unavailable per cycle (median per run)', basis: 'interval', verdict: 'regression' });
    expect(worse.interval).toMatchObject({ of: 'runs', n: { baseline: 3, candidate: 2 } });
    expect(worse.samples).toEqual({ baseline: [1000, 1080, 1020], candidate: [1500, 1600] });
    const unchanged = (await compareRuns(a, same)).changes.find((x) => x.metric.startsWith('writes unavailable'))!;
    expect(unchanged.verdict).not.toBe('regression');
    // A history of runs against one run: the prediction interval of one new run.
    const one = (await compareRuns(a, slower.slice(0, 1))).changes.find((x) => x.metric.startsWith('writes unavailable'))!;
    expect(one.interval).toMatchObject({ method: 'prediction-t-log', of: 'runs' });
    expect(one.verdict).toBe('regression');
  });

  it('I/O figures: no verdict with one run a side, the interval over runs with two', async () => {
    const io = { randWriteIops: 40000, seqWriteMiBps: 600, fsyncP50: 0.3, fsyncP99: 5 };
    const a = run('io-a', 91, { seconds: 5, io });
    const b = run('io-b', 91, { seconds: 5, io: { ...io, randWriteIops: 36000, fsyncP99: 7 } });
    const cmp = await compareRuns(a, b);
    const fsync = cmp.changes.find((c) => c.metric === 'fdatasync p99')!;
    expect(fsync).toMatchObject({ basis: 'one-run', verdict: 'not-significant' });
    const ra = [run('io-ra1', 92, { seconds: 5, io }), run('io-ra2', 92, { seconds: 5, io: { ...io, randWriteIops: 40400 } })];
    const rb = [run('io-rb1', 93, { seconds: 5, io: { ...io, randWriteIops: 36000 } }), run('io-rb2', 93, { seconds: 5, io: { ...io, randWriteIops: 36300 } })];
    const iops = (await compareRuns(ra, rb)).changes.find((c) => c.metric === 'rand 4k write IOPS')!;
    expect(iops.basis).toBe('interval');
    expect(iops.verdict).toBe('regression');
  });

  it('I/O figures from fio and from the built-in probe are not compared, and the reason names both tools', async () => {
    const io = { randWriteIops: 40000, seqWriteMiBps: 600, fsyncP50: 0.3, fsyncP99: 5 };
    const a = run('io-tool-a', 72, { seconds: 5, io });
    const b = run('io-tool-b', 72, { seconds: 5, io: { ...io, fsyncP99: 9, tool: 'builtin' } });
    const cmp = await compareRuns(a, b);
    const fsync = cmp.changes.find((c) => c.metric === 'fdatasync p99')!;
    expect(fsync.verdict).toBe('not-compared');
    expect(fsync.reason).toBe('not comparable: measured by different tools (fio-3.33 vs builtin)');
    expect(cmp.regressions).toEqual([]);
    // Two fio versions are the same instrument.
    const c = run('io-tool-c', 72, { seconds: 5, io: { ...io, fsyncP99: 9, tool: 'fio-3.35' } });
    expect((await compareRuns(a, c)).changes.find((x) => x.metric === 'fdatasync p99')!.basis).toBe('one-run');
  });

  it('a check that passed in the baseline and fails in the candidate is a regression', async () => {
    const check = (passed: boolean) => [{ name: 'availability.recovery-within', passed, value: passed ? 2000 : 40000, threshold: 30000, message: passed ? 'ok' : 'slowest recovery 40000 ms > 30000 ms' }];
    const a = run('chk-a', 101, { seconds: 5, checks: check(true) });
    const b = run('chk-b', 101, { seconds: 5, checks: check(false) });
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
    const a = [reps('cmd-a', 111, [500, 505, 495], { safety: {} }), reps('cmd-a2', 113, [510, 508, 512], { safety: {} })];
    const b = [reps('cmd-b', 112, [400, 404, 396], { safety: {} }), reps('cmd-b2', 114, [405, 402, 401], { safety: {} })];
    const ok = await compareCommand(a, a);
    expect(ok.exitCode).toBe(0);
    expect(ok.markdown).toContain('## No regression');

    const htmlFile = join(root, 'cmp.html');
    const bad = await compareCommand(a, b, { html: htmlFile, minEffect: 0.05, alpha: 0.05 });
    expect(bad.exitCode).toBe(1);
    expect(bad.markdown).toContain('## REGRESSION: ');
    expect(bad.markdown).toMatch(/\| oltp-tpcb TPS \| 50\d\.\d tx\/s \(5\d\d(\.\d)? tx\/s–5\d\d(\.\d)? tx\/s, n=2 runs\) \| 40\d\.\d tx\/s \(4\d\d(\.\d)? tx\/s–4\d\d(\.\d)? tx\/s, n=2 runs\) \| −(19|2\d)\.\d % \| 95 % CI −\d\d\.\d % … −1\d\.\d % \(n=2\/2 runs\) \| \*\*REGRESSION\*\* \|/);
    expect(existsSync(htmlFile)).toBe(true);
    const html = readFileSync(htmlFile, 'utf8');
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain('<div class="verdict fail">');
    expect(html).toMatch(/<figure class="chart" data-chart="compare:baremetal\/local:oltp-tpcb TPS"><svg[\s\S]*?<path /);
  });

  it('rejects nonsense thresholds and missing run directories with usage errors', async () => {
    const a = run('usage-a', 121, { seconds: 5 });
    const e1 = await compareCommand(a, a, { minEffect: 5 }).catch((e) => e);
    expect(e1).toBeInstanceOf(StatebenchError);
    expect(e1.exitCode).toBe(2);
    expect(e1.message).toContain('minEffect 5');
    const e2 = await compareCommand(a, join(root, 'nope')).catch((e) => e);
    expect(e2).toBeInstanceOf(StatebenchError);
    expect(e2.exitCode).toBe(2);
  });
});
