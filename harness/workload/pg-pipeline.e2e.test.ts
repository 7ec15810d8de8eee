// The pipelined session against a real PostgreSQL: a batch does what its statements say, a server
// error rejects with its SQLSTATE and leaves the connection usable, a batch that gets no answer ends
// the connection, and the OLTP driver's committed count matches the rows the server holds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { withClient } from '../engine/pg.ts';
import { RunClock } from '../core/clock.ts';
import { startScratchPostgres, type ScratchPostgres } from '../testing/scratch-postgres.ts';
import { PipelinedSession, PgServerError } from './pg-pipeline.ts';
import { OltpTpcb, TPCB_VALUES, tpcbValues } from './oltp-tpcb.ts';
import { errorKind } from './recorder.ts';
import type { WorkloadRuntime } from './types.ts';

let server: ScratchPostgres;
beforeAll(async () => {
  server = await startScratchPostgres('statebench-test-pipeline-');
});
afterAll(async () => {
  expect(await server?.release()).toEqual([]);
});

describe('PipelinedSession', () => {
  it('runs a batch of prepared statements in one round trip, in order, in one transaction', async () => {
    const conn = server.engine.clientConn();
    await withClient(conn, (c) => c.query('drop table if exists pipe_t; create table pipe_t (k int primary key, v int)'));
    const db = await PipelinedSession.connect(conn);
    try {
      await db.prepare(['BEGIN', 'INSERT INTO pipe_t VALUES ($1, $2)', 'UPDATE pipe_t SET v = v + $1 WHERE k = $2', 'END']);
      const tx = db.batch([0, 1, 2, 2, 3]);
      expect(tx.offsets.length).toBe(6);
      expect(await db.run(tx, [1, 10, 5, 1, -3, 1])).toBe('I');
      expect(await db.run(tx, [2, -2147483648, 0, 2, 7, 2])).toBe('I');
    } finally {
      await db.close();
    }
    const rows = await withClient(conn, async (c) => (await c.query('select k, v from pipe_t order by k')).rows);
    expect(rows).toEqual([
      { k: 1, v: 12 },
      { k: 2, v: -2147483641 },
    ]);
  });

  it('rejects a failed batch with the SQLSTATE, rolls nothing of it in, and stays usable', async () => {
    const conn = server.engine.clientConn();
    await withClient(conn, (c) => c.query('drop table if exists pipe_u; create table pipe_u (k int primary key)'));
    const db = await PipelinedSession.connect(conn);
    try {
      await db.prepare(['BEGIN', 'INSERT INTO pipe_u VALUES ($1)', 'END']);
      const tx = db.batch([0, 1, 1, 2]);
      const err = await db.run(tx, [1, 1]).catch((e) => e);
      expect(err).toBeInstanceOf(PgServerError);
      expect(err.code).toBe('23505');
      expect(errorKind(err)).toBe('sqlstate-23505');
      // The server skipped the rest of the batch, END included: the block is still open and failed.
      expect(await db.query('rollback')).toBe('I');
      expect(await db.run(tx, [2, 3])).toBe('I');
      expect(db.usable).toBe(true);
    } finally {
      await db.close();
    }
    const keys = await withClient(conn, async (c) => (await c.query('select k from pipe_u order by k')).rows.map((r) => r.k));
    expect(keys).toEqual([2, 3]);
  });

  it('applies startup settings, and ends the connection when a batch gets no answer in time', async () => {
    const db = await PipelinedSession.connect(server.engine.clientConn(), { settings: { statement_timeout: '50' }, batchTimeoutMs: 5_000 });
    try {
      await db.prepare(['SELECT pg_sleep($1)']);
      const slow = db.batch([0]);
      const err = await db.run(slow, [2]).catch((e) => e);
      expect(err.code).toBe('57014');
      expect(errorKind(err)).toBe('timeout');
      expect(db.usable).toBe(true);
    } finally {
      await db.close();
    }

    const quiet = await PipelinedSession.connect(server.engine.clientConn(), { batchTimeoutMs: 300 });
    try {
      await quiet.prepare(['SELECT pg_sleep($1)']);
      const err = await quiet.run(quiet.batch([0]), [5]).catch((e) => e);
      expect(errorKind(err)).toBe('timeout');
      expect(quiet.usable).toBe(false);
    } finally {
      await quiet.close();
    }
  });

  it('fails to connect with the errors errorKind() sorts as connection problems', async () => {
    const refused = await PipelinedSession.connect({ ...server.engine.clientConn(), port: 1 }).catch((e) => e);
    expect(errorKind(refused)).toBe('connection');

    const silent = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const port = (silent.address() as { port: number }).port;
      const err = await PipelinedSession.connect({ host: '127.0.0.1', port, user: 'x', database: 'x' }, { connectTimeoutMs: 200 }).catch((e) => e);
      expect(err.message).toMatch(/connection timeout: 127.0.0.1:\d+ did not answer within 200ms/);
    } finally {
      silent.close();
    }

    const badDb = await PipelinedSession.connect({ ...server.engine.clientConn(), database: 'no_such_db' }).catch((e) => e);
    expect(badDb.code).toBe('3D000');
  });
});

describe('OLTP driver', () => {
  it('draws pgbench-like values within the scale', () => {
    const v = new Int32Array(TPCB_VALUES);
    for (let i = 0; i < 1000; i++) {
      const [delta, aid, aid2, , tid, , bid, tid2, bid2, aid3, delta2] = tpcbValues(3, v);
      expect(aid >= 1 && aid <= 300_000 && tid >= 1 && tid <= 30 && bid >= 1 && bid <= 3 && delta >= -5000 && delta <= 5000).toBe(true);
      expect([aid2, aid3, tid2, bid2, delta2]).toEqual([aid, aid, tid, bid, delta]);
    }
  });

  it('commits exactly as many transactions as the server has history rows, with samples per second', async () => {
    const conn = server.engine.clientConn();
    const samples: Array<{ tps: number; hist: string }> = [];
    const rt: WorkloadRuntime = { clock: new RunClock(), signal: new AbortController().signal, sample: (s) => samples.push(s as never), event() {}, status() {} };
    const w = new OltpTpcb('t', { kind: 'oltp-tpcb', scale: 1, clients: 3, duration: 2_500, warmup: 300, statementTimeout: 10_000 });
    await w.load(conn, rt);
    const s = await w.run(() => conn, rt);
    const d = s.details as { warmupTransactions: number; historyRows: number };
    expect(s.errors).toBe(0);
    expect(s.transactions).toBeGreaterThan(0);
    // Transactions cut by the window's edges are committed but counted apart (harness/workload/recorder.ts).
    expect(d.historyRows).toBe(s.transactions + d.warmupTransactions + s.edges!.startedBeforeWindow + s.edges!.endedAfterWindow);
    expect(samples.length).toBeGreaterThanOrEqual(2);
    // A partial last second carries its real count beside its normalised rate.
    expect(samples.reduce((a, x) => a + ((x as { count?: number }).count ?? x.tps), 0)).toBe(s.transactions);
    // The driver's own CPU goes into every second's sample and the summary.
    expect((samples[0] as never as { loadGenerator: { cpuCores: number } }).loadGenerator.cpuCores).toBeGreaterThan(0);
    expect(s.loadGenerator).toMatchObject({ saturated: false });
    const balances = await withClient(conn, async (c) => (await c.query('select (select sum(abalance) from pgbench_accounts)::bigint as a, (select sum(delta) from pgbench_history)::bigint as h')).rows[0]);
    expect(balances.a).toBe(balances.h);
  });
});
