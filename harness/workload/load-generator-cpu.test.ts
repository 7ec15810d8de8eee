// The load generator's own CPU: per-second laps from an injected clock, the summary's means, and the
// report warning when it is near its limit.
import { describe, expect, it } from 'vitest';
import type { EventLoopUtilization } from 'node:perf_hooks';
import { LoadGeneratorMeter } from './load-generator-cpu.ts';
import { buildRun } from '../../test/fixtures/runs/synthetic.ts';
import { renderMarkdown } from '../report/markdown.ts';

/** A process whose CPU time and event-loop busy time grow by the given amounts each second. */
function fakeProcess(perSecond: Array<{ cpuMs: number; busyMs: number }>) {
  let t = 0;
  let cpu = 0;
  let busy = 0;
  let i = 0;
  return {
    tick() {
      const s = perSecond[i++];
      t += 1000;
      cpu += s.cpuMs;
      busy += s.busyMs;
    },
    clock: {
      now: () => t,
      cpuUsage: (prev?: NodeJS.CpuUsage) => ({ user: cpu * 1000 - (prev?.user ?? 0), system: -(prev?.system ?? 0) }),
      elu: (prev?: EventLoopUtilization): EventLoopUtilization => {
        const idle = t - busy - (prev?.idle ?? 0);
        const active = busy - (prev?.active ?? 0);
        return { idle, active, utilization: active / (idle + active) };
      },
    },
  };
}

describe('LoadGeneratorMeter', () => {
  it('reports each second in cores and event-loop share, and stays quiet below 80 %', () => {
    const p = fakeProcess([
      { cpuMs: 300, busyMs: 250 },
      { cpuMs: 500, busyMs: 450 },
    ]);
    const m = new LoadGeneratorMeter(2, p.clock);
    p.tick();
    expect(m.lap()).toEqual({ cpuCores: 0.3, eventLoop: 0.25 });
    p.tick();
    expect(m.lap()).toEqual({ cpuCores: 0.5, eventLoop: 0.45 });
    expect(m.summary()).toEqual({ cpuSet: 2, cpuCoresMean: 0.4, cpuCoresMax: 0.5, eventLoopMean: 0.35, eventLoopMax: 0.45, saturated: false });
  });

  it('warns when the event loop or the CPU set is more than 80 % used', () => {
    const loop = fakeProcess([{ cpuMs: 950, busyMs: 920 }]);
    const m = new LoadGeneratorMeter(4, loop.clock);
    loop.tick();
    m.lap();
    expect(m.summary().warning).toBe('figures may measure the load generator: its event loop was busy 92 % of the time (limit 80 %)');

    // A loop that waited for a CPU on a busy host is not a loop doing too much work.
    const starved = fakeProcess([{ cpuMs: 200, busyMs: 950 }]);
    const st = new LoadGeneratorMeter(2, starved.clock);
    starved.tick();
    st.lap();
    expect(st.summary().saturated).toBe(false);

    const threads = fakeProcess([{ cpuMs: 1800, busyMs: 300 }]);
    const t = new LoadGeneratorMeter(2, threads.clock);
    threads.tick();
    t.lap();
    expect(t.summary()).toMatchObject({ saturated: true, warning: 'figures may measure the load generator: it used 1.8 of 2 CPUs (limit 80 %)' });
  });

  it('report.md carries the warning under the workload it concerns', () => {
    const { summary } = buildRun({ runId: 'r', profile: 'p', startedAt: '2026-11-20T10:00:00.000Z', seed: 1, targets: [{ name: 'baremetal/local', platform: 'baremetal', storage: 'local', latencyMs: 5 }] });
    const w = summary.targets[0].workloads[0];
    expect(renderMarkdown(summary)).not.toContain('load generator');
    w.loadGenerator = { cpuSet: 2, cpuCoresMean: 0.95, cpuCoresMax: 1, eventLoopMean: 0.93, eventLoopMax: 0.99, saturated: true, warning: 'figures may measure the load generator: its event loop was busy 93 % of the time (limit 80 %)' };
    expect(renderMarkdown(summary)).toContain('> **Warning** (baremetal/local): figures may measure the load generator: its event loop was busy 93 % of the time (limit 80 %).');
  });
});
