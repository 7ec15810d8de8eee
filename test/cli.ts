// Runs the statebench CLI as a child process, as a user would, with its own STATEBENCH_HOME.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = new URL('..', import.meta.url).pathname;
export const BIN = join(ROOT, 'bin', 'statebench.js');

export function tempDir(prefix = 'statebench-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** CLI runs of the current test, so a test that fails or times out leaves nothing running. */
const spawned: { child: ChildProcess; home?: string }[] = [];

export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; result: Promise<CliResult> } {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  spawned.push({ child, home: env.STATEBENCH_HOME });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const result = new Promise<CliResult>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, result };
}

export function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return startCli(args, env).result;
}

/** Polls until `fn` returns a truthy value; bounded in time. */
export async function until<T>(fn: () => T | undefined | false, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Pids of processes whose command line mentions `dir`. */
export function processesMentioning(dir: string): number[] {
  const pids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8');
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      if (stat.charAt(stat.lastIndexOf(')') + 2) === 'Z') continue;
      if (cmd.includes(dir)) pids.push(Number(e));
    } catch {
      /* exited meanwhile */
    }
  }
  return pids;
}

export function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

/**
 * Kills CLI runs still going after a test (it failed or timed out before they ended) and runs
 * `statebench clean` for their homes, so one failure does not leak servers, mounts or loop devices
 * into the rest of the suite. Runs after every test (test/setup.ts).
 */
export async function reapCli(): Promise<void> {
  const runs = spawned.splice(0);
  for (const { child } of runs) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const home of new Set(runs.map((r) => r.home).filter((h): h is string => !!h))) {
    if (!existsSync(join(home, 'runs')) || readdirSync(join(home, 'runs')).length === 0) continue;
    await new Promise<void>((resolve) => {
      const c = spawn(process.execPath, [BIN, 'clean', '--force'], { cwd: ROOT, env: { ...process.env, STATEBENCH_HOME: home }, stdio: 'ignore' });
      c.once('exit', () => resolve());
    });
  }
}
