// Split brain, read off the acknowledged-write ledger and the leader timeline of an HA engine.
//
// Each acknowledged write in the ledger names the server that acknowledged it (the port it reports,
// its system identifier and timeline). The leader timeline says which member held the leader lock
// when. A write acknowledged by a member that did not hold the lock at that moment is a split-brain
// write: the cluster had already given up on that member (its lock had expired, or another member
// held it) while it was still telling a client "committed". When another member acknowledged writes
// in the same period, two members accepted writes at once, and one side's writes cannot survive.
//
// Lost acknowledged writes are attributed to a cause:
//   split-brain      acknowledged by a member that was no longer the leader;
//   replication-lag  acknowledged by the leader, which then lost the lock to another member that had
//                    not received the write (asynchronous replication);
//   crash            acknowledged by the leader and lost without leadership moving to another member
//                    (the node lost it itself, e.g. an unflushed commit);
//   unknown          the ledger does not say which member acknowledged it, or no leader was known.
//
// The leader timeline is observed by polling, so a change is seen up to one poll period late; writes
// inside that blind spot are judged by the earlier observation, which can only undercount split brain.
import type { ConnInfo } from '../engine/types.ts';
import { readLedger, type AckingServer, type LedgerAttempt } from './ledger.ts';
import { readLedgerTable } from './verifier.ts';

/** One observed change of leadership; `leader: null` while no member held the lock. */
export interface LeaderChange {
  atMs: number;
  leader: string | null;
}

export type LossCause = 'split-brain' | 'replication-lag' | 'crash' | 'unknown';

export interface SplitBrainEpisode {
  /** The member that kept acknowledging writes after it lost the lock. */
  member: string;
  /** When the timeline first shows it without the lock. */
  lockLostAtMs: number;
  /** Its acknowledged writes while not leader: first and last acknowledgement, count. */
  firstAckMs: number;
  lastAckMs: number;
  writes: number;
  /**
   * The period in which another member, holding the lock, accepted writes too; null if there was none.
   * `basis: 'ledger'` when the ledger holds acknowledgements of that member in the period; otherwise
   * (every client stayed on the stale member, e.g. direct access) `basis: 'leader-timeline'`: the
   * period starts when the other member was observed holding the lock, which it holds only once it
   * has been promoted or is about to be.
   */
  dualWriter: { fromMs: number; toMs: number; otherMember: string; otherWrites: number; staleWrites: number; basis: 'ledger' | 'leader-timeline' } | null;
}

export interface LossAttribution {
  total: number;
  byCause: Record<LossCause, number>;
  /** Up to 20 lost ids per cause. */
  samples: Record<LossCause, string[]>;
}

export interface SplitBrainReport {
  acknowledged: number;
  /** Acknowledged writes whose server maps to a member and whose time is covered by the timeline. */
  judged: number;
  /** Acknowledged writes that could not be judged (no server identity, unknown member, before the first observation). */
  unjudged: number;
  /** Acknowledged by a member that did not hold the leader lock at the time. */
  splitBrainWrites: number;
  /** Acknowledged by a non-leader while another member was acknowledging writes too. */
  concurrentWrites: number;
  /** Sum of the dual-writer periods. */
  dualWriterMs: number;
  byMember: Record<string, { acknowledged: number; whileNotLeader: number }>;
  episodes: SplitBrainEpisode[];
  /** Present when the rows found after recovery were given. */
  lost?: LossAttribution;
  /** `ha.single-writer`: passes when no member acknowledged a write while not holding the lock. */
  singleWriter: { passed: boolean; message: string };
}

export interface SplitBrainInput {
  attempts: Iterable<LedgerAttempt>;
  /** Leader changes in time order (as FailoverMonitor.leaderTimeline() returns them). */
  leaderTimeline: LeaderChange[];
  /** Maps the acknowledging server to a member name; see membersByPort. */
  memberOf: (server: AckingServer) => string | undefined;
  /** Ids of the ledger rows found after recovery; enables the attribution of lost writes. */
  presentIds?: Iterable<string>;
}

/** Maps a server to a member by the port the server reports (members listen on distinct ports). */
export function membersByPort(members: { name: string; port: number }[]): (s: AckingServer) => string | undefined {
  const byPort = new Map(members.map((m) => [m.port, m.name]));
  return (s) => (s.port == null ? undefined : byPort.get(s.port));
}

class Timeline {
  private readonly changes: LeaderChange[];
  constructor(changes: LeaderChange[]) {
    this.changes = [...changes].sort((a, b) => a.atMs - b.atMs);
  }

