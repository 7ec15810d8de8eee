// The session drives every measurement alike: a storage measurement runs and is collected before the
// engine exists, the platform's own start with the engine and are stopped and collected at the
// end, and whatever still runs when a step fails is stopped on teardown.
import { describe, expect, it } from 'vitest';
import { parseProfile } from '../model/load.ts';
import { RunClock } from '../core/clock.ts';
import { CleanupRegistry } from '../core/cleanup.ts';
import { TargetSession } from './target-session.ts';
import type { Platform, PlatformFindings, TargetRuntime } from '../platforms/types.ts';
import type { Measurement } from '../measure/measurement.ts';
import type { DeployedEngine } from '../engine/types.ts';

const PROFILE = `name: session
targets:
  - platform: baremetal
io: { tool: builtin, runtime: 1s }
workloads:
  - kind: oltp-tpcb
safety:
  writer: { enabled: false }
  bank: { enabled: false }
`;

function setup(o: { versionFails?: boolean; loadFails?: boolean } = {}) {
  const target = parseProfile(PROFILE, 'session.yaml').plan.targets[0];
  const log: string[] = [];
  const engine: DeployedEngine = {
    kind: 'postgres',
    nodes: [],
    clientConn: () => ({ host: '127.0.0.1', port: 1, user: 'u', database: 'd' }),
    primary: async () => {
      throw new Error('unused');
    },
    awaitHealthy: async () => {},
    version: async () => {
      log.push('engine-version');
      if (o.versionFails) throw new Error('version query failed');
      return 'PostgreSQL 0';
    },
    stop: async () => void log.push('engine-stop'),
  };
  const timeline: Measurement<PlatformFindings> = {
    name: 'platform-timeline',
    start: async () => void log.push('timeline-start'),
    stop: async () => void log.push('timeline-stop'),
    collect: async (f) => {
      log.push('timeline-collect');
      f.faultTimeline = () => undefined;
    },
  };
  const platform: Platform = {
    name: 'fake',
    provision: async () => ({
      volumes: [{ node: 'node-0', path: '/nowhere', describe: { kind: 'local' }, release: async () => {} }],
      probeIo: async () => {
        log.push('io-probe');
        return { tool: 'builtin', path: '/nowhere', seqWriteMiBps: 100, fsyncLatencyMs: { p50: 1, p99: 2 }, fsyncSamples: 10 };
      },
      deployEngine: async () => {
        log.push('deploy');
        return engine;
      },
      describe: async () => ({}),
      measurements: () => [timeline],
    }),
  };
  const events: string[] = [];
  const rt: TargetRuntime = {
    registry: new CleanupRegistry(),
    clock: new RunClock(),
    stateDir: '/nowhere',
    artifactsDir: '/nowhere',
    event: (type) => void events.push(type),
    status: () => {},
    signal: new AbortController().signal,
  };
  const failing = {
    name: 'oltp',
    kind: 'oltp-tpcb',
    load: async () => {
      throw new Error('load failed');
    },
    run: async () => {
      throw new Error('unused');
    },
  };
  const session = new TargetSession(target, rt, { platform, workloads: o.loadFails ? [failing] : [], sample: () => {} });
  return { session, log, events };
}

describe('TargetSession drives its measurements alike', () => {
  it('probes the storage before deploying, starts the platform’s measurement with the engine, stops and collects it at the end', async () => {
    const { session, log, events } = setup();
    await session.run();
    await session.teardown();
    expect(log).toEqual(['io-probe', 'deploy', 'engine-version', 'timeline-start', 'timeline-stop', 'timeline-collect', 'engine-stop']);
    expect(events).toEqual(['io-probe', 'engine-ready']);
    const s = session.summary('completed');
    expect(s.io).toMatchObject({ tool: 'builtin', seqWriteMiBps: 100 });
    expect(s.faults).toEqual([]);
  });

  it('keeps the storage figures of a target that failed later, and collects nothing that never started', async () => {
    const { session, log } = setup({ versionFails: true });
    await expect(session.run()).rejects.toThrow('version query failed');
    await session.teardown();
    expect(log).toEqual(['io-probe', 'deploy', 'engine-version', 'engine-stop']);
    expect(session.summary('failed', 'version query failed').io?.seqWriteMiBps).toBe(100);
  });

  it('stops a measurement that is still running when a later step fails, without collecting it', async () => {
    const { session, log } = setup({ loadFails: true });
    await expect(session.run()).rejects.toThrow('load failed');
    await session.teardown();
    expect(log).toEqual(['io-probe', 'deploy', 'engine-version', 'timeline-start', 'timeline-stop', 'engine-stop']);
  });
});
