// TPC-B-like OLTP, compatible with pgbench's default script: same schema, same row counts per scale,
// same five statements per transaction. Data is loaded with COPY.
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import copyStreams from 'pg-copy-streams';
import type pg from 'pg';
import { withClient } from '../engine/pg.ts';
import { PipelinedSession, type BatchTemplate } from './pg-pipeline.ts';
import type { ConnInfo } from '../engine/types.ts';
import type { OltpTpcbSpec } from '../model/profile.ts';
import type { WorkloadSummary } from '../model/summary.ts';
import { PhaseRecorder, errorKind } from './recorder.ts';
import type { Workload, WorkloadRuntime } from './types.ts';
import { sleep } from '../core/clock.ts';

const ACCOUNTS_PER_SCALE = 100_000;
const TELLERS_PER_SCALE = 10;

const SCHEMA = `
drop table if exists pgbench_history, pgbench_tellers, pgbench_accounts, pgbench_branches;
create table pgbench_history (tid int, bid int, aid int, delta int, mtime timestamp, filler char(22));
create table pgbench_tellers (tid int not null, bid int, tbalance int, filler char(84)) with (fillfactor=100);
create table pgbench_accounts (aid int not null, bid int, abalance int, filler char(84)) with (fillfactor=100);
create table pgbench_branches (bid int not null, bbalance int, filler char(88)) with (fillfactor=100);
`;

const KEYS = `
alter table pgbench_branches add primary key (bid);
alter table pgbench_tellers add primary key (tid);
alter table pgbench_accounts add primary key (aid);
`;
// VACUUM refuses to run inside the implicit transaction of a multi-statement query.
const VACUUM = 'vacuum analyze pgbench_branches, pgbench_tellers, pgbench_accounts, pgbench_history';

/** Rows of one table as COPY text, generated in chunks so memory stays flat at any scale. */
function* copyRows(rows: number, line: (i: number) => string): Generator<string> {
  const CHUNK = 10_000;
  for (let start = 1; start <= rows; start += CHUNK) {
    let out = '';
    for (let i = start; i < Math.min(rows + 1, start + CHUNK); i++) out += line(i);
    yield out;
  }
}

async function copyInto(client: pg.Client, table: string, rows: Iterable<string>): Promise<void> {
  await pipeline(Readable.from(rows), client.query(copyStreams.from(`copy ${table} from stdin`)));
}

/**
 * pgbench's TPC-B statements, prepared once per connection (`-M prepared`). Parameters are int4, as
 * the columns are.
 */
export const TPCB_STATEMENTS = [
  'BEGIN',
  'UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2',
  'SELECT abalance FROM pgbench_accounts WHERE aid = $1',
  'UPDATE pgbench_tellers SET tbalance = tbalance + $1 WHERE tid = $2',
  'UPDATE pgbench_branches SET bbalance = bbalance + $1 WHERE bid = $2',
  'INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, $4, CURRENT_TIMESTAMP)',
  'END',
];
/** One transaction: every statement once, in pgbench's order, sent as one pipelined batch. */
const TPCB_BATCH = [0, 1, 2, 3, 4, 5, 6];
/** Parameter values of one batch: delta, aid | aid | delta, tid | delta, bid | tid, bid, aid, delta. */
export const TPCB_VALUES = 11;

/** Draws one transaction's values (pgbench's distributions) into `out`, in TPCB_BATCH's order. */
export function tpcbValues(scale: number, out: Int32Array, rand: () => number = Math.random): Int32Array {
  const aid = 1 + Math.floor(rand() * ACCOUNTS_PER_SCALE * scale);
  const bid = 1 + Math.floor(rand() * scale);
  const tid = 1 + Math.floor(rand() * TELLERS_PER_SCALE * scale);
  const delta = Math.floor(rand() * 10_001) - 5000;
  out[0] = delta;
  out[1] = aid;
  out[2] = aid;
  out[3] = delta;
  out[4] = tid;
  out[5] = delta;
  out[6] = bid;
  out[7] = tid;
  out[8] = bid;
  out[9] = aid;
  out[10] = delta;
  return out;
}

export class OltpTpcb implements Workload {
  readonly kind = 'oltp-tpcb';
  constructor(
    readonly name: string,
    private readonly spec: OltpTpcbSpec,
  ) {}