  /** Index of the last change at or before t; -1 before the first observation. */
  private indexAt(t: number): number {
    let lo = 0;
    let hi = this.changes.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.changes[mid].atMs <= t) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  /** Leader at t; undefined before the first observation. */
  leaderAt(t: number): string | null | undefined {
    const i = this.indexAt(t);
    return i < 0 ? undefined : this.changes[i].leader;
  }

  /** When `member`'s leadership that covers or precedes t ended: the first change after its last observation as leader at or before t. */
  lockLostAt(member: string, t: number): number {
    for (let i = this.indexAt(t); i >= 0; i--) {
      if (this.changes[i].leader === member) return this.changes[i + 1]?.atMs ?? t;
    }
    // Never seen leading before t: it was not the leader for as long as we have observed.
    return this.changes[0]?.atMs ?? t;
  }

  /** The first observation at or after t of a leader other than `member`. */
  nextLeaderOtherThan(member: string, t: number): { atMs: number; leader: string } | undefined {
    for (const c of this.changes) if (c.atMs >= t && c.leader !== null && c.leader !== member) return { atMs: c.atMs, leader: c.leader };
    return undefined;
  }

  /** Cause for a write acknowledged by the legitimate leader `member` at t that later went missing. */
  lossAfter(member: string, t: number): LossCause {
    for (let i = this.indexAt(t) + 1; i < this.changes.length; i++) {
      const l = this.changes[i].leader;
      if (l === null) continue;
      return l === member ? 'crash' : 'replication-lag';
    }
    return 'crash';
  }
}

const SAMPLE = 20;

interface Judged {
  a: LedgerAttempt;
  member: string;
  stale: boolean;
}

export function analyzeSplitBrain(input: SplitBrainInput): SplitBrainReport {
  const timeline = new Timeline(input.leaderTimeline);
  const judged: Judged[] = [];
  const verdict = new Map<string, { member?: string; stale: boolean; atMs: number }>();
  let acknowledged = 0;
  let unjudged = 0;
  const byMember: SplitBrainReport['byMember'] = {};

  for (const a of input.attempts) {
    if (a.outcome !== 'ok') continue;
    acknowledged++;
    const member = a.server ? input.memberOf(a.server) : undefined;
    const atStart = timeline.leaderAt(a.startMs);
    const atEnd = timeline.leaderAt(a.endMs);
    if (!member || atStart === undefined || atEnd === undefined) {
      unjudged++;
      verdict.set(a.id, { member, stale: false, atMs: a.endMs });
      continue;
    }
    // The benefit of the doubt: leader at either end of the attempt makes it a legitimate write.
    const stale = atStart !== member && atEnd !== member;
    judged.push({ a, member, stale });
    verdict.set(a.id, { member, stale, atMs: a.endMs });
    const m = (byMember[member] ??= { acknowledged: 0, whileNotLeader: 0 });
    m.acknowledged++;
    if (stale) m.whileNotLeader++;
  }

  judged.sort((x, y) => x.a.endMs - y.a.endMs);
  const episodes = buildEpisodes(judged, timeline);
  const splitBrainWrites = judged.filter((j) => j.stale).length;
  const concurrentWrites = episodes.reduce((n, e) => n + (e.dualWriter?.staleWrites ?? 0), 0);
  const dualWriterMs = episodes.reduce((n, e) => n + (e.dualWriter ? e.dualWriter.toMs - e.dualWriter.fromMs : 0), 0);

  let lost: LossAttribution | undefined;
  if (input.presentIds) {
    const present = input.presentIds instanceof Set ? (input.presentIds as Set<string>) : new Set(input.presentIds);
    lost = { total: 0, byCause: { 'split-brain': 0, 'replication-lag': 0, crash: 0, unknown: 0 }, samples: { 'split-brain': [], 'replication-lag': [], crash: [], unknown: [] } };
    for (const [id, v] of verdict) {
      if (present.has(id)) continue;
      let cause: LossCause;
      if (!v.member || timeline.leaderAt(v.atMs) === undefined) cause = 'unknown';
      else if (v.stale) cause = 'split-brain';
      else cause = timeline.lossAfter(v.member, v.atMs);
      lost.total++;
      lost.byCause[cause]++;
      if (lost.samples[cause].length < SAMPLE) lost.samples[cause].push(id);
    }
  }

  let singleWriter: SplitBrainReport['singleWriter'];
  if (!judged.length) {
    singleWriter = { passed: false, message: 'no acknowledged write could be matched to a member and a leader, so single-writer was not measured' };
  } else if (splitBrainWrites === 0) {
    singleWriter = { passed: true, message: `all ${judged.length} judged acknowledged writes came from the member holding the leader lock` };
  } else {
    const worst = episodes.find((e) => e.dualWriter) ?? episodes[0];
    const dual = worst?.dualWriter;
    singleWriter = {
      passed: false,
      message:
        `${splitBrainWrites} acknowledged writes came from a member that no longer held the leader lock` +
        (dual ? `; ${worst.member} and ${dual.otherMember} both accepted writes for ${Math.round(dual.toMs - dual.fromMs)} ms` : '') +
        (lost ? `; ${lost.byCause['split-brain']} of them are missing after recovery` : ''),
    };
  }

  return { acknowledged, judged: judged.length, unjudged, splitBrainWrites, concurrentWrites, dualWriterMs, byMember, episodes, lost, singleWriter };
}

