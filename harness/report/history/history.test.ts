import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { changePoints, historyCommand, historyReport } from './index.ts';
import { writeRun } from '../../../test/fixtures/runs/synthetic.ts';
import { StatebenchError } from '../../errors.ts';

describe('changePoints', () => {
  it('finds one step in a noisy series at the run where the level changed', () => {
    const before = [500, 507, 495, 503, 498, 502, 496];
    const after = [401, 405, 398, 404, 399, 402];
    const [cp, ...rest] = changePoints([...before, ...after]);
    expect(rest).toEqual([]);
    expect(cp.index).toBe(7);
    expect(cp.before).toBe(500);
    expect(cp.after).toBeCloseTo(401.5, 6);
    expect(cp.change).toBeCloseTo(-0.197, 3);
  });

  it('flags nothing in a flat noisy series, for a single outlier run, or for a step below the minimum effect', () => {
    expect(changePoints([500, 507, 495, 503, 498, 502, 496, 501, 499, 504, 497, 503])).toEqual([]);
    expect(changePoints([500, 507, 495, 503, 498, 150, 496, 501, 499, 504, 497, 503])).toEqual([]);
    expect(changePoints([500, 502, 501, 503, 499, 500, 520, 522, 521, 523, 519, 521])).toEqual([]);
  });

  it('finds two steps by binary segmentation, and none with too few runs on a side', () => {
    const series = [10, 11, 10, 11, 10, 20, 21, 20, 21, 20, 30, 31, 30, 31, 30];
    expect(changePoints(series).map((c) => c.index)).toEqual([5, 10]);
    expect(changePoints([10, 10, 10, 20, 20, 20])).toEqual([]);
  });
});

describe('historyReport / historyCommand', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'sb-history-'));
    // Ten nightly runs written out of order; docker/local drops from ~460 to ~380 TPS from the
    // seventh on, and one run loses a write.
    for (const i of [4, 0, 9, 2, 7, 1, 5, 8, 3, 6]) {
      const day = String(i + 1).padStart(2, '0');
      writeRun(join(root, 'nightly', `run-${day}`), {
        runId: `202611${day}-0200-n${i}`,
        profile: 'nightly',
        startedAt: `2026-11-${day}T02:00:00.000Z`,
        seed: 200 + i,
        targets: [
          { name: 'baremetal/local', platform: 'baremetal', storage: 'local', seconds: 8, tpsMean: 500, tpsNoise: 0.03, faults: [{ type: 'node-crash', node: 'node-0', atS: 3, unavailableMs: 2000 + (i % 3) * 40 }], safety: {} },
          { name: 'docker/local', platform: 'docker', storage: 'local', seconds: 8, tpsMean: i >= 6 ? 380 : 460, tpsNoise: 0.03, faults: [{ type: 'node-crash', node: 'node-0', atS: 3, unavailableMs: 3000 }], safety: i === 8 ? { lost: 1 } : {} },
        ],
      });
    }
    mkdirSync(join(root, 'broken'));
    writeFileSync(join(root, 'broken', 'summary.json'), '{"schemaVersion": 1');
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('orders runs by startedAt and builds one series per target and headline figure', async () => {
    const h = await historyReport(root);
    expect(h.runs.map((r) => r.runId)).toEqual(Array.from({ length: 10 }, (_, i) => `202611${String(i + 1).padStart(2, '0')}-0200-n${i}`));
    expect(h.series.map((s) => `${s.metric} ${s.label}`)).toEqual([
      'tps baremetal/local · oltp-tpcb',
      'p99 baremetal/local · oltp-tpcb',
      'fsyncP99 baremetal/local',
      'recoveryMedian baremetal/local',
      'lostWrites baremetal/local',
      'tps docker/local · oltp-tpcb',
      'p99 docker/local · oltp-tpcb',
      'fsyncP99 docker/local',
      'recoveryMedian docker/local',
      'lostWrites docker/local',
    ]);
    expect(h.skipped).toHaveLength(1);
    expect(h.skipped[0]).toContain('broken');
  });

  it('flags the TPS step where it happened, and the lost write in its run', async () => {
    const h = await historyReport(root);
    const tps = h.series.find((s) => s.metric === 'tps' && s.target === 'docker/local')!;
    expect(tps.changePoints.map((c) => c.index)).toEqual([6]);
    expect(h.series.find((s) => s.metric === 'tps' && s.target === 'baremetal/local')!.changePoints).toEqual([]);
    const kinds = h.flags.map((f) => `${f.kind} ${f.metric} ${f.series} ${f.runId}`);
    expect(kinds).toContain('regression tps docker/local · oltp-tpcb 20261107-0200-n6');
    expect(kinds).toContain('lost-writes lostWrites docker/local 20261109-0200-n8');
    expect(h.flags.filter((f) => f.series.startsWith('baremetal'))).toEqual([]);
  });

  it('renders a self-contained page with a chart per headline figure and the step marked', async () => {
    const { html } = await historyReport(root);
    expect(html).not.toMatch(/<script/i);
    const figures = [...html.matchAll(/<figure class="chart" data-chart="([^"]+)">(<svg[\s\S]*?<\/svg>)/g)];
    expect(figures.map((m) => m[1])).toEqual(['history:tps', 'history:p99', 'history:fsyncP99', 'history:recoveryMedian', 'history:lostWrites']);
    for (const m of figures) expect(m[2]).toContain('<path ');
    const tpsChart = figures[0][2];
    expect(tpsChart).toMatch(/−1[6-9] %/);
  });

  it('historyCommand writes history.html, exits 1 on a regression only when asked to', async () => {
    const plain = await historyCommand(root);
    expect(plain.exitCode).toBe(0);
    expect(plain.file).toBe(join(root, 'history.html'));
    expect(existsSync(plain.file)).toBe(true);
    expect(readFileSync(plain.file, 'utf8')).toContain('statebench history: nightly');
    expect(plain.text).toContain('regression: Transactions per second of docker/local');
    const strict = await historyCommand(root, { failOnRegression: true, out: join(root, 'h2.html') });
    expect(strict.exitCode).toBe(1);
    expect(existsSync(join(root, 'h2.html'))).toBe(true);
  });

  it('says what to do when there is nothing to chart', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'sb-history-empty-'));
    try {
      const e = await historyCommand(empty).catch((x) => x);
      expect(e).toBeInstanceOf(StatebenchError);
      expect(e.exitCode).toBe(2);
      expect(e.message).toContain('no run directory');
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
