// Runs a plan: for each target and repetition, in an interleaved or randomized-block order,
// provision → I/O probe → deploy → load → measured run (workload, safety writer, fault schedule) →
// verify → teardown — every repetition a fresh deploy. The host is sampled throughout. Results
// stream to the run directory as they are produced; the summary (with the ratios between targets
// and their intervals) is rewritten after each repetition so an interrupted run still has one.
import { mkdirSync, writeFileSync, rmSync, readFileSync, readdirSync, type Dirent } from 'node:fs';
import { redact, redactYaml, registerSecretsIn } from '../core/redact.ts';
import { join, resolve } from 'node:path';
import type { LoadedProfile } from '../model/load.ts';
import { repetitionSlug, type PlannedTarget } from '../model/plan.ts';
import { CleanupRegistry } from '../core/cleanup.ts';
import { RunClock, type Clock } from '../core/clock.ts';
import { JsonlWriter } from '../core/jsonl.ts';
import { ensureHome, Workspace, newRunId } from '../core/workspace.ts';
import { collectEnvironment } from '../core/environment.ts';
import type { Progress } from './progress.ts';
import { platformFor } from './platforms.ts';
import type { TargetRuntime } from '../platforms/types.ts';
import { workloadFor } from '../workload/index.ts';
import type { ResourceGrant, TargetSummary, Summary } from '../model/summary.ts';
import { SUMMARY_SCHEMA_VERSION } from '../model/summary.ts';
import { writeReports } from '../report/write.ts';
import { TargetSession } from './target-session.ts';
import { runOrder, drawSeed } from './order.ts';
import { comparisonsOf, comparisonWarnings } from '../report/ratios.ts';
import { HostNoiseSampler } from '../measure/host-noise.ts';
import { affinityOf, checkCpuSet, formatCpuList, onlineCpus, setAffinity } from '../core/resources.ts';
import { hasTool } from '../core/tools.ts';
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
  const repetitions = plan.repetitions ?? 1;
  const scheme = plan.order ?? 'interleaved';
  const seed = scheme === 'randomized-blocks' ? (plan.seed ?? drawSeed()) : null;
  const slots = runOrder(plan.targets.length, repetitions, scheme, seed ?? 0);
  const order = { scheme, seed, sequence: slots.map((x) => `${plan.targets[x.target].name}#${x.repetition}`) };
  // Results are shared; secrets in the profile are not (harness/core/redact.ts).
  writeFileSync(join(outDir, 'plan.json'), JSON.stringify(redact({ runId, ...plan, order }), null, 2));
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
  const summaryOf = (status: Summary['status']): Summary => {
    const base = { targets, baseline: plan.baseline, order };
    return {
      schemaVersion: SUMMARY_SCHEMA_VERSION,
      runId,
      profile: plan.profile,
      baseline: plan.baseline,
      startedAt,
      finishedAt: new Date().toISOString(),
      status,
      environment,
      targets,
      repetitions,
      order,
      comparisons: comparisonsOf(base),
      warnings: comparisonWarnings(base),
      malformedLines,
    };
  };

  event(null, 'run-start', { runId, profile: plan.profile, targets: plan.targets.map((t) => t.name), repetitions, order });
  opts.progress.log(`statebench run ${runId}: ${plan.targets.length} target(s) × ${repetitions} repetition(s)${repetitions > 1 ? ` (${scheme}${seed === null ? '' : `, seed ${seed}`})` : ''}, results in ${outDir}`);
  let interrupted = false;
  try {
    for (const slot of slots) {
      if (opts.signal.aborted) break;
      const target = plan.targets[slot.target];
      const { summary, malformed } = await runTarget(target, slot.repetition, repetitions, { registry, clock, workspace, outDir, event, samples, opts });
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

async function runTarget(target: PlannedTarget, repetition: number, repetitions: number, ctx: RunContext): Promise<{ summary: TargetSummary; malformed: number }> {
  const slug = repetitionSlug(target.slug, repetition);
  const artifactsDir = join(ctx.outDir, 'targets', slug);
  mkdirSync(artifactsDir, { recursive: true });
  const stateDir = ctx.workspace.path(slug);
  mkdirSync(stateDir, { recursive: true, mode: 0o755 });
  const exits: object[] = [];
  // With repetitions every record says which one it belongs to; a single run's records stay as they were.
  const rep = repetitions > 1 ? { repetition } : {};
  const label = repetitions > 1 ? `${target.name} #${repetition}` : target.name;

  // Host noise: phases follow the session's status, except that a measured phase lasts from its
  // measure-start to its workload-end whatever else reports status meanwhile.
  let extraPids: number[] = [];
  let measuring: string | undefined;
  const sampler = new HostNoiseSampler({
    now: () => ctx.clock.now(),
    emit: (s) => ctx.samples.write({ target: target.name, ...rep, ...s }),
    runRoots: () => [process.pid, ...extraPids],
  });
  const rt: TargetRuntime = {
    registry: ctx.registry,
    clock: ctx.clock,
    stateDir,
    artifactsDir,
    event: (type, data) => {
      if (type === 'measure-start') sampler.phase((measuring = `measure:${String((data as { workload?: string } | undefined)?.workload ?? '')}`));
      if (type === 'workload-end' && measuring) {
        // The measured window is over: what follows (verification, the next status) is not part of it.
        measuring = undefined;
        sampler.phase('after-measure');
      }
      if (type === 'node-exited') exits.push(data ?? {});
      ctx.event(target.name, type, { ...rep, ...data });
    },
    status: (phase, detail) => {
      if (!measuring) sampler.phase(phase);
      ctx.opts.progress.status(label, phase, detail);
    },
    signal: ctx.opts.signal,
  };
  const loadGenerator = new LoadGeneratorPin(target.resources?.loadGenerator?.cpuset, target.name);
  const session = new TargetSession(target, rt, {
    platform: await platformFor(target.platform),
    workloads: target.workloads.map((w) => workloadFor(w, artifactsDir)),
    sample: (record) => ctx.samples.write({ target: target.name, ...rep, ...record }),
    beforeWorkloads: () => loadGenerator.pin(),
    afterWorkloads: () => loadGenerator.unpin(),
  });
  const pidTimer = setInterval(() => void session.hostPids().then((p) => (extraPids = p)), 5000);
  pidTimer.unref();
  sampler.start('start');
  rt.event('target-start', { platform: target.platform, storage: target.storage });
  const finish = async (summary: TargetSummary): Promise<TargetSummary> => {
    clearInterval(pidTimer);
    const hostNoise = sampler.stop();
    const database = session.databaseResources;
    const loadGen = loadGenerator.grant ?? (await loadGenerator.describeUnpinned());
    return { ...summary, ...(repetitions > 1 ? { repetition } : {}), resources: database ? { database, loadGenerator: loadGen } : undefined, hostNoise };
  };
  try {
    await session.run();
    const crash = crashEvidence(target, exits, artifactsDir);
    if (crash) throw new StatebenchError(crash, EXIT.runFailed);
    rt.event('target-end', { status: 'completed' });
    return { summary: await finish(session.summary('completed')), malformed: session.malformedLines };
  } catch (e) {
    const aborted = ctx.opts.signal.aborted;
    const message = aborted ? new InterruptedError('signal').message : (e as Error).message;
    rt.event('target-end', { status: aborted ? 'interrupted' : 'failed', error: message });
    if (!aborted) ctx.opts.progress.log(`target ${label} failed: ${message}${e instanceof StatebenchError && e.hint ? `\n  ${e.hint}` : ''}`);
    return { summary: await finish(session.summary(aborted ? 'interrupted' : 'failed', aborted ? undefined : message)), malformed: session.malformedLines };
  } finally {
    clearInterval(pidTimer);
    await loadGenerator.unpin();
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

/**
 * The load generator is this process (workload clients, the safety writer, the fault schedule): it is
 * pinned with sched_setaffinity for the workloads and restored afterwards. Children started while it
 * is pinned inherit the set, which is why a bare-metal database always starts under its own taskset.
 */
class LoadGeneratorPin {
  grant?: ResourceGrant;
  private original?: string;

  constructor(
    private readonly cpuset: string | undefined,
    private readonly target: string,
  ) {}

  async pin(): Promise<void> {
    if (!this.cpuset) return;
    checkCpuSet(this.cpuset, `${this.target} loadGenerator.cpuset`);
    this.original = await affinityOf(process.pid);
    await setAffinity(process.pid, this.cpuset);
    this.grant = { cpuset: await affinityOf(process.pid), cpus: null, memoryBytes: null, mechanism: 'taskset', notes: ['memory is not limited: the load generator is the harness process'] };
  }

  async unpin(): Promise<void> {
    if (this.original === undefined) return;
    const original = this.original;
    this.original = undefined;
    await setAffinity(process.pid, original);
  }

  async describeUnpinned(): Promise<ResourceGrant> {
    const cpuset = hasTool('taskset') ? await affinityOf(process.pid).catch(() => formatCpuList(onlineCpus())) : formatCpuList(onlineCpus());
    return { cpuset, cpus: null, memoryBytes: null, mechanism: 'none' };
  }
}
