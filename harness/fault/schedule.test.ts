// A storage fault reaches the volume named after the faulted node, whatever order the platform lists
// its volumes in (a Kubernetes target places member volumes only once the scheduler has chosen them).
import { describe, expect, it } from 'vitest';
import { FaultSchedule } from './schedule.ts';
import { RunClock } from '../core/clock.ts';
import type { DeployedEngine, EngineNode } from '../engine/types.ts';
import type { Volume } from '../storage/types.ts';
import type { FaultCycle } from '../model/plan.ts';

function node(name: string): EngineNode {
  const control = { running: true, kill: async () => {}, pause: async () => {}, resume: async () => {}, start: async () => {}, stop: async () => {} };
  return { name, conn: { host: '127.0.0.1', port: 1, user: 'u', database: 'd' }, control };
}

function volume(name: string, stalled: string[]): Volume {
  return {
    node: name,
    path: `/volumes/${name}`,
    describe: {},
    faults: {
      stall: async () => {
        stalled.push(name);
        return async () => {};
      },
      errors: async () => async () => {},
    },
    release: async () => {},
  };
}

async function runCycle(target: string, volumes: Volume[]) {
  const nodes = [node('node-0'), node('node-1'), node('node-2')];
  const engine: DeployedEngine = {
    kind: 'test',
    nodes,
    clientConn: () => nodes[0].conn,
    primary: async () => nodes[0],
    awaitHealthy: async () => {},
    version: async () => 'none',
    stop: async () => {},
  };
  const cycle: FaultCycle = { faultIndex: 0, cycle: 0, type: 'storage-stall', target, atMs: 0, holdMs: 0, errorRate: 0, recoveryTimeoutMs: 1_000 };
  const events: string[] = [];
  const clock = new RunClock();
  const schedule = new FaultSchedule([cycle], { engine, volumes, clock, signal: new AbortController().signal, event: (type) => events.push(type), status: () => {} });
  schedule.start(clock.now());
  await schedule.done();
  await schedule.stop();
  return { record: schedule.records[0], events };
}

describe('a storage fault finds its volume by node name', () => {
  it('stalls the volume named after the faulted node, not the one at its index', async () => {
    const stalled: string[] = [];
    // Listed in another order than the engine's nodes.
    const { record, events } = await runCycle('node-1', [volume('node-2', stalled), volume('node-0', stalled), volume('node-1', stalled)]);
    expect(stalled).toEqual(['node-1']);
    expect(record).toMatchObject({ node: 'node-1', state: 'recovered' });
    expect(events).toEqual(['fault-inject', 'fault-active', 'fault-recover', 'fault-recovered']);
  });

  it('refuses the cycle when no volume carries the node\'s name', async () => {
    const stalled: string[] = [];
    const { record } = await runCycle('node-0', [volume('node-1', stalled)]);
    expect(stalled).toEqual([]);
    expect(record.error).toMatch(/storage-stall: the volume of node-0 cannot inject storage faults/);
  });
});
