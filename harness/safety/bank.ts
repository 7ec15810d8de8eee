// The bank: money moves between accounts in transactions, so the total never changes and no balance
// goes below zero, whatever faults hit the server. A reader checks both invariants continuously on
// consistent snapshots, and once more after recovery. A lost commit alone cannot break them (each
// transfer is atomic); what breaks them is a torn transaction, a snapshot that sees half a transfer,
// or a recovery that replays only part of one.
import type { ConnInfo } from '../engine/types.ts';
import { withClient } from '../engine/pg.ts';
import { sleep, type Clock } from '../core/clock.ts';
import type { JsonlWriter } from '../core/jsonl.ts';
import type { SafetySummary } from '../model/summary.ts';
import { SafetyConnection, errorText, isDefiniteRollback } from './connection.ts';

export const BANK_TABLE = 'statebench_accounts';

export type BankSummary = NonNullable<SafetySummary['bank']>;

export interface BankOptions {
  /** Resolved before every connection, so an HA access path may move. */
  conn: () => ConnInfo;
  clock: Clock;
  /** Default 10. */
  accounts?: number;
  /** Default 100. */
  initialBalance?: number;
  /** Concurrent transfer connections. Default 4. */
  clients?: number;
  /** Largest single transfer. Default initialBalance / 2, so declined transfers are common. */
  maxAmount?: number;
  /** Bound on one transfer or one check, connecting included. Default 2000 ms. */
  timeoutMs?: number;
  /** Default 200 ms. */
  checkIntervalMs?: number;
  /** Pause after a failed transfer doubles up to this. Default 20 ms. */
  maxBackoffMs?: number;
  /** Violations are appended here as they are seen (events.jsonl). */
  events?: JsonlWriter;
  /** Safety bound if stop() is never called. Default 6 h. */
  maxDurationMs?: number;
}

export interface BankSnapshot {
  total: number;
  negatives: number;
  rows: number;
}

export interface BankViolation extends BankSnapshot {
  /** Run-clock ms when the snapshot was read. */
  atMs: number;
  final: boolean;
  why: string;
}

export interface BankCounts {
  /** Transfers whose commit was acknowledged. */
  transfers: number;
  /** Transfers refused because the source account could not cover them (no money moved). */
  declined: number;
  failed: number;
  /** Commit sent, answer lost: the money moved or it did not, atomically either way. */
  indeterminate: number;
  checks: number;
  checkErrors: number;
  violations: number;
}

const VIOLATION_SAMPLE = 100;

export class BankWorkload {
  private readonly accounts: number;
  private readonly initialBalance: number;
  private readonly clients: number;
  private readonly maxAmount: number;
  private readonly timeoutMs: number;
  private readonly checkIntervalMs: number;
  private readonly maxBackoffMs: number;
  private readonly abort = new AbortController();
  private loops: Promise<void>[] = [];
  private readonly tally: BankCounts = { transfers: 0, declined: 0, failed: 0, indeterminate: 0, checks: 0, checkErrors: 0, violations: 0 };
  /** The first violations seen, for the report; the count is in the tally. */
  readonly violations: BankViolation[] = [];
  /** Most recent errors, for diagnosing a run that made no progress. */
  lastTransferError?: string;
  lastCheckError?: string;

  constructor(private readonly o: BankOptions) {
    this.accounts = Math.max(2, o.accounts ?? 10);
    this.initialBalance = o.initialBalance ?? 100;
    this.clients = Math.max(1, o.clients ?? 4);
    this.maxAmount = Math.max(1, o.maxAmount ?? Math.floor(this.initialBalance / 2));
    this.timeoutMs = o.timeoutMs ?? 2_000;
    this.checkIntervalMs = o.checkIntervalMs ?? 200;
    this.maxBackoffMs = Math.min(20, o.maxBackoffMs ?? 20);
  }

  get expectedTotal(): number {
    return this.accounts * this.initialBalance;
  }

  /**
   * Creates the accounts afresh. No check constraint on balance: the workload must be what keeps it
   * non-negative, so a broken transaction shows up as a violation instead of a refused write.
   */
  async prepare(conn: ConnInfo = this.o.conn()): Promise<void> {
    await withClient(conn, async (c) => {
      // Durable whatever the server's synchronous_commit, so a crash cannot take the opening balances.
      await c.query('set synchronous_commit = on');
      await c.query(`drop table if exists ${BANK_TABLE}`);
      await c.query(`create table ${BANK_TABLE} (id int primary key, balance bigint not null)`);
      await c.query(`insert into ${BANK_TABLE} (id, balance) select g, $1 from generate_series(1, $2) g`, [this.initialBalance, this.accounts]);
    });
  }

  start(): void {
    if (this.loops.length) throw new Error('BankWorkload already started');
    const deadline = this.o.clock.now() + (this.o.maxDurationMs ?? 6 * 3_600_000);
    for (let i = 0; i < this.clients; i++) this.loops.push(this.transferLoop(i, deadline));
    this.loops.push(this.checkLoop(deadline));
  }

  counts(): BankCounts {
    return { ...this.tally };
  }

  async stop(): Promise<BankCounts> {
    this.abort.abort(new Error('bank workload stopped'));
    await Promise.all(this.loops);
    return this.counts();
  }

