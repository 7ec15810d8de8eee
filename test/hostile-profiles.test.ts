// The hostile-profile corpus (test/fixtures/hostile): malformed, nonsensical and malicious profiles a
// user may copy from elsewhere. Each is refused by `plan` and by `run` with exit 2 and a problem line
// `line N: <path>: …` naming the offending line (marked `# <-` in the file) and its path; nothing is
// created (no run directory, no report directory, no process). Generated cases cover input size:
// 9,500 unknown keys (problem-to-line lookup must stay linear: quadratic took minutes), 40,000 lines
// and a 5 MB file (refused by size before parsing).
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../harness/cli.ts';
import { cli, ROOT } from './cli.ts';

const DIR = join(ROOT, 'test', 'fixtures', 'hostile');

interface Case {
  name: string;
  file: string;
  cls: string;
  path: string;
  fragment: string;
  line: number;
}

function readCase(file: string): Case {
  const text = readFileSync(file, 'utf8');
  const header = (k: string) => new RegExp(`^# ${k}: ?(.*)$`, 'm').exec(text)?.[1]?.trim() ?? '';
  const line = text.split('\n').findIndex((l) => l.includes('# <-')) + 1;
  return { name: file.split('/').pop()!.replace(/\.yaml$/, ''), file, cls: header('class'), path: header('expect-path'), fragment: header('expect'), line };
}

const cases = readdirSync(DIR)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((f) => readCase(join(DIR, f)));

let home: string;
let generated: string;
const timings: { name: string; command: string; ms: number }[] = [];
const savedHome = process.env.STATEBENCH_HOME;

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'statebench-hostile-home-'));
  generated = mkdtempSync(join(tmpdir(), 'statebench-hostile-gen-'));
  process.env.STATEBENCH_HOME = home;
  const keys = Array.from({ length: 9_500 }, (_, i) => `unknown_key_${i}: ${i}`).join('\n');
  const tooMany = Array.from({ length: 40_000 }, (_, i) => `k${i}: 1`).join('\n');
  writeFileSync(join(generated, 'forty-thousand-lines.yaml'), `# class: size\n# expect-path:\n# expect: a profile may have at most 10000 lines\nname: hostile\n${tooMany}\n`);
  writeFileSync(join(generated, 'many-unknown-keys.yaml'), `# class: size\n# expect-path: unknown_key_0\n# expect: unknown key "unknown_key_0"\nname: hostile\ntargets: [{platform: baremetal}]\nworkloads: [{kind: oltp-tpcb}]\nunknown_key_0: 0   # <-\n${keys.replace(/^unknown_key_0: 0\n/, '')}\n`);
  writeFileSync(join(generated, 'five-megabytes.yaml'), `# class: size\n# expect-path:\n# expect: a profile may be at most 524288 bytes\n# <-\nname: hostile\ndescription: "${'x'.repeat(5 * 1024 * 1024)}"\n`);
  cases.push(readCase(join(generated, 'many-unknown-keys.yaml')), { ...readCase(join(generated, 'forty-thousand-lines.yaml')), line: 10_001 }, { ...readCase(join(generated, 'five-megabytes.yaml')), line: 1 });
});

afterAll(() => {
  if (savedHome === undefined) delete process.env.STATEBENCH_HOME;
  else process.env.STATEBENCH_HOME = savedHome;
  rmSync(home, { recursive: true, force: true });
  rmSync(generated, { recursive: true, force: true });
  const slowest = [...timings].sort((a, b) => b.ms - a.ms).slice(0, 5);
  process.stdout.write(
    `hostile corpus: ${cases.length} cases × plan and run; slowest: ${slowest.map((t) => `${t.name} ${t.command} ${t.ms.toFixed(0)} ms`).join(', ')}; ` +
      `median ${[...timings].sort((a, b) => a.ms - b.ms)[Math.floor(timings.length / 2)]?.ms.toFixed(1)} ms\n`,
  );
});

