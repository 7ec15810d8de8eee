// One Patroni member on this host: the Patroni agent, and the PostgreSQL server it manages.
//
// Patroni starts PostgreSQL the way pg_ctl does: through an intermediate process that calls setsid()
// and exits, so the postmaster runs in its own session, is re-parented to init, and is NOT in the
// agent's process group. That is what makes the two faults distinguishable here:
//   - agent kill: SIGKILL of the agent's process group; PostgreSQL keeps running and keeps serving,
//     the analogue of a kubelet that dies while its containers run on;
//   - node crash: the agent's group and the whole PostgreSQL process tree die at once (powerCut,
//     which also reaches the backends, each of which is its own process group).
import { chownSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManagedProcess, type RunAs } from '../../core/exec.ts';
import { affinityOf, MemoryCgroup, pinnedCommand } from '../../core/resources.ts';
import type { ResourceGrant } from '../../model/summary.ts';
import type { CleanupRegistry } from '../../core/cleanup.ts';
import type { ConnInfo, NodeControl } from '../types.ts';
import type { Settings } from '../postgres-config.ts';
import { freePort } from '../../core/net.ts';
import { freeze, powerCut, thaw } from '../../core/process-tree.ts';
import { StatebenchError, WaitTimeoutError } from '../../errors.ts';
import { met, notYet, waitFor } from '../../core/wait.ts';
import { memberConfig, renderPatroniConfig, SUPERUSER } from './config.ts';
import { healthCode, restRequest } from './rest.ts';
import type { PatroniOptions } from '../../model/patroni.ts';

export interface PatroniMemberOptions {
  name: string;
  scope: string;
  binDir: string;
  /** The member's volume; PostgreSQL's data directory is `<volume>/pgdata`. */
  volume: string;
  /** Config, logs, socket, pgpass; not on the volume under test. */
  dir: string;
  etcdClientPort: number;
  settings: Settings;
  options: PatroniOptions;
  /** Bound on starting the agent and on PostgreSQL coming up behind it. */
  startTimeoutMs: number;
  registry: CleanupRegistry;
  runAs?: RunAs;
  onEvent?: (type: string, data: object) => void;
  /**
   * CPUs (taskset list) and memory limit of the whole member: the agent starts pinned and inside
   * its own memory cgroup, and PostgreSQL, which it forks, inherits both even after it is
   * re-parented to init. So the limit covers the agent's Python as well as the server.
   */
  cpuset?: string;
  memoryBytes?: number;
}

function chownTree(path: string, who: RunAs): void {
  chownSync(path, who.uid, who.gid);
  if (statSync(path).isDirectory()) for (const e of readdirSync(path)) chownTree(join(path, e), who);
}

function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2);
  } catch {
    return undefined;
  }
}

function pidAlive(pid: number): boolean {
  const s = procState(pid);
  return s !== undefined && s !== 'Z';
}

let cgroupSeq = 0;

export class PatroniMember implements NodeControl {
  readonly name: string;
  readonly dataDir: string;
  readonly configFile: string;
  readonly logFile: string;
  apiPort = 0;
  conn!: ConnInfo;
  private agent?: ManagedProcess;
  private readonly socketDir: string;
  private cgroup?: MemoryCgroup;

  constructor(private readonly o: PatroniMemberOptions) {
    this.name = o.name;
    this.dataDir = join(o.volume, 'pgdata');
    this.configFile = join(o.dir, 'patroni.yml');
    this.logFile = join(o.dir, 'patroni.log');
    this.socketDir = join(o.dir, 'sock');
  }

