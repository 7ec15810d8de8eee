// The layering of harness/ holds: no import cycles, no import from a lower layer up to a higher one,
// no runtime import of test helpers. The rules are data in .dependency-cruiser.cjs; `npm run deps`
// prints the same check for people.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = fileURLToPath(new URL('../node_modules/dependency-cruiser/bin/dependency-cruise.mjs', import.meta.url));

interface Cruise {
  modules: { source: string; dependencies: { resolved: string }[] }[];
  summary: { violations: { rule: { name: string }; from: string; to: string; cycle?: { name: string }[] }[] };
}

function cruise(): Cruise {
  const r = spawnSync(process.execPath, [BIN, 'harness', 'test', 'scripts', 'bench', '--config', '.dependency-cruiser.cjs', '--output-type', 'json'], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (!r.stdout) throw new Error(`dependency-cruiser printed nothing: ${r.stderr}`);
  return JSON.parse(r.stdout) as Cruise;
}

describe('harness layering (.dependency-cruiser.cjs)', () => {
  const result = cruise();

  it('reads TypeScript (a missing transpiler would make every check pass vacuously)', () => {
    const runner = result.modules.find((m) => m.source === 'harness/run/runner.ts');
    expect(runner?.dependencies.map((d) => d.resolved)).toContain('harness/run/target-session.ts');
    expect(result.modules.length).toBeGreaterThan(150);
  });

  it('has no cycles, no upward imports and no runtime imports of test helpers', () => {
    const violations = result.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.cycle?.map((c) => c.name).join(' → ') ?? v.to}`);
    expect(violations).toEqual([]);
  });
});
