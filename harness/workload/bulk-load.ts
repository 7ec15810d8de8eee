// Bulk load: a generated data set of a configured volume, COPYed over parallel connections into one
// table, exact under faults (see chunked-copy.ts), then verified server-side by row count and an
// order-independent checksum. Reports MiB/s and rows/s, the WAL it wrote and the checkpoints it
// caused.
//
// Rows (COPY text, ~180 bytes each on average):
//   chunk       integer    the chunk the row belongs to (the unit of retry)
//   id          bigint     1..rows
//   account     integer    uniform in [0, 2^31)
//   amount      numeric    uniform cents in [0, 100,000,000), i.e. 0.00 … 999999.99
//   created_at  timestamp  uniform second in [2020-01-01, 2025-01-01)
//   note        text       one of 4096 seeded strings of 16–240 letters and spaces (mean 128)
// Every chunk draws from its own mulberry32 generator seeded from (seed, chunk), so the data set is a
// function of (seed, rows, chunk rows) alone, whichever stream sends which chunk and however often.
//
// Checksum: the sum over rows of a 32-bit row hash, computed the same way by the generator and by the
// server (so no row has to come back to the client):
//   h = (((id mod 2^32) xor account) * 1597334677 mod 2^32)
//       xor (((amount * 100) xor epoch(created_at)) * 747796405 mod 2^32)
//       xor (first 32 bits of md5(note))
//       xor chunk
// A missing, duplicated or altered row changes count or sum (a collision needs two compensating
// changes). The sum is taken per chunk, so a mismatch names its chunks.
import { createHash } from 'node:crypto';
import { StatebenchError, EXIT } from '../errors.ts';
import { withClient } from '../engine/pg.ts';
import type { ConnInfo } from '../engine/types.ts';
import type { WorkloadSummary } from '../model/summary.ts';
import { BULK_LOAD_DEFAULT_SIZE, type BulkLoadSpec } from '../model/big-data.ts';
import { loadChunks, markerTableDdl, withRetry, type ChunkedDataSet, type CopyLoadResult, type GeneratedChunk } from './chunked-copy.ts';
import { PhaseRecorder } from './recorder.ts';
import { GeneratorThreads, type DataSetRecipe } from './generator-threads.ts';
import { availableParallelism } from 'node:os';
import { COLON, NEWLINE, SPACE, TAB, ZERO, writeCents, writeUint } from './copy-text.ts';
import { Rng, chunkSeed } from './rng.ts';
import { serverStats, ServerStatsMeasurement, type ServerStatsFindings } from '../measure/server-stats.ts';
import type { Workload, WorkloadRuntime } from './types.ts';

export { BulkLoadWorkload, type BulkLoadSpec } from '../model/big-data.ts';

const MiB = 1024 ** 2;
const POOL = 4096;
const NOTE_MIN = 16;
const NOTE_MAX = 240;
const NOTE_ALPHABET = 'abcdefghijklmnopqrstuvwxyz     ';
const CENTS = 100_000_000;
const EPOCH0 = Date.UTC(2020, 0, 1) / 1000;
const DAYS = (Date.UTC(2025, 0, 1) / 1000 - EPOCH0) / 86400;
const SPAN_SECONDS = DAYS * 86400;
/** Rows per chunk stay below 2^21 so a chunk's checksum (sum of 32-bit hashes) is an exact double. */
export const MAX_CHUNK_ROWS = 1_000_000;
const C1 = 1597334677;
const C2 = 747796405;

const DAY_TEXT = Array.from({ length: DAYS }, (_, d) => new Date((EPOCH0 + d * 86400) * 1000).toISOString().slice(0, 10));

export function bulkTableDdl(table: string): string {
  return `create table ${table} (chunk integer not null, id bigint not null, account integer not null, amount numeric(12,2) not null, created_at timestamp not null, note text not null)`;
}

/** The row hash of the header comment, as SQL over the table's columns. */
export const ROW_HASH_SQL = `(((((id % 4294967296) # account) * ${C1}) % 4294967296)
  # ((((amount * 100)::bigint # extract(epoch from created_at)::bigint) * ${C2}) % 4294967296)
  # ('x' || left(md5(note), 8))::bit(32)::bigint
  # chunk)`;

