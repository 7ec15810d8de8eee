// Faults on bare metal end to end: recovery figures, the verifier's verdict with safe and unsafe
// durability settings, and an interrupt during a hang.
import { describe, it, expect } from 'vitest';
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, startCli, tempDir, until, processesMentioning, lines } from './cli.ts';
import { Summary } from '../harness/model/summary.ts';

function profileFile(yaml: string): { file: string; out: string; home: string } {
  const dir = tempDir();
  writeFileSync(join(dir, 'p.yaml'), yaml);
  return { file: join(dir, 'p.yaml'), out: join(dir, 'out'), home: tempDir() };
}

function summaryOf(out: string): Summary {
  return Summary.parse(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')));
}

describe('faults on bare metal', () => {
  it('node-crash and node-hang cycles recover, with sane figures and a clean verifier', async () => {
    const p = profileFile(`
name: crash-and-hang
targets: [{ platform: baremetal }]
io: { enabled: false }
workloads: [{ kind: oltp-tpcb, clients: 2, warmup: 1s, duration: 22s }]
faults:
  - { type: node-crash, at: 2s, downFor: 1s, repeat: 2, every: 6s }
  - { type: node-hang, at: 14s, duration: 3s }
safety:
  writer: { clients: 2, timeout: 1s }
  bank: { enabled: true }
checks:
  - check: durability.no-lost-acknowledged-writes
  - check: integrity.no-phantom-or-corrupt
  - check: consistency.bank-invariant
  - check: availability.recovery-within
    threshold: 60s
`);
    const r = await cli(['run', p.file, '--out', p.out], { STATEBENCH_HOME: p.home });
    expect(r.code, r.stderr).toBe(0);
    const t = summaryOf(p.out).targets[0];
    expect(t.faults.map((f) => f.type)).toEqual(['node-crash', 'node-crash', 'node-hang']);
    for (const f of t.faults) {
      expect(f.state).toBe('recovered');
      expect(f.recovery.recovered).toBe(true);
      // The fault was seen by clients, and writes came back after it was held for its duration.
      expect(f.recovery.firstFailureMs).toBeGreaterThanOrEqual(f.injectedAtMs);
      expect(f.recovery.timeToFirstWriteMs).toBeGreaterThanOrEqual(f.type === 'node-hang' ? 3000 : 1000);
      expect(f.recovery.timeToFirstWriteMs).toBeLessThan(60_000);
      expect(f.recovery.unavailableMs).toBeGreaterThan(0);
    }
    expect(t.recoveryMs?.count).toBe(3);
    expect(t.recoveryMs!.min).toBeLessThanOrEqual(t.recoveryMs!.median);
    const s = t.safety!;
    expect(s.acknowledged).toBeGreaterThan(100);
    expect(s.failed + s.indeterminate).toBeGreaterThan(0);
    expect(s.lost).toBe(0);
    expect(s.phantom + s.corrupted + s.duplicated).toBe(0);
    expect(s.indeterminatePresent + s.indeterminateAbsent).toBe(s.indeterminate);
    expect(s.bank?.violations).toBe(0);
    expect(s.bank?.finalTotal).toBe(s.bank?.expectedTotal);
    expect(t.checks.map((c) => [c.name, c.passed])).toEqual([
      ['durability.no-lost-acknowledged-writes', true],
      ['integrity.no-phantom-or-corrupt', true],
      ['consistency.bank-invariant', true],
      ['availability.recovery-within', true],
    ]);
    const junit = readFileSync(join(p.out, 'junit.xml'), 'utf8');
    expect(junit.match(/<testcase /g)).toHaveLength(4);
    expect(junit).not.toContain('<failure');
    const types = lines(join(p.out, 'events.jsonl')).map((l) => JSON.parse(l).type);
    expect(types.filter((x) => x === 'fault-inject')).toHaveLength(3);
    expect(types.filter((x) => x === 'fault-recovered')).toHaveLength(3);
  });

  it('the verifier finds lost writes with synchronous_commit=off, and none with on over 5 crash cycles', async () => {
    // The shipped profile, shortened: same settings and writers, fewer seconds.
    const shipped = readFileSync(new URL('../profiles/unsafe-commit.yaml', import.meta.url), 'utf8');
    const p = profileFile(shipped.replace('duration: 24s', 'duration: 18s').replace('every: 4s', 'every: 3s'));
    const r = await cli(['run', p.file, '--out', p.out], { STATEBENCH_HOME: p.home });
    // A failed check is exit code 1, distinct from harness errors.
    expect(r.code, r.stderr).toBe(1);
    const [unsafe, safe] = summaryOf(p.out).targets;
    expect(unsafe.faults).toHaveLength(5);
    expect(unsafe.safety!.lost).toBeGreaterThan(0);
    expect(unsafe.checks.find((c) => c.name === 'durability.no-lost-acknowledged-writes')?.passed).toBe(false);
    expect(safe.faults).toHaveLength(5);
    expect(safe.faults.every((f) => f.recovery.recovered)).toBe(true);
    expect(safe.safety!.acknowledged).toBeGreaterThan(100);
    expect(safe.safety!.lost).toBe(0);
    expect(safe.checks.every((c) => c.passed)).toBe(true);
    expect(readFileSync(join(p.out, 'junit.xml'), 'utf8')).toContain('<failure message="');
    expect(readFileSync(join(p.out, 'report.md'), 'utf8')).toContain('**FAIL**');
  });

  it('SIGINT during node-hang recovers the fault: no process is left stopped', async () => {
    const p = profileFile(`
name: hang-interrupted
targets: [{ platform: baremetal }]
io: { enabled: false }
workloads: [{ kind: oltp-tpcb, clients: 2, warmup: 0s, duration: 60s }]
faults:
  - { type: node-hang, at: 1s, duration: 50s }
`);
    const { child, result } = startCli(['run', p.file, '--out', p.out], { STATEBENCH_HOME: p.home });
    await until(() => lines(join(p.out, 'events.jsonl')).some((l) => JSON.parse(l).type === 'fault-active'), 60_000, 'the hang to take hold');
    const stopped = processesMentioning(p.home).filter((pid) => /^\d+ \(.*\) T/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')));
    expect(stopped.length).toBeGreaterThan(0);
    child.kill('SIGINT');
    const r = await result;
    expect(r.code).toBe(130);
    expect(processesMentioning(p.home)).toEqual([]);
    const types = lines(join(p.out, 'events.jsonl')).map((l) => JSON.parse(l).type);
    expect(types).toContain('fault-cleanup');
  });
});
