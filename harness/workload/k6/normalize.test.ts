// The k6 runner's normalization, on k6 output files shaped as k6 documents them (--out json lines
// with Metric/Point records and vu/iter metadata; --summary-export's flattened metrics), and the k6
// code path end to end against a stand-in binary that writes those files.
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { readFileSync, mkdtempSync, copyFileSync, chmodSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PointsAccumulator, measuredPhase, parseSummaryExport } from './normalize.ts';
import { parseK6Version, k6Args } from './k6-binary.ts';
import { K6Workload, selectRunner } from './workload.ts';
import { K6WorkloadSpec } from '../../model/k6.ts';
import { decode } from '../../measure/histogram.ts';
import { StatebenchError } from '../../errors.ts';
import type { WorkloadRuntime } from '../types.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/k6-run/', import.meta.url));
const T0 = Date.parse('2024-05-09T12:00:00.000Z');
const points = () => readFileSync(join(FIXTURES, 'k6-points.json'), 'utf8');

describe('PointsAccumulator', () => {
  it('reads iterations, ties statebench_errors to them by vu/iter metadata, skips setup/teardown', () => {
    const acc = new PointsAccumulator();
    acc.push(points());
    acc.end();
    expect(acc.malformed).toBe(0);
    const its = acc.resolved();
    expect(its).toHaveLength(80);
    expect(acc.firstIterationAbs).toBe(T0);
    expect(its.filter((i) => i.failedKind).map((i) => i.failedKind).sort()).toEqual(['deadlock', 'deadlock', 'serialization']);
    expect(acc.unmatchedErrors).toEqual({});
    expect(acc.vus[0]).toEqual([T0 + 50, 2]);
    expect(acc.metricTypes.statebench_errors).toBe('counter');
  });

  it('gives the same result fed in arbitrary chunks, and counts a torn last line', () => {
    const text = points();
    const acc = new PointsAccumulator();
    for (let i = 0; i < text.length; i += 997) acc.push(text.slice(i, i + 997));
    acc.push('{"type":"Point","data":{"time":"2024-05-09T12:0');
    acc.end();
    expect(acc.resolved()).toHaveLength(80);
    expect(acc.malformed).toBe(1);
  });

  it('reads vu/iter from tags (older k6) and counts errors it cannot tie to an iteration', () => {
    const acc = new PointsAccumulator();
    const p = (metric: string, ms: number, value: number, tags: object) => JSON.stringify({ type: 'Point', data: { time: new Date(ms).toISOString(), value, tags }, metric });
    acc.push(
      [
        p('statebench_errors', T0 + 90, 1, { kind: 'timeout', vu: '1', iter: '0' }),
        p('iteration_duration', T0 + 100, 100, { group: '', vu: '1', iter: '0' }),
        p('iteration_duration', T0 + 200, 100, { group: '', vu: '1', iter: '1' }),
        p('statebench_errors', T0 + 250, 1, { kind: 'connection' }),
        p('iteration_duration', T0 + 300, 100, { group: '' }),
        p('dropped_iterations', T0 + 300, 1, {}),
      ].join('\n'),
    );
    acc.end();
    expect(acc.resolved().map((i) => i.failedKind)).toEqual(['timeout', null, null]);
    expect(acc.unmatchedErrors).toEqual({ connection: 1 });
    expect(acc.dropped).toBe(1);
    const phase = measuredPhase(acc.resolved(), T0, (a) => a - T0, acc.unmatchedErrors);
    expect(phase).toMatchObject({ transactions: 1, errors: 2, errorsByKind: { timeout: 1, connection: 1 } });
  });
});

describe('measuredPhase', () => {
  it('splits warmup, per-second samples and the summary as PhaseRecorder does', () => {
    const acc = new PointsAccumulator();
    acc.push(points());
    acc.end();
    // VU 1 ends an iteration every 50 ms from T0+50, VU 2 from T0+75; warmup 500 ms.
    const phase = measuredPhase(acc.resolved(), T0 + 500, (abs) => abs - T0);
    expect(phase.warmupTransactions).toBe(18);
    expect(phase).toMatchObject({ transactions: 60, errors: 2, errorsByKind: { deadlock: 1, serialization: 1 }, durationMs: 1525, tps: 39.34 });
    // HDR histogram, 3 significant digits.
    for (const k of ['p50', 'p99', 'min', 'max'] as const) expect(phase.latencyMs[k]).toBeCloseTo(50, 1);
    expect(decode(phase.histogram).totalCount).toBe(60);
    expect(phase.seconds.map((s) => [s.second, s.tMs, s.tps, s.errors])).toEqual([
      [1, 1500, 39, 1],
      [2, 2025, 40, 1],
    ]);
    // The last bucket spans 525 ms (to the last completion): 21 transactions, 40 per second.
    expect(phase.seconds[1]).toMatchObject({ partial: true, spanMs: 525, count: 21 });
    expect(phase.seconds[0].errorsByKind).toEqual({ deadlock: 1 });
    // The partial last second is a sample but not part of the per-second spread.
    expect(phase.tpsPerSecond).toMatchObject({ count: 1, median: 39 });
  });
});

