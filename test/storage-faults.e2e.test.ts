// Storage faults end to end on an emulated remote volume: a stall blocks the workload and the run
// recovers without loss; I/O errors provoke PostgreSQL's own reaction, recorded in events, and the
// run still reports. Nothing mounted, attached or running may survive. Needs root, nbdkit, nbdfuse.
import { describe, it, expect, afterEach } from 'vitest';
import { writeFileSync, readFileSync, readdirSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { cli, tempDir, processesMentioning, lines } from './cli.ts';
import { Summary } from '../harness/model/summary.ts';
import { missing } from '../harness/testing/requirements.ts';

const skip = missing({ tools: ['nbdkit', 'nbdfuse', 'losetup', 'mkfs.ext4'], root: true, why: 'storage fault tests need remote volumes' });
const homes: string[] = [];

function run(yaml: string) {
  const dir = tempDir();
  const home = tempDir();
  homes.push(home);
  writeFileSync(join(dir, 'p.yaml'), yaml);
  const out = join(dir, 'out');
  return { out, home, result: cli(['run', join(dir, 'p.yaml'), '--out', out], { STATEBENCH_HOME: home }) };
}

afterEach(() => {
  for (const home of homes.splice(0)) {
    expect(processesMentioning(home)).toEqual([]);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(home);
    expect(execFileSync('losetup', ['-a'], { encoding: 'utf8' })).not.toContain(home);
    expect(existsSync(join(home, 'runs')) ? readdirSync(join(home, 'runs')) : []).toEqual([]);
  }
});

const base = (faults: string) => `
name: storage-faults
targets:
  - platform: baremetal
    storage: { kind: remote, latencyMs: 1, size: 512MiB }
io: { enabled: false }
workloads: [{ kind: oltp-tpcb, clients: 2, warmup: 1s, duration: 16s }]
faults:
${faults}
safety:
  writer: { clients: 2, timeout: 1s }
checks:
  - check: durability.no-lost-acknowledged-writes
  - check: integrity.no-phantom-or-corrupt
`;

describe.skipIf(skip)('storage faults on a remote volume', () => {
  it('storage-stall: writes stop while the volume is paused and resume after; nothing is lost', async () => {
    const r = run(base('  - { type: storage-stall, at: 4s, duration: 4s }'));
    const res = await r.result;
    expect(res.code, res.stderr).toBe(0);
    const t = Summary.parse(JSON.parse(readFileSync(join(r.out, 'summary.json'), 'utf8'))).targets[0];
    const f = t.faults[0];
    expect(f.type).toBe('storage-stall');
    expect(f.state).toBe('recovered');
    // Commits need the WAL on disk: while the volume is paused no write is acknowledged.
    expect(f.recovery.recovered).toBe(true);
    expect(f.recovery.firstFailureMs).not.toBeNull();
    expect(f.recovery.timeToFirstWriteMs).toBeGreaterThanOrEqual(4000 - 1000);
    // The OLTP workload saw the stall too: at least one second with no committed transaction.
    // samples.jsonl also holds host-noise samples, which carry no TPS.
    const perSecond = lines(join(r.out, 'samples.jsonl')).map((l) => JSON.parse(l).tps).filter((x): x is number => typeof x === 'number');
    expect(perSecond.some((tps) => tps === 0)).toBe(true);
    expect(perSecond.at(-2)).toBeGreaterThan(0);
    expect(t.safety!.lost).toBe(0);
    expect(t.checks.every((c) => c.passed)).toBe(true);
  });

  it('storage-error: PostgreSQL reacts (errors or a crash and restart), events record it, the run reports', async () => {
    const r = run(base('  - { type: storage-error, at: 4s, duration: 2s, errorRate: 1, recoveryTimeout: 15s }'));
    const res = await r.result;
    // The run reports whatever happened: recovered (checks judged, exit 0/1), or the volume stayed
    // unusable — an ext4 journal that hit an I/O error remounts read-only — and the target failed (4).
    expect([0, 1, 4]).toContain(res.code);
    const summary = Summary.parse(JSON.parse(readFileSync(join(r.out, 'summary.json'), 'utf8')));
    const t = summary.targets[0];
    expect(t.faults[0].type).toBe('storage-error');
    if (t.status !== 'completed') expect(t.error).toMatch(/^timed out after \d+ ms waiting for (PostgreSQL at \S+ to accept writes|node-0 to be healthy again)/);
    const events = lines(join(r.out, 'events.jsonl')).map((l) => JSON.parse(l));
    const reaction = events.filter((e) => e.type === 'node-exited' || e.type === 'fault-error');
    const errorsDuringFault = (t.workloads[0]?.errors ?? 0) + (t.safety?.failed ?? 0) + (t.safety?.indeterminate ?? 0);
    // Either PostgreSQL went down (a PANIC on a failed WAL write) and that exit is in events.jsonl,
    // or it stayed up and the failed I/O surfaced to clients as errors.
    expect(reaction.length + errorsDuringFault).toBeGreaterThan(0);
    for (const e of events.filter((x) => x.type === 'node-exited')) expect(e.log).toMatch(/PANIC|FATAL|LOG|ERROR/);
    expect(readFileSync(join(r.out, 'report.md'), 'utf8')).toContain('storage-error');
  });
});
