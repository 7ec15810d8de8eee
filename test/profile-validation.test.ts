// Malformed profiles are rejected with every problem as `path: message` and its line, and nothing is
// started: no results directory, no workspace, no process.
import { describe, it, expect } from 'vitest';
import { writeFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseProfile } from '../harness/model/load.ts';
import { ProfileError } from '../harness/errors.ts';
import { cli, tempDir } from './cli.ts';

const VALID = `name: ok
targets:
  - platform: baremetal
workloads:
  - kind: oltp-tpcb
`;

function problems(source: string): string[] {
  try {
    parseProfile(source, 'p.yaml');
  } catch (e) {
    if (e instanceof ProfileError) return e.problems.map((p) => `${p.line ? `line ${p.line}: ` : ''}${p.path}: ${p.message}`);
    throw e;
  }
  return [];
}

const CASES: [string, string, RegExp][] = [
  ['YAML syntax error', 'name: x\ntargets: [\n', /line \d+: : YAML syntax error/],
  ['not a mapping', '- a\n- b\n', /a profile is a YAML mapping/],
  ['missing targets', 'name: x\nworkloads:\n  - kind: oltp-tpcb\n', /^line 1: targets: .*expected array/],
  ['empty targets', 'name: x\ntargets: []\nworkloads:\n  - kind: oltp-tpcb\n', /line 2: targets: at least one target is required/],
  ['missing workloads', 'name: x\ntargets:\n  - platform: baremetal\n', /workloads: .*expected array/],
  ['unknown top-level key', VALID + 'colour: blue\n', /line 6: colour: unknown key "colour"/],
  ['unknown nested key', VALID.replace('platform: baremetal', 'platform: baremetal\n    storag: {}'), /line 4: targets.0.storag: unknown key "storag"/],
  ['unknown platform', VALID.replace('baremetal', 'vmware'), /line 3: targets.0.platform: .*"baremetal"\|"docker"\|"kind"\|"kubernetes"/],
  ['wrong type for clients', VALID + '    clients: many\n', /line 6: workloads.0.clients: .*expected number, received string/],
  ['negative duration', VALID + '    duration: -5s\n', /line 6: workloads.0.duration: duration must not be negative/],
  ['bad duration unit', VALID + '    duration: 5 fortnights\n', /workloads.0.duration: invalid duration "5 fortnights"/],
  ['bad size unit', VALID + 'io: { size: 64 megs }\n', /line 6: io.size: invalid size "64 megs"/],
  ['zero clients', VALID + '    clients: 0\n', /workloads.0.clients: .*>=1/],
  ['unknown workload kind', VALID.replace('oltp-tpcb', 'tpc-z'), /line 5: workloads.0.kind: /],
  ['unknown storage kind', VALID.replace('platform: baremetal', 'platform: baremetal\n    storage: { kind: san }'), /targets.0.storage.kind: /],
  ['unknown fault type', VALID + 'faults:\n  - { at: 1s, type: meteor }\n', /line 7: faults.0.type: /],
  ['fault past the workload', VALID + 'faults:\n  - { at: 60s, type: node-crash }\n', /line 7: faults.0: the last cycle ends at 63s/],
  ['fault target out of range', VALID + 'faults:\n  - { at: 1s, type: node-crash, target: node-3 }\n', /faults.0.target: node-3 does not exist/],
  ['storage fault on local storage', VALID + 'faults:\n  - { at: 1s, type: storage-stall }\n', /faults.0.type: storage-stall needs storage that can inject it/],
  ['duplicate target names', 'name: x\ntargets:\n  - platform: baremetal\n  - platform: baremetal\nworkloads:\n  - kind: oltp-tpcb\n', /line 4: targets.1.name: target name "baremetal\/local" is already used/],
  ['check without threshold', VALID + 'faults:\n  - { at: 1s, type: node-crash }\nchecks:\n  - check: availability.recovery-within\n', /checks.0.threshold: availability.recovery-within needs a threshold/],
  ['baseline that does not exist', VALID + 'report: { baseline: nowhere }\n', /report.baseline: no target is named "nowhere"/],
  ['bad setting name', VALID + 'engine: { settings: { "Shared Buffers": 1 } }\n', /engine.settings.Shared Buffers: /],
];

describe('profile validation', () => {
  it('accepts the minimal valid profile', () => {
    expect(problems(VALID)).toEqual([]);
  });

  it.each(CASES)('rejects %s with path: message', (_what, source, expected) => {
    const got = problems(source);
    expect(got.length).toBeGreaterThan(0);
    expect(got.some((p) => expected.test(p)), `problems were:\n${got.join('\n')}`).toBe(true);
  });

  it('reports every problem at once, in line order', () => {
    const got = problems('name: x\ntargets:\n  - platform: baremetal\n    bogus: 1\nworkloads:\n  - kind: oltp-tpcb\n    clients: -1\n    duration: 3 weeks\nextra: true\n');
    expect(got).toHaveLength(4);
    expect(got[0]).toMatch(/^line 4: targets.0.bogus/);
    expect(got[1]).toMatch(/^line 7: workloads.0.clients/);
    expect(got[2]).toMatch(/^line 8: workloads.0.duration/);
    expect(got[3]).toMatch(/^line 9: extra/);
  });

  it('the CLI exits 2 and starts nothing for an invalid profile', async () => {
    const dir = tempDir();
    const home = tempDir();
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, VALID + '    clients: -1\nbogus: 1\n');
    const out = join(dir, 'out');
    for (const cmd of [['run', file, '--out', out], ['plan', file]]) {
      const r = await cli(cmd, { STATEBENCH_HOME: home });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('2 problems, nothing was started');
      expect(r.stderr).toMatch(/line 6: workloads.0.clients: /);
      expect(r.stderr).toMatch(/line 7: bogus: unknown key/);
    }
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(home)).toEqual([]);
  });

  it('plan prints the expansion without starting anything', async () => {
    const home = tempDir();
    const r = await cli(['plan', 'profiles/smoke.yaml'], { STATEBENCH_HOME: home });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('target baremetal/local');
    expect(r.stdout).toMatch(/workload {2}oltp-tpcb \(oltp-tpcb\) 2s warmup \+ 20s/);
    expect(readdirSync(home)).toEqual([]);
  });
});
