// What a Patroni cluster adds to a target's run: a failover timeline per fault cycle (polled from the
// REST API, fed by the safety ledger) and, after recovery, the split-brain analysis of the ledger.
import type { Clock } from '../../core/clock.ts';
import type { Measurement } from '../../measure/measurement.ts';
import type { ConnInfo } from '../../engine/types.ts';
import type { LedgerAttempt } from '../ledger.ts';
import type { DeployedEngine } from '../../engine/types.ts';
import type { HaSummary } from '../../model/summary.ts';
import type { FaultTracker } from '../../fault/ha-modes.ts';
import { verifySplitBrain } from '../split-brain.ts';
import { FailoverMonitor } from './timeline.ts';
import { PatroniCluster } from '../../engine/patroni/cluster.ts';

export interface HaFindings {
  ha?: HaSummary;
  /** Read: the safety ledger, for the split-brain analysis (collected before this). */
  ledgerFile?: string;
}

/**
 * An HA engine's view of a run: it follows leadership while faults happen, learns of every fault
 * through its tracker, sees every ledger write, and after recovery reports failovers and split-brain
 * writes.
 */
export interface HaObserver extends Measurement<HaFindings> {
  onAttempt(a: LedgerAttempt): void;
  /** Told when each fault is injected and undone, so failovers line up with faults. */
  readonly tracker: FaultTracker;
  report(ledgerFile: string | undefined, conn: ConnInfo): Promise<HaSummary>;
}

export interface HaObserverOptions {
  clock: Clock;
  /** Where the split-brain analysis reads the ledger table back. */
  conn(): ConnInfo;
  event(type: string, data: object): void;
  status?(phase: string, detail?: string): void;
}

/** The observer an HA engine gets for a run; undefined for an engine without leadership to follow. */
export function haObserverFor(engine: DeployedEngine, o: HaObserverOptions): HaObserver | undefined {
  return engine instanceof PatroniCluster ? new PatroniObserver(engine, o) : undefined;
}

export class PatroniObserver implements HaObserver {
  readonly name = 'ha-observer';
  private readonly monitor: FailoverMonitor;

  constructor(
    private readonly cluster: PatroniCluster,
    private readonly o: HaObserverOptions,
  ) {
    this.monitor = new FailoverMonitor({ cluster, clock: o.clock, onEvent: o.event });
  }

  async start(): Promise<void> {
    this.monitor.start();
  }

  /** The failover timeline and the split-brain writes, from the ledger the safety monitor collected. */
  async collect(findings: HaFindings): Promise<void> {
    this.o.status?.('verify', 'failover timeline and split-brain writes');
    findings.ha = await this.report(findings.ledgerFile, this.o.conn());
    this.o.event('ha-verified', { splitBrainWrites: findings.ha.splitBrain?.splitBrainWrites, failovers: findings.ha.failovers.length });
  }

  stop(): Promise<void> {
    return this.monitor.stop();
  }

  onAttempt(a: LedgerAttempt): void {
    this.monitor.onAttempt(a);
  }

  /** Every cycle on this engine feeds the failover timeline. */
  get tracker(): FaultTracker {
    return this.monitor;
  }

  async report(ledgerFile: string | undefined, conn: ConnInfo): Promise<HaSummary> {
    await this.monitor.stop();
    const failovers = this.monitor.cycles();
    if (!ledgerFile) return { failovers };
    const sb = await verifySplitBrain({
      conn,
      ledgerFile,
      leaderTimeline: this.monitor.leaderTimeline(),
      members: this.cluster.members.map((m) => ({ name: m.name, port: m.conn.port })),
    });
    return {
      failovers,
      splitBrain: {
        splitBrainWrites: sb.splitBrainWrites,
        concurrentWrites: sb.concurrentWrites,
        dualWriterMs: sb.dualWriterMs,
        episodes: sb.episodes,
        byMember: sb.byMember,
        lostByCause: sb.lost?.byCause,
        singleWriter: sb.singleWriter,
      },
    };
  }
}
