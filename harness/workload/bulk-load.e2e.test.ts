// Bulk load against a real PostgreSQL: exactly the requested rows arrive (count and checksum, the
// expected values computed here from the generator's row values, not from its COPY text), and a
// server killed in the middle of the load is survived by retrying only uncommitted chunks. Waits are
// for observable progress, bounded; nothing asserts how fast anything was.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BareMetalPostgres } from '../platforms/baremetal/platform.ts';
import { RunClock, sleep } from '../core/clock.ts';
import { withClient } from '../engine/pg.ts';
import { BulkData, BulkLoad, ROW_HASH_SQL, rowHash } from './bulk-load.ts';
import { BulkLoadWorkload, type BulkLoadInput } from '../model/big-data.ts';
import type { WorkloadRuntime } from './types.ts';
import { startScratchPostgres, type ScratchPostgres } from '../testing/scratch-postgres.ts';

function runtime(samples: object[] = [], events: Array<{ type: string; data?: object }> = []): WorkloadRuntime {
  return {
    clock: new RunClock(),
    signal: new AbortController().signal,
    sample: (s) => samples.push(s),
    event: (type, data) => events.push({ type, data }),
    status: () => {},
  };
}

const spec = (input: Omit<BulkLoadInput, 'kind'>) => BulkLoadWorkload.parse({ kind: 'bulk-load', ...input });

/** Row values → COPY text, written independently of the generator's byte writer. */
function rowText(r: { chunk: number; id: number; account: number; cents: number; epoch: number; note: string }): string {
  const ts = new Date(r.epoch * 1000).toISOString().replace('T', ' ').slice(0, 19);
  return `${r.chunk}\t${r.id}\t${r.account}\t${Math.floor(r.cents / 100)}.${String(r.cents % 100).padStart(2, '0')}\t${ts}\t${r.note}\n`;
}

describe('bulk-load data set', () => {
  it('is deterministic per chunk, and its COPY text and checksum agree with its row values', () => {
    const d = new BulkData('t', 7, 2_500, 1_000);
    expect(d.chunks).toBe(3);
    expect([0, 1, 2].map((c) => d.rowsIn(c))).toEqual([1_000, 1_000, 500]);
    for (let c = 0; c < d.chunks; c++) {
      const g = d.generate(c);
      const rows = [...d.rowsOf(c)];
      expect(g.rows).toBe(rows.length);
      expect(g.data.toString('latin1')).toBe(rows.map(rowText).join(''));
      expect(g.checksum).toBe(rows.reduce((s, r) => s + rowHash(r.id, r.account, r.cents, r.epoch, d.noteHash[d.notes.indexOf(r.note)], r.chunk), 0));
    }
    // Same seed, same bytes; another seed, other bytes; chunk order does not matter.
    const again = new BulkData('t', 7, 2_500, 1_000);
    expect(again.generate(2).data.equals(d.generate(2).data)).toBe(true);
    expect(new BulkData('t', 8, 2_500, 1_000).generate(2).data.equals(d.generate(2).data)).toBe(false);
    const rows = [...d.rowsOf(1)];
    expect(rows[0].id).toBe(1_001);
    expect(rows.every((r) => r.cents >= 0 && r.cents < 100_000_000 && r.account >= 0 && r.account < 2 ** 31)).toBe(true);
    expect(rows.every((r) => r.epoch >= Date.UTC(2020, 0, 1) / 1000 && r.epoch < Date.UTC(2025, 0, 1) / 1000)).toBe(true);
  });

  it('turns a size into rows whose COPY text comes close to it', () => {
    const d = BulkData.fromSpec(spec({ size: '8MiB', chunk: '512KiB' }));
    let bytes = 0;
    for (let c = 0; c < d.chunks; c++) bytes += d.generate(c).data.length;
    expect(Math.abs(bytes / (8 * 1024 ** 2) - 1)).toBeLessThan(0.02);
    const chunk0 = d.generate(0).data.length;
    expect(Math.abs(chunk0 / (512 * 1024) - 1)).toBeLessThan(0.05);
    expect(BulkData.fromSpec(spec({ rows: 12_345, chunk: '64KiB' })).rows).toBe(12_345);
  });

  it('rejects size together with rows, and unknown keys', () => {
    expect(BulkLoadWorkload.safeParse({ kind: 'bulk-load', size: '1GiB', rows: 10 }).success).toBe(false);
    expect(BulkLoadWorkload.safeParse({ kind: 'bulk-load', sise: '1GiB' }).success).toBe(false);
    expect(BulkLoadWorkload.safeParse({ kind: 'bulk-load', table: 'Robert"; drop' }).success).toBe(false);
  });
});

