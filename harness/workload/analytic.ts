// Analytic workload: a TPC-H-like lineitem at a scale factor (see tpch.ts for the data), loaded with
// chunked parallel COPY, then queried: Q1 (grouped aggregates by returnflag/linestatus), Q6 (filtered
// revenue sum), a full scan (count + sums) and an index build on l_shipdate, each `repetitions`
// times in that order. Per query, `details` reports cold (the first execution after the load, which
// ends with VACUUM ANALYZE and a CHECKPOINT; caches are not dropped) and warm (median of the rest);
// latencyMs covers every execution. Every Q1/Q6/scan result is compared with the answers computed
// from the generator while loading, so a run also says whether the database returned the right data.
//
// Under faults a failed execution is retried on a new connection (bounded by maxAttempts per
// execution and reconnectTimeout per outage); what happened is in details.failures.
import type pg from 'pg';
import { withClient } from '../engine/pg.ts';
import type { ConnInfo } from '../engine/types.ts';
import type { WorkloadSummary } from '../model/summary.ts';
import { sleep } from '../core/clock.ts';
import type { AnalyticQuery, AnalyticSpec } from '../model/big-data.ts';
import { connectWithRetry, loadChunks, markerTableDdl, withRetry, type CopyLoadResult } from './chunked-copy.ts';
import { PhaseRecorder, errorKind } from './recorder.ts';
import { DROP_INDEX, LINEITEM_DDL, LineitemData, QUERIES, checkAnswer, emptyAnswers, mergeAnswers, type Answers } from './tpch.ts';
import type { Workload, WorkloadRuntime } from './types.ts';

export { AnalyticWorkload, type AnalyticSpec } from '../model/big-data.ts';

const MiB = 1024 ** 2;

export interface QueryFailure {
  query: AnalyticQuery;
  repetition: number;
  attempt: number;
  kind: string;
  message: string;
  atMs: number;
}

export interface QueryStats {
  /** Milliseconds of each completed execution, in order. */
  runs: number[];
  coldMs: number | null;
  /** Median of the executions after the first. */
  warmMs: number | null;
  minMs: number | null;
  maxMs: number | null;
  /** `match`: every result equalled the expected answer; `unchecked` for the index build. */
  answer: 'match' | 'mismatch' | 'unchecked' | 'not-run';
  mismatches: number;
  /** First differences of the first mismatching result. */
  problems?: string[];
  failedAttempts: number;
  /** Executions abandoned after maxAttempts or for want of a connection. */
  skipped: number;
}

function median(xs: number[]): number | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const round3 = (v: number | null) => (v === null ? null : +v.toFixed(3));

export class Analytic implements Workload {
  readonly kind = 'analytic';
  readonly data: LineitemData;
  private readonly answersByChunk = new Map<number, Answers>();
  private loadResult?: CopyLoadResult;
  private loadMs = 0;

  constructor(
    readonly name: string,
    private readonly spec: AnalyticSpec,
  ) {
    this.data = new LineitemData(spec.scaleFactor, spec.seed);
  }

  /** The expected answers over the whole data set (generating any chunk not seen while loading). */
  expectedAnswers(): Answers {
    const total = emptyAnswers();
    for (let c = 0; c < this.data.chunks; c++) {
      let a = this.answersByChunk.get(c);
      if (!a) {
        a = this.data.generate(c).answers;
        this.answersByChunk.set(c, a);
      }
      mergeAnswers(total, a);
    }
    return total;
  }