  /** The invariants once more, after the engine recovered; call after stop(). */
  async finalCheck(conn: ConnInfo = this.o.conn()): Promise<BankSummary> {
    const snap = await withClient(conn, (c) => snapshot((text) => c.query(text)));
    this.judge(snap, this.o.clock.now(), true);
    return {
      accounts: this.accounts,
      transfers: this.tally.transfers,
      checks: this.tally.checks,
      violations: this.tally.violations,
      expectedTotal: this.expectedTotal,
      finalTotal: snap.total,
      negativeBalances: snap.negatives,
    };
  }

  private async transferLoop(client: number, deadline: number): Promise<void> {
    const connection = new SafetyConnection();
    let backoff = 0;
    try {
      // Bounded by time and by a count far beyond what a run reaches.
      for (let n = 0; n < 100_000_000 && !this.abort.signal.aborted && this.o.clock.now() < deadline; n++) {
        const outcome = await this.transfer(connection, client);
        this.tally[outcome === 'committed' ? 'transfers' : outcome]++;
        if (outcome === 'committed' || outcome === 'declined') {
          backoff = 0;
          continue;
        }
        backoff = Math.min(this.maxBackoffMs, backoff ? backoff * 2 : 1);
        try {
          await sleep(backoff, this.abort.signal);
        } catch {
          break;
        }
      }
    } finally {
      connection.close();
    }
  }

  private async transfer(connection: SafetyConnection, client: number): Promise<'committed' | 'declined' | 'failed' | 'indeterminate'> {
    const from = 1 + Math.floor(Math.random() * this.accounts);
    let to = 1 + Math.floor(Math.random() * (this.accounts - 1));
    if (to >= from) to++;
    const amount = 1 + Math.floor(Math.random() * this.maxAmount);
    const deadline = performance.now() + this.timeoutMs;
    const remaining = () => Math.max(1, deadline - performance.now());
    let committing = false;
    try {
      if (!connection.usable) await connection.open(this.o.conn(), remaining(), `statebench-bank-${client}`);
      await connection.query('begin', [], remaining());
      // Locks in id order, whichever direction the money goes, so two transfers never deadlock.
      const r = await connection.query<{ id: number; balance: string }>(
        `select id, balance from ${BANK_TABLE} where id = any($1::int[]) order by id for update`,
        [[from, to]],
        remaining(),
      );
      const source = r.rows.find((row) => row.id === from);
      if (!source || Number(source.balance) < amount) {
        await connection.query('rollback', [], remaining());
        return 'declined';
      }
      await connection.query(
        `update ${BANK_TABLE} set balance = balance + case when id = $1 then -$3::bigint else $3::bigint end where id in ($1, $2)`,
        [from, to, amount],
        remaining(),
      );
      committing = true;
      await connection.query('commit', [], remaining());
      return 'committed';
    } catch (e) {
      this.lastTransferError = errorText(e);
      connection.close();
      return committing && !isDefiniteRollback(e) ? 'indeterminate' : 'failed';
    }
  }

  private async checkLoop(deadline: number): Promise<void> {
    const connection = new SafetyConnection();
    try {
      for (let n = 0; n < 100_000_000 && !this.abort.signal.aborted && this.o.clock.now() < deadline; n++) {
        const started = this.o.clock.now();
        try {
          if (!connection.usable) await connection.open(this.o.conn(), this.timeoutMs, 'statebench-bank-check');
          const snap = await snapshot((text) => connection.query(text, [], this.timeoutMs));
          this.tally.checks++;
          this.judge(snap, this.o.clock.now(), false);
        } catch (e) {
          // Expected while the server is down; the invariants are judged on the snapshots that succeed.
          this.tally.checkErrors++;
          this.lastCheckError = errorText(e);
          connection.close();
        }
        try {
          await sleep(Math.max(1, started + this.checkIntervalMs - this.o.clock.now()), this.abort.signal);
        } catch {
          break;
        }
      }
    } finally {
      connection.close();
    }
  }

  private judge(snap: BankSnapshot, atMs: number, final: boolean): void {
    const why: string[] = [];
    if (snap.total !== this.expectedTotal) why.push(`total ${snap.total} != ${this.expectedTotal}`);
    if (snap.negatives > 0) why.push(`${snap.negatives} negative balance(s)`);
    if (snap.rows !== this.accounts) why.push(`${snap.rows} accounts, expected ${this.accounts}`);
    if (!why.length) return;
    const v: BankViolation = { ...snap, atMs, final, why: why.join('; ') };
    this.tally.violations++;
    if (this.violations.length < VIOLATION_SAMPLE) this.violations.push(v);
    this.o.events?.write({ type: 'bank-violation', ...v });
  }
}

// One statement, so one snapshot: the sum can never see half of a committed transfer.
async function snapshot(query: (text: string) => Promise<{ rows: { total: string; negatives: number; n: number }[] }>): Promise<BankSnapshot> {
  const r = await query(
    `select coalesce(sum(balance), 0)::text as total, count(*) filter (where balance < 0)::int as negatives, count(*)::int as n from ${BANK_TABLE}`,
  );
  const row = r.rows[0];
  return { total: Number(row.total), negatives: row.negatives, rows: row.n };
}
