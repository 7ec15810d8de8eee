// The failover timeline from scripted REST views and ledger attempts, no processes.
import { describe, expect, it } from 'vitest';
import type { Clock } from '../../core/clock.ts';
import type { LedgerAttempt } from '../ledger.ts';
import type { ClusterMember, ClusterView } from '../../engine/patroni/rest.ts';
import { FailoverMonitor, type MonitoredCluster } from './timeline.ts';

class ManualClock implements Clock {
  t = 0;
  now(): number {
    return this.t;
  }
  wall(): string {
    return new Date(0).toISOString();
  }
}

const PORT: Record<string, number> = { 'node-0': 5000, 'node-1': 5001, 'node-2': 5002 };

function member(name: string, role: string, state = 'running'): ClusterMember {
  return { name, role, state };
}

function fakeCluster(views: () => ClusterView | null): MonitoredCluster {
  const members = Object.keys(PORT).map((name) => ({ name, conn: { host: '127.0.0.1', port: PORT[name], user: 'postgres', database: 'postgres' } }));
  return {
    view: async () => views(),
    memberByPort: (port: number | null | undefined) => members.find((m) => m.conn.port === port) as never,
    member: (name: string) => members.find((m) => m.name === name) as never,
    members: members as never,
  };
}

function ack(name: string, startMs: number, endMs: number): LedgerAttempt {
  return { id: `${name}-${startMs}`, writer: 0, seq: 0, startMs, endMs, outcome: 'ok', checksum: 'x', server: { target: 't', port: PORT[name], systemId: '1', timeline: 1 } };
}

describe('FailoverMonitor', () => {
  it('records leader lost, elected, first write, rejoined and caught up for a leader crash', async () => {
    const clock = new ManualClock();
    let view: ClusterView | null = { members: [member('node-0', 'leader'), member('node-1', 'replica'), member('node-2', 'replica')] };
    let replication = new Map<string, number>();
    const events: [string, Record<string, unknown>][] = [];
    const m = new FailoverMonitor({ cluster: fakeCluster(() => view), clock, onEvent: (type, data) => events.push([type, data as Record<string, unknown>]), replicationLag: async () => replication });
    const at = async (t: number) => {
      clock.t = t;
      await m.pollOnce();
    };

    await at(0);
    clock.t = 1_000;
    m.markFault({ cycle: 0, type: 'node-crash', node: 'node-0' });
    m.onAttempt(ack('node-0', 900, 1_001)); // started before the fault: not evidence of anything
    await at(1_200); // the DCS still lists the dead leader until its key expires
    view = { members: [member('node-1', 'replica'), member('node-2', 'replica')] };
    await at(9_000);
    view = { members: [member('node-1', 'leader'), member('node-2', 'replica')] };
    await at(9_200);
    m.onAttempt(ack('node-1', 9_300, 9_350));
    m.markRecovered();
    view = { members: [member('node-0', 'replica'), member('node-1', 'leader'), member('node-2', 'replica')] };
    replication = new Map([['node-2', 10]]);
    await at(12_000); // listed again, not streaming yet
    replication = new Map([
      ['node-0', 5_000_000],
      ['node-2', 10],
    ]);
    await at(13_000); // streaming, still behind
    replication = new Map([
      ['node-0', 100],
      ['node-2', 10],
    ]);
    await at(14_000);
    await m.stop();

    expect(m.cycles()).toEqual([
      {
        cycle: 0,
        type: 'node-crash',
        node: 'node-0',
        injectedAtMs: 1_000,
        oldLeader: 'node-0',
        leaderLostAtMs: 9_000,
        newLeader: 'node-1',
        newLeaderAtMs: 9_200,
        firstWriteOnNewLeaderAtMs: 9_350,
        nodeRejoinedAtMs: 13_000,
        lagBelowThresholdAtMs: 14_000,
        lagBytes: 100,
      },
    ]);
    expect(m.leaderTimeline()).toEqual([
      { atMs: 0, leader: 'node-0' },
      { atMs: 9_000, leader: null },
      { atMs: 9_200, leader: 'node-1' },
    ]);
    expect(events.map(([t]) => t)).toEqual(['ha-leader', 'ha-leader', 'ha-leader-lost', 'ha-leader', 'ha-leader-elected', 'ha-first-write-new-leader', 'ha-node-rejoined', 'ha-replication-caught-up']);
    expect(events.find(([t]) => t === 'ha-first-write-new-leader')![1]).toMatchObject({ cycle: 0, leader: 'node-1', sinceInjectMs: 8_350 });
  });

  it('closes a cycle in which nothing observable happened once the fault is undone and lag is low', async () => {
    const clock = new ManualClock();
    const view: ClusterView = { members: [member('node-0', 'leader'), member('node-1', 'replica'), member('node-2', 'replica')] };
    const lag = new Map([
      ['node-1', 0],
      ['node-2', 64],
    ]);
    const m = new FailoverMonitor({ cluster: fakeCluster(() => view), clock, replicationLag: async () => lag });
    await m.pollOnce();
    clock.t = 100;
    m.markFault({ cycle: 0, type: 'agent-kill', node: 'node-0' });
    clock.t = 2_000;
    await m.pollOnce();
    expect(m.cycles()[0].lagBelowThresholdAtMs).toBeNull();
    m.markRecovered();
    clock.t = 2_200;
    await m.pollOnce();
    expect(m.cycles()[0]).toMatchObject({ leaderLostAtMs: null, newLeader: null, nodeRejoinedAtMs: null, lagBelowThresholdAtMs: 2_200, lagBytes: 64 });
  });

  it('ignores polls no member answered', async () => {
    const clock = new ManualClock();
    const m = new FailoverMonitor({ cluster: fakeCluster(() => null), clock });
    await m.pollOnce();
    expect(m.leaderTimeline()).toEqual([]);
    expect(m.failedPolls).toBe(1);
  });
});
