// The acknowledged-write ledger. Beside the workload, a few connections insert rows with unique ids
// for the whole run, and every attempt is written to ledger.jsonl the moment its outcome is known.
// Afterwards the verifier compares the ledger with the table: a row the server acknowledged must be
// there, a row whose insert definitely failed must not, and an attempt cut off mid-commit may go
// either way. The same attempts give the recovery timeline of each fault.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { ConnInfo } from '../engine/types.ts';
import { withClient } from '../engine/pg.ts';
import { sleep, type Clock } from '../core/clock.ts';
import { JsonlWriter } from '../core/jsonl.ts';
import { SafetyConnection, errorText, isDefiniteRollback, type ServerIdentity } from './connection.ts';

export const LEDGER_TABLE = 'statebench_ledger';

/**
 * ok: the commit was acknowledged. failed: it provably did not commit (no connection, or the server
 * answered with an error and rolled back). indeterminate: the connection was lost or timed out while
 * the statement was in flight, so the commit may or may not have happened.
 */
export type Outcome = 'ok' | 'failed' | 'indeterminate';

export interface AckingServer extends ServerIdentity {
  /** host:port this connection was opened to (the access path, which may be a proxy). */
  target: string;
  /** Timeline the commit was written on; changes on promotion. */
  timeline: number | null;
}

export interface LedgerAttempt {
  id: string;
  writer: number;
  seq: number;
  /** Run-clock milliseconds. */
  startMs: number;
  endMs: number;
  outcome: Outcome;
  /** sha256 (hex) of the payload this attempt inserted. */
  checksum: string;
  server?: AckingServer;
  error?: string;
}

export interface LedgerCounts {
  attempted: number;
  acknowledged: number;
  failed: number;
  indeterminate: number;
}

export interface LedgerWriterOptions {
  /** Resolved before every connection, so an HA access path may move between attempts. */
  conn: () => ConnInfo;
  clock: Clock;
  /** ledger.jsonl; appended to. */
  file: string;
  /** Concurrent connections, each inserting one row at a time. Default 4. */
  clients?: number;
  /** Bound on one attempt, connecting included. Default 2000 ms. */
  timeoutMs?: number;
  /** Pause after a failed attempt doubles up to this; at most 20 ms so recovery is seen within 20 ms. */
  maxBackoffMs?: number;
  /** Payload length in characters. Default 64. */
  payloadChars?: number;
  /** Keeps ids unique across runs sharing a database. Default: random. */
  idPrefix?: string;
  /**
   * Attempts per second per client once writes succeed; unset means as fast as the server allows.
   * A run that measures throughput paces the writer so it does not compete with the workload.
   */
  ratePerClient?: number;
  /** Safety bound if stop() is never called. Default 6 h. */
  maxDurationMs?: number;
  /** Safety bound on attempts per client. Default 50 million. */
  maxAttemptsPerClient?: number;
  /** Sees each attempt as it is recorded, for live timelines. */
  onAttempt?: (a: LedgerAttempt) => void;
}

const BACKOFF_CEILING_MS = 20;

// The timeline comes from the current WAL file name, which is free to compute; pg_control_* functions
// would read the control file from disk on every insert.
const INSERT_SQL = `insert into ${LEDGER_TABLE} (id, payload, checksum, writer) values ($1, $2, $3, $4)
  returning ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int as timeline`;

export function payloadChecksum(payload: string): string {
  return createHash('sha256').update(payload, 'utf8').digest('hex');
}

export class LedgerWriter {
  private readonly clients: number;
  private readonly timeoutMs: number;
  private readonly maxBackoffMs: number;
  private readonly payloadChars: number;
  private readonly idPrefix: string;
  private readonly ledger: JsonlWriter;
  private readonly abort = new AbortController();
  private loops: Promise<void>[] = [];
  private readonly tally: LedgerCounts = { attempted: 0, acknowledged: 0, failed: 0, indeterminate: 0 };

  constructor(private readonly o: LedgerWriterOptions) {
    this.clients = Math.max(1, o.clients ?? 4);
    this.timeoutMs = o.timeoutMs ?? 2_000;
    this.maxBackoffMs = Math.min(BACKOFF_CEILING_MS, Math.max(0, o.maxBackoffMs ?? BACKOFF_CEILING_MS));
    this.payloadChars = Math.max(8, o.payloadChars ?? 64);
    this.idPrefix = o.idPrefix ?? randomBytes(3).toString('hex');
    this.ledger = new JsonlWriter(o.file);
  }

  /**
   * Creates the ledger table, empty. Rows left by an earlier run would all be phantoms to this run's
   * ledger. No constraint beyond the primary key: the verifier, not the schema, judges the rows.
   */
  async prepare(conn: ConnInfo = this.o.conn()): Promise<void> {
    await withClient(conn, async (c) => {
      // The setup must survive a crash whatever the server's synchronous_commit: only the measured
      // writes should be exposed to the setting under test.
      await c.query('set synchronous_commit = on');
      await c.query(`drop table if exists ${LEDGER_TABLE}`);
      await c.query(`create table ${LEDGER_TABLE} (
        id text primary key,
        payload text not null,
        checksum text not null,
        writer int not null,
        written_at timestamptz not null default now())`);
    });
  }

  start(): void {
    if (this.loops.length) throw new Error('LedgerWriter already started');
    const deadline = this.o.clock.now() + (this.o.maxDurationMs ?? 6 * 3_600_000);
    for (let w = 0; w < this.clients; w++) this.loops.push(this.runClient(w, deadline));
  }

  counts(): LedgerCounts {
    return { ...this.tally };
  }

