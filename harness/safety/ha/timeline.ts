// The failover timeline of a Patroni cluster, per fault cycle: when the leader key was lost, when a
// new leader was elected, when the new leader acknowledged its first write, when the faulted node was
// back as a replica, and when replication lag was back under a threshold. Leadership comes from
// polling Patroni's REST API (every ≤ 200 ms); the first write comes from the safety ledger, so it is
// what a client saw, not what the engine reported. Times are run-clock milliseconds, like the ledger.
import pg from 'pg';
import type { Clock } from '../../core/clock.ts';
import { sleep } from '../../core/clock.ts';
import { clientConfig } from '../../engine/pg.ts';
import type { LedgerAttempt } from '../ledger.ts';
import type { LeaderChange } from '../split-brain.ts';
import { leaderOf, type ClusterView } from '../../engine/patroni/rest.ts';
import type { PatroniCluster } from '../../engine/patroni/cluster.ts';
import type { FaultTracker } from '../../fault/ha-modes.ts';

export interface FailoverCycleTimeline {
  cycle: number;
  type: string;
  /** The node the fault was injected on. */
  node: string;
  injectedAtMs: number;
  /** Leader when the fault was injected (last observation before it). */
  oldLeader: string | null;
  /** First observation without `oldLeader` holding the leader key. */
  leaderLostAtMs: number | null;
  /** First leader observed after the loss (may be `oldLeader` again if it re-acquired the key). */
  newLeader: string | null;
  newLeaderAtMs: number | null;
  /** End of the first acknowledged ledger write served by `newLeader` after the loss. */
  firstWriteOnNewLeaderAtMs: number | null;
  /** The faulted node back after it had been down or lost leadership: streaming from the leader, or leading again. */
  nodeRejoinedAtMs: number | null;
  /** Every other member streaming from the leader with replay lag ≤ the threshold. */
  lagBelowThresholdAtMs: number | null;
  /** Largest replay lag, bytes, in the check that passed. */
  lagBytes: number | null;
}

export interface FailoverMonitorOptions {
  cluster: MonitoredCluster;
  clock: Clock;
  /** Poll period, ms; at most 200. */
  pollMs?: number;
  /** Replication lag, bytes, under which a replica counts as caught up. Default 1 MiB. */
  lagThresholdBytes?: number;
  /** Receives each timeline event as it is observed (e.g. the run's events.jsonl). */
  onEvent?: (type: string, data: object) => void;
  /** Safety bound on the polling loop if stop() is never called. Default 6 h. */
  maxDurationMs?: number;
  /**
   * Replay lag in bytes of each member streaming from `leader`, null when it cannot be read. Default:
   * pg_stat_replication on the leader.
   */
  replicationLag?: (leader: string) => Promise<Map<string, number> | null>;
}

/** The part of PatroniCluster the monitor uses. */
export type MonitoredCluster = Pick<PatroniCluster, 'view' | 'memberByPort' | 'member' | 'members'>;

interface OpenCycle {
  t: FailoverCycleTimeline;
  /** The faulted node was seen down (absent, not running) or, if it led, lost the key. */
  nodeDisturbed: boolean;
  /** Earliest ack end per member, for acks that started after injection / after the loss. */
  firstAckAfterInject: Map<string, number>;
  firstAckAfterLoss: Map<string, number>;
  /** The fault's undo ran (agent restarted, node started, resumed). */
  recovered: boolean;
  done: boolean;
}

export class FailoverMonitor implements FaultTracker {
  private readonly pollMs: number;
  private readonly lagThreshold: number;
  private readonly changes: LeaderChange[] = [];
  private readonly done: FailoverCycleTimeline[] = [];
  private open?: OpenCycle;
  private current: string | null | undefined = undefined;
  private lastView: ClusterView | null = null;
  private loop?: Promise<void>;
  private readonly stopper = new AbortController();
  polls = 0;
  failedPolls = 0;

  constructor(private readonly o: FailoverMonitorOptions) {
    this.pollMs = Math.min(200, Math.max(20, o.pollMs ?? 200));
    this.lagThreshold = o.lagThresholdBytes ?? 1024 * 1024;
  }