  /** Directories, ports and the configuration file; starts nothing. */
  async init(): Promise<void> {
    mkdirSync(this.o.dir, { recursive: true });
    mkdirSync(this.o.volume, { recursive: true });
    mkdirSync(this.socketDir, { recursive: true });
    this.apiPort = await freePort();
    const pgPort = await freePort();
    this.conn = { host: '127.0.0.1', port: pgPort, user: SUPERUSER, database: 'postgres' };
    const config = memberConfig({
      scope: this.o.scope,
      name: this.name,
      apiPort: this.apiPort,
      pgPort,
      etcdClientPort: this.o.etcdClientPort,
      dataDir: this.dataDir,
      binDir: this.o.binDir,
      pgpass: join(this.o.dir, 'pgpass'),
      socketDir: this.socketDir,
      settings: this.o.settings,
      options: this.o.options,
    });
    writeFileSync(this.configFile, renderPatroniConfig(config), { mode: 0o600 });
    writeFileSync(this.logFile, '');
    if (this.o.memoryBytes) this.cgroup = MemoryCgroup.create(this.o.registry, `${process.pid}-patroni-${this.o.scope}-${this.name}-${++cgroupSeq}`, this.o.memoryBytes, this.o.runAs);
    if (this.o.runAs) {
      chownTree(this.o.dir, this.o.runAs);
      chownTree(this.o.volume, this.o.runAs);
    }
    // The postmaster is nobody's child here (see the header), so the agent's registration cannot
    // reach it. This one is created before any agent registration, so on release it runs after the
    // agent was asked to stop: it only catches a PostgreSQL the agent left behind.
    this.o.registry.add({ kind: 'process', id: this.dataDir, what: `postgres of Patroni member ${this.name}` }, () => this.killOrphanedPostgres());
  }

  get running(): boolean {
    return this.agentRunning;
  }

  get agentRunning(): boolean {
    return !!this.agent?.running;
  }

  get agentPid(): number | undefined {
    return this.agent?.running ? this.agent.pid : undefined;
  }