  async load(conn: ConnInfo, rt: WorkloadRuntime): Promise<void> {
    const scale = this.spec.scale;
    rt.status('load', `${this.name}: scale ${scale}, ${scale * ACCOUNTS_PER_SCALE} accounts`);
    const t0 = rt.clock.now();
    await withClient(conn, async (c) => {
      await c.query(SCHEMA);
      await copyInto(c, 'pgbench_branches', copyRows(scale, (i) => `${i}\t0\t\\N\n`));
      await copyInto(c, 'pgbench_tellers', copyRows(scale * TELLERS_PER_SCALE, (i) => `${i}\t${Math.ceil(i / TELLERS_PER_SCALE)}\t0\t\\N\n`));
      await copyInto(
        c,
        'pgbench_accounts',
        copyRows(scale * ACCOUNTS_PER_SCALE, (i) => `${i}\t${Math.ceil(i / ACCOUNTS_PER_SCALE)}\t0\t\n`),
      );
      await c.query(KEYS);
      await c.query(VACUUM);
    });
    rt.event('workload-loaded', { workload: this.name, scale, ms: Math.round(rt.clock.now() - t0) });
  }

  async run(conn: () => ConnInfo, rt: WorkloadRuntime): Promise<WorkloadSummary> {
    const { clients, duration, warmup, statementTimeout, scale } = this.spec;
    const recorder = new PhaseRecorder(
      () => rt.clock.now(),
      (s) => {
        rt.sample({ workload: this.name, ...s });
        rt.status('run', `${this.name}: ${s.second}s/${Math.round(duration / 1000)}s, ${s.tps} tps${s.errors ? `, ${s.errors} errors` : ''}`);
      },
      // Transactions still in flight at the deadline finish after it: not part of the window.
      { windowMs: duration },
    );
    const begin = rt.clock.now();
    const measureFrom = begin + warmup;
    // Moved to the measured window's real end once it starts: a warmup timer that fires late on a
    // busy host must not shorten the window the recorder measures.
    let deadline = measureFrom + duration;
    let warmupTransactions = 0;
    let measuring = false;
    const startMeasuring = () => {
      if (measuring) return;
      measuring = true;
      recorder.start();
      deadline = recorder.startMs + duration;
      rt.onMeasureStart?.(recorder.startMs);
      rt.event('measure-start', { workload: this.name });
    };
    const warmupTimer = setTimeout(startMeasuring, warmup);
    rt.status('warmup', `${this.name}: ${clients} clients, ${Math.round(warmup / 1000)}s warmup`);

    const client = async () => {
      let db: PipelinedSession | undefined;
      let tx: BatchTemplate | undefined;
      let backoff = 10;
      const values = new Int32Array(TPCB_VALUES);
      while (rt.clock.now() < deadline && !rt.signal.aborted) {
        if (!db) {
          try {
            db = await PipelinedSession.connect(conn(), {
              settings: { statement_timeout: String(statementTimeout) },
              batchTimeoutMs: statementTimeout + 1000,
            });
            await db.prepare(TPCB_STATEMENTS);
            tx = db.batch(TPCB_BATCH);
            backoff = 10;
          } catch (e) {
            void db?.close();
            db = undefined;
            if (measuring) recorder.error(errorKind(e));
            await sleep(backoff).catch(() => {});
            backoff = Math.min(backoff * 2, 200);
            continue;
          }
        }
        tpcbValues(scale, values);
        const t = performance.now();
        try {
          const status = await db.run(tx!, values);
          const latency = performance.now() - t;
          if (status !== 'I') throw new Error(`transaction left open (status ${status})`);
          if (measuring) recorder.ok(latency);
          else warmupTransactions++;
        } catch (e) {
          const kind = errorKind(e);
          if (measuring) recorder.error(kind);
          if (!db.usable) {
            db = undefined;
          } else {
            // A failed statement aborts the transaction; the batch's END then only rolled it back if
            // the server got that far, so end it here whatever state it is in.
            await db.query('rollback').catch(() => {
              void db?.close();
              db = undefined;
            });
          }
        }
      }
      await db?.close();
    };

    try {
      await Promise.all(Array.from({ length: clients }, client));
    } finally {
      clearTimeout(warmupTimer);
      if (!measuring) startMeasuring();
      recorder.stop();
    }
    const s = recorder.summary();
    // Every committed transaction inserted one history row: the database's own count, read back, is
    // the cross-check for the driver's count (they differ only if a commit's outcome was unknown).
    const rows = await historyRows(conn()).catch(() => null);
    return {
      name: this.name,
      kind: this.kind,
      ...s,
      clients,
      details: { scale, warmupTransactions, warmupMs: warmup, historyRows: rows },
    };
  }
}

/** Rows in pgbench_history: every committed transaction adds exactly one. */
export function historyRows(conn: ConnInfo): Promise<number> {
  return withClient(conn, async (c) => Number((await c.query('select count(*) as n from pgbench_history')).rows[0].n));
}