/** Children of this process (a refused profile must start none). */
function children(): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === process.pid && fields[0] !== 'Z') out.push(Number(e));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** Runs the CLI in this process, as bin/statebench.js does, capturing its output and exit code. */
async function inProcess(args: string[]): Promise<{ code: number; stderr: string; stdout: string; ms: number }> {
  let stderr = '';
  let stdout = '';
  const errWrite = process.stderr.write.bind(process.stderr);
  const outWrite = process.stdout.write.bind(process.stdout);
  process.stderr.write = ((c: string | Uint8Array) => ((stderr += String(c)), true)) as typeof process.stderr.write;
  process.stdout.write = ((c: string | Uint8Array) => ((stdout += String(c)), true)) as typeof process.stdout.write;
  const t0 = performance.now();
  try {
    await main(['node', 'statebench', ...args]);
  } finally {
    process.stderr.write = errWrite;
    process.stdout.write = outWrite;
  }
  const ms = performance.now() - t0;
  const code = Number(process.exitCode ?? 0);
  process.exitCode = 0;
  return { code, stderr, stdout, ms };
}

describe('hostile profiles are refused before anything starts', () => {
  it('the corpus covers every class of the issue with at least 80 cases', () => {
    const classes = new Set(cases.map((c) => c.cls));
    for (const cls of ['names', 'files', 'secrets', 'yaml', 'values', 'settings', 'structure']) expect(classes).toContain(cls);
    expect(cases.length).toBeGreaterThanOrEqual(80);
    for (const c of cases) expect(c.line, `${c.name} marks its line with # <-`).toBeGreaterThan(0);
  });

  it.each(['plan', 'run'])('every case: `%s` exits 2 naming line and path, and creates nothing', async (command) => {
    const reportsBefore = existsSync(join(process.cwd(), 'reports')) ? readdirSync(join(process.cwd(), 'reports')).length : 0;
    const failures: string[] = [];
    for (const c of cases) {
      // A case `plan` accepts would really run under `run`: it fails here instead.
      if (command === 'run') {
        const planned = await inProcess(['plan', c.file]);
        if (planned.code !== 2) {
          failures.push(`${c.name}: plan accepted it (exit ${planned.code}); not run`);
          continue;
        }
      }
      const r = await inProcess([command, c.file]);
      timings.push({ name: c.name, command, ms: r.ms });
      const where = `line ${c.line}: ${c.path || '(profile)'}: `;
      const problemLine = r.stderr.split('\n').find((l) => l.includes(where));
      if (r.code !== 2) failures.push(`${c.name}: exit ${r.code} (${r.stderr.slice(0, 300)})`);
      else if (!problemLine) failures.push(`${c.name}: no problem "${where}…" in:\n${r.stderr.slice(0, 600)}`);
      else if (c.fragment && !problemLine.includes(c.fragment)) failures.push(`${c.name}: "${problemLine.trim().slice(0, 200)}" lacks "${c.fragment}"`);
      if (/\n\s+at .*\(.*:\d+:\d+\)/.test(r.stderr)) failures.push(`${c.name}: a stack trace was printed`);
      if (r.stdout.includes('completed')) failures.push(`${c.name}: printed a completion`);
    }
    expect(failures).toEqual([]);
    // Nothing created: no workspace, no report directory, no child process.
    expect(readdirSync(home)).toEqual([]);
    expect(existsSync(join(process.cwd(), 'reports')) ? readdirSync(join(process.cwd(), 'reports')).length : 0).toBe(reportsBefore);
    expect(children()).toEqual([]);
  }, 300_000);

  it('through the installed entry point (a child process): the same refusal and exit code', async () => {
    for (const name of ['name-target-dotdot', 'yaml-billion-laughs', 'script-dotenv']) {
      const r = await cli(['run', join(DIR, `${name}.yaml`)], { STATEBENCH_HOME: home });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/line \d+: /);
      // The file named as a script is never quoted.
      expect(r.stderr).not.toContain('hunter2');
    }
    expect(readdirSync(home)).toEqual([]);
  }, 120_000);
});