describe('parseSummaryExport', () => {
  it('reads thresholds (value = crossed), checks from root_group, iterations and VUs', () => {
    const s = parseSummaryExport(readFileSync(join(FIXTURES, 'k6-summary.json'), 'utf8'));
    expect(s.thresholds).toEqual([
      { metric: 'checks', source: 'rate>0.99', ok: true },
      { metric: 'iteration_duration', source: 'p(95)<1000', ok: true },
      { metric: 'statebench_errors', source: 'count<1', ok: false },
    ]);
    expect(s.thresholdsOk).toBe(false);
    // path is the group the check ran in (root here), as the built-in runner reports it.
    expect(s.checks).toEqual([{ path: '', name: 'point select finds at most one row', passes: 80, fails: 0 }]);
    expect(s).toMatchObject({ iterations: 80, droppedIterations: 0, vusMax: 2 });
    expect(s.metrics.iteration_duration['p(99)']).toBe(212.34);
  });

  it('says what is wrong with a file that is not a summary export', () => {
    expect(() => parseSummaryExport('{"root_group":{}}')).toThrow(/no "metrics" object/);
    expect(() => parseSummaryExport('not json')).toThrow(/not JSON/);
  });
});

describe('k6 binary', () => {
  it('finds xk6-sql and its postgres driver in `k6 version`', () => {
    const out = 'k6 v0.54.0 (go1.23.1, linux/amd64)\nExtensions:\n  github.com/grafana/xk6-sql v1.0.0, k6/x/sql [js]\n  github.com/grafana/xk6-sql-driver-postgres v0.1.0, k6/x/sql/driver/postgres [js]\n';
    expect(parseK6Version('k6', out)).toEqual({ path: 'k6', version: 'v0.54.0', sql: true, postgres: true });
    expect(parseK6Version('k6', 'k6 v1.0.0 (commit/abc, go1.24.2, linux/amd64)\n')).toMatchObject({ version: 'v1.0.0', sql: false, postgres: false });
  });

  it('asks k6 for both output files, vu/iter tags and p(99), and passes overrides as flags', () => {
    const args = k6Args({ script: '/s.js', vus: 4, durationMs: 12_000 }, '/o/sum.json', '/o/points.json');
    expect(args.slice(0, 1)).toEqual(['run']);
    expect(args).toEqual(expect.arrayContaining(['--summary-export', '/o/sum.json', '--out', 'json=/o/points.json', '--no-usage-report', '--vus', '4', '--duration', '12000ms']));
    expect(args[args.indexOf('--system-tags') + 1]).toMatch(/(^|,)vu,iter$/);
    expect(args[args.indexOf('--summary-trend-stats') + 1]).toContain('p(99)');
    expect(args.at(-1)).toBe('/s.js');
  });
});

