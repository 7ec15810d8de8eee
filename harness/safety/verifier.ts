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

const OUTCOMES: Outcome[] = ['failed', 'indeterminate', 'ok'];
const SHA256_HEX = /^[0-9a-f]{64}$/;
/** `<prefix>-<writer>-<seq>`: the lane is everything before the last dash, the seq indexes it. */
const LANE_ID = /^(.+)-(\d{1,7})$/;
/** Above this a seq goes to the map: a lane's arrays grow to the highest seq it holds. */
const MAX_LANE_SEQ = 4_000_000;

/**
 * The claims of one writer, indexed by sequence number: a state byte (0 none, else the outcome's
 * rank + 1, +8 once found) and the 32-byte checksum. A long run's ledger holds hundreds of thousands
 * of ids; as a Map of id strings to objects that cost about 265 bytes an id (and the CLI's peak
 * memory grew with the run's writes), packed like this 33 (58 with the arrays' spare room).
 */
class Lane {
  state = new Uint8Array(1024);
  sums = Buffer.alloc(1024 * 32);

  has(seq: number): boolean {
    return seq < this.state.length && this.state[seq] !== 0;
  }

  outcome(seq: number): Outcome {
    return OUTCOMES[(this.state[seq] & 7) - 1];
  }

  found(seq: number): boolean {
    return (this.state[seq] & 8) !== 0;
  }

  checksum(seq: number): string {
    return this.sums.toString('hex', seq * 32, seq * 32 + 32);
  }

  set(seq: number, outcome: Outcome, checksum: string): void {
    if (seq >= this.state.length) this.grow(seq + 1);
    this.state[seq] = (this.state[seq] & 8) | (RANK[outcome] + 1);
    this.sums.write(checksum, seq * 32, 32, 'hex');
  }

  markFound(seq: number): void {
    this.state[seq] |= 8;
  }

  forget(seq: number): void {
    this.state[seq] = 0;
  }

  private grow(min: number): void {
    let n = this.state.length;
    while (n < min) n *= 2;
    const state = new Uint8Array(n);
    state.set(this.state);
    const sums = Buffer.alloc(n * 32);
    this.sums.copy(sums);
    this.state = state;
    this.sums = sums;
  }
}

/**
 * The classification, fed one attempt and then one table id at a time: a long run's ledger and table
 * are read as streams, and only the claims (outcome and checksum per id) are held, not the attempts
 * or the rows. Every attempt must be added before the first row. Ids of the ledger's own form go
 * into packed lanes; any other id (a hand-made ledger, a checksum that is not sha256 hex) into a map.
 */
export class LedgerTally {
  private readonly lanes = new Map<string, Lane>();
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

  /** The lane and seq an id packs into, or undefined when it does not have the ledger's form. */
  private slot(id: string, create: boolean): { lane: Lane; seq: number } | undefined {
    const m = LANE_ID.exec(id);
    // The id must come back from (lane, seq) unchanged: no leading zeros.
    if (!m || (m[2].length > 1 && m[2][0] === '0') || Number(m[2]) > MAX_LANE_SEQ) return undefined;
    let lane = this.lanes.get(m[1]);
    if (!lane) {
      if (!create) return undefined;
      lane = new Lane();
      this.lanes.set(m[1], lane);
    }
    return { lane, seq: Number(m[2]) };
  }

  addAttempt(a: Pick<LedgerAttempt, 'id' | 'outcome' | 'checksum'>): void {
    const packable = SHA256_HEX.test(a.checksum);
    const slot = this.byId.has(a.id) ? undefined : this.slot(a.id, packable);
    if (slot?.lane.has(slot.seq)) {
      if (RANK[a.outcome] <= RANK[slot.lane.outcome(slot.seq)]) return;
      if (packable) return slot.lane.set(slot.seq, a.outcome, a.checksum);
      // A stronger claim whose checksum cannot be packed: the id moves to the map.
      slot.lane.forget(slot.seq);
      this.byId.set(a.id, { outcome: a.outcome, checksum: a.checksum, found: false });
      return;
    }
    if (slot && packable) return slot.lane.set(slot.seq, a.outcome, a.checksum);
    const seen = this.byId.get(a.id);
    if (!seen) this.byId.set(a.id, { outcome: a.outcome, checksum: a.checksum, found: false });
    else if (RANK[a.outcome] > RANK[seen.outcome]) {
      seen.outcome = a.outcome;
      seen.checksum = a.checksum;
    }
  }

  /** The claim for an id, marked found. */
  private claimFound(id: string): { outcome: Outcome; checksum: string } | undefined {
    const slot = this.slot(id, false);
    if (slot?.lane.has(slot.seq)) {
      slot.lane.markFound(slot.seq);
      return { outcome: slot.lane.outcome(slot.seq), checksum: slot.lane.checksum(slot.seq) };
    }
    const a = this.byId.get(id);
    if (a) a.found = true;
    return a;
  }

  /** One id as the table holds it, its copies already merged (each id once). */
  addRow(row: RowFound): void {
    const out = this.out;
    const a = this.claimFound(row.id);
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
    const out = { ...this.out, attempted: 0, acknowledged: 0, failed: 0, indeterminate: 0, indeterminatePresent: 0, indeterminateAbsent: 0, lost: 0, lostIds: [] as string[] };
    const count = (id: () => string, outcome: Outcome, found: boolean) => {
      out.attempted++;
      if (outcome === 'ok') {
        out.acknowledged++;
        if (!found) {
          out.lost++;
          if (out.lostIds.length < ID_SAMPLE) out.lostIds.push(id());
        }
      } else if (outcome === 'failed') {
        out.failed++;
      } else {
        out.indeterminate++;
        if (found) out.indeterminatePresent++;
        else out.indeterminateAbsent++;
      }
    };
    for (const [prefix, lane] of this.lanes) {
      for (let seq = 0; seq < lane.state.length; seq++) {
        if (lane.state[seq] !== 0) count(() => `${prefix}-${seq}`, lane.outcome(seq), lane.found(seq));
      }
    }
    for (const [id, a] of this.byId) count(() => id, a.outcome, a.found);
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
