// .github/workflows/nightly.yml, checked without GitHub: it parses, has the steps users rely on, and
// every `run:` step refers only to files, npm scripts and statebench commands that exist in this
// repository, or to tools the workflow installs or the runner image provides. The kind profiles it
// runs are valid and plan.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { loadProfile } from '../../run/profile-files.ts';

const ROOT = new URL('../../../', import.meta.url).pathname;
const text = readFileSync(join(ROOT, '.github/workflows/nightly.yml'), 'utf8');

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  id?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
  'continue-on-error'?: boolean;
}
interface Workflow {
  name: string;
  on: { schedule?: { cron: string }[]; workflow_dispatch?: unknown };
  permissions?: Record<string, string>;
  env?: Record<string, string>;
  jobs: Record<string, { 'runs-on': string; 'timeout-minutes'?: number; steps: Step[] }>;
}

const wf = parse(text) as Workflow;
const steps = wf.jobs?.kind?.steps ?? [];
const runSteps = steps.filter((s) => s.run);
const stepWith = (re: RegExp) => steps.find((s) => re.test(s.run ?? '') || re.test(s.uses ?? ''));

/** Tools the workflow installs, the runner image has, or the shell provides. */
const TOOLS = new Set([
  // installed by the workflow (apt-get, curl) or by actions/setup-node
  'kind', 'k6', 'node', 'npm', 'npx', 'debootstrap', 'fio', 'nbdkit',
  // on GitHub's ubuntu runners
  'docker', 'gh', 'curl', 'tar', 'sudo', 'apt-get', 'install', 'env',
  // coreutils and shell
  'mkdir', 'cat', 'echo', 'basename', 'chown', 'id', 'exit', 'test', '[', 'true',
]);
const SHELL_WORDS = new Set(['if', 'then', 'else', 'elif', 'fi', 'for', 'do', 'done', 'in']);

const cliCommands = [...readFileSync(join(ROOT, 'harness/cli.ts'), 'utf8').matchAll(/\.command\('([a-z-]+)'\)/g)].map((m) => m[1]);
const npmScripts = Object.keys((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts);
const REPO_PATH = /^(bin|images|profiles|kind-config|harness|scripts|workloads|test)\/[A-Za-z0-9_.\-/]*$/;

/** Splits a shell script into simple commands (`;`, `&&`, `||`, `|` and newlines), with loop variables expanded. */
function commands(script: string): string[][] {
  const loops = new Map<string, string[]>();
  const out: string[][] = [];
  for (const line of script.split('\n')) {
    const loop = /^\s*for (\w+) in ([^;]+); do\s*$/.exec(line);
    if (loop) loops.set(loop[1], loop[2].trim().split(/\s+/));
    const cleaned = line.replace(/#.*$/, '').replace(/\$\(([^)]*)\)/g, (_, inner: string) => {
      for (const c of commands(inner)) out.push(c);
      return 'SUBST';
    });
    // Quoted text is one word and may hold ; or |: set it aside before splitting.
    const quoted: string[] = [];
    const masked = cleaned.replace(/"[^"]*"|'[^']*'/g, (q) => `\u0000${quoted.push(q.slice(1, -1)) - 1}\u0000`);
    for (const part of masked.split(/;|&&|\|\||\|/)) {
      const words = (part.match(/\S+/g) ?? []).map((w) => w.replace(/\u0000(\d+)\u0000/g, (_, i: string) => quoted[Number(i)]));
      while (words.length && (SHELL_WORDS.has(words[0]) || /^\w+=/.test(words[0]))) {
        if (words[0] === 'for') words.splice(0, words.length);
        else words.shift();
      }
      if (!words.length) continue;
      // Expand loop variables into one command per value.
      const vars = [...loops.entries()].filter(([v]) => words.some((w) => w.includes(`$${v}`) || w.includes(`\${${v}}`)));
      if (!vars.length) out.push(words);
      else for (const [v, values] of vars) for (const value of values) out.push(words.map((w) => w.replaceAll(`\${${v}}`, value).replaceAll(`$${v}`, value)));
    }
  }
  return out;
}

/** The command after `sudo -E env "PATH=$PATH"` and similar wrappers. */
function unwrap(words: string[]): string[] {
  let w = [...words];
  for (;;) {
    if (w[0] === 'sudo') w = w.slice(1).filter((x, i) => !(i === 0 && x.startsWith('-')));
    else if (w[0] === 'env') w = w.slice(1).filter((x, i, all) => !(all.slice(0, i + 1).every((y) => /^\w+=/.test(y))));
    else return w;
    while (w[0]?.startsWith('-')) w = w.slice(1);
  }
}

