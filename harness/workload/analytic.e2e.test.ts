// The analytic workload against a real PostgreSQL: Q1, Q6 and the full scan return the answers
// computed here, independently, from the generator's row values (exact for counts and sums, a
// tolerance only for averages), and a server killed between queries is reconnected to. Nothing
// asserts how fast anything was.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BareMetalPostgres } from '../platforms/baremetal/platform.ts';
import { RunClock, sleep } from '../core/clock.ts';
import { withClient } from '../engine/pg.ts';
import { Analytic } from './analytic.ts';
import { AnalyticWorkload, type AnalyticInput } from '../model/big-data.ts';
import { LineitemData, QUERIES, dayOf, retailPriceCents, scaled, unscaled, type LineitemRow } from './tpch.ts';
import type { WorkloadRuntime } from './types.ts';
import { startScratchPostgres, type ScratchPostgres } from '../testing/scratch-postgres.ts';

const spec = (input: Omit<AnalyticInput, 'kind'>) => AnalyticWorkload.parse({ kind: 'analytic', ...input });

function runtime(status: (phase: string, detail?: string) => void = () => {}, samples: object[] = []): WorkloadRuntime {
  return { clock: new RunClock(), signal: new AbortController().signal, sample: (s) => samples.push(s), event: () => {}, status };
}

function allRows(d: LineitemData): LineitemRow[] {
  const rows: LineitemRow[] = [];
  for (let c = 0; c < d.chunks; c++) for (const r of d.rowsOf(c)) rows.push(r);
  return rows;
}

/** TPC-H Q1 over row values, written from the query text: sums as exact scaled integers. */
function expectedQ1(rows: LineitemRow[]) {
  const cutoff = dayOf('1998-12-01') - 90;
  const groups = new Map<string, { n: number; qty: bigint; base: bigint; disc: bigint; charge: bigint; discSum: number }>();
  for (const r of rows) {
    if (r.shipdate > cutoff) continue;
    const k = r.returnflag + r.linestatus;
    const g = groups.get(k) ?? { n: 0, qty: 0n, base: 0n, disc: 0n, charge: 0n, discSum: 0 };
    const price = BigInt(r.priceCents); // ×10^2
    g.n++;
    g.qty += BigInt(r.quantity) * 100n;
    g.base += price;
    g.disc += price * BigInt(100 - r.discount); // ×10^4
    g.charge += price * BigInt(100 - r.discount) * BigInt(100 + r.tax); // ×10^6
    g.discSum += r.discount;
    groups.set(k, g);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, g]) => ({
      l_returnflag: k[0],
      l_linestatus: k[1],
      sum_qty: unscaled(g.qty, 2),
      sum_base_price: unscaled(g.base, 2),
      sum_disc_price: unscaled(g.disc, 4),
      sum_charge: unscaled(g.charge, 6),
      avg_qty: Number(g.qty) / 100 / g.n,
      avg_price: Number(g.base) / 100 / g.n,
      avg_disc: g.discSum / 100 / g.n,
      count_order: String(g.n),
    }));
}

/** TPC-H Q6 over row values: revenue ×10^4. */
function expectedQ6(rows: LineitemRow[]): string {
  const from = dayOf('1994-01-01');
  const to = dayOf('1995-01-01');
  let revenue = 0n;
  for (const r of rows) {
    if (r.shipdate >= from && r.shipdate < to && r.discount >= 5 && r.discount <= 7 && r.quantity < 24) revenue += BigInt(r.priceCents) * BigInt(r.discount);
  }
  return unscaled(revenue, 4);
}

describe('lineitem generator', () => {
  it('follows the documented distribution and is deterministic', () => {
    const d = new LineitemData(0.002, 3);
    expect(d.orders).toBe(3_000);
    const rows = allRows(d);
    // 1–7 lines per order, uniform: about 4 per order.
    expect(rows.length / d.orders).toBeGreaterThan(3.6);
    expect(rows.length / d.orders).toBeLessThan(4.4);
    const current = dayOf('1995-06-17');
    // One predicate per row (expect() per field and row would dominate the test's time).
    const bad = rows.filter(
      (r) =>
        !(
          r.quantity >= 1 && r.quantity <= 50 &&
          r.discount >= 0 && r.discount <= 10 &&
          r.tax >= 0 && r.tax <= 8 &&
          r.priceCents === r.quantity * retailPriceCents(r.partkey) &&
          r.partkey >= 1 && r.partkey <= d.parts &&
          r.suppkey >= 1 && r.suppkey <= d.suppliers &&
          r.shipdate > dayOf('1992-01-01') && r.receiptdate > r.shipdate && r.receiptdate <= dayOf('1998-12-31') &&
          r.linestatus === (r.shipdate > current ? 'O' : 'F') &&
          (r.receiptdate > current ? r.returnflag === 'N' : r.returnflag === 'R' || r.returnflag === 'A') &&
          r.comment.length >= 10 && r.comment.length <= 43
        ),
    );
    expect(bad).toEqual([]);
    expect(new Set(rows.map((r) => r.quantity)).size).toBe(50);
    expect(new Set(rows.map((r) => r.discount)).size).toBe(11);
    expect(new Set(rows.map((r) => r.tax)).size).toBe(9);
    const years = new Set(rows.map((r) => new Date(r.shipdate * 86_400_000).getUTCFullYear()));
    expect([...years].sort()).toEqual([1992, 1993, 1994, 1995, 1996, 1997, 1998]);
    expect(new Set(rows.map((r) => r.returnflag + r.linestatus))).toEqual(new Set(['AF', 'RF', 'NF', 'NO']));
    expect(new LineitemData(0.002, 3).generate(1).data.equals(d.generate(1).data)).toBe(true);
    expect(new LineitemData(0.002, 4).generate(1).data.equals(d.generate(1).data)).toBe(false);
  });

  it('scales and rejects bad specs', () => {
    expect(new LineitemData(1, 1).orders).toBe(1_500_000);
    expect(new LineitemData(0.0001, 1).orders).toBe(150);
    expect(scaled('-12.3400', 4)).toBe(-123400n);
    expect(unscaled(-5n, 2)).toBe('-0.05');
    expect(AnalyticWorkload.safeParse({ kind: 'analytic', repetitions: 1 }).success).toBe(false);
    expect(AnalyticWorkload.safeParse({ kind: 'analytic', queries: ['q1', 'q2'] }).success).toBe(false);
    expect(AnalyticWorkload.safeParse({ kind: 'analytic', scaleFactor: 0 }).success).toBe(false);
  });
});

