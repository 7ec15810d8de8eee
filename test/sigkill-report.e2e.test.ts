// After a SIGKILL there is no summary.json (the first target never ended), but events.jsonl and
// samples.jsonl hold what was measured: `report` rebuilds a partial summary and the reports from them.
import { describe, it, expect } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, startCli, tempDir, until, lines } from './cli.ts';
import { Summary } from '../harness/model/summary.ts';

const PROFILE = `
name: killed
targets:
  - platform: baremetal
io: { enabled: false }
workloads:
  - kind: oltp-tpcb
    clients: 2
    warmup: 1s
    duration: 60s
`;

describe('SIGKILL, then report', () => {
  it('rebuilds a partial summary (interrupted, with the seconds measured) and renders the reports', async () => {
    const dir = tempDir();
    const home = tempDir();
    writeFileSync(join(dir, 'p.yaml'), PROFILE);
    const out = join(dir, 'out');
    const run = startCli(['run', join(dir, 'p.yaml'), '--out', out], { STATEBENCH_HOME: home });
    // samples.jsonl also carries host-noise samples; the measured seconds are the workload's.
    const measuredSeconds = () => lines(join(out, 'samples.jsonl')).filter((l) => l.includes('"workload"')).length;
    await until(() => measuredSeconds() >= 4, 180_000, 'four measured seconds');
    run.child.kill('SIGKILL');
    await run.result;
    expect(existsSync(join(out, 'summary.json'))).toBe(false);
    const measured = measuredSeconds();

    const r = await cli(['report', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/rebuilt a partial summary from events\.jsonl and samples\.jsonl/);
    const s = Summary.parse(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')));
    expect(s.status).toBe('interrupted');
    expect(s.profile).toBe('killed');
    const t = s.targets[0];
    expect(t.name).toBe('baremetal/local');
    expect(t.engine.version).toMatch(/^PostgreSQL \d+/);
    expect(t.error).toMatch(/rebuilt from events\.jsonl and samples\.jsonl/);
    const w = t.workloads[0];
    expect(w.name).toBe('oltp-tpcb');
    // Every whole second streamed before the kill (the torn last line, if any, is not one).
    expect(w.durationMs / 1000).toBeGreaterThanOrEqual(measured - 1);
    expect(w.tps).toBeGreaterThan(0);
    expect(w.latencyMs.p50).toBeGreaterThan(0);
    expect(w.details?.latency).toBe('from the per-second HDR histograms');
    for (const f of ['report.md', 'report.html', 'junit.xml']) expect(existsSync(join(out, f))).toBe(true);
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toContain('INTERRUPTED');
    await cli(['clean', '--force'], { STATEBENCH_HOME: home });
  }, 300_000);
});