export function rowHash(id: number, account: number, cents: number, epoch: number, noteHash: number, chunk: number): number {
  const a = Math.imul((id >>> 0) ^ account, C1) >>> 0;
  const b = Math.imul((cents ^ epoch) >>> 0, C2) >>> 0;
  return (a ^ b ^ noteHash ^ chunk) >>> 0;
}

export interface BulkChunk extends GeneratedChunk {
  /** Sum of the row hashes (exact: fewer than 2^21 rows of 32 bits). */
  checksum: number;
}

export interface BulkRow {
  chunk: number;
  id: number;
  account: number;
  cents: number;
  epoch: number;
  note: string;
}

/** Mean decimal digits of the integers in [lo, hi]. */
function meanDigits(lo: number, hi: number): number {
  if (hi < lo) return 1;
  let total = 0;
  for (let d = 1, start = 0; start <= hi; d++, start = start === 0 ? 10 : start * 10) {
    const from = Math.max(lo, start);
    const to = Math.min(hi, start === 0 ? 9 : start * 10 - 1);
    if (to >= from) total += (to - from + 1) * d;
  }
  return total / (hi - lo + 1);
}

/** The generator of the bulk-load data set; pure: (seed, rows, chunkRows) determine every byte. */
export class BulkData implements ChunkedDataSet<BulkChunk> {
  readonly notes: string[] = [];
  readonly noteHash: Uint32Array = new Uint32Array(POOL);
  /** The notes as bytes: views into one buffer. */
  private readonly noteViews: Buffer[];
  readonly chunks: number;
  readonly markerTable: string;

  constructor(
    readonly table: string,
    readonly seed: number,
    readonly rows: number,
    readonly chunkRows: number,
  ) {
    if (chunkRows < 1 || chunkRows > MAX_CHUNK_ROWS) throw new StatebenchError(`a bulk-load chunk must hold 1..${MAX_CHUNK_ROWS} rows, got ${chunkRows}`, EXIT.usage, 'Lower the workload\'s chunk size (e.g. chunk: 4MiB)');
    this.markerTable = `${table}_chunks`;
    this.chunks = Math.ceil(rows / chunkRows);
    const rng = new Rng(chunkSeed(seed, 0, 1));
    for (let i = 0; i < POOL; i++) {
      const len = rng.between(NOTE_MIN, NOTE_MAX);
      let s = '';
      for (let j = 0; j < len; j++) s += NOTE_ALPHABET[rng.below(NOTE_ALPHABET.length)];
      // No leading/trailing blank: keeps the text identical under any client-side trimming.
      s = `n${s.slice(1, -1)}n`;
      this.notes.push(s);
      this.noteHash[i] = createHash('md5').update(s).digest().readUInt32BE(0);
    }
    const pool = Buffer.from(this.notes.join(''), 'latin1');
    let at = 0;
    this.noteViews = this.notes.map((s) => pool.subarray(at, (at += s.length)));
  }

  /** Mean COPY-text bytes per row of a data set of `rows` rows in chunks of `chunkRows`. */
  static meanRowBytes(rows: number, chunkRows: number): number {
    const lastChunk = Math.ceil(rows / chunkRows) - 1;
    // Rows are spread evenly over chunks but for the last one; weighting by chunk is close enough.
    const chunkDigits = meanDigits(0, Math.max(0, lastChunk));
    const idDigits = meanDigits(1, Math.max(1, rows));
    const accountDigits = meanDigits(0, 2 ** 31 - 1);
    const amountChars = meanDigits(0, CENTS / 100 - 1) + 3;
    const timestampChars = 19;
    const noteChars = (NOTE_MIN + NOTE_MAX) / 2;
    return chunkDigits + idDigits + accountDigits + amountChars + timestampChars + noteChars + 6;
  }

  /** Rows whose COPY text comes to about `bytes`. */
  static rowsForSize(bytes: number, chunkBytes: number): number {
    let rows = Math.max(1, Math.round(bytes / 180));
    for (let i = 0; i < 5; i++) {
      const chunkRows = BulkData.chunkRowsFor(chunkBytes, rows);
      rows = Math.max(1, Math.round(bytes / BulkData.meanRowBytes(rows, chunkRows)));
    }
    return rows;
  }

  static chunkRowsFor(chunkBytes: number, rows: number): number {
    return Math.max(1, Math.min(MAX_CHUNK_ROWS, Math.round(chunkBytes / BulkData.meanRowBytes(rows, Math.max(1, Math.round(chunkBytes / 180))))));
  }

