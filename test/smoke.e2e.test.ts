// The embedded default end to end: a short smoke profile through the CLI, checked on summary.json.
import { describe, it, expect } from 'vitest';
import { writeFileSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { cli, tempDir, lines } from './cli.ts';
import { Summary } from '../harness/model/summary.ts';
import { readJsonl } from '../harness/core/jsonl.ts';

const PROFILE = `
name: smoke-short
targets:
  - platform: baremetal
io: { size: 16MiB, runtime: 1500ms }
workloads:
  - kind: oltp-tpcb
    clients: 3
    warmup: 1s
    duration: 5s
`;

describe('statebench run (bare metal, embedded PostgreSQL)', () => {
  it('produces a correct summary.json, report.md, junit.xml and streamed samples', async () => {
    const dir = tempDir();
    const home = tempDir();
    writeFileSync(join(dir, 'p.yaml'), PROFILE);
    const out = join(dir, 'out');
    const r = await cli(['run', join(dir, 'p.yaml'), '--out', out], { STATEBENCH_HOME: home });
    expect(r.stderr).not.toContain('failed');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(join(out, 'report.md'));

    const summary = Summary.parse(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')));
    expect(summary.status).toBe('completed');
    const t = summary.targets[0];
    expect(t.name).toBe('baremetal/local');
    expect(t.platform).toBe('baremetal');
    expect(t.storage).toBe('local');
    expect(t.engine.version).toMatch(/^PostgreSQL \d+/);
    expect(t.io?.seqWriteMiBps).toBeGreaterThan(0);
    expect(t.io?.fsyncLatencyMs.p50).toBeGreaterThan(0);
    expect(t.io?.fsyncLatencyMs.p99).toBeGreaterThanOrEqual(t.io!.fsyncLatencyMs.p50);
    expect(t.io?.tool).toMatch(/^(fio-|builtin)/);

    const w = t.workloads[0];
    expect(w.name).toBe('oltp-tpcb');
    expect(w.tps).toBeGreaterThan(0);
    expect(w.errors).toBe(0);
    const l = w.latencyMs;
    expect(l.p50).toBeGreaterThan(0);
    expect(l.p50).toBeLessThanOrEqual(l.p95);
    expect(l.p95).toBeLessThanOrEqual(l.p99);
    expect(l.p99).toBeLessThanOrEqual(l.max);
    // Every committed transaction added one pgbench_history row; warmup ones, and those that crossed
    // an edge of the measured window, are excluded from results but counted.
    const details = w.details as { historyRows: number; warmupTransactions: number };
    expect(w.errors).toBe(0);
    expect(details.historyRows).toBe(w.transactions + details.warmupTransactions + w.edges!.startedBeforeWindow + w.edges!.endedAfterWindow);

    // Samples were streamed, one per measured second of the 5 s window (none partial), and agree with the total.
    const samples = readJsonl<{ tps?: number; workload?: string; kind?: string; partial?: boolean; phase?: string }>(join(out, 'samples.jsonl'));
    expect(samples.malformed).toBe(0);
    const seconds = samples.records.filter((s) => s.workload === 'oltp-tpcb');
    expect(seconds).toHaveLength(5);
    expect(seconds.some((s) => s.partial)).toBe(false);
    const sampled = seconds.reduce((a, s) => a + s.tps!, 0);
    expect(sampled).toBe(w.transactions);
    // The host was sampled beside them, labelled by phase.
    expect(samples.records.filter((s) => s.kind === 'host' && s.phase === 'measure:oltp-tpcb').length).toBeGreaterThanOrEqual(4);
    expect(t.hostNoise?.find((p) => p.phase === 'measure:oltp-tpcb')?.samples).toBeGreaterThanOrEqual(4);

    for (const f of ['plan.json', 'env.json', 'events.jsonl', 'report.md', 'junit.xml', 'profile.yaml']) expect(existsSync(join(out, f))).toBe(true);
    const env = JSON.parse(readFileSync(join(out, 'env.json'), 'utf8'));
    expect(env.kernel).toMatch(/^\d+\.\d+/);
    expect(env.cpus).toBeGreaterThan(0);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toContain('| baremetal/local |');
    expect(lines(join(out, 'events.jsonl')).map((x) => JSON.parse(x).type)).toEqual(expect.arrayContaining(['run-start', 'io-probe', 'engine-ready', 'measure-start', 'workload-end', 'run-end']));
  });
});