  start(): void {
    if (this.loop) return;
    const until = this.o.clock.now() + (this.o.maxDurationMs ?? 6 * 3_600_000);
    const maxPolls = Math.ceil((this.o.maxDurationMs ?? 6 * 3_600_000) / this.pollMs) + 1;
    this.loop = (async () => {
      for (let i = 0; i < maxPolls && !this.stopper.signal.aborted && this.o.clock.now() < until; i++) {
        const started = this.o.clock.now();
        await this.pollOnce().catch(() => {
          this.failedPolls++;
        });
        const wait = this.pollMs - (this.o.clock.now() - started);
        if (wait > 0) await sleep(wait, this.stopper.signal).catch(() => {});
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopper.abort();
    await this.loop;
    this.closeOpen();
  }

  /** Leader changes as observed, in order; `leader: null` while no member held the key. */
  leaderTimeline(): LeaderChange[] {
    return [...this.changes];
  }

  /** Finished cycles, plus the one still open. */
  cycles(): FailoverCycleTimeline[] {
    return this.open ? [...this.done, { ...this.open.t }] : [...this.done];
  }

  markFault(f: { cycle: number; type: string; node: string }): void {
    this.closeOpen();
    this.open = {
      t: {
        cycle: f.cycle,
        type: f.type,
        node: f.node,
        injectedAtMs: this.o.clock.now(),
        oldLeader: this.current ?? null,
        leaderLostAtMs: null,
        newLeader: null,
        newLeaderAtMs: null,
        firstWriteOnNewLeaderAtMs: null,
        nodeRejoinedAtMs: null,
        lagBelowThresholdAtMs: null,
        lagBytes: null,
      },
      nodeDisturbed: false,
      firstAckAfterInject: new Map(),
      firstAckAfterLoss: new Map(),
      recovered: false,
      done: false,
    };
  }

  /** The open cycle's fault was undone. */
  markRecovered(): void {
    if (this.open) this.open.recovered = true;
  }

  /** Feed of the safety ledger (LedgerWriter's onAttempt). */
  onAttempt(a: LedgerAttempt): void {
    const c = this.open;
    if (!c || a.outcome !== 'ok' || a.startMs < c.t.injectedAtMs) return;
    const member = this.o.cluster.memberByPort(a.server?.port)?.name;
    if (!member) return;
    if (!c.firstAckAfterInject.has(member)) c.firstAckAfterInject.set(member, a.endMs);
    if (c.t.leaderLostAtMs !== null && a.startMs >= c.t.leaderLostAtMs && !c.firstAckAfterLoss.has(member)) c.firstAckAfterLoss.set(member, a.endMs);
    this.resolveFirstWrite(c);
  }

  private emit(type: string, c: OpenCycle | undefined, data: object): void {
    const at = (data as { atMs?: number }).atMs;
    this.o.onEvent?.(type, {
      ...(c ? { cycle: c.t.cycle, fault: c.t.type, node: c.t.node } : {}),
      ...data,
      ...(c && typeof at === 'number' ? { sinceInjectMs: Math.round(at - c.t.injectedAtMs) } : {}),
    });
  }

  async pollOnce(): Promise<void> {
    const view = await this.o.cluster.view(1_000);
    const now = this.o.clock.now();
    this.polls++;
    if (!view) {
      this.failedPolls++;
      return;
    }
    this.lastView = view;
    const leader = leaderOf(view);
    if (leader !== this.current) {
      this.changes.push({ atMs: now, leader });
      this.emit('ha-leader', this.open, { leader, previous: this.current ?? null, atMs: now });
      this.current = leader;
    }
    const c = this.open;
    if (!c || c.done) return;
    const t = c.t;
    if (t.leaderLostAtMs === null && t.oldLeader !== null && leader !== t.oldLeader) {
      t.leaderLostAtMs = now;
      this.emit('ha-leader-lost', c, { leader: t.oldLeader, atMs: now });
    }
    if (t.leaderLostAtMs !== null && t.newLeader === null && leader !== null) {
      t.newLeader = leader;
      t.newLeaderAtMs = now;
      this.emit('ha-leader-elected', c, { leader, previous: t.oldLeader, atMs: now });
      this.resolveFirstWrite(c);
    }
    const me = view.members.find((m) => m.name === t.node);
    const up = !!me && (me.state === 'running' || me.state === 'streaming');
    if (!up || (t.node === t.oldLeader && leader !== t.node)) c.nodeDisturbed = true;
    // Back as leader: it re-acquired the key after losing it (it came back before anyone else took it).
    if (c.nodeDisturbed && c.recovered && t.nodeRejoinedAtMs === null && up && leader === t.node) {
      t.nodeRejoinedAtMs = now;
      this.emit('ha-node-rejoined', c, { atMs: now, leader, asLeader: true });
    }
    // Rejoined: the faulted node streams from the leader again. The DCS role alone is not enough: an
    // agent restarted next to a still-running former primary is listed as a replica before it demotes.
    const rejoinPhase = c.nodeDisturbed && t.nodeRejoinedAtMs === null && leader !== null && leader !== t.node;
    // Nothing observable happened to the node (a short agent kill, a short replica hang): once the
    // fault is undone only the lag is left to check.
    const lagPhase = t.lagBelowThresholdAtMs === null && leader !== null && (t.nodeRejoinedAtMs !== null || (!c.nodeDisturbed && c.recovered));
    if (!rejoinPhase && !lagPhase) return;
    const rows = await (this.o.replicationLag ?? ((l: string) => this.replicationRows(l)))(leader!);
    if (!rows) return;
    const at = this.o.clock.now();
    if (rejoinPhase && rows.has(t.node)) {
      t.nodeRejoinedAtMs = at;
      this.emit('ha-node-rejoined', c, { atMs: at, leader });
    }
    if (t.nodeRejoinedAtMs !== null || (!c.nodeDisturbed && c.recovered)) {
      const others = this.o.cluster.members.filter((m) => m.name !== leader).map((m) => m.name);
      if (others.every((n) => rows.get(n) !== undefined)) {
        const lag = Math.max(0, ...others.map((n) => rows.get(n)!));
        if (lag <= this.lagThreshold) {
          t.lagBelowThresholdAtMs = at;
          t.lagBytes = lag;
          this.emit('ha-replication-caught-up', c, { atMs: at, leader, lagBytes: lag, thresholdBytes: this.lagThreshold });
          c.done = true;
        }
      }
    }
  }

  /** Replay lag in bytes of each member streaming from `leader`; null when the leader does not answer. */
  private async replicationRows(leader: string): Promise<Map<string, number> | null> {
    const cluster = this.o.cluster;
    const client = new pg.Client(clientConfig(cluster.member(leader).conn, { connectionTimeoutMillis: 1_000, query_timeout: 1_000 }));
    client.on('error', () => {});
    try {
      await client.connect();
      const r = await client.query<{ name: string; lag: string | null }>(
        `select application_name as name, pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint::text as lag
           from pg_stat_replication where state = 'streaming' and replay_lsn is not null`,
      );
      return new Map(r.rows.map((x) => [x.name, Number(x.lag ?? 0)]));
    } catch {
      return null;
    } finally {
      await client.end().catch(() => {});
    }
  }

  private resolveFirstWrite(c: OpenCycle): void {
    const t = c.t;
    if (t.firstWriteOnNewLeaderAtMs !== null || !t.newLeader) return;
    const at = t.newLeader !== t.oldLeader ? c.firstAckAfterInject.get(t.newLeader) : c.firstAckAfterLoss.get(t.newLeader);
    if (at === undefined) return;
    t.firstWriteOnNewLeaderAtMs = at;
    this.emit('ha-first-write-new-leader', c, { leader: t.newLeader, atMs: at });
  }

  private closeOpen(): void {
    if (this.open) this.done.push({ ...this.open.t });
    this.open = undefined;
  }

  /** The last DCS view the monitor saw, for diagnostics. */
  get view(): ClusterView | null {
    return this.lastView;
  }
}
