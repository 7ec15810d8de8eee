// The statebench command line. This is the one error boundary: commands throw typed errors, and
// only here are they turned into messages and exit codes.
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EXIT, StatebenchError } from './errors.ts';
import { statebenchVersion } from './core/environment.ts';
import { redact, redactString } from './core/redact.ts';

// Commands import what they need when they run: `--help` and `plan` stay fast, and a missing optional
// dependency only matters to the command that uses it.
const fraction = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number such as 0.05');
  return n;
};

const EXIT_CODES_HELP = `
Exit codes:
  0    success: the run finished and every check passed
  1    the run finished but a conformance check failed (see junit.xml / report.md)
  2    usage error or invalid profile: nothing was started
  3    something needed is missing on this machine (run \`statebench doctor\`)
  4    the run failed (a database did not start, a workload broke)
       compare / history --fail-on-regression: 1 means a regression was found
  130  interrupted (SIGINT/SIGTERM): cleaned up, measured results kept`;

function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('statebench')
    .description('Benchmark and conformance harness for databases on bare metal, in containers and on Kubernetes')
    .version(statebenchVersion())
    .addHelpText('after', EXIT_CODES_HELP)
    .exitOverride()
    .showHelpAfterError();

  program
    .command('run')
    .description('run a profile: every target, workload and fault it plans')
    .argument('<profile>', 'profile YAML, e.g. profiles/smoke.yaml')
    .option('--out <dir>', 'results directory (default reports/<run-id>)')
    .option('--quiet', 'no progress output')
    .action(async (file: string, o: { out?: string; quiet?: boolean }) => {
      // The profile first: a refused one costs no more than reading it.
      const { loadProfile } = await import('./run/profile-files.ts');
      const loaded = await loadProfile(file);
      const { preflightProblems } = await import('./run/preflight.ts');
      const problems = await preflightProblems(loaded.profile, loaded.plan);
      if (problems.length) throw loaded.refuse(problems);
      const { runPlan } = await import('./run/runner.ts');
      const { createProgress } = await import('./run/progress.ts');
      const { interruptOnSignals } = await import('./run/interrupt.ts');
      const interruption = interruptOnSignals();
      try {
        const outcome = await runPlan(loaded, { outDir: o.out, signal: interruption.signal, progress: createProgress(process.stderr, o.quiet) });
        process.stdout.write(`${outcome.summary.status}: report in ${join(outcome.outDir, 'report.md')}\n`);
        setExit(outcome.exitCode);
      } finally {
        interruption.dispose();
      }
    });

  program
    .command('plan')
    .description('validate a profile and print the expanded plan; starts nothing')
    .argument('<profile>', 'profile YAML')
    .option('--json', 'print the plan as JSON')
    .option('--render <dir>', 'also write the kind config and every Kubernetes manifest of the plan into <dir>; touches no cluster')
    .action(async (file: string, o: { json?: boolean; render?: string }) => {
      const { loadProfile } = await import('./run/profile-files.ts');
      const { formatPlan } = await import('./model/format-plan.ts');
      const { preflightProblems } = await import('./run/preflight.ts');
      const loaded = await loadProfile(file);
      const problems = await preflightProblems(loaded.profile, loaded.plan);
      if (problems.length) throw loaded.refuse(problems);
      const shown = redact(loaded.plan);
      process.stdout.write(o.json ? JSON.stringify(shown, null, 2) + '\n' : formatPlan(shown));
      if (o.render) {
        const { renderPlanTo } = await import('./platforms/k8s/render/render.ts');
        const { newRunId } = await import('./core/workspace.ts');
        const files = await renderPlanTo(loaded.plan, `plan-${newRunId().slice(-4)}`, resolve(o.render));
        process.stdout.write(files.length ? files.map((f) => `rendered ${f}`).join('\n') + '\n' : 'no kind or kubernetes targets: nothing to render\n');
      }
    });

  program
    .command('doctor')
    .description('list the external tools statebench can use, and how to install what is missing')
    .action(async () => {
      const { doctor, formatDoctor, profileReadiness, formatReadiness } = await import('./doctor.ts');
      const tools = await doctor();
      process.stdout.write(`statebench ${statebenchVersion()} on node ${process.version}\n${formatDoctor(tools)}\n\nshipped profiles that can run here:\n${formatReadiness(await profileReadiness(tools))}\n`);
    });

  program
    .command('images')
    .description('container images built on this machine, without a registry (images/README.md)')
    .command('build')
    .description('build an image as root, reused when its recipe is unchanged; prints its reference')
    .argument('[name]', 'postgres, patroni, kind-node, or all (postgres and patroni)', 'all')
    .option('--force', 'rebuild even when an image of the current recipe exists')
    .action(async (name: string, o: { force?: boolean }) => {
      const { buildCommand } = await import('../images/build.ts');
      await buildCommand(name, o.force);
    });

  program
    .command('report')
    .description('re-render report.md, report.html and junit.xml from a run directory')
    .argument('<run-dir>', 'a run directory containing summary.json')
    .action(async (dir: string) => {
      const { readSummary } = await import('./report/html/run-data.ts');
      const { rebuildSummary } = await import('./report/rebuild.ts');
      const { writeReports } = await import('./report/write.ts');
      const { renameSync } = await import('node:fs');
      if (!existsSync(dir)) throw new StatebenchError(`${dir} does not exist`, EXIT.usage, 'Pass a run directory written by `statebench run`.');
      const file = join(dir, 'summary.json');
      let summary;
      try {
        summary = readSummary(dir);
      } catch (e) {
        if (!(e instanceof StatebenchError) || !(existsSync(join(dir, 'events.jsonl')) || existsSync(join(dir, 'plan.json')))) throw e;
        // After a SIGKILL there is no summary.json, or a torn one: rebuild what the streams hold, and
        // keep an unreadable summary.json beside it rather than overwrite it.
        summary = rebuildSummary(dir);
        if (existsSync(file)) renameSync(file, `${file}.invalid`);
        process.stderr.write(`${e.message.split('\n')[0]}; rebuilt a partial summary from events.jsonl and samples.jsonl${existsSync(`${file}.invalid`) ? ` (the unreadable file is kept as ${file}.invalid)` : ''}\n`);
      }
      const files = await writeReports(resolve(dir), summary);
      process.stdout.write(files.map((f) => `wrote ${f}`).join('\n') + '\n');
    });

  program
    .command('compare')
    .description('compare a candidate with a baseline, each run one observation (95 % interval of the ratio over runs; give ≥ 2 runs a side, or a history of baseline runs); exits 1 on a regression')
    .argument('<baseline>', 'baseline run directory or its summary.json; several joined with commas, each run one observation')
    .argument('<candidate>', 'candidate run directory or its summary.json; several joined with commas, each run one observation')
    .option('--html <file>', 'also write the comparison as HTML')
    .option('--min-effect <fraction>', 'smallest relative change that can count as a regression', fraction, 0.05)
    .option('--alpha <p>', '1 − confidence level of the ratio interval (and level of the rank test over fault cycles)', fraction, 0.05)
    .option('--single-value-min-effect <fraction>', 'threshold for a figure measured once a side (recovery with too few fault cycles)', fraction, 0.2)
    .option('--busy-host <policy>', 'ignore: judge by the interval over runs and flag a busy host in the reason; decline: no verdict on a change measured while the host was busy', 'ignore')
    .action(async (a: string, b: string, o: { html?: string; minEffect: number; alpha: number; singleValueMinEffect: number; busyHost: string }) => {
      const { compareCommand } = await import('./report/compare/index.ts');
      const list = (x: string) => (x.includes(',') ? x.split(',').filter(Boolean) : x);
      const r = await compareCommand(list(a), list(b), { html: o.html, minEffect: o.minEffect, alpha: o.alpha, singleValueMinEffect: o.singleValueMinEffect, busyHost: o.busyHost as 'decline' | 'ignore' });
      process.stdout.write(r.markdown + '\n');
      if (r.htmlFile) process.stderr.write(`wrote ${r.htmlFile}\n`);
      setExit(r.exitCode);
    });

  program
    .command('history')
    .description('trend of headline figures across run directories (nightly), with step changes flagged')
    .argument('<dir>', 'directory holding run directories, e.g. reports/')
    .option('--out <file>', 'HTML file (default <dir>/history.html)')
    .option('--profile <name>', 'only runs of this profile')
    .option('--min-effect <fraction>', 'smallest relative step that is flagged', fraction, 0.05)
    .option('--alpha <p>', 'significance level of the step test', fraction, 0.05)
    .option('--fail-on-regression', 'exit 1 when a regression step or a lost write is flagged')
    .action(async (dir: string, o: { out?: string; profile?: string; minEffect: number; alpha: number; failOnRegression?: boolean }) => {
      const { historyCommand } = await import('./report/history/index.ts');
      const r = await historyCommand(dir, o);
      process.stdout.write(r.text + '\n');
      setExit(r.exitCode);
    });

  program
    .command('clean')
    .description('remove what killed runs left behind (processes, temp dirs, mounts, containers)')
    .option('--run <id>', 'only this run')
    .option('--force', 'also clean runs whose statebench process is still alive')
    .action(async (o: { run?: string; force?: boolean }) => {
      const { clean } = await import('./clean.ts');
      const reports = await clean(o.run, o.force);
      if (!reports.length) process.stdout.write('nothing to clean\n');
      for (const r of reports) {
        if (r.skipped) process.stdout.write(`${r.runId}: skipped: ${r.skipped}\n`);
        else process.stdout.write(`${r.runId}: released ${r.released.length} resource(s)${r.released.map((x) => `\n  ${x}`).join('')}\n`);
        for (const e of r.errors) process.stderr.write(`${r.runId}: could not release ${e}\n`);
      }
      if (reports.some((r) => r.errors.length)) setExit(EXIT.runFailed);
    });

  return program;
}