  async load(conn: ConnInfo, rt: WorkloadRuntime): Promise<void> {
    const { scaleFactor, streams, statementTimeout, reconnectTimeout, maxAttempts } = this.spec;
    const d = this.data;
    rt.status('load', `${this.name}: lineitem at scale factor ${scaleFactor}, ${d.orders} orders in ${d.chunks} chunks`);
    await withClient(conn, (c) => c.query(`drop table if exists ${d.table}, ${d.markerTable}; ${LINEITEM_DDL}; ${markerTableDdl(d.markerTable)}`));
    const t0 = rt.clock.now();
    const res = await loadChunks(d, {
      conn: () => conn,
      clock: rt.clock,
      signal: rt.signal,
      streams,
      statementTimeoutMs: statementTimeout,
      maxAttempts: Math.max(3, maxAttempts),
      reconnectTimeoutMs: reconnectTimeout,
      onCommitted: (chunk, c) => this.answersByChunk.set(chunk, c.answers),
      event: rt.event,
    });
    this.loadResult = res;
    this.loadMs = rt.clock.now() - t0;
    if (res.missing.length) {
      throw new Error(`${this.name}: lineitem load incomplete: ${res.missing.length} of ${d.chunks} chunks missing (${res.stoppedBy}${res.reconcileError ? `: ${res.reconcileError}` : ''})`);
    }
    rt.status('load', `${this.name}: vacuum analyze lineitem`);
    await withClient(conn, async (c) => {
      await c.query('vacuum analyze lineitem');
      await c.query('checkpoint').catch((e) => rt.event('checkpoint-skipped', { workload: this.name, message: (e as Error).message }));
    });
    rt.event('workload-loaded', { workload: this.name, rows: res.rowsCommitted, chunks: d.chunks, ms: Math.round(this.loadMs) });
  }

