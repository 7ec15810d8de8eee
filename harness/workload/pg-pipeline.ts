// A PostgreSQL connection that sends a whole transaction of prepared statements in one write and
// reads its answer in one pass: Bind/Execute per statement and a single Sync (the extended protocol
// pipelined, as pgbench's `\startpipeline` does). node-postgres waits for each statement's answer
// before sending the next and builds a result object per message; for a load generator that is where
// the client's CPU goes, and the database is left waiting for it.
//
// Only what a load generator needs: connect (trust, cleartext, md5, SCRAM-SHA-256), prepare named
// statements once, run batches of int4 parameters (sent in binary: no number formatting), close.
// Answers are scanned frame by frame without building messages; only an ErrorResponse is decoded.
//
// Per transaction the driver allocates nothing on the wire path: the socket reads into one buffer per
// connection (net's `onread`, instead of a new Buffer per 'data' event), and a batch's parameters are
// written into its template, which is then sent as it is (the previous send of it has been answered,
// so the kernel has taken its bytes).
import { connect as netConnect, type Socket } from 'node:net';
import { serialize } from 'pg-protocol';
import sasl from 'pg/lib/crypto/sasl.js';
import pgCrypto from 'pg/lib/crypto/utils.js';
import type { ConnInfo } from '../engine/types.ts';

/** A server ErrorResponse, with the SQLSTATE as `code` (what errorKind() sorts on). */
export class PgServerError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly severity: string,
  ) {
    super(message);
    this.name = 'PgServerError';
  }
}

/** The transaction status of ReadyForQuery: idle, in a transaction block, or in a failed one. */
export type TxStatus = 'I' | 'T' | 'E';

export interface PipelineOptions {
  /** Server settings sent in the startup packet, e.g. statement_timeout. */
  settings?: Record<string, string>;
  connectTimeoutMs?: number;
  /** A batch still unanswered after this long destroys the connection (its outcome is unknown). */
  batchTimeoutMs?: number;
}

/**
 * A batch's wire bytes and the byte offset of each parameter value; run() writes each transaction's
 * values into these bytes. Used only with the session that made it.
 */
export interface BatchTemplate {
  readonly bytes: Buffer;
  readonly offsets: Int32Array;
  readonly statements: readonly number[];
}

const INT4_OID = 23;
/** Bytes read from the socket at a time: a TPC-B answer is ~100 bytes, a batch of them a few KiB. */
const READ_BUFFER = 64 * 1024;

interface Pending {
  resolve(status: TxStatus): void;
  reject(e: Error): void;
  error?: PgServerError;
}

export class PipelinedSession {
  private buffered: Buffer | undefined;
  private pending: Pending[] = [];
  private closed = false;
  private failure: Error | undefined;
  private readonly names: Buffer[] = [];
  private paramCounts: number[] = [];
  /** performance.now() when the oldest unanswered batch was sent; 0 when none is. */
  private oldestSentAt = 0;
  private readonly watchdog: NodeJS.Timeout | undefined;
  /** Set while connecting: receives every message. */
  private setupHandler: ((type: number, body: Buffer) => void) | undefined;

  private constructor(
    private readonly socket: Socket,
    batchTimeoutMs: number,
  ) {
    socket.setNoDelay(true);
    socket.on('error', (e) => this.fail(e));
    socket.on('close', () => this.fail(Object.assign(new Error('Connection terminated'), { code: 'ECONNRESET' })));
    if (batchTimeoutMs > 0) {
      this.watchdog = setInterval(() => {
        if (this.oldestSentAt && performance.now() - this.oldestSentAt > batchTimeoutMs) {
          this.fail(new Error(`query timeout: no answer within ${batchTimeoutMs}ms`));
        }
      }, Math.min(250, batchTimeoutMs)).unref();
    }
  }