  static fromSpec(spec: Pick<BulkLoadSpec, 'table' | 'seed' | 'size' | 'rows' | 'chunk'>): BulkData {
    const rows = spec.rows ?? BulkData.rowsForSize(spec.size ?? BULK_LOAD_DEFAULT_SIZE, spec.chunk);
    return new BulkData(spec.table, spec.seed, rows, BulkData.chunkRowsFor(spec.chunk, rows));
  }

  /** How a generator thread rebuilds this data set (generator-threads.ts). */
  recipe(): DataSetRecipe {
    return { module: import.meta.url, exportName: 'BulkData', args: [this.table, this.seed, this.rows, this.chunkRows] };
  }

  firstRow(chunk: number): number {
    return chunk * this.chunkRows + 1;
  }

  rowsIn(chunk: number): number {
    return Math.max(0, Math.min(this.rows, (chunk + 1) * this.chunkRows) - chunk * this.chunkRows);
  }

  /** The rows of one chunk as values (for tests and tools; the load uses generate()). */
  *rowsOf(chunk: number): Generator<BulkRow> {
    const rng = new Rng(chunkSeed(this.seed, chunk));
    const first = this.firstRow(chunk);
    const last = first + this.rowsIn(chunk) - 1;
    for (let id = first; id <= last; id++) {
      const account = rng.u32() >>> 1;
      const cents = rng.below(CENTS);
      const epoch = EPOCH0 + rng.below(SPAN_SECONDS);
      const note = this.notes[rng.u32() & (POOL - 1)];
      yield { chunk, id, account, cents, epoch, note };
    }
  }

  generate(chunk: number): BulkChunk {
    const rng = new Rng(chunkSeed(this.seed, chunk));
    const first = this.firstRow(chunk);
    const rows = this.rowsIn(chunk);
    const last = first + rows - 1;
    // Sized for the mean row plus one widest row; grown in the rare chunk that needs more.
    let out = Buffer.allocUnsafe(rows * ROW_BYTES_ESTIMATE + MAX_ROW_BYTES);
    const notes = this.noteViews;
    const noteHash = this.noteHash;
    let o = 0;
    let checksum = 0;
    // The same draws in the same order as rowsOf(), written straight into bytes: this loop is the
    // load's CPU cost, and building strings costs several times more in garbage collection.
    for (let id = first; id <= last; id++) {
      if (o + MAX_ROW_BYTES > out.length) {
        const bigger = Buffer.allocUnsafe(Math.ceil(out.length * 1.25) + MAX_ROW_BYTES);
        out.copy(bigger, 0, 0, o);
        out = bigger;
      }
      const account = rng.u32() >>> 1;
      const cents = rng.below(CENTS);
      const t = rng.below(SPAN_SECONDS);
      const n = rng.u32() & (POOL - 1);
      o = writeUint(out, o, chunk);
      out[o++] = TAB;
      o = writeUint(out, o, id);
      out[o++] = TAB;
      o = writeUint(out, o, account);
      out[o++] = TAB;
      o = writeCents(out, o, cents);
      out[o++] = TAB;
      const day = (t / 86400) | 0;
      // TypedArray.set from views made once: Buffer.copy allocates a view per call, and a byte loop
      // is slower still; this is most of the row's bytes.
      out.set(DAY_VIEWS[day], o);
      o += 10;
      out[o++] = SPACE;
      const sod = t - day * 86400;
      const hh = (sod / 3600) | 0;
      const mm = ((sod - hh * 3600) / 60) | 0;
      const ss = sod - hh * 3600 - mm * 60;
      out[o++] = ZERO + ((hh / 10) | 0);
      out[o++] = ZERO + (hh % 10);
      out[o++] = COLON;
      out[o++] = ZERO + ((mm / 10) | 0);
      out[o++] = ZERO + (mm % 10);
      out[o++] = COLON;
      out[o++] = ZERO + ((ss / 10) | 0);
      out[o++] = ZERO + (ss % 10);
      out[o++] = TAB;
      const note = notes[n];
      out.set(note, o);
      o += note.length;
      out[o++] = NEWLINE;
      checksum += rowHash(id, account, cents, EPOCH0 + t, noteHash[n], chunk);
    }
    return { data: out.subarray(0, o), rows, checksum };
  }
}