export async function main(argv: string[]): Promise<void> {
  let exitCode: number = EXIT.ok;
  const program = buildProgram((c) => (exitCode = c));
  try {
    await program.parseAsync(argv);
  } catch (e) {
    exitCode = errorExit(e);
  }
  process.exitCode = exitCode;
}

const PATH_ERRORS = ['ENOENT', 'ENOTDIR', 'EISDIR', 'EACCES', 'EPERM', 'EROFS', 'EEXIST'];

function errorExit(e: unknown): number {
  if (e instanceof CommanderError) {
    // Help and version are "errors" to commander; they already printed.
    return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (e instanceof StatebenchError) {
    process.stderr.write(redactString(`statebench: ${e.message}\n${e.hint ? `  ${e.hint}\n` : ''}`));
    return e.exitCode;
  }
  // A path the user gave that cannot be read or written (--out, --render, a run directory): say
  // which, without a stack trace.
  const fsError = e as NodeJS.ErrnoException;
  if (fsError?.code && fsError.path && PATH_ERRORS.includes(fsError.code)) {
    process.stderr.write(`statebench: cannot ${fsError.syscall ?? 'use'} ${fsError.path}: ${fsError.code}\n  Check the path you passed and its permissions.\n`);
    return EXIT.usage;
  }
  process.stderr.write(`statebench: unexpected error: ${(e as Error)?.stack ?? e}\n`);
  return EXIT.runFailed;
}

