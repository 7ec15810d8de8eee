// Parallel COPY of a generated data set in chunks, exact under faults.
//
// The data set is cut into numbered chunks, each generated deterministically (same bytes on every
// attempt). A chunk is loaded in one transaction that also inserts its id into a marker table:
//
//   begin; insert into <marker> (chunk, rows, attempt) values (…); copy <table> from stdin; commit
//
// so a chunk's rows are in the table if and only if its marker row is. `streams` connections pull
// chunks from a shared queue. When an attempt fails (the server was killed mid-COPY, a statement
// timed out, the connection hung) its stream reconnects, with backoff and within `reconnectTimeoutMs`,
// and asks the marker table whether the chunk committed before retrying it: an error during COMMIT
// leaves the outcome unknown, and the marker decides it. The marker's primary key covers the last
// race (an old transaction still committing while its retry starts): the retry's insert waits for it
// and then fails with a unique violation, which means "already loaded". After the streams finish,
// the marker table is read back once more; a chunk that was acknowledged but is missing (a commit
// lost in a crash, e.g. with synchronous_commit = off) is reported and loaded again. The table then
// holds every chunk exactly once, or the result says which chunks it does not hold.
import { once } from 'node:events';
import copyStreams from 'pg-copy-streams';
import type pg from 'pg';
import { connect } from '../engine/pg.ts';
import type { ConnInfo } from '../engine/types.ts';
import type { Clock } from '../core/clock.ts';
import { sleep } from '../core/clock.ts';
import { met, notYet, waitFor, type WaitOptions } from '../core/wait.ts';
import { errorKind } from './recorder.ts';

export interface GeneratedChunk {
  /** COPY text (tab-separated, newline-terminated rows). */
  data: Buffer;
  rows: number;
}

export interface ChunkedDataSet<C extends GeneratedChunk = GeneratedChunk> {
  /** Target table; an identifier from our own code or a validated spec, never free text. */
  table: string;
  /** Marker table, created with markerTableDdl(). */
  markerTable: string;
  chunks: number;
  /** Must return the same bytes for the same chunk id every time. */
  generate(chunk: number): C;
}

export type ChunkPhase = 'begin' | 'copy' | 'commit' | 'check';

export interface ChunkFailure {
  chunk: number;
  stream: number;
  attempt: number;
  phase: ChunkPhase;
  kind: string;
  message: string;
  atMs: number;
  /** What became of the chunk: sent again, found committed after all, or given up after maxAttempts. */
  outcome: 'retried' | 'was-committed' | 'gave-up' | 'left-for-repair' | 'pending';
}

export interface CopyLoadOptions<C extends GeneratedChunk = GeneratedChunk> {
  conn: () => ConnInfo;
  clock: Clock;
  signal: AbortSignal;
  streams: number;
  statementTimeoutMs: number;
  /** Attempts per chunk before it is given up. */
  maxAttempts: number;
  /** How long a stream keeps reconnecting after its connection failed before it stops. */
  reconnectTimeoutMs: number;
  /** Run-clock ms after which no new chunk is started (in-flight chunks finish). */
  deadlineMs?: number;
  /** Extra `reconcile → reload missing chunks` rounds after the streams finish. */
  repairRounds?: number;
  /**
   * Makes a chunk elsewhere (generator threads); the stream then asks for its next chunk as soon as
   * it starts one. Without it, or when it fails, chunks are generated on this thread with
   * ds.generate(), the next one while the server works through the tail of the current one.
   */
  generate?(chunk: number): Promise<C>;
  onSent?(bytes: number): void;
  onCommitted?(chunk: number, c: C, latencyMs: number): void;
  /** Every failed attempt and failed connect, for error counts; `chunk` is -1 for a connect. */
  onError?(kind: string, chunk: number): void;
  event?(type: string, data: object): void;
}