  /** The running postmaster's pid, from its pid file, if that process is alive and serves this data directory. */
  postmasterPid(): number | undefined {
    const file = join(this.dataDir, 'postmaster.pid');
    if (!existsSync(file)) return undefined;
    let pid: number;
    try {
      pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
    } catch {
      return undefined;
    }
    if (!Number.isInteger(pid) || pid <= 0 || !pidAlive(pid)) return undefined;
    try {
      // pids are reused: only a postgres started on this data directory counts.
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(this.dataDir)) return undefined;
    } catch {
      return undefined;
    }
    return pid;
  }

  /**
   * What this member's processes really have, read back from the kernel: the CPU affinity of the
   * postmaster (else the agent) and the memory cgroup's limit, with a note when the postmaster is
   * outside the cgroup.
   */
  async resources(): Promise<ResourceGrant> {
    const notes: string[] = [];
    const postmaster = this.postmasterPid();
    const pid = postmaster ?? this.agentPid;
    const cpuset = pid !== undefined ? await affinityOf(pid) : (this.o.cpuset ?? null);
    const memoryBytes = this.cgroup?.limitBytes() ?? null;
    if (this.cgroup && postmaster !== undefined && !this.cgroup.pids().includes(postmaster)) notes.push(`postmaster ${postmaster} of ${this.name} is not in ${this.cgroup.dir}`);
    if (postmaster === undefined) notes.push(`${this.name}: PostgreSQL not running when read; ${pid === undefined ? 'nothing read back' : 'affinity of the agent'}`);
    const mechanism = [this.o.cpuset ? 'taskset' : '', this.cgroup ? `cgroup v${this.cgroup.version}` : ''].filter(Boolean).join(' + ') || 'none';
    return { cpuset, cpus: null, memoryBytes, mechanism, ...(notes.length ? { notes } : {}) };
  }

  /** Starts the Patroni agent; returns when its REST API answers. PostgreSQL may still be starting. */
  async startAgent(): Promise<void> {
    if (this.agent?.running) return;
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: this.o.dir,
      LANG: 'C.UTF-8',
      LC_ALL: 'C.UTF-8',
      PYTHONUNBUFFERED: '1',
    };
    // Pinned and limited from its first instruction (taskset and the cgroup's shell exec in place),
    // so every process of the member, PostgreSQL included, is born inside both.
    const pinned = pinnedCommand(this.o.cpuset, 'patroni', [this.configFile]);
    const command = this.cgroup ? this.cgroup.wrap(pinned.cmd, pinned.args) : pinned;
    const agent = await ManagedProcess.start(this.o.registry, `patroni ${this.name}`, command.cmd, command.args, {
      logFile: this.logFile,
      runAs: this.o.runAs,
      env,
      cwd: this.o.dir,
      // Patroni shuts PostgreSQL down on SIGTERM and then exits.
      stopSignal: 'SIGTERM',
    });
    this.agent = agent;
    await waitFor(
      `the REST API of patroni ${this.name} to answer`,
      async () => {
        if (!agent.running) throw new StatebenchError(`patroni ${this.name} exited while starting (${JSON.stringify(agent.exitStatus)}); see ${this.logFile}`);
        try {
          await restRequest(this.apiPort, 'GET', '/patroni', 1_000);
          return met(undefined);
        } catch (e) {
          return notYet((e as Error).message);
        }
      },
      { timeoutMs: this.o.startTimeoutMs, intervalMs: 50, hint: `see ${this.logFile}` },
    );
    this.o.onEvent?.('patroni-agent-started', { node: this.name, pid: agent.pid });
  }

  /**
   * SIGKILL of the agent only. PostgreSQL keeps running and, if it was the primary, keeps accepting
   * writes: nothing on this node will demote it until an agent runs here again.
   */
  async killAgent(): Promise<void> {
    if (!this.agent?.running) return;
    await this.agent.kill();
    this.o.onEvent?.('patroni-agent-killed', { node: this.name, postgresPid: this.postmasterPid() ?? null });
  }

  /** Power cut: the agent is frozen first so it cannot react, then PostgreSQL's whole tree and the agent die. */
  async kill(): Promise<void> {
    // Only a running agent is signalled: the pid of one that exited may belong to someone else now.
    const agent = this.agent?.running ? this.agent : undefined;
    agent?.signal('SIGSTOP');
    const pm = this.postmasterPid();
    if (pm) await powerCut(pm);
    if (agent) await agent.kill();
  }

  async pause(): Promise<void> {
    if (this.agent?.running) this.agent.signal('SIGSTOP');
    const pm = this.postmasterPid();
    if (pm) freeze(pm);
  }

  async resume(): Promise<void> {
    const pm = this.postmasterPid();
    if (pm) thaw(pm);
    if (this.agent?.running) this.agent.signal('SIGCONT');
  }

  /**
   * Starts the agent again if it is not running; returns when PostgreSQL behind it accepts connections
   * (Patroni's `/health`), as primary or replica. An agent that finds its PostgreSQL still running
   * adopts it, and demotes it if another member holds the leader key.
   */
  async start(): Promise<void> {
    await this.startAgent();
    await waitFor(
      `PostgreSQL of Patroni member ${this.name} to come up (/health 200)`,
      async () => {
        if (!this.agent?.running) throw new StatebenchError(`patroni ${this.name} exited (${JSON.stringify(this.agent?.exitStatus)}); see ${this.logFile}`);
        const code = await healthCode(this.apiPort, '/health', 1_000);
        return code === 200 ? met(undefined) : notYet(`/health answered ${code}`);
      },
      { timeoutMs: this.o.startTimeoutMs, intervalMs: 100, hint: `see ${this.logFile}` },
    );
  }

  /** Clean shutdown: Patroni stops PostgreSQL (fast) and releases the leader key if it holds it. */
  async stop(): Promise<void> {
    // A frozen PostgreSQL (node-hang) could not shut down when Patroni asks it to.
    const pm = this.postmasterPid();
    if (pm) thaw(pm);
    if (this.agent?.running) await this.agent.stop('SIGTERM', 60_000);
    await this.killOrphanedPostgres();
  }

  /** A PostgreSQL left without its agent (after killAgent, or an agent that died): fast shutdown, then SIGKILL. */
  private async killOrphanedPostgres(): Promise<void> {
    const pm = this.postmasterPid();
    if (!pm) return;
    thaw(pm);
    try {
      process.kill(pm, 'SIGINT');
    } catch {
      return;
    }
    try {
      await waitFor(`orphaned postmaster ${pm} to shut down`, () => (pidAlive(pm) ? notYet('running') : met(undefined)), { timeoutMs: 15_000, intervalMs: 50 });
    } catch (e) {
      if (!(e instanceof WaitTimeoutError)) throw e;
      await powerCut(pm);
    }
  }
}
