// Every user mistake we know of reaches the CLI as a typed error: a one-line message, what to do
// about it, an exit code that says whose fault it is (2: the profile or command line, 3: this
// machine), and never "unexpected error" with a stack trace.
import { describe, it, expect } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, tempDir } from './cli.ts';
import { StatebenchError } from '../harness/errors.ts';
import { registryHostsToml, renderKindConfig } from '../harness/platforms/k8s/render/kind-config.ts';
import { parseThreshold, MetricStore } from '../harness/workload/k6/metrics.ts';
import { BulkData, MAX_CHUNK_ROWS } from '../harness/workload/bulk-load.ts';

interface Mistake {
  what: string;
  args: (scratch: string) => string[];
  exit: number;
  /** What the message must say. */
  says: RegExp;
}

const M = 'test/fixtures/mistakes';

const MISTAKES: Mistake[] = [
  { what: 'a profile that does not exist', args: () => ['run', 'profiles/no-such.yaml'], exit: 2, says: /cannot read profile profiles\/no-such\.yaml: ENOENT/ },
  { what: 'a directory instead of a profile', args: () => ['plan', 'profiles'], exit: 2, says: /cannot read profile profiles: EISDIR/ },
  { what: 'a profile with a problem', args: (s) => ['plan', write(s, 'bad.yaml', 'name: x\ntargets: []\n')], exit: 2, says: /line 2: targets: at least one target is required/ },
  { what: 'a k6 script that does not exist', args: () => ['run', `${M}/k6-script-missing.yaml`], exit: 2, says: /line 6: workloads\.0\.script: k6 script workloads\/k6\/no-such-script\.js not found/ },
  { what: 'a k6 script that is not JavaScript', args: () => ['plan', `${M}/k6-script-syntax.yaml`], exit: 2, says: /line 6: workloads\.0\.script: .*not-javascript\.js:2:\d+: syntax error/ },
  { what: 'an engine.binDir without PostgreSQL', args: () => ['run', `${M}/bin-dir-wrong.yaml`], exit: 2, says: /line 5: engine\.binDir: \/nonexistent\/postgresql\/bin lacks postgres, initdb/ },
  { what: 'an --out that cannot be created', args: () => ['run', 'profiles/smoke.yaml', '--out', '/dev/null/results'], exit: 2, says: /cannot mkdir \/dev\/null\/results: ENOTDIR/ },
  { what: 'report on a directory without summary.json', args: (s) => ['report', s], exit: 2, says: /summary\.json does not exist/ },
  { what: 'report on a broken summary.json', args: (s) => ['report', dirWith(s, 'broken', 'summary.json', '{"schemaVersion": 1,')], exit: 2, says: /summary\.json is not valid JSON/ },
  { what: 'report on a summary.json of another shape', args: (s) => ['report', dirWith(s, 'other', 'summary.json', '{"hello": "world"}')], exit: 2, says: /does not match the summary schema/ },
  { what: 'compare with a run that does not exist', args: (s) => ['compare', join(s, 'a'), join(s, 'b')], exit: 2, says: /summary\.json does not exist/ },
  { what: 'history of a directory that does not exist', args: (s) => ['history', join(s, 'nowhere')], exit: 2, says: /does not exist/ },
  { what: 'history of a directory without runs', args: (s) => ['history', s], exit: 2, says: /no run directory with a readable summary\.json/ },
  { what: 'clean of a run that does not exist', args: () => ['clean', '--run', 'no-such-run'], exit: 2, says: /no leftovers of run no-such-run/ },
];

function write(dir: string, name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

function dirWith(dir: string, sub: string, name: string, text: string): string {
  mkdirSync(join(dir, sub), { recursive: true });
  write(join(dir, sub), name, text);
  return join(dir, sub);
}

describe('user mistakes reach the CLI as typed errors', () => {
  it.each(MISTAKES)('$what', async ({ args, exit, says }) => {
    const scratch = tempDir();
    const home = tempDir();
    const r = await cli(args(scratch), { STATEBENCH_HOME: home });
    expect(r.stderr).not.toMatch(/unexpected error|\n\s+at .*:\d+:\d+\)?\n/);
    expect(r.code, r.stderr).toBe(exit);
    expect(r.stderr).toMatch(/^statebench: /);
    expect(r.stderr).toMatch(says);
    // A hint, or the profile problems themselves, on the lines after the message.
    expect(r.stderr.trimEnd().split('\n').length, r.stderr).toBeGreaterThan(1);
  });

  it('an unknown command is a usage error with the command list', async () => {
    const r = await cli(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'frobnicate'/);
    expect(r.stderr).not.toMatch(/unexpected error/);
  });
});

describe('library code throws typed errors for what a user controls', () => {
  const typed = (fn: () => unknown): StatebenchError => {
    try {
      fn();
    } catch (e) {
      expect(e).toBeInstanceOf(StatebenchError);
      return e as StatebenchError;
    }
    throw new Error('expected an error');
  };

  it('a registry mirror endpoint that is not http(s)://host:port', () => {
    const e = typed(() => registryHostsToml('ftp://mirror'));
    expect(e.exitCode).toBe(2);
    expect(e.hint).toMatch(/STATEBENCH_KIND_REGISTRY_MIRROR/);
  });

  it('a kind cluster name kind refuses', () => {
    const e = typed(() => renderKindConfig({ clusterName: 'Upper_Case', runId: 'r', targetName: 't', workerDisks: ['/d'] } as Parameters<typeof renderKindConfig>[0]));
    expect(e.hint).toMatch(/shorter name/);
  });

  it('k6 thresholds and metric declarations k6 would refuse', () => {
    expect(typed(() => parseThreshold('p95 < 1')).hint).toMatch(/k6 script/);
    const store = new MetricStore();
    store.define('x', 'counter', false);
    expect(typed(() => store.define('x', 'trend', true)).message).toMatch(/declared both as counter and as trend/);
  });

  it('a bulk-load chunk larger than the loader takes', () => {
    expect(typed(() => new BulkData('t', 1, 10, MAX_CHUNK_ROWS + 1)).hint).toMatch(/chunk/);
  });
});
