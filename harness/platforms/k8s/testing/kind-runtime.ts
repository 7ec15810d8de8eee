// What a kind end-to-end test hands the platform as its runtime: a temporary directory for the run's
// state and cleanup journal (the test removes `base` when done), a fresh run clock, progress on the
// console under the test's label, and a signal that never fires.
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CleanupRegistry } from '../../../core/cleanup.ts';
import { RunClock } from '../../../core/clock.ts';
import type { TargetRuntime } from '../../types.ts';

export function kindTestRuntime(label: string, runId: string, slug: string): { base: string; stateDir: string; rt: TargetRuntime } {
  const base = mkdtempSync(join(tmpdir(), `statebench-kind-${label.replace(/\W+/g, '-')}-`));
  const stateDir = join(base, runId, slug);
  mkdirSync(stateDir, { recursive: true });
  const rt: TargetRuntime = {
    registry: new CleanupRegistry(join(base, 'resources.jsonl')),
    clock: new RunClock(),
    stateDir,
    artifactsDir: base,
    event: () => {},
    status: (p, d) => console.log(`[kind ${label}] ${p}: ${d ?? ''}`),
    signal: new AbortController().signal,
  };
  return { base, stateDir, rt };
}