  async run(conn: () => ConnInfo, rt: WorkloadRuntime): Promise<WorkloadSummary> {
    const { repetitions, queries, duration, warmup, statementTimeout, reconnectTimeout, maxAttempts } = this.spec;
    const expected = this.expectedAnswers();
    const recorder = new PhaseRecorder(
      () => rt.clock.now(),
      (s) => {
        rt.sample({ workload: this.name, ...s });
      },
    );
    const failures: QueryFailure[] = [];
    let failedAttempts = 0;
    let reconnects = 0;
    let db: pg.Client | null = null;
    let lostConnection = false;
    let measuring = false;
    const extra = { statement_timeout: statementTimeout, query_timeout: statementTimeout + 5_000 };

    /** One execution of `query`, retried on a new connection after a failure. Null when abandoned. */
    const execute = async (query: AnalyticQuery, repetition: number): Promise<{ ms: number; rows: Array<Record<string, string | number | null>> } | null> => {
      for (let attempt = 1; attempt <= maxAttempts; attempt++) {
        if (rt.signal.aborted) return null;
        if (!db) {
          db = await connectWithRetry(conn, {
            timeoutMs: reconnectTimeout,
            signal: rt.signal,
            extra,
            onError: (kind) => measuring && recorder.error(kind),
          });
          if (!db) return null;
          if (lostConnection) {
            reconnects++;
            rt.event('analytic-reconnected', { workload: this.name });
          }
          lostConnection = false;
        }
        try {
          if (query === 'index') await db.query(DROP_INDEX);
          const t0 = performance.now();
          const r = await db.query(QUERIES[query]);
          const ms = performance.now() - t0;
          return { ms, rows: r.rows };
        } catch (e) {
          const kind = errorKind(e);
          failedAttempts++;
          if (measuring) recorder.error(kind);
          const f = { query, repetition, attempt, kind, message: ((e as Error).message ?? String(e)).slice(0, 300), atMs: +rt.clock.now().toFixed(1) };
          if (failures.length < 200) failures.push(f);
          rt.event('query-failed', { workload: this.name, ...f });
          if (kind === 'connection' || kind === 'server-shutdown' || kind === 'timeout') {
            db.end().catch(() => {});
            db = null;
            lostConnection = true;
          } else {
            await db.query('rollback').catch(() => {});
            await sleep(100, rt.signal).catch(() => {});
          }
        }
      }
      return null;
    };

    const stats = new Map<AnalyticQuery, QueryStats>(
      queries.map((q) => [q, { runs: [], coldMs: null, warmMs: null, minMs: null, maxMs: null, answer: q === 'index' ? 'unchecked' : 'not-run', mismatches: 0, failedAttempts: 0, skipped: 0 }]),
    );

    let stoppedBy: 'complete' | 'time-limit' | 'aborted' = 'complete';
    try {
      if (warmup > 0) {
        rt.status('warmup', `${this.name}: ${Math.round(warmup / 1000)}s of untimed queries`);
        const until = rt.clock.now() + warmup;
        while (rt.clock.now() < until && !rt.signal.aborted) for (const q of queries) await execute(q, 0);
      }
      measuring = true;
      recorder.start();
      rt.onMeasureStart?.(recorder.startMs);
      rt.event('measure-start', { workload: this.name });
      const deadline = recorder.startMs + duration;
      outer: for (const q of queries) {
        const st = stats.get(q)!;
        for (let rep = 1; rep <= repetitions; rep++) {
          if (rt.signal.aborted) {
            stoppedBy = 'aborted';
            break outer;
          }
          if (rt.clock.now() >= deadline) {
            stoppedBy = 'time-limit';
            break outer;
          }
          rt.status('run', `${this.name}: ${q} ${rep}/${repetitions}`);
          const before = failedAttempts;
          const res = await execute(q, rep);
          st.failedAttempts += failedAttempts - before;
          if (!res) {
            st.skipped++;
            continue;
          }
          recorder.ok(res.ms);
          st.runs.push(+res.ms.toFixed(3));
          if (q !== 'index') {
            const problems = checkAnswer(q, res.rows, expected);
            if (problems.length) {
              st.mismatches++;
              st.problems ??= problems.slice(0, 10);
              rt.event('query-mismatch', { workload: this.name, query: q, repetition: rep, problems: problems.slice(0, 10) });
            }
          }
        }
      }
    } finally {
      recorder.stop();
      // Leave lineitem as loaded.
      if (db) await (db as pg.Client).query(DROP_INDEX).catch(() => {});
      await (db as pg.Client | null)?.end().catch(() => {});
    }

    for (const [q, st] of stats) {
      st.coldMs = st.runs[0] ?? null;
      st.warmMs = round3(median(st.runs.slice(1)));
      st.minMs = st.runs.length ? Math.min(...st.runs) : null;
      st.maxMs = st.runs.length ? Math.max(...st.runs) : null;
      if (q !== 'index') st.answer = !st.runs.length ? 'not-run' : st.mismatches ? 'mismatch' : 'match';
    }
    // The table itself, read back after whatever happened during the queries.
    const rows = await withRetry(conn, async (c) => Number((await c.query('select count(*) as n from lineitem')).rows[0].n), {
      timeoutMs: reconnectTimeout,
      signal: rt.signal,
      statementTimeoutMs: statementTimeout,
    }).catch(() => null);

    const load = this.loadResult;
    const loadSeconds = Math.max(0.001, this.loadMs / 1000);
    const allMatch = [...stats.values()].every((s) => s.answer === 'match' || s.answer === 'unchecked');
    return {
      name: this.name,
      kind: this.kind,
      ...recorder.summary(),
      clients: 1,
      details: {
        unit: 'tps and latencyMs are per query execution',
        scaleFactor: this.spec.scaleFactor,
        seed: this.spec.seed,
        orders: this.data.orders,
        expectedRows: expected.scan.count,
        rows,
        repetitions,
        load: load
          ? {
              streams: this.spec.streams,
              chunks: load.chunks,
              bytes: load.bytesCommitted,
              seconds: +loadSeconds.toFixed(3),
              mibPerSec: +(load.bytesCommitted / MiB / loadSeconds).toFixed(2),
              rowsPerSec: Math.round(load.rowsCommitted / loadSeconds),
              failedAttempts: load.failedAttempts,
              retriedChunks: load.retriedChunks.length,
            }
          : null,
        queries: Object.fromEntries(stats),
        answersMatch: allMatch,
        stoppedBy,
        failedAttempts,
        reconnects,
        failures,
      },
    };
  }
}