/** Widest possible row: chunk and id up to 16 digits, account 10, amount 9, timestamp 19, note 240, separators 6. */
const MAX_ROW_BYTES = 16 + 16 + 10 + 9 + 19 + NOTE_MAX + 6;
/** A little above the mean row (~183 bytes for millions of rows). */
const ROW_BYTES_ESTIMATE = 192;
const DAY_BYTES = Buffer.from(DAY_TEXT.join(''), 'latin1');
const DAY_VIEWS = DAY_TEXT.map((_, d) => DAY_BYTES.subarray(d * 10, d * 10 + 10));

export interface BulkVerification {
  /** What the whole requested data set holds. `checksum` is null when not every chunk was generated. */
  expected: { rows: number; checksum: string | null };
  /** What the table holds, counted and summed by the server. */
  found: { rows: number; checksum: string };
  /** The table holds exactly the requested data set: every row once, nothing else. */
  exact: boolean;
  /** The table holds exactly the chunks the marker table lists (true also for an incomplete load). */
  matchesCommittedChunks: boolean;
  /** Chunks whose rows or checksum differ from the generator's, at most 20. */
  badChunks: Array<{ chunk: number; rows: number; expectedRows: number; checksumMatches: boolean }>;
  ms: number;
}

/** Reads per-chunk count and checksum from the server and compares them with the generator's. */
export async function verifyBulkTable(
  db: import('pg').Client,
  data: BulkData,
  known: Map<number, { rows: number; checksum: number }>,
  now: () => number,
): Promise<BulkVerification> {
  const t0 = now();
  const res = await db.query(`select chunk, count(*)::bigint as n, sum(${ROW_HASH_SQL})::text as s from ${data.table} group by chunk`);
  const markers = new Set(((await db.query(`select chunk from ${data.markerTable}`)).rows as Array<{ chunk: number }>).map((r) => Number(r.chunk)));
  const expectedOf = (chunk: number) => {
    let k = known.get(chunk);
    if (!k && chunk >= 0 && chunk < data.chunks) {
      const g = data.generate(chunk);
      k = { rows: g.rows, checksum: g.checksum };
      known.set(chunk, k);
    }
    return k;
  };
  let foundRows = 0;
  let foundSum = 0n;
  const badChunks: BulkVerification['badChunks'] = [];
  let bad = 0;
  const seen = new Set<number>();
  for (const r of res.rows as Array<{ chunk: number; n: string; s: string }>) {
    const chunk = Number(r.chunk);
    seen.add(chunk);
    const rows = Number(r.n);
    foundRows += rows;
    foundSum += BigInt(r.s);
    const e = expectedOf(chunk);
    const ok = !!e && markers.has(chunk) && e.rows === rows && BigInt(e.checksum) === BigInt(r.s);
    if (!ok) {
      bad++;
      if (badChunks.length < 20) badChunks.push({ chunk, rows, expectedRows: e?.rows ?? 0, checksumMatches: !!e && BigInt(e.checksum) === BigInt(r.s) });
    }
  }
  for (const m of markers) {
    if (!seen.has(m) && (expectedOf(m)?.rows ?? 0) > 0) {
      bad++;
      if (badChunks.length < 20) badChunks.push({ chunk: m, rows: 0, expectedRows: expectedOf(m)?.rows ?? 0, checksumMatches: false });
    }
  }
  let expectedSum: bigint | null = 0n;
  for (let c = 0; c < data.chunks; c++) {
    const k = known.get(c);
    if (!k) {
      expectedSum = null;
      break;
    }
    expectedSum += BigInt(k.checksum);
  }
  return {
    expected: { rows: data.rows, checksum: expectedSum === null ? null : expectedSum.toString() },
    found: { rows: foundRows, checksum: foundSum.toString() },
    exact: expectedSum !== null && foundRows === data.rows && foundSum === expectedSum && bad === 0,
    matchesCommittedChunks: bad === 0,
    badChunks,
    ms: Math.round(now() - t0),
  };
}

function capped(ids: number[], max = 100): number[] {
  return ids.length > max ? ids.slice(0, max) : ids;
}

export class BulkLoad implements Workload {
  readonly kind = 'bulk-load';
  readonly data: BulkData;

  constructor(
    readonly name: string,
    private readonly spec: BulkLoadSpec,
  ) {
    this.data = BulkData.fromSpec(spec);
  }

