// Judges the ledger against what the database holds after the run. The ledger is the client's
// record of what the server promised; the table is what the server kept.
import type { ConnInfo } from '../engine/types.ts';
import { withClient } from '../engine/pg.ts';
import type { SafetySummary } from '../model/summary.ts';
import { LEDGER_TABLE, readLedger, type LedgerAttempt, type Outcome } from './ledger.ts';

/** One id as read back from the table. */
export interface RowFound {
  id: string;
  /** sha256 (hex) of the payload as stored; null when copies of the id disagree. */
  checksum: string | null;
  /** How many rows carry this id: more than one only if the primary key was broken. */
  count: number;
  /** False when the row's own checksum column does not match its payload. */
  intact?: boolean;
}

const ID_SAMPLE = 100;

export type LedgerClassification = Omit<SafetySummary, 'bank'> & {
  lostIds: string[];
  phantomIds: string[];
  corruptedIds: string[];
  duplicatedIds: string[];
  /** Phantoms whose id no attempt used, as opposed to attempts that definitely failed. */
  phantomUnattempted: number;
};

// When a ledger holds an id twice (it should not), the strongest claim wins: an acknowledgement
// obliges the database to keep the row whatever else was recorded.
const RANK: Record<Outcome, number> = { failed: 0, indeterminate: 1, ok: 2 };

export function classifyLedger(attempts: Iterable<LedgerAttempt>, rowsFound: Iterable<RowFound>): LedgerClassification {
  const byId = new Map<string, LedgerAttempt>();
  for (const a of attempts) {
    const seen = byId.get(a.id);
    if (!seen || RANK[a.outcome] > RANK[seen.outcome]) byId.set(a.id, a);
  }
  const rows = new Map<string, RowFound>();
  for (const r of rowsFound) {
    const seen = rows.get(r.id);
    // Read-backs are grouped by id; merging here keeps the classifier honest on raw row lists too.
    if (seen) rows.set(r.id, { id: r.id, count: seen.count + r.count, checksum: seen.checksum === r.checksum ? r.checksum : null, intact: seen.intact !== false && r.intact !== false });
    else rows.set(r.id, r);
  }

  const out: LedgerClassification = {
    attempted: byId.size,
    acknowledged: 0,
    failed: 0,
    indeterminate: 0,
    indeterminatePresent: 0,
    indeterminateAbsent: 0,
    lost: 0,
    phantom: 0,
    phantomUnattempted: 0,
    duplicated: 0,
    corrupted: 0,
    lostIds: [],
    phantomIds: [],
    corruptedIds: [],
    duplicatedIds: [],
  };
  const sample = (list: string[], id: string) => {
    if (list.length < ID_SAMPLE) list.push(id);
  };

  for (const a of byId.values()) {
    const row = rows.get(a.id);
    if (a.outcome === 'ok') {
      out.acknowledged++;
      if (!row) {
        out.lost++;
        sample(out.lostIds, a.id);
      }
    } else if (a.outcome === 'failed') {
      out.failed++;
    } else {
      out.indeterminate++;
      if (row) out.indeterminatePresent++;
      else out.indeterminateAbsent++;
    }
  }

  for (const row of rows.values()) {
    const a = byId.get(row.id);
    // A phantom is a row the clients were never promised could exist: either no attempt used its id,
    // or its attempt definitely failed (the server said it rolled back, or the insert was never sent).
    if (!a || a.outcome === 'failed') {
      out.phantom++;
      if (!a) out.phantomUnattempted++;
      sample(out.phantomIds, row.id);
    }
    if (row.count > 1) {
      out.duplicated++;
      sample(out.duplicatedIds, row.id);
    }
    if (row.intact === false || (a && row.checksum !== a.checksum)) {
      out.corrupted++;
      sample(out.corruptedIds, row.id);
    }
  }
  return out;
}

/**
 * Every row of the ledger table, grouped by id. Index scans are switched off so the rows come from
 * the heap: a broken primary-key index could hide a duplicate from an index scan, never from this.
 */
export async function readLedgerTable(conn: ConnInfo): Promise<RowFound[] | null> {
  return withClient(conn, async (c) => {
    // A crash can take the table itself if its creation was never flushed; that is data, not an error.
    const exists = await c.query<{ t: string | null }>('select to_regclass($1)::text as t', [LEDGER_TABLE]);
    if (!exists.rows[0]?.t) return null;
    await c.query('begin transaction isolation level repeatable read read only');
    await c.query('set local enable_indexscan = off');
    await c.query('set local enable_indexonlyscan = off');
    await c.query('set local enable_bitmapscan = off');
    const r = await c.query<{ id: string; n: number; sums: string[]; intact: boolean }>(`
      select id, count(*)::int as n,
             array_agg(distinct encode(sha256(convert_to(payload, 'UTF8')), 'hex')) as sums,
             bool_and(checksum = encode(sha256(convert_to(payload, 'UTF8')), 'hex')) as intact
        from ${LEDGER_TABLE} group by id`);
    await c.query('commit');
    return r.rows.map((row) => ({ id: row.id, count: row.n, checksum: row.sums.length === 1 ? row.sums[0] : null, intact: row.intact }));
  });
}

export type LedgerVerdict = LedgerClassification & {
  /** Ledger lines that could not be read as attempts (a torn last line after a kill is expected). */
  malformedLines: number;
  /** The ledger table itself was gone after recovery: every acknowledged write counts as lost. */
  tableMissing: boolean;
};

/** Reads back the table and classifies the ledger file against it. Call after the engine is healthy. */
export async function verifyLedger(conn: ConnInfo, ledgerFile: string): Promise<LedgerVerdict> {
  const { attempts, malformed } = await readLedger(ledgerFile);
  const rows = await readLedgerTable(conn);
  return { ...classifyLedger(attempts, rows ?? []), malformedLines: malformed, tableMissing: rows === null };
}
