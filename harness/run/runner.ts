// Runs a plan: for each target, provision → I/O probe → deploy → load → measured run (workload,
// safety writer, fault schedule) → verify → teardown. Results stream to the run directory as they are
// produced; the summary is rewritten after each target so an interrupted run still has one.
import { mkdirSync, writeFileSync, rmSync, readFileSync, readdirSync, type Dirent } from 'node:fs';
import { redact, redactYaml, registerSecretsIn } from '../core/redact.ts';
import { join, resolve } from 'node:path';
import type { LoadedProfile } from '../model/load.ts';
import type { PlannedTarget } from '../model/plan.ts';
import { CleanupRegistry } from '../core/cleanup.ts';
import { RunClock, type Clock } from '../core/clock.ts';
import { JsonlWriter } from '../core/jsonl.ts';
import { ensureHome, Workspace, newRunId } from '../core/workspace.ts';
import { collectEnvironment } from '../core/environment.ts';
import type { Progress } from './progress.ts';
import { platformFor } from './platforms.ts';
import type { TargetRuntime } from '../platforms/types.ts';
import { workloadFor } from '../workload/index.ts';
import type { TargetSummary, Summary } from '../model/summary.ts';
import { SUMMARY_SCHEMA_VERSION } from '../model/summary.ts';
import { writeReports } from '../report/write.ts';
import { TargetSession } from './target-session.ts';
import { EXIT, InterruptedError, StatebenchError } from '../errors.ts';

export interface RunOptions {
  outDir?: string;
  signal: AbortSignal;
  progress: Progress;
}

export interface RunOutcome {
  runId: string;
  outDir: string;
  summary: Summary;
  exitCode: number;
}

export async function runPlan(loaded: LoadedProfile, opts: RunOptions): Promise<RunOutcome> {
  const { plan } = loaded;
  registerSecretsIn(loaded.profile);
  // A workspace another user owns is refused before anything is written.
  ensureHome();
  const runId = newRunId();
  const outDir = resolve(opts.outDir ?? join('reports', runId));
  mkdirSync(outDir, { recursive: true });
  const startedAt = new Date().toISOString();
  // Results are shared; secrets in the profile are not (harness/core/redact.ts).
  writeFileSync(join(outDir, 'plan.json'), JSON.stringify(redact({ runId, ...plan }), null, 2));
  writeFileSync(join(outDir, 'profile.yaml'), redactYaml(loaded.source));
  const environment = await collectEnvironment();
  writeFileSync(join(outDir, 'env.json'), JSON.stringify(environment, null, 2));

  const workspace = new Workspace(runId);
  workspace.create(outDir);
  const registry = new CleanupRegistry(workspace.journal);
  const clock = new RunClock();
  const events = new JsonlWriter(join(outDir, 'events.jsonl'));
  const samples = new JsonlWriter(join(outDir, 'samples.jsonl'));
  const event = (target: string | null, type: string, data: object = {}) =>
    // The envelope goes last so no event's data can overwrite it.
    events.write({ ...data, tMs: +clock.now().toFixed(3), wall: clock.wall(), target, type });

  const targets: TargetSummary[] = [];
  let malformedLines = 0;
  const summaryOf = (status: Summary['status']): Summary => ({
    schemaVersion: SUMMARY_SCHEMA_VERSION,
    runId,
    profile: plan.profile,
    baseline: plan.baseline,
    startedAt,
    finishedAt: new Date().toISOString(),
    status,
    environment,
    targets,
    malformedLines,
  });

  event(null, 'run-start', { runId, profile: plan.profile, targets: plan.targets.map((t) => t.name) });
  opts.progress.log(`statebench run ${runId}: ${plan.targets.length} target(s), results in ${outDir}`);
  let interrupted = false;
  try {
    for (const target of plan.targets) {
      if (opts.signal.aborted) break;
      const { summary, malformed } = await runTarget(target, { registry, clock, workspace, outDir, event, samples, opts });
      targets.push(summary);
      malformedLines += malformed;
      if (summary.status === 'interrupted') interrupted = true;
      // Each target's summary is on disk before the next target starts; should the run be killed,
      // the summary on disk says so.
      await writeReports(outDir, summaryOf('interrupted'));
    }
  } finally {
    const errors = await registry.releaseAll((r) => opts.progress.status('teardown', r.kind, r.what));
    for (const e of errors) event(null, 'cleanup-error', { message: e.message });
    interrupted ||= opts.signal.aborted;
    event(null, 'run-end', { interrupted });
    await Promise.all([events.close(), samples.close()]);
    if (!errors.length) rmSync(workspace.dir, { recursive: true, force: true });
    opts.progress.done();
  }

  const status: Summary['status'] = interrupted ? 'interrupted' : targets.some((t) => t.status === 'failed') ? 'failed' : 'completed';
  const summary = summaryOf(status);
  await writeReports(outDir, summary);
  const checksFailed = targets.some((t) => t.checks.some((c) => !c.passed));
  const exitCode = interrupted ? EXIT.interrupted : status === 'failed' ? EXIT.runFailed : checksFailed ? EXIT.checksFailed : EXIT.ok;
  return { runId, outDir, summary, exitCode };
}

