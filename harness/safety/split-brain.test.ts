import { describe, expect, it } from 'vitest';
import { analyzeSplitBrain, membersByPort, type LeaderChange } from './split-brain.ts';
import type { LedgerAttempt } from './ledger.ts';

const PORTS = { 'node-0': 5000, 'node-1': 5001, 'node-2': 5002 } as const;
type Member = keyof typeof PORTS;
const memberOf = membersByPort(Object.entries(PORTS).map(([name, port]) => ({ name, port })));

let seq = 0;
function ack(member: Member, startMs: number, endMs = startMs + 2, timeline = 1): LedgerAttempt {
  const id = `w-${seq++}`;
  return { id, writer: 0, seq, startMs, endMs, outcome: 'ok', checksum: 'x', server: { target: '127.0.0.1:6000', port: PORTS[member], systemId: '7', timeline } };
}
function failed(startMs: number): LedgerAttempt {
  return { id: `f-${seq++}`, writer: 0, seq, startMs, endMs: startMs + 1, outcome: 'failed', checksum: 'x', error: 'ECONNREFUSED' };
}
const ids = (as: LedgerAttempt[]) => as.map((a) => a.id);

describe('analyzeSplitBrain', () => {
  it('finds no split brain in a clean failover, and blames lost writes on replication lag', () => {
    // node-0 leads, crashes at ~1000; node-1 leads from 1800.
    const timeline: LeaderChange[] = [
      { atMs: 0, leader: 'node-0' },
      { atMs: 1_500, leader: null },
      { atMs: 1_800, leader: 'node-1' },
    ];
    const before = [ack('node-0', 100), ack('node-0', 500), ack('node-0', 990)];
    const after = [ack('node-1', 1_900), ack('node-1', 2_000)];
    const attempts = [...before, failed(1_000), failed(1_200), ...after];
    // The last write of node-0 never reached node-1 (async replication).
    const present = ids([...before.slice(0, 2), ...after]);
    const r = analyzeSplitBrain({ attempts, leaderTimeline: timeline, memberOf, presentIds: present });
    expect(r).toMatchObject({ acknowledged: 5, judged: 5, unjudged: 0, splitBrainWrites: 0, concurrentWrites: 0, dualWriterMs: 0, episodes: [] });
    expect(r.singleWriter.passed).toBe(true);
    expect(r.lost).toEqual({
      total: 1,
      byCause: { 'split-brain': 0, 'replication-lag': 1, crash: 0, unknown: 0 },
      samples: { 'split-brain': [], 'replication-lag': [before[2].id], crash: [], unknown: [] },
    });
  });

  it('counts writes of a member whose lock expired, and the window in which two members accepted writes', () => {
    // Agent of node-0 killed at 1000: its PostgreSQL keeps accepting writes. The lock expires at 10000,
    // node-1 is elected at 10300 and writes from 10500; node-0 is demoted at 14000.
    const timeline: LeaderChange[] = [
      { atMs: 0, leader: 'node-0' },
      { atMs: 10_000, leader: null },
      { atMs: 10_300, leader: 'node-1' },
    ];
    const legit = [ack('node-0', 500), ack('node-0', 9_000)];
    const staleAlone = [ack('node-0', 10_050), ack('node-0', 10_200)];
    const staleConcurrent = [ack('node-0', 11_000), ack('node-0', 12_000), ack('node-0', 13_900)];
    const leaderWrites = [ack('node-1', 10_500, 10_510, 2), ack('node-1', 12_500, 12_510, 2), ack('node-1', 15_000, 15_010, 2)];
    const attempts = [...legit, ...staleAlone, ...staleConcurrent, ...leaderWrites, failed(14_001)];
    // pg_rewind discarded everything node-0 acknowledged after losing the lock.
    const present = ids([...legit, ...leaderWrites]);
    const r = analyzeSplitBrain({ attempts, leaderTimeline: timeline, memberOf, presentIds: present });
    expect(r.splitBrainWrites).toBe(5);
    expect(r.byMember).toEqual({ 'node-0': { acknowledged: 7, whileNotLeader: 5 }, 'node-1': { acknowledged: 3, whileNotLeader: 0 } });
    expect(r.episodes).toHaveLength(1);
    const e = r.episodes[0];
    expect(e).toMatchObject({ member: 'node-0', lockLostAtMs: 10_000, firstAckMs: 10_052, lastAckMs: 13_902, writes: 5 });
    expect(e.dualWriter).toEqual({ fromMs: 10_510, toMs: 13_902, otherMember: 'node-1', otherWrites: 2, staleWrites: 3, basis: 'ledger' });
    expect(r.concurrentWrites).toBe(3);
    expect(r.dualWriterMs).toBe(13_902 - 10_510);
    expect(r.lost?.byCause).toEqual({ 'split-brain': 5, 'replication-lag': 0, crash: 0, unknown: 0 });
    expect(r.singleWriter.passed).toBe(false);
    expect(r.singleWriter.message).toMatch(/5 acknowledged writes came from a member that no longer held the leader lock; node-0 and node-1 both accepted writes for 3392 ms; 5 of them are missing/);
  });

  it('gives a write the benefit of the doubt when the member led at either end of it, without splitting the episode', () => {
    const timeline: LeaderChange[] = [
      { atMs: 0, leader: 'node-0' },
      { atMs: 1_000, leader: null },
      { atMs: 2_000, leader: 'node-1' },
    ];
    // The 990–1010 write started while node-0 led; it finishes after a stale one and must not end the episode.
    const r = analyzeSplitBrain({ attempts: [ack('node-0', 1_001, 1_003), ack('node-0', 990, 1_010), ack('node-0', 1_500)], leaderTimeline: timeline, memberOf });
    expect(r.splitBrainWrites).toBe(2);
    expect(r.episodes).toHaveLength(1);
    expect(r.episodes[0]).toMatchObject({ writes: 2, dualWriter: null });
    expect(r.lost).toBeUndefined();
  });

  it('dates the dual-writer period from the leader timeline when every client stayed on the stale member', () => {
    // Direct access: the ledger only ever reached node-0, but node-1 held the lock from 10300.
    const timeline: LeaderChange[] = [
      { atMs: 0, leader: 'node-0' },
      { atMs: 10_000, leader: null },
      { atMs: 10_300, leader: 'node-1' },
    ];
    const w = [ack('node-0', 9_000), ack('node-0', 10_100), ack('node-0', 11_000), ack('node-0', 12_000)];
    const r = analyzeSplitBrain({ attempts: w, leaderTimeline: timeline, memberOf });
    expect(r.episodes[0].dualWriter).toEqual({ fromMs: 10_300, toMs: 12_002, otherMember: 'node-1', otherWrites: 0, staleWrites: 2, basis: 'leader-timeline' });
    expect(r.concurrentWrites).toBe(2);
    expect(r.dualWriterMs).toBe(1_702);
  });

  it('attributes a loss without leadership change to the crash of the node that acknowledged it', () => {
    // node-0 crashes and comes back as leader (it re-acquired the lock); its last write was never flushed.
    const timeline: LeaderChange[] = [
      { atMs: 0, leader: 'node-0' },
      { atMs: 2_000, leader: null },
      { atMs: 5_000, leader: 'node-0' },
    ];
    const w = [ack('node-0', 100), ack('node-0', 1_000), ack('node-0', 6_000)];
    const r = analyzeSplitBrain({ attempts: w, leaderTimeline: timeline, memberOf, presentIds: ids([w[0], w[2]]) });
    expect(r.lost?.byCause).toEqual({ 'split-brain': 0, 'replication-lag': 0, crash: 1, unknown: 0 });
    expect(r.singleWriter.passed).toBe(true);
  });

  it('does not judge writes it cannot place, and says single-writer was not measured when it can place none', () => {
    const timeline: LeaderChange[] = [{ atMs: 1_000, leader: 'node-0' }];
    const early = ack('node-0', 100);
    const noIdentity: LedgerAttempt = { ...ack('node-0', 2_000), server: undefined };
    const stranger: LedgerAttempt = { ...ack('node-0', 2_100), server: { target: 'x', port: 9999, systemId: '7', timeline: 1 } };
    const r = analyzeSplitBrain({ attempts: [early, noIdentity, stranger], leaderTimeline: timeline, memberOf, presentIds: [] });
    expect(r).toMatchObject({ acknowledged: 3, judged: 0, unjudged: 3, splitBrainWrites: 0 });
    expect(r.lost?.byCause.unknown).toBe(3);
    expect(r.singleWriter).toEqual({ passed: false, message: expect.stringMatching(/not measured/) });
  });

  it('separates episodes when the member led again in between', () => {
    const timeline: LeaderChange[] = [
      { atMs: 0, leader: 'node-0' },
      { atMs: 1_000, leader: 'node-1' },
      { atMs: 3_000, leader: 'node-0' },
      { atMs: 5_000, leader: 'node-2' },
    ];
    const r = analyzeSplitBrain({
      attempts: [ack('node-0', 1_500), ack('node-1', 1_600), ack('node-0', 3_500), ack('node-0', 5_500), ack('node-2', 5_600), ack('node-0', 5_700)],
      leaderTimeline: timeline,
      memberOf,
    });
    expect(r.episodes.map((e) => [e.member, e.lockLostAtMs, e.writes, e.dualWriter?.otherMember ?? null, e.dualWriter?.basis ?? null])).toEqual([
      ['node-0', 1_000, 1, 'node-1', 'leader-timeline'],
      ['node-0', 5_000, 2, 'node-2', 'ledger'],
    ]);
    expect(r.splitBrainWrites).toBe(3);
  });
});
