// TPC-B-like OLTP, compatible with pgbench's default script: same schema, same row counts per scale,
// same five statements per transaction. Data is loaded with COPY.
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import copyStreams from 'pg-copy-streams';
import type pg from 'pg';
import { connect, withClient } from '../engine/pg.ts';
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
 * One transaction as a single simple-protocol query string: one round trip instead of seven. The
 * statements and their order are pgbench's; values are integers we generated, never user input.
 */
export function tpcbTransaction(scale: number, rand: () => number = Math.random): string {
  const aid = 1 + Math.floor(rand() * ACCOUNTS_PER_SCALE * scale);
  const bid = 1 + Math.floor(rand() * scale);
  const tid = 1 + Math.floor(rand() * TELLERS_PER_SCALE * scale);
  const delta = Math.floor(rand() * 10_001) - 5000;
  return (
    'begin;' +
    `update pgbench_accounts set abalance = abalance + ${delta} where aid = ${aid};` +
    `select abalance from pgbench_accounts where aid = ${aid};` +
    `update pgbench_tellers set tbalance = tbalance + ${delta} where tid = ${tid};` +
    `update pgbench_branches set bbalance = bbalance + ${delta} where bid = ${bid};` +
    `insert into pgbench_history (tid, bid, aid, delta, mtime) values (${tid}, ${bid}, ${aid}, ${delta}, current_timestamp);` +
    'end;'
  );
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
      let db: pg.Client | undefined;
      let backoff = 10;
      while (rt.clock.now() < deadline && !rt.signal.aborted) {
        if (!db) {
          try {
            db = await connect(conn(), { statement_timeout: statementTimeout, query_timeout: statementTimeout + 1000 });
            backoff = 10;
          } catch (e) {
            if (measuring) recorder.error(errorKind(e));
            await sleep(backoff).catch(() => {});
            backoff = Math.min(backoff * 2, 200);
            continue;
          }
        }
        const sql = tpcbTransaction(scale);
        const t = performance.now();
        try {
          await db.query(sql);
          const latency = performance.now() - t;
          if (measuring) recorder.ok(latency);
          else warmupTransactions++;
        } catch (e) {
          const kind = errorKind(e);
          if (measuring) recorder.error(kind);
          if (kind === 'connection' || kind === 'timeout' || kind === 'server-shutdown') {
            // A timed-out query leaves the connection in an unknown state; start over.
            db.end().catch(() => {});
            db = undefined;
          } else {
            await db.query('rollback').catch(() => {
              db?.end().catch(() => {});
              db = undefined;
            });
          }
        }
      }
      await db?.end().catch(() => {});
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