interface RunContext {
  registry: CleanupRegistry;
  clock: Clock;
  workspace: Workspace;
  outDir: string;
  event: (target: string | null, type: string, data?: object) => void;
  samples: JsonlWriter;
  opts: RunOptions;
}

async function runTarget(target: PlannedTarget, ctx: RunContext): Promise<{ summary: TargetSummary; malformed: number }> {
  const artifactsDir = join(ctx.outDir, 'targets', target.slug);
  mkdirSync(artifactsDir, { recursive: true });
  const stateDir = ctx.workspace.path(target.slug);
  mkdirSync(stateDir, { recursive: true, mode: 0o755 });
  const exits: object[] = [];
  const rt: TargetRuntime = {
    registry: ctx.registry,
    clock: ctx.clock,
    stateDir,
    artifactsDir,
    event: (type, data) => {
      if (type === 'node-exited') exits.push(data ?? {});
      ctx.event(target.name, type, data);
    },
    status: (phase, detail) => ctx.opts.progress.status(target.name, phase, detail),
    signal: ctx.opts.signal,
  };
  const session = new TargetSession(target, rt, {
    platform: await platformFor(target.platform),
    workloads: target.workloads.map((w) => workloadFor(w, artifactsDir)),
    sample: (record) => ctx.samples.write({ target: target.name, ...record }),
  });
  rt.event('target-start', { platform: target.platform, storage: target.storage });
  try {
    await session.run();
    const crash = crashEvidence(target, exits, artifactsDir);
    if (crash) throw new StatebenchError(crash, EXIT.runFailed);
    rt.event('target-end', { status: 'completed' });
    return { summary: session.summary('completed'), malformed: session.malformedLines };
  } catch (e) {
    const aborted = ctx.opts.signal.aborted;
    const message = aborted ? new InterruptedError('signal').message : (e as Error).message;
    rt.event('target-end', { status: aborted ? 'interrupted' : 'failed', error: message });
    if (!aborted) ctx.opts.progress.log(`target ${target.name} failed: ${message}${e instanceof StatebenchError && e.hint ? `\n  ${e.hint}` : ''}`);
    return { summary: session.summary(aborted ? 'interrupted' : 'failed', aborted ? undefined : message), malformed: session.malformedLines };
  } finally {
    // Per-target teardown: the next target starts on a clean machine.
    await session.teardown();
    const errors = await ctx.registry.releaseAll((r) => rt.status('teardown', `${r.kind} ${r.what}`));
    for (const err of errors) rt.event('cleanup-error', { message: err.message });
  }
}

/**
 * Why a run whose database crashed must not report `completed`: figures measured against a server
 * that died, or PANICked and restarted, are not figures of that server. Without faults nothing should
 * make it exit or PANIC; with faults both can be the measured effect (a storage-error PANIC is what
 * PostgreSQL does on an I/O error), and the recovery timeline judges them instead.
 */
export function crashEvidence(target: PlannedTarget, exits: object[], artifactsDir: string): string | undefined {
  if (target.faults.length) return undefined;
  const reasons: string[] = [];
  for (const e of exits as { node?: string; code?: number | null; signal?: string | null }[]) {
    reasons.push(`${e.node ?? 'a node'} exited on its own (code ${e.code ?? '-'}, signal ${e.signal ?? '-'})`);
  }
  for (const file of serverLogs(artifactsDir)) {
    const panic = readFileSync(file, 'utf8').split('\n').find((l) => /\bPANIC:/.test(l));
    if (panic) reasons.push(`${file} logged ${panic.slice(panic.indexOf('PANIC:'), panic.indexOf('PANIC:') + 200)}`);
  }
  return reasons.length ? `the database crashed during the run, so its figures are not reported as completed: ${reasons.join('; ')}` : undefined;
}

function serverLogs(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, depth: number) => {
    let entries: Dirent[];
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isDirectory() && depth < 2) walk(join(d, e.name), depth + 1);
      else if (e.isFile() && e.name.endsWith('.log')) out.push(join(d, e.name));
    }
  };
  walk(dir, 0);
  return out;
}