/**
 * Runs of stale writes per member, each ended by a legitimate write of that member (it led again).
 * For each run, the dual-writer period is where the run overlaps the acknowledgements of the member
 * that held the lock meanwhile.
 */
function buildEpisodes(judged: Judged[], timeline: Timeline): SplitBrainEpisode[] {
  const episodes: SplitBrainEpisode[] = [];
  const open = new Map<string, SplitBrainEpisode>();
  for (const j of judged) {
    const e = open.get(j.member);
    if (!j.stale) {
      // Only a write the member started while leading again, after it had lost the lock, ends the
      // episode; a legitimate write that merely finished late (it started before the loss) does not.
      if (e && j.a.startMs >= e.lockLostAtMs && timeline.leaderAt(j.a.startMs) === j.member) open.delete(j.member);
      continue;
    }
    if (e) {
      e.writes++;
      e.lastAckMs = j.a.endMs;
      continue;
    }
    const created: SplitBrainEpisode = { member: j.member, lockLostAtMs: timeline.lockLostAt(j.member, j.a.startMs), firstAckMs: j.a.endMs, lastAckMs: j.a.endMs, writes: 1, dualWriter: null };
    open.set(j.member, created);
    episodes.push(created);
  }
  for (const e of episodes) e.dualWriter = dualWriter(e, judged, timeline);
  return episodes;
}

function dualWriter(e: SplitBrainEpisode, judged: Judged[], timeline: Timeline): SplitBrainEpisode['dualWriter'] {
  const staleIn = (from: number, to: number) => judged.filter((j) => j.stale && j.member === e.member && j.a.endMs >= from && j.a.endMs <= to).length;
  // Writes by other members, acknowledged while they held the lock, from the moment e.member lost it.
  const others = judged.filter((j) => !j.stale && j.member !== e.member && j.a.endMs >= e.lockLostAtMs && j.a.endMs <= e.lastAckMs);
  if (others.length) {
    const fromMs = others[0].a.endMs;
    const counts = new Map<string, number>();
    for (const o of others) counts.set(o.member, (counts.get(o.member) ?? 0) + 1);
    const [otherMember, otherWrites] = [...counts.entries()].sort((x, y) => y[1] - x[1])[0];
    return { fromMs, toMs: e.lastAckMs, otherMember, otherWrites, staleWrites: staleIn(fromMs, e.lastAckMs), basis: 'ledger' };
  }
  const next = timeline.nextLeaderOtherThan(e.member, e.lockLostAtMs);
  if (!next || next.atMs > e.lastAckMs) return null;
  return { fromMs: next.atMs, toMs: e.lastAckMs, otherMember: next.leader, otherWrites: 0, staleWrites: staleIn(next.atMs, e.lastAckMs), basis: 'leader-timeline' };
}

/**
 * After a run: reads the ledger file and the ledger table on the (healthy) leader and analyses them.
 * `members` are the engine's members with the port each one's PostgreSQL listens on.
 */
export async function verifySplitBrain(o: { conn: ConnInfo; ledgerFile: string; leaderTimeline: LeaderChange[]; members: { name: string; port: number }[] }): Promise<SplitBrainReport> {
  const { attempts } = await readLedger(o.ledgerFile);
  const rows = await readLedgerTable(o.conn);
  return analyzeSplitBrain({ attempts, leaderTimeline: o.leaderTimeline, memberOf: membersByPort(o.members), presentIds: (rows ?? []).map((r) => r.id) });
}
