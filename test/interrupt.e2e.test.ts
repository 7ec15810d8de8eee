// SIGINT mid-workload: the run stops, tears everything down, keeps what it measured, exits 130.
// SIGKILL of the CLI: `statebench clean` removes what the run left behind.
import { describe, it, expect } from 'vitest';
import { writeFileSync, readFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startCli, cli, tempDir, until, processesMentioning, lines } from './cli.ts';
import { readJsonl } from '../harness/core/jsonl.ts';

const LONG = `
name: long
targets:
  - platform: baremetal
io: { enabled: false }
workloads:
  - kind: oltp-tpcb
    clients: 2
    warmup: 0s
    duration: 60s
`;

function setup() {
  const dir = tempDir();
  const home = tempDir();
  writeFileSync(join(dir, 'p.yaml'), LONG);
  return { file: join(dir, 'p.yaml'), out: join(dir, 'out'), home };
}

describe('interrupting a run', () => {
  it('SIGINT mid-workload: exit 130, no postgres left, partial samples readable', async () => {
    const { file, out, home } = setup();
    const { child, result } = startCli(['run', file, '--out', out], { STATEBENCH_HOME: home });
    // Host samples start at provisioning; wait for the workload's own.
    const workloadLines = () => lines(join(out, 'samples.jsonl')).filter((l) => l.includes('"workload"'));
    await until(() => workloadLines().length >= 2, 60_000, 'two workload samples');
    expect(processesMentioning(home).length).toBeGreaterThan(0);
    child.kill('SIGINT');
    const r = await result;
    expect(r.code).toBe(130);
    expect(processesMentioning(home)).toEqual([]);
    const samples = readJsonl<{ tps?: number; workload?: string }>(join(out, 'samples.jsonl'));
    const seconds = samples.records.filter((x) => x.workload);
    expect(seconds.length).toBeGreaterThanOrEqual(2);
    expect(samples.malformed).toBe(0);
    expect(seconds[0].tps).toBeGreaterThan(0);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary.status).toBe('interrupted');
    expect(summary.targets[0].status).toBe('interrupted');
    // The workspace is gone: nothing for `clean` to do.
    expect(existsSync(join(home, 'runs')) ? readdirSync(join(home, 'runs')) : []).toEqual([]);
  });

  it('SIGKILL of the CLI leaves state that `statebench clean` removes', async () => {
    const { file, out, home } = setup();
    const { child, result } = startCli(['run', file, '--out', out], { STATEBENCH_HOME: home });
    await until(() => lines(join(out, 'samples.jsonl')).some((l) => l.includes('"workload"')), 60_000, 'a workload sample');
    child.kill('SIGKILL');
    await result;
    const runs = readdirSync(join(home, 'runs'));
    expect(runs).toHaveLength(1);
    const leftovers = processesMentioning(join(home, 'runs', runs[0]));
    expect(leftovers.length).toBeGreaterThan(0);

    const r = await cli(['clean'], { STATEBENCH_HOME: home });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${runs[0]}: released`);
    expect(processesMentioning(home)).toEqual([]);
    expect(readdirSync(join(home, 'runs'))).toEqual([]);
    // What was measured before the kill is still readable.
    expect(readJsonl(join(out, 'samples.jsonl')).records.length).toBeGreaterThanOrEqual(1);

    const again = await cli(['clean'], { STATEBENCH_HOME: home });
    expect(again.stdout).toContain('nothing to clean');
  });
});