describe('.github/workflows/nightly.yml', () => {
  test('parses, runs nightly and on demand, with the rights the comparison needs', () => {
    expect(wf.name).toBe('nightly');
    expect(wf.on.schedule?.[0].cron).toMatch(/^\S+ \S+ \* \* \*$/);
    expect(wf.on).toHaveProperty('workflow_dispatch');
    expect(wf.permissions).toMatchObject({ contents: 'read', actions: 'read' });
    expect(wf.jobs.kind['runs-on']).toMatch(/^ubuntu-/);
    for (const s of steps) {
      expect(s.name, JSON.stringify(s)).toMatch(/\S/);
      expect(!!s.uses !== !!s.run, `${s.name}: exactly one of uses/run`).toBe(true);
    }
  });

  test('installs kind and k6, builds the images, creates the cluster from kind-config/, runs the e2e test', () => {
    expect(stepWith(/kind\.sigs\.k8s\.io\/dl\/\$\{KIND_VERSION\}\/kind-linux-amd64/)).toBeDefined();
    expect(stepWith(/grafana\/k6\/releases\/download/)).toBeDefined();
    expect(wf.env).toMatchObject({ KIND_VERSION: expect.stringMatching(/^v\d+\.\d+\.\d+$/), K6_VERSION: expect.stringMatching(/^v\d+\.\d+\.\d+$/) });
    expect(stepWith(/if \[ -f images\/build\.ts \]/)?.run).toContain('npx tsx images/build.ts all');
    expect(stepWith(/kind create cluster --config kind-config\/cluster\.yaml/)?.run).toContain('kind delete cluster --name statebench-manual');
    expect(stepWith(/npx vitest run harness\/platforms\/k8s\/kind\.e2e\.test\.ts/)).toBeDefined();
    expect(wf.env?.STATEBENCH_REQUIRE_KIND).toBe('1');
  });

  test('runs every kind profile, uploads the run directories, writes report.md to the job summary, compares with the previous nightly', () => {
    const kindProfiles = readdirSync(join(ROOT, 'profiles')).filter((f) => /^kind-.*\.yaml$/.test(f)).map((f) => f.replace(/\.yaml$/, ''));
    const run = stepWith(/bin\/statebench\.js run /)!;
    const ran = commands(run.run!).map(unwrap).filter((c) => c[1] === 'bin/statebench.js' && c[2] === 'run').map((c) => c[3]);
    expect(ran.sort()).toEqual(kindProfiles.map((p) => `profiles/${p}.yaml`).sort());
    const upload = steps.find((s) => s.uses?.startsWith('actions/upload-artifact@'))!;
    expect(upload).toMatchObject({ if: 'always()', with: { path: 'nightly/' } });
    const summary = stepWith(/report\.md/)!;
    expect(summary.if).toBe('always()');
    expect(summary.run).toContain('>> "$GITHUB_STEP_SUMMARY"');
    const download = stepWith(/gh run download/)!;
    expect(download.run).toContain('--status success');
    const compare = stepWith(/bin\/statebench\.js compare/)!;
    expect(compare).toMatchObject({ id: 'compare', 'continue-on-error': true });
    // The upload comes after the comparison (its HTML is in the artifact); a regression still fails the job.
    expect(steps.indexOf(upload)).toBeGreaterThan(steps.indexOf(compare));
    expect(steps.at(-1)?.if).toContain("steps.compare.outcome == 'failure'");
  });

  test('every run: step refers to files, npm scripts and statebench commands that exist, and to known tools', () => {
    const problems: string[] = [];
    for (const s of runSteps) {
      for (const raw of commands(s.run!)) {
        const c = unwrap(raw);
        if (!TOOLS.has(c[0])) problems.push(`${s.name}: unknown command ${c[0]} (${raw.join(' ')})`);
        for (const w of c) {
          if (REPO_PATH.test(w) && !w.includes('$') && !existsSync(join(ROOT, w))) problems.push(`${s.name}: ${w} does not exist`);
        }
        if (c[0] === 'node' && c[1] === 'bin/statebench.js' && !cliCommands.includes(c[2])) problems.push(`${s.name}: statebench has no command ${c[2]} (${cliCommands.join(', ')})`);
        if (c[0] === 'npm' && c[1] === 'run' && !npmScripts.includes(c[2])) problems.push(`${s.name}: package.json has no script ${c[2]}`);
        if (c[0] === 'npx' && !['tsx', 'vitest'].includes(c[1])) problems.push(`${s.name}: npx ${c[1]} is not a dependency`);
      }
    }
    expect(problems).toEqual([]);
    // The parser saw the commands that matter.
    const all = runSteps.flatMap((s) => commands(s.run!).map(unwrap).map((c) => c.join(' ')));
    expect(all).toEqual(expect.arrayContaining(['npx tsx images/build.ts all', 'node bin/statebench.js doctor', 'kind create cluster --config kind-config/cluster.yaml --wait 180s']));
  });

  for (const profile of ['kind-node-failure', 'kind-kubelet-failure']) {
    test(`profiles/${profile}.yaml is valid, plans, and explains itself in its header`, async () => {
      const file = join(ROOT, 'profiles', `${profile}.yaml`);
      const { plan } = await loadProfile(file);
      // kind-node-failure sets a Local PV and a network volume side by side.
      expect(plan.targets.map((t) => t.platform)).toEqual(profile === 'kind-node-failure' ? ['kind', 'kind'] : ['kind']);
      expect(plan.targets.map((t) => t.storage.kind)).toEqual(profile === 'kind-node-failure' ? ['local-pv', 'remote'] : ['local-pv']);
      expect(plan.targets[0].faults.map((f) => f.type)).toEqual(profile === 'kind-node-failure' ? ['node-crash', 'node-hang'] : ['kubelet-stop']);
      const header = readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith('#'));
      expect(header.length).toBeGreaterThan(10);
    });
  }
});
