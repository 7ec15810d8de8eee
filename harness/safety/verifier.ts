// Judges the ledger against what the database holds after the run. The ledger is the client's
// record of what the server promised; the table is what the server kept.
import type { ConnInfo } from '../engine/types.ts';
import { withClient } from '../engine/pg.ts';
import type { SafetySummary } from '../model/summary.ts';
import { LEDGER_TABLE, forEachLedgerAttempt, type LedgerAttempt, type Outcome } from './ledger.ts';

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

/** What the classification keeps of an attempt: the strongest claim made for its id. */
interface Claim {
  outcome: Outcome;
  checksum: string;
  /** The table holds the id. */
  found: boolean;
}

/**
 * The classification, fed one attempt and then one table id at a time: a long run's ledger and table
 * are read as streams, and only the claims (outcome and checksum per id) are held, not the attempts
 * or the rows. Every attempt must be added before the first row.
 */
export class LedgerTally {
  private readonly byId = new Map<string, Claim>();
  private readonly out: LedgerClassification = {
    attempted: 0,
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

  addAttempt(a: Pick<LedgerAttempt, 'id' | 'outcome' | 'checksum'>): void {
    const seen = this.byId.get(a.id);
    if (!seen) this.byId.set(a.id, { outcome: a.outcome, checksum: a.checksum, found: false });
    else if (RANK[a.outcome] > RANK[seen.outcome]) {
      seen.outcome = a.outcome;
      seen.checksum = a.checksum;
    }
  }

  /** One id as the table holds it, its copies already merged (each id once). */
  addRow(row: RowFound): void {
    const out = this.out;
    const a = this.byId.get(row.id);
    if (a) a.found = true;
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

  result(): LedgerClassification {
    const out = { ...this.out, attempted: this.byId.size, acknowledged: 0, failed: 0, indeterminate: 0, indeterminatePresent: 0, indeterminateAbsent: 0, lost: 0, lostIds: [] as string[] };
    for (const [id, a] of this.byId) {
      if (a.outcome === 'ok') {
        out.acknowledged++;
        if (!a.found) {
          out.lost++;
          sample(out.lostIds, id);
        }
      } else if (a.outcome === 'failed') {
        out.failed++;
      } else {
        out.indeterminate++;
        if (a.found) out.indeterminatePresent++;
        else out.indeterminateAbsent++;
      }
    }
    return out;
  }
}

function sample(list: string[], id: string): void {
  if (list.length < ID_SAMPLE) list.push(id);
}

export function classifyLedger(attempts: Iterable<LedgerAttempt>, rowsFound: Iterable<RowFound>): LedgerClassification {
  const tally = new LedgerTally();
  for (const a of attempts) tally.addAttempt(a);
  const rows = new Map<string, RowFound>();
  for (const r of rowsFound) {
    const seen = rows.get(r.id);
    // Read-backs are grouped by id; merging here keeps the classifier honest on raw row lists too.
    if (seen) rows.set(r.id, { id: r.id, count: seen.count + r.count, checksum: seen.checksum === r.checksum ? r.checksum : null, intact: seen.intact !== false && r.intact !== false });
    else rows.set(r.id, r);
  }
  for (const r of rows.values()) tally.addRow(r);
  return tally.result();
}

/** Rows fetched from the server at a time while the ledger table is read back. */
export const LEDGER_FETCH_ROWS = 10_000;

/**
 * Every row of the ledger table, grouped by id, to `each` in id order, a batch at a time through a
 * cursor (a long run's table does not have to fit in memory). The order puts each id at a known
 * place, so where one fetch ends and the next begins can be tested. Index scans are switched off so the rows come from
 * the heap: a broken primary-key index could hide a duplicate from an index scan, never from this.
 * Resolves false when the table does not exist.
 */
export async function forEachLedgerRow(conn: ConnInfo, each: (r: RowFound) => void): Promise<boolean> {
  return withClient(conn, async (c) => {
    // A crash can take the table itself if its creation was never flushed; that is data, not an error.
    const exists = await c.query<{ t: string | null }>('select to_regclass($1)::text as t', [LEDGER_TABLE]);
    if (!exists.rows[0]?.t) return false;
    await c.query('begin transaction isolation level repeatable read read only');
    await c.query('set local enable_indexscan = off');
    await c.query('set local enable_indexonlyscan = off');
    await c.query('set local enable_bitmapscan = off');
    await c.query(`declare ledger_rows no scroll cursor for
      select id, count(*)::int as n,
             array_agg(distinct encode(sha256(convert_to(payload, 'UTF8')), 'hex')) as sums,
             bool_and(checksum = encode(sha256(convert_to(payload, 'UTF8')), 'hex')) as intact
        from ${LEDGER_TABLE} group by id order by id`);
    for (;;) {
      const r = await c.query<{ id: string; n: number; sums: string[]; intact: boolean }>(`fetch ${LEDGER_FETCH_ROWS} from ledger_rows`);
      for (const row of r.rows) each({ id: row.id, count: row.n, checksum: row.sums.length === 1 ? row.sums[0] : null, intact: row.intact });
      if (r.rows.length < LEDGER_FETCH_ROWS) break;
    }
    await c.query('commit');
    return true;
  });
}

/** Every row of the ledger table, grouped by id, in memory; null when the table does not exist. */
export async function readLedgerTable(conn: ConnInfo): Promise<RowFound[] | null> {
  const rows: RowFound[] = [];
  return (await forEachLedgerRow(conn, (r) => rows.push(r))) ? rows : null;
}

export type LedgerVerdict = LedgerClassification & {
  /** Ledger lines that could not be read as attempts (a torn last line after a kill is expected). */
  malformedLines: number;
  /** The ledger table itself was gone after recovery: every acknowledged write counts as lost. */
  tableMissing: boolean;
};

/**
 * Reads back the table and classifies the ledger file against it, both as streams. Call after the
 * engine is healthy.
 */
export async function verifyLedger(conn: ConnInfo, ledgerFile: string): Promise<LedgerVerdict> {
  const tally = new LedgerTally();
  const malformed = await forEachLedgerAttempt(ledgerFile, (a) => tally.addAttempt(a));
  const exists = await forEachLedgerRow(conn, (r) => tally.addRow(r));
  return { ...tally.result(), malformedLines: malformed, tableMissing: !exists };
}
