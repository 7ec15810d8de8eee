// What a load cost the server beyond the rows themselves: WAL written and checkpoints, read from the
// cumulative statistics before and after and reported as deltas.
//
// WAL: `pg_stat_wal.wal_bytes` (PostgreSQL ≥ 14) and, as a cross-check that survives a restart, the
// distance between pg_current_wal_lsn() before and after. Checkpoints: `pg_stat_checkpointer`
// (PostgreSQL ≥ 17) or `pg_stat_bgwriter` (older). Both cover the whole server, so anything running
// beside the load (a safety writer) is included. A crash discards the cumulative statistics: when the
// postmaster restarted in between, the statistics deltas are null and `statsReset` says why. A
// checkpoint still running at the second snapshot is counted (timed/requested go up when it starts,
// buffers as they are written) but its write and sync times only appear once it completes.
import type pg from 'pg';
import type { Measurement } from './measurement.ts';

export interface ServerStats {
  versionNum: number;
  postmasterStart: string;
  lsn: string;
  walBytes: bigint | null;
  checkpoints: { timed: number; requested: number; buffersWritten: number; writeTimeMs: number; syncTimeMs: number };
}

export interface StatsDelta {
  /** pg_stat_wal.wal_bytes after − before; null before PostgreSQL 14 or after a restart. */
  walBytes: number | null;
  /** pg_current_wal_lsn() after − before: WAL generated, restart or not. */
  walLsnBytes: number | null;
  checkpoints: { timed: number; requested: number; buffersWritten: number; writeTimeMs: number; syncTimeMs: number } | null;
  /** The server restarted between the snapshots, so its cumulative statistics started again from zero. */
  statsReset: boolean;
  source: 'pg_stat_checkpointer' | 'pg_stat_bgwriter' | null;
}

export async function serverStats(db: pg.Client): Promise<ServerStats> {
  const base = await db.query(
    `select current_setting('server_version_num')::int as v, pg_postmaster_start_time()::text as started,
            case when pg_is_in_recovery() then pg_last_wal_replay_lsn() else pg_current_wal_lsn() end::text as lsn`,
  );
  const versionNum = Number(base.rows[0].v);
  const walBytes = versionNum >= 140000 ? BigInt((await db.query('select wal_bytes::text as b from pg_stat_wal')).rows[0].b) : null;
  const cp =
    versionNum >= 170000
      ? await db.query(
          'select num_timed as timed, num_requested as requested, buffers_written as written, write_time, sync_time from pg_stat_checkpointer',
        )
      : await db.query(
          `select checkpoints_timed as timed, checkpoints_req as requested, buffers_checkpoint as written,
                  checkpoint_write_time as write_time, checkpoint_sync_time as sync_time from pg_stat_bgwriter`,
        );
  const r = cp.rows[0];
  return {
    versionNum,
    postmasterStart: base.rows[0].started,
    lsn: base.rows[0].lsn,
    walBytes,
    checkpoints: {
      timed: Number(r.timed),
      requested: Number(r.requested),
      buffersWritten: Number(r.written),
      writeTimeMs: Number(r.write_time),
      syncTimeMs: Number(r.sync_time),
    },
  };
}

/** Bytes between two LSNs written as `X/Y` (hex). */
export function lsnBytes(from: string, to: string): number {
  const parse = (l: string) => {
    const [hi, lo] = l.split('/');
    return BigInt(`0x${hi}`) * 2n ** 32n + BigInt(`0x${lo}`);
  };
  return Number(parse(to) - parse(from));
}

export function statsDelta(before: ServerStats | null, after: ServerStats | null): StatsDelta {
  if (!before || !after) return { walBytes: null, walLsnBytes: null, checkpoints: null, statsReset: false, source: null };
  const statsReset = before.postmasterStart !== after.postmasterStart;
  const source = after.versionNum >= 170000 ? 'pg_stat_checkpointer' : 'pg_stat_bgwriter';
  const b = before.checkpoints;
  const a = after.checkpoints;
  return {
    walBytes: statsReset || before.walBytes === null || after.walBytes === null ? null : Number(after.walBytes - before.walBytes),
    walLsnBytes: before.lsn && after.lsn ? lsnBytes(before.lsn, after.lsn) : null,
    checkpoints: statsReset
      ? null
      : {
          timed: a.timed - b.timed,
          requested: a.requested - b.requested,
          buffersWritten: a.buffersWritten - b.buffersWritten,
          writeTimeMs: Math.round(a.writeTimeMs - b.writeTimeMs),
          syncTimeMs: Math.round(a.syncTimeMs - b.syncTimeMs),
        },
    statsReset,
    source,
  };
}

export interface ServerStatsFindings {
  serverStats?: StatsDelta;
}

/** WAL and checkpoints around a load: a snapshot at start, one at stop, their difference collected. */
export class ServerStatsMeasurement implements Measurement<ServerStatsFindings> {
  readonly name = 'server-statistics';
  private before: ServerStats | null = null;
  private after: ServerStats | null = null;
  private stopped = false;

  /** `snapshot` reads the statistics, or gives null when the server cannot be reached (the delta is then null). */
  constructor(private readonly snapshot: () => Promise<ServerStats | null>) {}

  async start(): Promise<void> {
    this.before = await this.snapshot();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.after = await this.snapshot();
  }

  async collect(findings: ServerStatsFindings): Promise<void> {
    findings.serverStats = statsDelta(this.before, this.after);
  }
}