describe('bulk load against PostgreSQL', () => {
  let server: ScratchPostgres;
  let engine: BareMetalPostgres;

  beforeEach(async () => {
    server = await startScratchPostgres('statebench-bulk-');
    engine = server.engine;
  });

  afterEach(async () => {
    expect(await server.release()).toEqual([]);
  });

  /** Count and checksum of the whole table, by the server; expected values from the row values. */
  async function serverTotals(table: string): Promise<{ rows: number; checksum: string }> {
    return withClient(engine.clientConn(), async (c) => {
      const r = await c.query(`select count(*)::bigint as n, coalesce(sum(${ROW_HASH_SQL}), 0)::text as s from ${table}`);
      return { rows: Number(r.rows[0].n), checksum: r.rows[0].s };
    });
  }

  function expectedTotals(d: BulkData): { rows: number; checksum: string } {
    let rows = 0;
    let sum = 0n;
    for (let c = 0; c < d.chunks; c++) {
      for (const r of d.rowsOf(c)) {
        rows++;
        sum += BigInt(rowHash(r.id, r.account, r.cents, r.epoch, d.noteHash[d.notes.indexOf(r.note)], r.chunk));
      }
    }
    return { rows, checksum: sum.toString() };
  }

  it('loads exactly the requested rows over parallel streams', async () => {
    const samples: Array<Record<string, unknown>> = [];
    const w = new BulkLoad('bulk', spec({ rows: 20_000, chunk: '256KiB', streams: 3 }));
    const rt = runtime(samples);
    await w.load(engine.clientConn(), rt);
    const s = await w.run(() => engine.clientConn(), rt);

    expect(w.data.chunks).toBeGreaterThan(3);
    expect(await serverTotals('bulk_load')).toEqual(expectedTotals(w.data));
    const d = s.details as Record<string, any>;
    expect(d).toMatchObject({ complete: true, requestedRows: 20_000, rowsLoaded: 20_000, chunksLoaded: w.data.chunks, stoppedBy: 'complete' });
    expect(d.verification).toMatchObject({ exact: true, matchesCommittedChunks: true, badChunks: [], found: { rows: 20_000 } });
    expect(d.verification.found.checksum).toBe(d.verification.expected.checksum);
    expect(d.retries).toMatchObject({ failedAttempts: 0, retriedChunks: 0, missing: 0 });
    expect(d.mibPerSec).toBeGreaterThan(0);
    expect(d.walLsnBytes).toBeGreaterThan(d.bytesLoaded * 0.5);
    expect(d.walBytes).toBeGreaterThan(0);
    expect(d.checkpoints).toMatchObject({ timed: expect.any(Number), requested: expect.any(Number), buffersWritten: expect.any(Number) });
    expect(s).toMatchObject({ kind: 'bulk-load', clients: 3, transactions: w.data.chunks, errors: 0 });
    for (const x of samples) expect(x).toMatchObject({ workload: 'bulk', mibPerSec: expect.any(Number), rowsPerSec: expect.any(Number) });
  });

  it('survives the server being killed mid-load: retries only uncommitted chunks and ends exact', async () => {
    const events: Array<{ type: string; data?: any }> = [];
    const w = new BulkLoad('bulk', spec({ rows: 300_000, chunk: '256KiB', streams: 3, reconnectTimeout: '90s', maxAttempts: 10 }));
    const rt = runtime([], events);
    await w.load(engine.clientConn(), rt);
    const running = w.run(() => engine.clientConn(), rt);

    // Wait until some chunks have committed, then cut the power and bring the server back.
    const deadline = performance.now() + 60_000;
    for (;;) {
      const n = await withClient(engine.clientConn(), async (c) => Number((await c.query('select count(*) as n from bulk_load_chunks')).rows[0].n)).catch(() => 0);
      if (n >= 3) break;
      if (performance.now() > deadline) throw new Error('no chunk committed within 60s');
      await sleep(10);
    }
    await engine.process.kill();
    await sleep(300);
    await engine.process.start();
    const s = await running;

    const d = s.details as Record<string, any>;
    expect(d.chunks).toBeGreaterThan(100);
    expect(d.retries.failedAttempts).toBeGreaterThan(0);
    expect(d.retries.retriedChunks).toBeGreaterThan(0);
    expect(d.retries.reconnects).toBeGreaterThan(0);
    for (const f of d.retries.failures) expect(['retried', 'was-committed']).toContain(f.outcome);
    expect(d.retries).toMatchObject({ missing: 0, gaveUp: [], lostAfterAck: [] });
    expect(d).toMatchObject({ complete: true, rowsLoaded: 300_000, stoppedBy: 'complete', statsReset: true });
    expect(d.verification).toMatchObject({ exact: true, matchesCommittedChunks: true, badChunks: [] });
    expect(await serverTotals('bulk_load')).toEqual(expectedTotals(w.data));
    // Every chunk committed exactly once: one marker each.
    const markers = await withClient(engine.clientConn(), async (c) => (await c.query('select count(*)::int as n, count(distinct chunk)::int as d from bulk_load_chunks')).rows[0]);
    expect(markers).toEqual({ n: w.data.chunks, d: w.data.chunks });
    expect(s.errors).toBeGreaterThan(0);
    expect(events.some((e) => e.type === 'chunk-failed')).toBe(true);
  });
  it('gives up on a frozen server connection after its timeout, and ends exact once the server resumes', async () => {
    const events: Array<{ type: string; data?: any }> = [];
    const w = new BulkLoad('bulk', spec({ rows: 60_000, chunk: '64KiB', streams: 2, statementTimeout: '1s', reconnectTimeout: '90s', maxAttempts: 10 }));
    const rt = runtime([], events);
    await w.load(engine.clientConn(), rt);
    const running = w.run(() => engine.clientConn(), rt);
    const until = async (what: string, cond: () => Promise<boolean> | boolean) => {
      const deadline = performance.now() + 60_000;
      while (!(await cond())) {
        if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await sleep(10);
      }
    };
    await until('committed chunks', async () =>
      (await withClient(engine.clientConn(), async (c) => Number((await c.query('select count(*) as n from bulk_load_chunks')).rows[0].n)).catch(() => 0)) >= 3,
    );
    // SIGSTOP: sockets stay open and nothing answers, so only the client-side bound can end the wait.
    await engine.process.pause();
    try {
      await until('a timed-out chunk', () => events.some((e) => e.type === 'chunk-failed' && e.data.kind === 'timeout'));
    } finally {
      await engine.process.resume();
    }
    const s = await running;

    const d = s.details as Record<string, any>;
    expect(d.retries.failures.some((f: { kind: string }) => f.kind === 'timeout')).toBe(true);
    expect(d).toMatchObject({ complete: true, rowsLoaded: 60_000 });
    expect(d.verification).toMatchObject({ exact: true, badChunks: [] });
    expect(await serverTotals('bulk_load')).toEqual(expectedTotals(w.data));
  });

  it('reloads a chunk that was acknowledged and then went missing, as a lost commit would leave it', async () => {
    const events: Array<{ type: string; data?: any }> = [];
    const w = new BulkLoad('bulk', spec({ rows: 150_000, chunk: '256KiB', streams: 2 }));
    const rt = runtime([], events);
    await w.load(engine.clientConn(), rt);
    const running = w.run(() => engine.clientConn(), rt);
    // Once chunk 0 has committed, take it away again (rows and marker) while the load goes on.
    let removed = 0;
    const deadline = performance.now() + 60_000;
    while (!removed) {
      if (performance.now() > deadline) throw new Error('chunk 0 did not commit within 60s');
      removed = await withClient(engine.clientConn(), async (c) => {
        const r = await c.query('with m as (delete from bulk_load_chunks where chunk = 0 returning chunk) delete from bulk_load where chunk in (select chunk from m)');
        return r.rowCount ?? 0;
      });
      if (!removed) await sleep(10);
    }
    const s = await running;

    const d = s.details as Record<string, any>;
    expect(removed).toBe(w.data.rowsIn(0));
    expect(d.retries).toMatchObject({ lostAfterAck: [0], repairRounds: 1, missing: 0 });
    expect(d).toMatchObject({ complete: true, rowsLoaded: 150_000 });
    expect(d.verification).toMatchObject({ exact: true, badChunks: [] });
    expect(await serverTotals('bulk_load')).toEqual(expectedTotals(w.data));
    expect(events.some((e) => e.type === 'chunk-lost-after-commit' && e.data.chunk === 0)).toBe(true);
  });

  it('stops at its time limit and verifies what it committed', async () => {
    const w = new BulkLoad('bulk', spec({ rows: 1_000_000, chunk: '256KiB', streams: 2, duration: '50ms' }));
    const rt = runtime();
    await w.load(engine.clientConn(), rt);
    const s = await w.run(() => engine.clientConn(), rt);

    const d = s.details as Record<string, any>;
    expect(d).toMatchObject({ complete: false, stoppedBy: 'time-limit' });
    expect(d.rowsLoaded).toBeLessThan(1_000_000);
    expect(d.retries.missing).toBe(w.data.chunks - d.chunksLoaded);
    expect(d.verification).toMatchObject({ exact: false, matchesCommittedChunks: true, badChunks: [], found: { rows: d.rowsLoaded } });
    expect((await serverTotals('bulk_load')).rows).toBe(d.rowsLoaded);
  });
});