export interface CopyLoadResult {
  chunks: number;
  /** Chunks in the marker table at the end (or, if it could not be read, those acknowledged). */
  committed: number;
  /** Chunk ids not loaded at the end, sorted. */
  missing: number[];
  /** COPY transactions started. */
  attempts: number;
  failedAttempts: number;
  /** Failed attempts in order, at most MAX_FAILURES_KEPT of them. */
  failures: ChunkFailure[];
  failuresTruncated: number;
  /** Chunks sent more than once. */
  retriedChunks: number[];
  /** An attempt failed but the marker showed the chunk committed: not sent again. */
  committedDespiteError: number[];
  /** Chunks that used up maxAttempts and are not loaded. */
  gaveUp: number[];
  /** Acknowledged commits that were missing from the marker table afterwards (then reloaded). */
  lostAfterAck: number[];
  connectFailures: number;
  reconnects: number;
  repairRoundsRun: number;
  bytesSent: number;
  bytesCommitted: number;
  rowsCommitted: number;
  startMs: number;
  /** Run-clock ms of the last commit (startMs when nothing committed). */
  lastCommitMs: number;
  endMs: number;
  stoppedBy: 'complete' | 'time-limit' | 'aborted' | 'incomplete';
  /** The marker table could not be read back at the end. */
  reconcileError?: string;
}

const MAX_FAILURES_KEPT = 200;
/** COPY data goes out in slices this big, so progress and backpressure are per slice. */
const SLICE = 256 * 1024;

export function markerTableDdl(markerTable: string): string {
  return `create table ${markerTable} (chunk integer primary key, rows bigint not null, attempt integer not null, loaded_at timestamptz not null default now())`;
}

class Timeout extends Error {
  code = 'STATEBENCH_TIMEOUT';
}

/** Sends one buffer as a COPY FROM STDIN; resolves once the server acknowledged it. */
export async function copyBuffer(
  db: pg.Client,
  sql: string,
  data: Buffer,
  onSent?: (bytes: number) => void,
  /** Called once every byte is handed to the socket, while the server still works through them. */
  onWritten?: () => void,
): Promise<number> {
  const stream = db.query(copyStreams.from(sql));
  const done = new Promise<void>((resolve, reject) => {
    stream.on('finish', resolve);
    stream.on('error', reject);
  });
  done.catch(() => {});
  for (let off = 0; off < data.length; off += SLICE) {
    const slice = data.subarray(off, Math.min(data.length, off + SLICE));
    const ok = stream.write(slice);
    onSent?.(slice.length);
    if (!ok) await Promise.race([once(stream, 'drain'), done]);
  }
  stream.end();
  onWritten?.();
  await done;
  return stream.rowCount;
}

/** Cuts a connection whose server stopped answering (a frozen process keeps the socket open). */
function destroy(db: pg.Client, why: Error): void {
  (db as unknown as { connection?: { stream?: { destroy(e?: Error): void } } }).connection?.stream?.destroy(why);
  db.end().catch(() => {});
}

/** Connects, retrying with backoff until `timeoutMs` passes; null when it never succeeded. */
export async function connectWithRetry(
  conn: () => ConnInfo,
  o: { timeoutMs: number; signal: AbortSignal; extra?: Partial<pg.ClientConfig>; onError?(kind: string): void },
): Promise<pg.Client | null> {
  try {
    return await waitFor(
      'a connection',
      async () => {
        try {
          return met(await connect(conn(), o.extra));
        } catch (e) {
          o.onError?.(errorKind(e));
          return notYet((e as Error).message);
        }
      },
      retrying(o),
    );
  } catch {
    // Timed out or aborted.
    return null;
  }
}

/** Reconnects back off from 50 ms to 1 s, so a server that is restarting is not flooded. */
function retrying(o: { timeoutMs: number; signal: AbortSignal }): WaitOptions {
  return { timeoutMs: o.timeoutMs, signal: o.signal, intervalMs: (look) => Math.min(50 * 2 ** (look - 1), 1000), maxLooks: Math.ceil(o.timeoutMs / 50) + 1 };
}

/**
 * Runs `fn` on a fresh connection, reconnecting and running it again after a failure, until it
 * succeeds or `timeoutMs` passes (then the last error is thrown). For short idempotent reads.
 */