  static async connect(conn: ConnInfo, opts: PipelineOptions = {}): Promise<PipelinedSession> {
    // Filled in once the session exists: the socket must be created with its read callback.
    let session: PipelinedSession | undefined;
    const socket = netConnect({
      host: conn.host,
      port: conn.port,
      onread: {
        buffer: Buffer.allocUnsafe(READ_BUFFER),
        callback: (n: number, buf: Uint8Array) => {
          session?.onData(buf as Buffer, n);
          return true;
        },
      },
    });
    session = new PipelinedSession(socket, opts.batchTimeoutMs ?? 0);
    const timeoutMs = opts.connectTimeoutMs ?? 5_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        session.startup(conn, opts.settings ?? {}),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`connection timeout: ${conn.host}:${conn.port} did not answer within ${timeoutMs}ms`)), timeoutMs);
        }),
      ]);
    } catch (e) {
      session.destroy();
      throw e;
    } finally {
      clearTimeout(timer);
    }
    return session;
  }

  private async startup(conn: ConnInfo, settings: Record<string, string>): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
    let saslSession: ReturnType<typeof sasl.startSession> | undefined;
    await new Promise<void>((resolve, reject) => {
      const fail = (e: unknown) => reject(e);
      this.failure = undefined;
      this.pending.push({ resolve: () => resolve(), reject });
      this.setupHandler = (type, body) => {
        if (type !== 0x52 /* R */) return; // ParameterStatus, BackendKeyData, notices: not needed
        const code = body.readInt32BE(0);
        const password = conn.password ?? '';
        switch (code) {
          case 0: // AuthenticationOk
            return;
          case 3: // cleartext
            this.socket.write(serialize.password(password));
            return;
          case 5: // md5
            pgCrypto.postgresMd5PasswordHash(conn.user, password, Buffer.from(body.subarray(4, 8))).then((h: string) => this.socket.write(serialize.password(h)), fail);
            return;
          case 10: {
            const mechanisms = body.toString('utf8', 4).split('\0').filter(Boolean);
            try {
              saslSession = sasl.startSession(mechanisms, null);
              this.socket.write(serialize.sendSASLInitialResponseMessage(saslSession.mechanism, saslSession.response));
            } catch (e) {
              fail(e);
            }
            return;
          }
          case 11:
            sasl.continueSession(saslSession, password, body.toString('utf8', 4), null).then(
              () => this.socket.write(serialize.sendSCRAMClientFinalMessage(saslSession!.response)),
              fail,
            );
            return;
          case 12:
            try {
              sasl.finalizeSession(saslSession, body.toString('utf8', 4));
            } catch (e) {
              fail(e);
            }
            return;
          default:
            fail(new Error(`unsupported authentication request ${code} from ${conn.host}:${conn.port}`));
        }
      };
      this.socket.write(serialize.startup({ user: conn.user, database: conn.database, application_name: 'statebench', ...settings }));
    });
    this.setupHandler = undefined;
  }

  /**
   * Prepares the statements (one Parse each, all int4 parameters) in one round trip; a batch then
   * names a statement by its index in `sqls`.
   */
  async prepare(sqls: string[]): Promise<void> {
    const parts: Buffer[] = [];
    this.paramCounts = [];
    sqls.forEach((text, i) => {
      const name = `sb${i}`;
      const params = countParams(text);
      this.paramCounts.push(params);
      this.names.push(Buffer.from(`${name}\0`, 'latin1'));
      parts.push(serialize.parse({ name, text, types: Array(params).fill(INT4_OID) }));
    });
    parts.push(serialize.sync());
    const status = await this.send(Buffer.concat(parts));
    if (status !== 'I') throw new Error(`prepare left the connection in transaction state ${status}`);
  }

  /**
   * The wire bytes of a batch of these statements, and where each parameter goes: a transaction then
   * costs one 4-byte write per value.
   */
  batch(statements: number[]): BatchTemplate {
    let size = 5; // Sync
    for (const s of statements) size += 1 + 4 + 1 + this.names[s].length + 2 + 2 + 2 + this.paramCounts[s] * 8 + 2 + 1 + 4 + 1 + 4;
    const out = Buffer.alloc(size);
    const offsets: number[] = [];
    let o = 0;
    for (const s of statements) {
      const name = this.names[s];
      const n = this.paramCounts[s];
      // Bind: unnamed portal, the statement, one format code (binary) for all parameters, the
      // values, no result format codes (text).
      out[o] = 0x42;
      out.writeInt32BE(4 + 1 + name.length + 2 + 2 + 2 + n * 8 + 2, o + 1);
      o += 5;
      out[o++] = 0;
      o += name.copy(out, o);
      out.writeInt16BE(1, o);
      out.writeInt16BE(1, o + 2);
      out.writeInt16BE(n, o + 4);
      o += 6;
      for (let i = 0; i < n; i++) {
        out.writeInt32BE(4, o);
        offsets.push(o + 4);
        o += 8;
      }
      out.writeInt16BE(0, o);
      o += 2;
      // Execute: unnamed portal, all rows.
      out[o] = 0x45;
      out.writeInt32BE(9, o + 1);
      out[o + 5] = 0;
      out.writeInt32BE(0, o + 6);
      o += 10;
    }
    out[o] = 0x53;
    out.writeInt32BE(4, o + 1);
    o += 5;
    if (o !== size) throw new Error(`batch encoding: ${o} bytes written, ${size} expected`);
    return { bytes: out, offsets: Int32Array.from(offsets), statements: [...statements] };
  }

  /**
   * Sends one batch (its statements and one Sync) in one write; resolves with the transaction status
   * once the server has answered all of it, rejects with the first error (the server skips the rest
   * of a batch after an error). `values` are the int4 parameters of all statements, in order.
   */
  run(t: BatchTemplate, values: ArrayLike<number>): Promise<TxStatus> {
    if (values.length !== t.offsets.length) throw new Error(`batch takes ${t.offsets.length} values, got ${values.length}`);
    // The template itself is sent when nothing is in flight (a batch is answered only after the
    // server has read all of it, so no earlier write still holds these bytes); otherwise a copy.
    const out = this.pending.length === 0 ? t.bytes : Buffer.from(t.bytes);
    const offsets = t.offsets;
    for (let i = 0; i < values.length; i++) out.writeInt32BE(values[i], offsets[i]);
    return this.send(out);
  }

  /** A simple-protocol query (e.g. `rollback`), answered like a batch. */
  query(sql: string): Promise<TxStatus> {
    return this.send(serialize.query(sql));
  }

  private send(bytes: Buffer): Promise<TxStatus> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<TxStatus>((resolve, reject) => {
      if (this.pending.length === 0) this.oldestSentAt = performance.now();
      this.pending.push({ resolve, reject });
      this.socket.write(bytes);
    });
  }

  /** `n` bytes arrived in `d`, the connection's read buffer, which the next read overwrites. */
  private onData(d: Buffer, n: number): void {
    let buf = d;
    let end = n;
    if (this.buffered) {
      buf = Buffer.concat([this.buffered, d.subarray(0, n)]);
      end = buf.length;
      this.buffered = undefined;
    }
    let o = 0;
    while (o + 5 <= end) {
      const type = buf[o];
      const len = buf.readInt32BE(o + 1);
      if (o + 1 + len > end) break;
      const bodyAt = o + 5;
      o += 1 + len;
      if (type === 0x5a /* Z: ReadyForQuery */) {
        const p = this.pending.shift();
        this.oldestSentAt = this.pending.length ? performance.now() : 0;
        if (!p) continue;
        if (p.error) p.reject(p.error);
        else p.resolve(String.fromCharCode(buf[bodyAt]) as TxStatus);
      } else if (type === 0x45 /* E: ErrorResponse */) {
        const err = decodeError(buf, bodyAt, o);
        const p = this.pending[0];
        if (!p) return this.fail(err);
        if (this.setupHandler) {
          // An error while connecting ends the connection; there is no ReadyForQuery after it.
          this.pending.shift();
          p.reject(err);
          return this.destroy();
        }
        p.error ??= err;
      } else if (this.setupHandler) {
        this.setupHandler(type, buf.subarray(bodyAt, o));
      }
    }
    // The read buffer is reused: an incomplete message is kept as a copy.
    if (o < end) this.buffered = Buffer.from(buf.subarray(o, end));
  }

  private fail(e: Error): void {
    if (!this.failure) this.failure = e;
    const pending = this.pending;
    this.pending = [];
    this.oldestSentAt = 0;
    for (const p of pending) p.reject(this.failure);
    this.destroy();
  }

  private destroy(): void {
    clearInterval(this.watchdog);
    if (!this.socket.destroyed) this.socket.destroy();
  }

  get usable(): boolean {
    return !this.failure && !this.closed;
  }

  /** Sends Terminate and closes; never throws. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.watchdog);
    if (this.socket.destroyed) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.socket.destroy();
        resolve();
      }, 1000).unref();
      this.socket.end(serialize.end(), () => {
        clearTimeout(t);
        resolve();
      });
    });
    this.socket.destroy();
  }
}

/** Highest $n in a statement: its parameter count. */
function countParams(sql: string): number {
  let max = 0;
  for (const m of sql.matchAll(/\$(\d+)/g)) max = Math.max(max, Number(m[1]));
  return max;
}

function decodeError(buf: Buffer, from: number, to: number): PgServerError {
  const fields: Record<string, string> = {};
  let o = from;
  while (o < to && buf[o] !== 0) {
    const field = String.fromCharCode(buf[o]);
    const zero = buf.indexOf(0, o + 1);
    if (zero < 0 || zero >= to) break;
    fields[field] = buf.toString('utf8', o + 1, zero);
    o = zero + 1;
  }
  return new PgServerError(fields.M ?? 'unknown server error', fields.C ?? '', fields.S ?? 'ERROR');
}