describe('analytic workload against PostgreSQL', () => {
  let server: ScratchPostgres;
  let engine: BareMetalPostgres;

  beforeEach(async () => {
    server = await startScratchPostgres('statebench-analytic-');
    engine = server.engine;
  });

  afterEach(async () => {
    expect(await server.release()).toEqual([]);
  });

  it('answers Q1, Q6 and the full scan with the independently computed values', async () => {
    const w = new Analytic('analytic', spec({ scaleFactor: 0.002, seed: 5, repetitions: 3, streams: 2 }));
    const samples: object[] = [];
    const rt = runtime(undefined, samples);
    await w.load(engine.clientConn(), rt);
    const s = await w.run(() => engine.clientConn(), rt);

    const rows = allRows(w.data);
    const q1 = expectedQ1(rows);
    expect(q1.map((g) => g.l_returnflag + g.l_linestatus)).toEqual(['AF', 'NF', 'NO', 'RF']);
    const got = await withClient(engine.clientConn(), async (c) => ({
      q1: (await c.query(QUERIES.q1)).rows,
      q6: (await c.query(QUERIES.q6)).rows[0].revenue,
      scan: (await c.query(QUERIES.scan)).rows[0],
    }));
    expect(got.q1.length).toBe(q1.length);
    got.q1.forEach((g: Record<string, string>, i: number) => {
      const e = q1[i];
      expect({ ...g, avg_qty: undefined, avg_price: undefined, avg_disc: undefined }).toEqual({ ...e, avg_qty: undefined, avg_price: undefined, avg_disc: undefined });
      expect(Number(g.avg_qty)).toBeCloseTo(e.avg_qty, 9);
      expect(Number(g.avg_price)).toBeCloseTo(e.avg_price, 6);
      expect(Number(g.avg_disc)).toBeCloseTo(e.avg_disc, 9);
    });
    expect(got.q6).toBe(expectedQ6(rows));
    expect(got.scan).toEqual({
      count: String(rows.length),
      sum_qty: unscaled(BigInt(rows.reduce((a, r) => a + r.quantity, 0)) * 100n, 2),
      sum_base_price: unscaled(rows.reduce((a, r) => a + BigInt(r.priceCents), 0n), 2),
    });

    // The workload checked every execution against its own expected answers, and timed all of them.
    const d = s.details as Record<string, any>;
    expect(d).toMatchObject({ answersMatch: true, rows: rows.length, expectedRows: rows.length, stoppedBy: 'complete', failedAttempts: 0 });
    for (const q of ['q1', 'q6', 'scan', 'index']) {
      expect(d.queries[q].runs).toHaveLength(3);
      expect(d.queries[q].coldMs).toBe(d.queries[q].runs[0]);
      expect(d.queries[q].warmMs).toBeGreaterThan(0);
      expect(d.queries[q].answer).toBe(q === 'index' ? 'unchecked' : 'match');
    }
    expect(d.load).toMatchObject({ chunks: w.data.chunks, failedAttempts: 0 });
    expect(s).toMatchObject({ kind: 'analytic', transactions: 12, errors: 0 });
    expect(s.latencyMs.max).toBeGreaterThan(0);
  });

  it('reconnects after the server is killed between queries and still answers correctly', async () => {
    const w = new Analytic('analytic', spec({ scaleFactor: 0.001, repetitions: 20, reconnectTimeout: '90s' }));
    let killing: Promise<void> | undefined;
    const rt = runtime((phase, detail) => {
      if (phase === 'run' && detail?.includes('q1 3/') && !killing) {
        killing = (async () => {
          await engine.process.kill();
          await sleep(300);
          await engine.process.start();
        })();
      }
    });
    await w.load(engine.clientConn(), rt);
    const s = await w.run(() => engine.clientConn(), rt);
    await killing;

    const d = s.details as Record<string, any>;
    expect(d.failedAttempts).toBeGreaterThan(0);
    expect(d.reconnects).toBeGreaterThan(0);
    expect(d.failures[0]).toMatchObject({ kind: expect.stringMatching(/connection|server-shutdown/) });
    expect(d).toMatchObject({ answersMatch: true, stoppedBy: 'complete', rows: d.expectedRows });
    const executed = ['q1', 'q6', 'scan', 'index'].reduce((n, q) => n + d.queries[q].runs.length, 0);
    const skipped = ['q1', 'q6', 'scan', 'index'].reduce((n, q) => n + d.queries[q].skipped, 0);
    expect(executed + skipped).toBe(80);
    expect(skipped).toBe(0);
    expect(s.errors).toBeGreaterThan(0);
  });
});
