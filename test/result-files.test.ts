// Result files are read back by other tools and people, and may be torn, edited or corrupted. Every
// line is checked against its schema and a rejected line is reported with file and line (in report.md
// too); a truncated summary.json names its file; a run directory without a usable summary.json gets a
// partial summary rebuilt from its streams; compare refuses runs whose samples contradict their summary.
import { describe, expect, it } from 'vitest';
import { appendFileSync, existsSync, readFileSync, rmSync, truncateSync, writeFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { cli, tempDir } from './cli.ts';
import { writeRun } from './fixtures/runs/synthetic.ts';
import { loadRun } from '../harness/report/html/run-data.ts';
import { Summary } from '../harness/model/summary.ts';

const run = (dir: string, tps: number[] | undefined = undefined, seed = 1) =>
  writeRun(dir, {
    runId: `r-${seed}`,
    startedAt: '2026-01-01T00:00:00.000Z',
    seed,
    targets: [{ name: 'baremetal/local', platform: 'baremetal', storage: 'local', seconds: 10, tpsMean: 500, tps, io: false, safety: false }],
  });

describe('corrupt result lines', () => {
  it('junk lines (null, a string TPS, 1e308, torn JSON) are rejected with their line numbers, never taken as data', () => {
    const dir = run(join(tempDir(), 'run'));
    const good = loadRun(dir).samples.length;
    const samples = join(dir, 'samples.jsonl');
    const n = readFileSync(samples, 'utf8').split('\n').filter(Boolean).length;
    appendFileSync(samples, ['null', '{"target":"baremetal/local","workload":"oltp-tpcb","second":99,"tMs":1,"tps":"lots","errors":0,"latencyMs":{"p50":1,"p95":1,"p99":1,"max":1,"mean":1,"min":1}}', '{"target":"baremetal/local","workload":"oltp-tpcb","second":98,"tMs":1,"tps":5,"errors":0,"latencyMs":{"p50":1,"p95":1,"p99":1,"max":1e308,"mean":1,"min":1}}', '{"torn'].join('\n'));
    const r = loadRun(dir);
    expect(r.samples.length).toBe(good);
    expect(r.samples.every((s) => s.latencyMs.max < 1e9)).toBe(true);
    expect(r.rejected.map((x) => x.line)).toEqual([n + 1, n + 2, n + 3, n + 4]);
    expect(r.rejected[1].reason).toMatch(/^tps: /);
    expect(r.rejected[2].reason).toMatch(/^latencyMs\.max: /);
    expect(r.rejected[3].reason).toMatch(/torn last line/);
  });

  it('host-noise lines in samples.jsonl are the stream\'s other kind: neither data nor rejected; a malformed one is rejected', () => {
    const dir = run(join(tempDir(), 'run'));
    const good = loadRun(dir).samples.length;
    const samples = join(dir, 'samples.jsonl');
    const n = readFileSync(samples, 'utf8').split('\n').filter(Boolean).length;
    const host = { kind: 'host', tMs: 1000, intervalMs: 1000, phase: 'measure:oltp-tpcb', cores: 2, load1: 0.5, runQueue: 1, busyPct: 10, busy: false };
    appendFileSync(samples, [JSON.stringify(host), JSON.stringify({ ...host, tMs: 2000 }), JSON.stringify({ ...host, cores: 'two' })].join('\n') + '\n');
    const r = loadRun(dir);
    expect(r.samples.length).toBe(good);
    expect(r.rejected.map((x) => [x.line, x.reason])).toEqual([[n + 3, 'host-noise line: cores: Invalid input: expected number, received string']]);
  });

  it('`report` lists each rejected line as file:line in report.md', async () => {
    const dir = run(join(tempDir(), 'run'));
    appendFileSync(join(dir, 'events.jsonl'), 'null\n');
    const r = await cli(['report', dir]);
    expect(r.code, r.stderr).toBe(0);
    const md = readFileSync(join(dir, 'report.md'), 'utf8');
    const line = readFileSync(join(dir, 'events.jsonl'), 'utf8').split('\n').filter(Boolean).length;
    expect(md).toContain('## Rejected result lines');
    expect(md).toContain(`\`events.jsonl:${line}\`: Invalid input: expected object, received null`);
  });
});

describe('summary.json', () => {
  it('truncated: `report` names the file, prints no stack trace, and rebuilds from the streams', async () => {
    const dir = run(join(tempDir(), 'run'));
    truncateSync(join(dir, 'summary.json'), Math.floor(statSync(join(dir, 'summary.json')).size / 2));
    const r = await cli(['report', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`${join(dir, 'summary.json')} is not valid JSON`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(join(dir, 'summary.json.invalid'))).toBe(true);
    const s = Summary.parse(JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')));
    expect(s.status).toBe('interrupted');
    expect(s.targets[0].workloads[0].durationMs).toBe(10_000);
  });

  it('missing, and nothing to rebuild from: exit 2 naming the directory', async () => {
    const dir = tempDir();
    const r = await cli(['report', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(join(dir, 'summary.json'));
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('compare', () => {
  it('refuses a run whose samples contradict its summary', async () => {
    const base = run(join(tempDir(), 'a'), undefined, 1);
    const cand = run(join(tempDir(), 'b'), undefined, 2);
    // The candidate's summary claims what the baseline measured; its samples say a fiftieth of it.
    const s = JSON.parse(readFileSync(join(cand, 'summary.json'), 'utf8'));
    const lines = readFileSync(join(cand, 'samples.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    writeFileSync(join(cand, 'samples.jsonl'), lines.map((l) => JSON.stringify({ ...l, tps: Math.round(l.tps / 50) })).join('\n') + '\n');
    writeFileSync(join(cand, 'summary.json'), JSON.stringify(s));
    const r = await cli(['compare', base, cand]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/samples\.jsonl contradicts summary\.json for baremetal\/local \/ oltp-tpcb/);
    expect(r.stdout).not.toMatch(/unchanged/);
    rmSync(base, { recursive: true, force: true });
  });
});
