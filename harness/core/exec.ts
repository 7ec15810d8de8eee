// Child processes always get argument arrays: profile values never pass through a shell.
import { execFile, spawn, type SpawnOptions } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { StatebenchError, EXIT, WaitTimeoutError } from '../errors.ts';
import { met, notYet, waitFor } from './wait.ts';
import type { CleanupRegistry, Registration } from './cleanup.ts';
import { childrenOf, freeze, powerCut, thaw } from './process-tree.ts';

export interface CommandResult {
  stdout: string;
  stderr: string;
}

export interface RunAs {
  uid: number;
  gid: number;
  name: string;
}

export function run(
  cmd: string,
  args: string[],
  opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string; runAs?: RunAs; input?: string } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      {
        timeout: opts.timeoutMs ?? 120_000,
        env: opts.env ?? process.env,
        cwd: opts.cwd,
        maxBuffer: 64 * 1024 * 1024,
        uid: opts.runAs?.uid,
        gid: opts.runAs?.gid,
      },
      (err, stdout, stderr) => {
        if (err) {
          const e = err as NodeJS.ErrnoException & { killed?: boolean };
          if (e.code === 'ENOENT') {
            reject(new StatebenchError(`${cmd} not found`, EXIT.environment, 'Run `statebench doctor` to see how to install it.'));
            return;
          }
          const why = e.killed ? `timed out after ${opts.timeoutMs ?? 120_000}ms` : `failed (${e.code ?? e.message})`;
          reject(new StatebenchError(`${cmd} ${args.join(' ')} ${why}: ${String(stderr).trim().split('\n').slice(-5).join(' | ')}`));
          return;
        }
        resolve({ stdout: String(stdout), stderr: String(stderr) });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * A long-running child in its own process group, so a node's whole process tree (a postmaster and its
 * backends) can be signalled at once, and registered for cleanup.
 */
export class ManagedProcess {
  readonly pid: number;
  readonly exited: Promise<Exit>;
  private exitInfo?: Exit;
  private registration: Registration;

  private constructor(
    child: ReturnType<typeof spawn>,
    registry: CleanupRegistry,
    readonly what: string,
    private readonly stopSignal: NodeJS.Signals,
  ) {
    if (!child.pid) throw new StatebenchError(`could not start ${what}`);
    this.pid = child.pid;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
    });
    this.registration = registry.add({ kind: 'process', id: String(this.pid), what }, () => this.terminate());
    // The group leader's exit does not mean its children are gone (e.g. orphaned backends), so the
    // registration is only forgotten by terminate(), which kills the group.
  }

  static start(
    registry: CleanupRegistry,
    what: string,
    cmd: string,
    args: string[],
    opts: { cwd?: string; env?: NodeJS.ProcessEnv; logFile: string; runAs?: RunAs; stopSignal?: NodeJS.Signals },
  ): Promise<ManagedProcess> {
    return new Promise((resolve, reject) => {
      const fd = openSync(opts.logFile, 'a', 0o644);
      const spawnOpts: SpawnOptions = {
        cwd: opts.cwd,
        env: opts.env ?? process.env,
        detached: true,
        stdio: ['ignore', fd, fd],
        uid: opts.runAs?.uid,
        gid: opts.runAs?.gid,
      };
      const child = spawn(cmd, args, spawnOpts);
      closeSync(fd);
      child.once('error', (e: NodeJS.ErrnoException) => {
        reject(
          e.code === 'ENOENT'
            ? new StatebenchError(`${cmd} not found (starting ${what})`, EXIT.environment, 'Run `statebench doctor` to see how to install it.')
            : new StatebenchError(`starting ${what}: ${e.message}`),
        );
      });
      child.once('spawn', () => {
        resolve(new ManagedProcess(child, registry, what, opts.stopSignal ?? 'SIGTERM'));
      });
    });
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  get exitStatus(): Exit | undefined {
    return this.exitInfo;
  }

  /**
   * Signals the process group. SIGSTOP, SIGCONT and SIGKILL also reach every child directly, even one
   * that left the group (PostgreSQL's children call setsid()); other signals are the parent's to pass
   * on — PostgreSQL's backends read SIGINT as "cancel", not "shut down".
   */
  signal(sig: NodeJS.Signals): void {
    if (sig === 'SIGSTOP') freeze(this.pid);
    else if (sig === 'SIGCONT') thaw(this.pid);
    else if (sig === 'SIGKILL') for (const k of childrenOf(this.pid)) trySignal(k, sig);
    trySignal(-this.pid, sig);
  }

  /** Asks politely with `sig`, then SIGKILLs the group after `graceMs`; always resumes a stopped group first. */
  async stop(sig: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<Exit> {
    this.signal('SIGCONT');
    this.signal(sig);
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs).unref());
    if ((await Promise.race([this.exited, timer])) === 'timeout') this.signal('SIGKILL');
    const exit = await this.exited;
    await waitGroupGone(this.pid, 5_000);
    this.registration.forget();
    return exit;
  }

  /** SIGKILL of every process of the tree, as a power cut does to a node; waits until all are gone. */
  async kill(): Promise<Exit> {
    if (this.running) await powerCut(this.pid);
    this.signal('SIGKILL');
    const exit = await this.exited;
    await waitGroupGone(this.pid, 5_000);
    this.registration.forget();
    return exit;
  }

  private async terminate(): Promise<void> {
    if (this.running) await this.stop(this.stopSignal, 10_000);
    else {
      this.signal('SIGKILL');
      await waitGroupGone(this.pid, 5_000);
    }
  }
}

function trySignal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

/** True while any process is still in process group `pgid`. */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Waits for the group to exit; past `timeoutMs` it is SIGKILLed, and given 2 s more. */
export async function waitGroupGone(pgid: number, timeoutMs: number): Promise<void> {
  const gone = () => (groupAlive(pgid) ? notYet('a process of the group is alive') : met(undefined));
  try {
    await waitFor(`process group ${pgid} to exit`, gone, { timeoutMs, intervalMs: 20 });
    return;
  } catch (e) {
    if (!(e instanceof WaitTimeoutError)) throw e;
  }
  const killed = () => {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      /* gone meanwhile */
    }
    return gone();
  };
  await waitFor(`process group ${pgid} to exit after SIGKILL`, killed, { timeoutMs: 2_000, intervalMs: 20 });
}