  /** Ends every client after its current attempt (bounded by timeoutMs) and flushes the ledger. */
  async stop(): Promise<LedgerCounts> {
    this.abort.abort(new Error('ledger writer stopped'));
    await Promise.all(this.loops);
    await this.ledger.close();
    return this.counts();
  }

  private async runClient(writer: number, deadline: number): Promise<void> {
    const connection = new SafetyConnection();
    const maxAttempts = this.o.maxAttemptsPerClient ?? 50_000_000;
    let target = '';
    let backoff = 0;
    const interval = this.o.ratePerClient && this.o.ratePerClient > 0 ? 1_000 / this.o.ratePerClient : 0;
    try {
      for (let seq = 0; seq < maxAttempts && !this.abort.signal.aborted && this.o.clock.now() < deadline; seq++) {
        const conn = this.o.conn();
        const wanted = `${conn.host}:${conn.port}/${conn.database}/${conn.user}`;
        // The access path moved (failover): keep writing where it now points, not to the old primary.
        if (wanted !== target) {
          connection.close();
          target = wanted;
        }
        const attempt = await this.attempt(connection, conn, writer, seq);
        this.record(attempt);
        let pause: number;
        if (attempt.outcome === 'ok') {
          backoff = 0;
          pause = interval ? Math.max(0, attempt.startMs + interval - this.o.clock.now()) : 0;
        } else {
          backoff = Math.min(this.maxBackoffMs, backoff ? backoff * 2 : 1);
          pause = backoff;
        }
        if (pause <= 0) continue;
        try {
          await sleep(pause, this.abort.signal);
        } catch {
          break;
        }
      }
    } finally {
      connection.close();
    }
  }

  private async attempt(connection: SafetyConnection, conn: ConnInfo, writer: number, seq: number): Promise<LedgerAttempt> {
    const id = `${this.idPrefix}-${writer}-${seq}`;
    const payload = randomBytes(Math.ceil(this.payloadChars / 2)).toString('hex').slice(0, this.payloadChars);
    const checksum = payloadChecksum(payload);
    const startMs = this.o.clock.now();
    const deadline = performance.now() + this.timeoutMs;
    const remaining = () => Math.max(1, deadline - performance.now());
    let sent = false;
    try {
      if (!connection.usable) {
        await connection.open(conn, remaining(), `statebench-ledger-${writer}`);
        connection.identity = await identify(connection, remaining());
      }
      sent = true;
      const r = await connection.query<{ timeline: number | null }>(INSERT_SQL, [id, payload, checksum, writer], remaining());
      return {
        id,
        writer,
        seq,
        startMs,
        endMs: this.o.clock.now(),
        outcome: 'ok',
        checksum,
        server: { target: `${conn.host}:${conn.port}`, ...connection.identity!, timeline: r.rows[0]?.timeline ?? null },
      };
    } catch (e) {
      // Nothing sent, or the server rolled the statement back: it cannot be in the table.
      const outcome: Outcome = !sent || isDefiniteRollback(e) ? 'failed' : 'indeterminate';
      // A fresh connection after any failure: it re-resolves the target and never inherits a session
      // whose state is unknown.
      connection.close();
      return { id, writer, seq, startMs, endMs: this.o.clock.now(), outcome, checksum, error: errorText(e) };
    }
  }

  private record(a: LedgerAttempt): void {
    this.tally.attempted++;
    if (a.outcome === 'ok') this.tally.acknowledged++;
    else if (a.outcome === 'failed') this.tally.failed++;
    else this.tally.indeterminate++;
    this.ledger.write(a);
    this.o.onAttempt?.(a);
  }
}

async function identify(connection: SafetyConnection, timeoutMs: number): Promise<ServerIdentity> {
  const port = await connection.query<{ port: number | null }>('select inet_server_port() as port', [], timeoutMs);
  let systemId = 'unknown';
  try {
    // Superuser-only unless granted; without it split-brain detection falls back to target and timeline.
    const r = await connection.query<{ id: string }>('select system_identifier::text as id from pg_control_system()', [], timeoutMs);
    systemId = r.rows[0]?.id ?? 'unknown';
  } catch (e) {
    if (!isDefiniteRollback(e)) throw e;
  }
  return { port: port.rows[0]?.port ?? null, systemId };
}

export interface LedgerRead {
  attempts: LedgerAttempt[];
  /** Lines that were not JSON, or JSON that is not an attempt (e.g. torn by a kill). */
  malformed: number;
}

const OUTCOMES = new Set<string>(['ok', 'failed', 'indeterminate']);

export function isLedgerAttempt(r: unknown): r is LedgerAttempt {
  const a = r as Partial<LedgerAttempt> | null;
  return (
    !!a &&
    typeof a === 'object' &&
    typeof a.id === 'string' &&
    typeof a.checksum === 'string' &&
    typeof a.startMs === 'number' &&
    typeof a.endMs === 'number' &&
    typeof a.outcome === 'string' &&
    OUTCOMES.has(a.outcome)
  );
}

/**
 * Streams the ledger line by line to `each`: a long run at full speed writes more than fits in one
 * string, which is what readJsonl builds, and more attempts than need to be held at once. Resolves
 * with the number of malformed lines.
 */
export async function forEachLedgerAttempt(file: string, each: (a: LedgerAttempt) => void): Promise<number> {
  let malformed = 0;
  if (!existsSync(file)) return malformed;
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      malformed++;
      continue;
    }
    if (isLedgerAttempt(record)) each(record);
    else malformed++;
  }
  return malformed;
}

/** Every attempt of the ledger, in memory (tests and short ledgers; verification streams). */
export async function readLedger(file: string): Promise<LedgerRead> {
  const attempts: LedgerAttempt[] = [];
  const malformed = await forEachLedgerAttempt(file, (a) => attempts.push(a));
  return { attempts, malformed };
}