describe('K6Workload with runner k6 (stand-in binary replaying recorded output)', () => {
  let dir: string;
  let bin: string;
  const versionWithSql = 'k6 v0.54.0 (go1.23.1, linux/amd64)\nExtensions:\n  github.com/grafana/xk6-sql v1.0.0, k6/x/sql [js]\n  github.com/grafana/xk6-sql-driver-postgres v0.1.0, k6/x/sql/driver/postgres [js]\n';
  const saved = { ...process.env };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'statebench-fake-k6-'));
    bin = join(dir, 'k6');
    copyFileSync(fileURLToPath(new URL('./fixtures/fake-k6.mjs', import.meta.url)), bin);
    chmodSync(bin, 0o755);
    process.env.FAKE_K6_FIXTURES = FIXTURES;
    process.env.FAKE_K6_RECORD = join(dir, 'record.json');
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    for (const k of ['FAKE_K6_FIXTURES', 'FAKE_K6_RECORD', 'FAKE_K6_VERSION_TEXT', 'FAKE_K6_EXIT']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });

  const runtime = () => {
    const samples: Record<string, unknown>[] = [];
    const events: { type: string; data?: object }[] = [];
    const measureStarts: number[] = [];
    const rt: WorkloadRuntime = {
      clock: { now: () => performance.now(), wall: () => new Date().toISOString() },
      signal: new AbortController().signal,
      sample: (r) => samples.push(r as Record<string, unknown>),
      event: (type, data) => events.push({ type, data }),
      status: () => {},
      onMeasureStart: (at) => measureStarts.push(at),
    };
    return { rt, samples, events, measureStarts };
  };

  it('auto picks k6 only when it has xk6-sql and the postgres driver; runner k6 without them says how to get it', async () => {
    process.env.FAKE_K6_VERSION_TEXT = 'k6 v0.54.0 (go1.23.1, linux/amd64)\n';
    expect(await selectRunner('auto', bin)).toMatchObject({ runner: 'builtin', reason: expect.stringMatching(/lacks xk6-sql/) });
    expect(await selectRunner('auto', join(dir, 'no-such-k6'))).toMatchObject({ runner: 'builtin', reason: 'no k6 on PATH' });
    const e = await selectRunner('k6', bin).catch((x) => x);
    expect(e).toBeInstanceOf(StatebenchError);
    expect(e.message).toMatch(/lacks k6\/x\/sql and k6\/x\/sql\/driver\/postgres/);
    expect(e.hint).toMatch(/xk6 build --with github.com\/grafana\/xk6-sql/);
    process.env.FAKE_K6_VERSION_TEXT = versionWithSql;
    expect(await selectRunner('auto', bin)).toMatchObject({ runner: 'k6', k6: { version: 'v0.54.0' } });
  });

  it('runs k6 and turns its output into the workload summary and per-second samples', async () => {
    process.env.FAKE_K6_VERSION_TEXT = versionWithSql;
    process.env.FAKE_K6_EXIT = '99'; // a threshold was crossed: the results still count
    const spec = K6WorkloadSpec.parse({ kind: 'k6', script: fileURLToPath(new URL('../../../workloads/k6/oltp-read-write.js', import.meta.url)), runner: 'k6', warmup: '500ms', env: { TABLE_SIZE: 5000 } });
    const artifactsDir = join(dir, 'artifacts');
    const w = new K6Workload('oltp', spec, { k6Binary: bin, artifactsDir });
    const { rt, samples, events, measureStarts } = runtime();
    const conn = { host: '127.0.0.1', port: 5999, user: 'bench user', database: 'db', password: 'p@ss' };
    await w.load(conn, rt);
    expect(events.find((e) => e.type === 'workload-loaded')?.data).toMatchObject({ runner: 'k6', k6: 'v0.54.0' });
    const s = await w.run(() => conn, rt);
    expect(s).toMatchObject({ name: 'oltp', kind: 'k6', transactions: 60, errors: 2, errorsByKind: { deadlock: 1, serialization: 1 }, durationMs: 1525, tps: 39.34, clients: 2 });
    expect(s.details).toMatchObject({ runner: 'k6', k6: 'v0.54.0', exitCode: 99, warmupTransactions: 18, iterations: 80, thresholdsOk: false, droppedIterations: 0 });
    expect(samples.map((x) => [x.workload, x.second, x.tps, x.errors])).toEqual([
      ['oltp', 1, 39, 1],
      ['oltp', 2, 40, 1],
    ]);
    expect(measureStarts).toHaveLength(1);
    expect(events.some((e) => e.type === 'k6-log' && /fake run done/.test(JSON.stringify(e.data)))).toBe(true);
    // The DSN reached k6 through the environment, not the command line.
    const record = JSON.parse(readFileSync(process.env.FAKE_K6_RECORD!, 'utf8'));
    expect(record.env).toEqual({ STATEBENCH_DSN: 'postgres://bench%20user:p%40ss@127.0.0.1:5999/db?sslmode=disable', TABLE_SIZE: '5000', K6_NO_USAGE_REPORT: 'true' });
    expect(record.args.join(' ')).not.toContain('p%40ss');
    expect(existsSync(join(artifactsDir, 'k6-oltp', 'k6-points.json'))).toBe(true);
  });

  it('fails with k6’s last output lines when k6 fails', async () => {
    process.env.FAKE_K6_VERSION_TEXT = versionWithSql;
    process.env.FAKE_K6_EXIT = '107';
    const spec = K6WorkloadSpec.parse({ kind: 'k6', script: fileURLToPath(new URL('../../../workloads/k6/oltp-read-write.js', import.meta.url)), runner: 'k6' });
    const w = new K6Workload('oltp', spec, { k6Binary: bin });
    const { rt } = runtime();
    await expect(w.run(() => ({ host: '127.0.0.1', port: 1, user: 'u', database: 'd' }), rt)).rejects.toThrow(/k6 exited with code 107[\s\S]*fake run done/);
    delete process.env.FAKE_K6_EXIT;
  });
});
