// The verifier against a real PostgreSQL whose ledger table is larger than one cursor fetch: every
// fetch must be read, and a row at either side of a fetch boundary must be judged like any other.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deployBareMetalPostgres, resolveBinDir, type BareMetalPostgres } from '../platforms/baremetal/platform.ts';
import { CleanupRegistry } from '../core/cleanup.ts';
import { RunClock } from '../core/clock.ts';
import { withClient } from '../engine/pg.ts';
import { LEDGER_TABLE, LedgerWriter, payloadChecksum, type LedgerAttempt } from './ledger.ts';
import { LEDGER_FETCH_ROWS, forEachLedgerRow, verifyLedger } from './verifier.ts';

const registry = new CleanupRegistry();
const dir = mkdtempSync(join(tmpdir(), 'statebench-verifier-'));
let engine: BareMetalPostgres;

beforeAll(async () => {
  // The server runs as an unprivileged user when the tests run as root; it must reach its volume.
  chmodSync(dir, 0o755);
  engine = await deployBareMetalPostgres({
    binDir: await resolveBinDir(),
    volume: join(dir, 'volume'),
    stateDir: join(dir, 'state'),
    settings: {},
    startTimeoutMs: 60_000,
    registry,
  });
});

afterAll(async () => {
  const errors = await registry.releaseAll();
  rmSync(dir, { recursive: true, force: true });
  expect(errors).toEqual([]);
});

// Ids of one length, so the table's id order is the order of the numbers in them.
const idOf = (n: number) => `id-${String(n).padStart(5, '0')}`;

describe('verifyLedger on a ledger larger than one fetch', () => {
  it('reads every fetch and judges the rows on both sides of a fetch boundary', async () => {
    const total = 2 * LEDGER_FETCH_ROWS + LEDGER_FETCH_ROWS / 2;
    const conn = engine.clientConn();
    await new LedgerWriter({ conn: () => conn, clock: new RunClock(), file: join(dir, 'unused.jsonl') }).prepare(conn);

    // Every id acknowledged in the ledger, every id written to the table with the same payload.
    const ledger = join(dir, 'ledger.jsonl');
    const lines: string[] = [];
    for (let n = 0; n < total; n++) {
      const a: LedgerAttempt = { id: idOf(n), writer: 0, seq: n, startMs: n, endMs: n + 1, outcome: 'ok', checksum: payloadChecksum(`payload-${idOf(n)}`) };
      lines.push(JSON.stringify(a));
    }
    writeFileSync(ledger, lines.join('\n') + '\n');

    const lastOfFirst = idOf(LEDGER_FETCH_ROWS - 1);
    const firstOfSecond = idOf(LEDGER_FETCH_ROWS);
    const lastId = idOf(total - 1);
    // A phantom that sorts between the lost id and the next: it takes the lost row's place as the
    // first fetch's last row.
    const boundaryPhantom = `${lastOfFirst}z`;
    const tailPhantom = 'id-99999';
    await withClient(conn, async (c) => {
      await c.query(
        `insert into ${LEDGER_TABLE} (id, payload, checksum, writer)
           select id, p, encode(sha256(convert_to(p, 'UTF8')), 'hex'), 0
             from (select 'id-' || lpad(g::text, 5, '0') as id, 'payload-id-' || lpad(g::text, 5, '0') as p
                     from generate_series(0, $1::int - 1) g) s`,
        [total],
      );
      // Lost: the first fetch's last acknowledged id, and the very last one (in the short last fetch).
      await c.query(`delete from ${LEDGER_TABLE} where id = any($1)`, [[lastOfFirst, lastId]]);
      // Corrupted: the second fetch's first row, its payload changed and its own checksum kept.
      await c.query(`update ${LEDGER_TABLE} set payload = 'changed' where id = $1`, [firstOfSecond]);
      // Phantoms: one at the boundary, one at the end of the table.
      for (const id of [boundaryPhantom, tailPhantom]) {
        await c.query(`insert into ${LEDGER_TABLE} (id, payload, checksum, writer) values ($1, 'p', $2, 0)`, [id, payloadChecksum('p')]);
      }
    });

    // The read-back itself: every row once, in id order, the boundary where the test put it.
    const seen: string[] = [];
    expect(await forEachLedgerRow(conn, (r) => seen.push(r.id))).toBe(true);
    expect(seen).toHaveLength(total);
    expect(new Set(seen).size).toBe(total);
    expect(seen[LEDGER_FETCH_ROWS - 1]).toBe(boundaryPhantom);
    expect(seen[LEDGER_FETCH_ROWS]).toBe(firstOfSecond);
    expect(seen[total - 1]).toBe(tailPhantom);

    const v = await verifyLedger(conn, ledger);
    expect(v).toMatchObject({ attempted: total, acknowledged: total, lost: 2, phantom: 2, phantomUnattempted: 2, corrupted: 1, duplicated: 0, malformedLines: 0, tableMissing: false });
    expect([...v.lostIds].sort()).toEqual([lastOfFirst, lastId]);
    expect([...v.phantomIds].sort()).toEqual([boundaryPhantom, tailPhantom]);
    expect(v.corruptedIds).toEqual([firstOfSecond]);
  });
});