export async function withRetry<T>(
  conn: () => ConnInfo,
  fn: (db: pg.Client) => Promise<T>,
  o: { timeoutMs: number; signal: AbortSignal; statementTimeoutMs?: number; onError?(kind: string): void },
): Promise<T> {
  let last: unknown = new Error('no attempt');
  const extra = o.statementTimeoutMs ? { statement_timeout: o.statementTimeoutMs, query_timeout: o.statementTimeoutMs + 5000 } : {};
  try {
    return await waitFor(
      'a read to succeed',
      async () => {
        let db: pg.Client | undefined;
        try {
          db = await connect(conn(), extra);
          return met(await fn(db));
        } catch (e) {
          last = e;
          o.onError?.(errorKind(e));
          return notYet((e as Error).message);
        } finally {
          db?.end().catch(() => {});
        }
      },
      retrying(o),
    );
  } catch {
    // Timed out or aborted: the error the caller can act on is the read's own.
    throw last;
  }
}

export async function loadChunks<C extends GeneratedChunk>(ds: ChunkedDataSet<C>, o: CopyLoadOptions<C>): Promise<CopyLoadResult> {
  const now = () => o.clock.now();
  const r: CopyLoadResult = {
    chunks: ds.chunks,
    committed: 0,
    missing: [],
    attempts: 0,
    failedAttempts: 0,
    failures: [],
    failuresTruncated: 0,
    retriedChunks: [],
    committedDespiteError: [],
    gaveUp: [],
    lostAfterAck: [],
    connectFailures: 0,
    reconnects: 0,
    repairRoundsRun: 0,
    bytesSent: 0,
    bytesCommitted: 0,
    rowsCommitted: 0,
    startMs: now(),
    lastCommitMs: now(),
    endMs: 0,
    stoppedBy: 'complete',
  };
  const acked = new Set<number>();
  const attemptsOf = new Map<number, number>();
  const sentTimes = new Map<number, number>();
  let queue: number[] = Array.from({ length: ds.chunks }, (_, i) => i);
  let timeUp = false;
  const pastDeadline = () => o.deadlineMs !== undefined && now() >= o.deadlineMs;
  const extra = { statement_timeout: o.statementTimeoutMs };
  // Client-side bound on one chunk: a frozen server never answers, and statement_timeout needs it to.
  const chunkTimeoutMs = o.statementTimeoutMs * 2 + 10_000;

  const fail = (f: Omit<ChunkFailure, 'outcome' | 'atMs'>): ChunkFailure => {
    const rec: ChunkFailure = { ...f, atMs: +now().toFixed(1), outcome: 'pending' };
    r.failedAttempts++;
    if (r.failures.length < MAX_FAILURES_KEPT) r.failures.push(rec);
    else r.failuresTruncated++;
    o.onError?.(f.kind, f.chunk);
    o.event?.('chunk-failed', { table: ds.table, ...f });
    return rec;
  };

  const markCommitted = (chunk: number, c: C, latencyMs: number) => {
    acked.add(chunk);
    r.bytesCommitted += c.data.length;
    r.rowsCommitted += c.rows;
    r.lastCommitMs = now();
    o.onCommitted?.(chunk, c, latencyMs);
  };

  const stream = async (id: number): Promise<void> => {
    let db: pg.Client | null = null;
    let chunk: number | undefined;
    let gen: C | undefined;
    /** The chunk's last attempt failed: ask the marker table before sending it again. */
    let pendingFailure: ChunkFailure | undefined;
    let lostConnection = false;
    let checkFailures = 0;
    /** The next chunk, generated while the server works through the tail of the current one. */
    let prefetched: { chunk: number; gen: C | Promise<C> } | undefined;
    const produce = (c: number): C | Promise<C> => {
      if (!o.generate) return ds.generate(c);
      const p = o.generate(c);
      p.catch(() => {});
      return p;
    };
    /** A chunk made elsewhere, or here if that failed: the bytes are the same either way. */
    const obtain = async (c: number, g: C | Promise<C>): Promise<C> => {
      try {
        return await g;
      } catch (e) {
        o.event?.('chunk-generated-locally', { table: ds.table, chunk: c, reason: (e as Error).message });
        return ds.generate(c);
      }
    };
    const prefetch = () => {
      if (prefetched || o.signal.aborted || pastDeadline()) return;
      const next = queue.shift();
      if (next !== undefined) prefetched = { chunk: next, gen: produce(next) };
    };
    try {
      for (;;) {
        if (o.signal.aborted) break;
        if (chunk === undefined) {
          if (pastDeadline()) {
            timeUp = true;
            break;
          }
          if (prefetched) {
            const p = prefetched;
            prefetched = undefined;
            chunk = p.chunk;
            gen = await obtain(p.chunk, p.gen);
          } else {
            chunk = queue.shift();
            if (chunk === undefined) break;
            gen = await obtain(chunk, produce(chunk));
          }
          // Made elsewhere, the next chunk can be under way for the whole of this one.
          if (o.generate) prefetch();
          pendingFailure = undefined;
          checkFailures = 0;
        }
        if (!db) {
          db = await connectWithRetry(o.conn, {
            timeoutMs: o.reconnectTimeoutMs,
            signal: o.signal,
            extra,
            onError: (kind) => {
              r.connectFailures++;
              o.onError?.(kind, -1);
            },
          });
          if (!db) {
            // This stream gives up; the chunk goes back for another stream or the repair round.
            o.event?.('copy-stream-stopped', { table: ds.table, stream: id, reason: `no connection within ${o.reconnectTimeoutMs}ms` });
            if (pendingFailure) pendingFailure.outcome = 'left-for-repair';
            queue.unshift(chunk);
            chunk = undefined;
            break;
          }
          if (lostConnection) {
            r.reconnects++;
            o.event?.('copy-stream-reconnected', { table: ds.table, stream: id });
          }
          lostConnection = false;
        }
        const c = gen!;
        const cur: number = chunk;
        let phase: ChunkPhase = 'check';
        const attempt = (attemptsOf.get(chunk) ?? 0) + 1;
        let timedOut = false;
        const client = db;
        const watchdog = setTimeout(() => {
          timedOut = true;
          destroy(client, new Timeout(`chunk ${cur} took longer than ${chunkTimeoutMs}ms`));
        }, chunkTimeoutMs);
        try {
          if (pendingFailure) {
            const found = await db.query(`select 1 from ${ds.markerTable} where chunk = ${chunk}`);
            if (found.rowCount) {
              pendingFailure.outcome = 'was-committed';
              r.committedDespiteError.push(chunk);
              markCommitted(chunk, c, now() - (sentTimes.get(chunk) ?? now()));
              chunk = undefined;
              continue;
            }
            if (attempt > o.maxAttempts) {
              pendingFailure.outcome = 'gave-up';
              o.event?.('chunk-given-up', { table: ds.table, chunk, attempts: attempt - 1 });
              chunk = undefined;
              continue;
            }
            pendingFailure.outcome = 'retried';
          }
          if (attempt === 2) r.retriedChunks.push(chunk);
          attemptsOf.set(chunk, attempt);
          r.attempts++;
          const t0 = now();
          sentTimes.set(chunk, t0);
          phase = 'begin';
          await db.query(`begin; insert into ${ds.markerTable} (chunk, rows, attempt) values (${chunk}, ${c.rows}, ${attempt})`);
          phase = 'copy';
          await copyBuffer(
            db,
            `copy ${ds.table} from stdin`,
            c.data,
            (n) => {
              r.bytesSent += n;
              o.onSent?.(n);
            },
            prefetch,
          );
          phase = 'commit';
          await db.query('commit');
          markCommitted(chunk, c, now() - t0);
          chunk = undefined;
          pendingFailure = undefined;
        } catch (e) {
          const err = e as { code?: string; message?: string };
          if (err.code === '23505' && phase === 'begin') {
            // The marker exists: an earlier attempt of this chunk committed after all.
            await db.query('rollback').catch(() => {});
            if (pendingFailure) pendingFailure.outcome = 'was-committed';
            r.committedDespiteError.push(cur);
            markCommitted(cur, c, now() - (sentTimes.get(cur) ?? now()));
            chunk = undefined;
            pendingFailure = undefined;
            continue;
          }
          const kind = timedOut || err.code === 'STATEBENCH_TIMEOUT' ? 'timeout' : errorKind(e);
          const message = (err.message ?? String(e)).slice(0, 300);
          if (phase === 'check') {
            // Could not even ask: keep the earlier failure pending and ask again, a bounded number of
            // times; then leave the chunk to the final reconcile.
            o.onError?.(kind, cur);
            if (++checkFailures >= o.maxAttempts) {
              pendingFailure!.outcome = 'left-for-repair';
              chunk = undefined;
            }
          } else {
            pendingFailure = fail({ chunk: cur, stream: id, attempt, phase, kind, message });
          }
          if (kind === 'connection' || kind === 'server-shutdown' || kind === 'timeout' || timedOut) {
            destroy(db, new Error('dropped after a failure'));
            db = null;
            lostConnection = true;
          } else {
            await db.query('rollback').catch(() => {
              destroy(db!, new Error('rollback failed'));
              db = null;
              lostConnection = true;
            });
            await sleep(100, o.signal).catch(() => {});
          }
        } finally {
          clearTimeout(watchdog);
        }
      }
    } finally {
      // A chunk still held here was interrupted by an abort: the final reconcile decides it.
      if (chunk !== undefined && pendingFailure) pendingFailure.outcome = 'left-for-repair';
      // Generated ahead but never started: back to the queue for another stream or a repair round.
      if (prefetched) queue.unshift(prefetched.chunk);
      await db?.end().catch(() => {});
    }
  };

  const reconcile = async (): Promise<Set<number> | null> => {
    try {
      const rows = await withRetry(o.conn, async (db) => (await db.query(`select chunk from ${ds.markerTable}`)).rows as Array<{ chunk: number }>, {
        timeoutMs: o.reconnectTimeoutMs,
        signal: o.signal,
        statementTimeoutMs: o.statementTimeoutMs,
      });
      r.reconcileError = undefined;
      return new Set(rows.map((x) => Number(x.chunk)));
    } catch (e) {
      r.reconcileError = (e as Error).message;
      return null;
    }
  };

  const maxRounds = o.repairRounds ?? 2;
  for (let round = 0; ; round++) {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(o.streams, queue.length || 1)) }, (_, i) => stream(i)));
    const onServer = await reconcile();
    const loaded = onServer ?? acked;
    for (const c of acked) {
      if (!loaded.has(c)) {
        // Acknowledged, then gone: the server lost a commit it had confirmed.
        acked.delete(c);
        r.lostAfterAck.push(c);
        o.event?.('chunk-lost-after-commit', { table: ds.table, chunk: c });
      }
    }
    const missing = Array.from({ length: ds.chunks }, (_, i) => i).filter((i) => !loaded.has(i));
    r.committed = loaded.size;
    r.missing = missing;
    if (!missing.length || o.signal.aborted || timeUp || pastDeadline() || !onServer || round >= maxRounds) break;
    queue = missing.filter((c) => (attemptsOf.get(c) ?? 0) < o.maxAttempts || r.lostAfterAck.includes(c));
    if (!queue.length) break;
    r.repairRoundsRun++;
    o.event?.('copy-repair-round', { table: ds.table, round: round + 1, chunks: queue.length });
  }
  r.gaveUp = r.missing.filter((c) => (attemptsOf.get(c) ?? 0) >= o.maxAttempts);
  r.stoppedBy = !r.missing.length ? 'complete' : o.signal.aborted ? 'aborted' : timeUp || pastDeadline() ? 'time-limit' : 'incomplete';
  r.endMs = now();
  return r;
}