  /** Creates the (empty) table and its marker table, then checkpoints so every load starts alike. */
  async load(conn: ConnInfo, rt: WorkloadRuntime): Promise<void> {
    const d = this.data;
    rt.status('load', `${this.name}: creating ${d.table} for ${d.rows} rows in ${d.chunks} chunks`);
    await withClient(conn, async (c) => {
      await c.query(`drop table if exists ${d.table}, ${d.markerTable}; ${bulkTableDdl(d.table)}; ${markerTableDdl(d.markerTable)}`);
      // Needs superuser or pg_checkpoint; a load without it still runs.
      await c.query('checkpoint').catch((e) => rt.event('checkpoint-skipped', { workload: this.name, message: (e as Error).message }));
    });
    rt.event('workload-loaded', { workload: this.name, table: d.table, rows: d.rows, chunks: d.chunks, chunkRows: d.chunkRows });
  }

  async run(conn: () => ConnInfo, rt: WorkloadRuntime): Promise<WorkloadSummary> {
    const { streams, duration, warmup, statementTimeout, reconnectTimeout, maxAttempts } = this.spec;
    const d = this.data;
    const known = new Map<number, { rows: number; checksum: number; bytes: number }>();
    let sent = 0;
    let committedBytes = 0;
    let committedRows = 0;
    let chunksDone = 0;
    let last = { sent: 0, bytes: 0, rows: 0 };
    const recorder = new PhaseRecorder(
      () => rt.clock.now(),
      (s) => {
        const delta = { sent: sent - last.sent, bytes: committedBytes - last.bytes, rows: committedRows - last.rows };
        last = { sent, bytes: committedBytes, rows: committedRows };
        // `tps` here is chunk transactions committed in the second; the byte rates are the point.
        rt.sample({
          workload: this.name,
          ...s,
          mibPerSec: +(delta.sent / MiB).toFixed(2),
          committedMiBPerSec: +(delta.bytes / MiB).toFixed(2),
          rowsPerSec: delta.rows,
          chunksCommitted: chunksDone,
        });
        rt.status('run', `${this.name}: ${chunksDone}/${d.chunks} chunks, ${(delta.sent / MiB).toFixed(1)} MiB/s${s.errors ? `, ${s.errors} errors` : ''}`);
      },
    );
    const retry = { timeoutMs: reconnectTimeout, signal: rt.signal, statementTimeoutMs: statementTimeout };
    const serverCost = new ServerStatsMeasurement(() => withRetry(conn, serverStats, retry).catch(() => null));
    await serverCost.start();
    // run() starts from empty tables, so it can be repeated after one load().
    await withRetry(conn, (db) => db.query(`truncate ${d.table}, ${d.markerTable}`), retry);

    // Rows are made on other threads: on a host the database shares, the thread driving the COPY
    // streams should only move bytes (bench/copy-throughput.ts measures the difference). A thread
    // takes ~0.5 s to start (it loads the TypeScript data set module), a fixed cost of setting up,
    // like creating the table: the load's clock starts once the threads can make chunks. A thread
    // that fails to start is not waited for; chunks are then made on this thread.
    const generators = new GeneratorThreads<BulkChunk>(d.recipe(), Math.max(1, Math.min(streams, availableParallelism() - 1)));
    await generators.ready.catch((e) => rt.event('generator-threads-failed', { workload: this.name, message: (e as Error).message }));

    const begin = rt.clock.now();
    let measuring = false;
    let measureFromBytes = 0;
    let measureStartMs = begin;
    const startMeasuring = () => {
      if (measuring) return;
      measuring = true;
      measureFromBytes = committedBytes;
      recorder.start();
      measureStartMs = recorder.startMs;
      rt.onMeasureStart?.(recorder.startMs);
      rt.event('measure-start', { workload: this.name });
    };
    const warmupTimer = warmup > 0 ? setTimeout(startMeasuring, warmup) : undefined;
    if (warmup > 0) rt.status('warmup', `${this.name}: ${streams} streams, ${Math.round(warmup / 1000)}s warmup`);
    else startMeasuring();

    let res: CopyLoadResult;
    try {
      res = await loadChunks(d, {
        generate: (chunk) => generators.generate(chunk),
        conn,
        clock: rt.clock,
        signal: rt.signal,
        streams,
        statementTimeoutMs: statementTimeout,
        maxAttempts,
        reconnectTimeoutMs: reconnectTimeout,
        deadlineMs: begin + warmup + duration,
        onSent: (n) => {
          sent += n;
        },
        onCommitted: (chunk, c, latencyMs) => {
          if (!known.has(chunk)) known.set(chunk, { rows: c.rows, checksum: c.checksum, bytes: c.data.length });
          committedBytes += c.data.length;
          committedRows += c.rows;
          chunksDone++;
          if (measuring) recorder.ok(latencyMs);
        },
        onError: (kind) => {
          if (measuring) recorder.error(kind);
        },
        event: rt.event,
      });
    } finally {
      clearTimeout(warmupTimer);
      if (!measuring) startMeasuring();
      recorder.stop();
      await generators.close();
    }

    rt.status('verify', `${this.name}: counting rows and checksums`);
    await serverCost.stop();
    let verification: BulkVerification | { error: string };
    try {
      verification = await withRetry(conn, (db) => verifyBulkTable(db, d, known, () => rt.clock.now()), {
        ...retry,
        statementTimeoutMs: Math.max(statementTimeout, 600_000),
      });
    } catch (e) {
      verification = { error: (e as Error).message };
    }

    // Throughput of the data set that is in the table, from the first attempt to the last commit:
    // time lost to faults counts against it.
    let loadedBytes = 0;
    let loadedRows = 0;
    const loadedChunks = res.committed;
    const missing = new Set(res.missing);
    for (let c = 0; c < d.chunks; c++) {
      if (missing.has(c)) continue;
      const k = known.get(c);
      if (k) {
        loadedBytes += k.bytes;
        loadedRows += k.rows;
      }
    }
    const seconds = Math.max(0.001, (res.lastCommitMs - res.startMs) / 1000);
    const measuredSeconds = Math.max(0.001, (res.lastCommitMs - measureStartMs) / 1000);
    const found: ServerStatsFindings = {};
    await serverCost.collect(found);
    const stats = found.serverStats!;
    const complete = res.missing.length === 0 && 'exact' in verification && verification.exact;
    const s = recorder.summary();
    rt.event('bulk-load-verified', { workload: this.name, complete, retriedChunks: res.retriedChunks.length, failedAttempts: res.failedAttempts });
    return {
      name: this.name,
      kind: this.kind,
      ...s,
      clients: streams,
      details: {
        unit: 'tps and latencyMs are per chunk: one COPY transaction of chunkRows rows',
        table: d.table,
        seed: d.seed,
        streams,
        chunkRows: d.chunkRows,
        chunks: d.chunks,
        requestedRows: d.rows,
        rowsLoaded: loadedRows,
        chunksLoaded: loadedChunks,
        bytesLoaded: loadedBytes,
        mib: +(loadedBytes / MiB).toFixed(2),
        seconds: +seconds.toFixed(3),
        mibPerSec: +(loadedBytes / MiB / seconds).toFixed(2),
        rowsPerSec: Math.round(loadedRows / seconds),
        measured:
          warmup > 0
            ? { seconds: +measuredSeconds.toFixed(3), mibPerSec: +((committedBytes - measureFromBytes) / MiB / measuredSeconds).toFixed(2) }
            : undefined,
        bytesSent: res.bytesSent,
        walBytes: stats.walBytes,
        walLsnBytes: stats.walLsnBytes,
        walBytesPerDataByte: stats.walLsnBytes !== null && loadedBytes ? +(stats.walLsnBytes / loadedBytes).toFixed(3) : null,
        checkpoints: stats.checkpoints,
        statsSource: stats.source,
        statsReset: stats.statsReset,
        complete,
        stoppedBy: res.stoppedBy,
        retries: {
          attempts: res.attempts,
          failedAttempts: res.failedAttempts,
          retriedChunks: res.retriedChunks.length,
          retriedChunkIds: capped(res.retriedChunks),
          committedDespiteError: capped(res.committedDespiteError),
          gaveUp: capped(res.gaveUp),
          lostAfterAck: capped(res.lostAfterAck),
          missing: res.missing.length,
          missingChunkIds: capped(res.missing),
          reconnects: res.reconnects,
          connectFailures: res.connectFailures,
          repairRounds: res.repairRoundsRun,
          reconcileError: res.reconcileError,
          failures: res.failures,
          failuresTruncated: res.failuresTruncated,
        },
        verification,
      },
    };
  }
}
