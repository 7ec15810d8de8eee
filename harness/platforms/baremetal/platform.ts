// Bare-metal platform: each node is a PostgreSQL postmaster started directly on this host, in its own
// process group under the run's workspace, listening on a loopback port.
import { mkdirSync, writeFileSync, appendFileSync, chownSync, readdirSync, statSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, ManagedProcess, type RunAs } from '../../core/exec.ts';
import type { CleanupRegistry } from '../../core/cleanup.ts';
import { databaseUser } from '../../core/users.ts';
import { BASE_SETTINGS, renderConf, type Settings } from '../../engine/postgres-config.ts';
import { awaitWritable } from '../../engine/pg.ts';
import { SinglePostgres } from '../../engine/single-postgres.ts';
import type { ConnInfo, NodeControl } from '../../engine/types.ts';
import { StatebenchError } from '../../errors.ts';
import type { Platform, ProvisionedTarget, TargetRuntime } from '../types.ts';
import type { PlannedTarget } from '../../model/plan.ts';
import { storageFor } from '../../storage/index.ts';
import { probeIo } from '../../io/probe.ts';
import { affinityOf, checkCpuSet, formatCpuList, MemoryCgroup, onlineCpus, pinnedCommand } from '../../core/resources.ts';
import { hasTool } from '../../core/tools.ts';
import type { ResourceGrant } from '../../model/summary.ts';

export { resolveBinDir } from '../../engine/binaries.ts';
export { freePort } from '../../core/net.ts';
import { resolveBinDir } from '../../engine/binaries.ts';
import { freePort } from '../../core/net.ts';

function logTail(file: string, lines = 8): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function chownTree(path: string, who: RunAs): void {
  chownSync(path, who.uid, who.gid);
  if (statSync(path).isDirectory()) for (const e of readdirSync(path)) chownTree(join(path, e), who);
}

export interface PostgresNodeOptions {
  name: string;
  binDir: string;
  /** The node's volume: data directory and socket live below it. */
  volume: string;
  /** Sockets; not on the volume under test. */
  stateDir: string;
  /** Server logs; kept with the results. Defaults to stateDir. */
  logDir?: string;
  settings: Settings;
  startTimeoutMs: number;
  registry: CleanupRegistry;
  onEvent?: (type: string, data: object) => void;
  /** CPUs the server may run on (taskset), and its memory limit (a cgroup holding the whole tree). */
  cpuset?: string;
  memoryBytes?: number;
}

let cgroupSeq = 0;

/** One PostgreSQL server process tree, with the verbs faults need. */
export class PostgresProcess implements NodeControl {
  readonly dataDir: string;
  readonly logFile: string;
  private proc?: ManagedProcess;
  private runAs?: RunAs;
  private cgroup?: MemoryCgroup;
  /** Set while we stop or kill the server ourselves, so its exit is not reported as a crash. */
  private stopping = false;
  conn!: ConnInfo;

  constructor(private readonly o: PostgresNodeOptions) {
    this.dataDir = join(o.volume, 'pgdata');
    this.logFile = join(o.logDir ?? o.stateDir, `${o.name}.log`);
  }

  get running(): boolean {
    return !!this.proc?.running;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  async init(): Promise<void> {
    this.runAs = await databaseUser();
    if (this.o.cpuset) checkCpuSet(this.o.cpuset, `${this.o.name} cpuset`);
    if (this.o.memoryBytes) this.cgroup = MemoryCgroup.create(this.o.registry, `${process.pid}-${this.o.name}-${++cgroupSeq}`, this.o.memoryBytes, this.runAs);
    mkdirSync(this.o.stateDir, { recursive: true });
    mkdirSync(this.o.volume, { recursive: true });
    if (this.runAs) {
      chownTree(this.o.volume, this.runAs);
      writeFileSync(this.logFile, '');
      chownSync(this.logFile, this.runAs.uid, this.runAs.gid);
    }
    const port = await freePort();
    this.conn = { host: '127.0.0.1', port, user: 'postgres', database: 'postgres' };
    await run(
      join(this.o.binDir, 'initdb'),
      ['-D', this.dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'],
      { runAs: this.runAs, timeoutMs: 120_000, env: { ...process.env, LC_ALL: 'C' } },
    );
    appendFileSync(
      join(this.dataDir, 'postgresql.conf'),
      renderConf({
        ...BASE_SETTINGS,
        ...this.o.settings,
        port,
        listen_addresses: '127.0.0.1',
        // TCP on loopback only: a Unix socket path under a deep workspace can exceed 107 bytes.
        unix_socket_directories: '',
      }),
    );
  }

  async start(): Promise<void> {
    if (this.running) return;
    // Another process may take our port between freePort() and the bind; pick a new one then.
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.startOnce();
      if (outcome === 'started') return;
      const tail = logTail(this.logFile);
      if (attempt < 3 && /could not bind|Address already in use|could not create any TCP\/IP sockets/.test(tail)) {
        this.conn.port = await freePort();
        continue;
      }
      throw new StatebenchError(`postgres ${this.o.name} exited during start (${outcome}); last lines of ${this.logFile}:\n${tail}`);
    }
  }

  private async startOnce(): Promise<'started' | string> {
    // Pinned and limited from the first instruction: taskset and the cgroup's shell exec in place,
    // so the pid is the postmaster's and every backend inherits both.
    // Without a cpuset of its own the server still gets every online CPU explicitly: it must not
    // inherit a CPU set the harness (the load generator) holds when it starts or restarts it.
    const cpuset = this.o.cpuset ?? (hasTool('taskset') ? formatCpuList(onlineCpus()) : undefined);
    const pinned = pinnedCommand(cpuset, join(this.o.binDir, 'postgres'), ['-D', this.dataDir, '-p', String(this.conn.port)]);
    const command = this.cgroup ? this.cgroup.wrap(pinned.cmd, pinned.args) : pinned;
    const proc = await ManagedProcess.start(
      this.o.registry,
      `postgres ${this.o.name}`,
      command.cmd,
      command.args,
      {
        logFile: this.logFile,
        runAs: this.runAs,
        env: { ...process.env, LC_ALL: 'C' },
        // Fast shutdown: smart shutdown (SIGTERM) would wait for every client to leave.
        stopSignal: 'SIGINT',
      },
    );
    this.proc = proc;
    const died = proc.exited.then((e) => `code ${e.code}, signal ${e.signal}`);
    const ready = awaitWritable(this.conn, this.o.startTimeoutMs).then(() => 'started' as const);
    const outcome = await Promise.race([ready, died]);
    if (outcome === 'started') {
      this.o.onEvent?.('node-started', { node: this.o.name, pid: proc.pid });
      // A server that dies on its own (a PANIC on an I/O error, the OOM killer) is part of what a run
      // measures: record it with the log lines that say why.
      void proc.exited.then((e) => {
        if (this.proc === proc && !this.stopping) {
          this.o.onEvent?.('node-exited', { node: this.o.name, code: e.code, signal: e.signal, log: logTail(this.logFile, 5) });
        }
      });
    } else ready.catch(() => {});
    return outcome;
  }

  /** What the running server really has, read back from the kernel. */
  async resources(): Promise<ResourceGrant> {
    const notes: string[] = [];
    const cpuset = this.proc?.running ? await affinityOf(this.proc.pid) : (this.o.cpuset ?? null);
    const memoryBytes = this.cgroup?.limitBytes() ?? null;
    if (this.cgroup && this.proc?.running && !this.cgroup.pids().includes(this.proc.pid)) notes.push(`postmaster ${this.proc.pid} is not in ${this.cgroup.dir}`);
    return { cpuset, cpus: null, memoryBytes, mechanism: [this.o.cpuset ? 'taskset' : '', this.cgroup ? `cgroup v${this.cgroup.version}` : ''].filter(Boolean).join(' + ') || 'none', ...(notes.length ? { notes } : {}) };
  }

  async kill(): Promise<void> {
    if (!this.proc) return;
    this.stopping = true;
    try {
      await this.proc.kill();
    } finally {
      this.stopping = false;
    }
  }

  async pause(): Promise<void> {
    this.proc?.signal('SIGSTOP');
  }

  async resume(): Promise<void> {
    this.proc?.signal('SIGCONT');
  }

  async stop(): Promise<void> {
    // SIGINT is PostgreSQL's "fast" shutdown: roll back sessions, checkpoint, exit.
    if (!this.proc?.running) return;
    this.stopping = true;
    try {
      await this.proc.stop('SIGINT', 30_000);
    } finally {
      this.stopping = false;
    }
  }
}

export class BareMetalPostgres extends SinglePostgres<PostgresProcess> {
  get process(): PostgresProcess {
    return this.node;
  }
}

export async function deployBareMetalPostgres(o: Omit<PostgresNodeOptions, 'name'>): Promise<BareMetalPostgres> {
  const node = new PostgresProcess({ ...o, name: 'node-0' });
  await node.init();
  await node.start();
  return new BareMetalPostgres(node);
}

/** The bare-metal platform: host processes on the target's volumes. */
export class BareMetalPlatform implements Platform {
  readonly name = 'baremetal';

  async provision(target: PlannedTarget, rt: TargetRuntime): Promise<ProvisionedTarget> {
    if (target.engine.kind === 'patroni') return (await import('./patroni.ts')).provisionBareMetalPatroni(target, rt);
    // nbdkit's error filter fixes its rate at server start, so the storage-error rate is known here.
    const storage = storageFor(target.storage, { errorRate: target.storageErrorRate });
    const volume = await storage.prepare('node-0', { registry: rt.registry, stateDir: rt.stateDir, onEvent: rt.event });
    const binDir = await resolveBinDir(target.engine.binDir);
    const limits = target.resources ?? {};
    let engine: BareMetalPostgres | undefined;
    return {
      volumes: [volume],
      probeIo: () => probeIo(target.io, volume.path, join(rt.artifactsDir, 'fio.json')),
      deployEngine: async () =>
        (engine = await deployBareMetalPostgres({
          cpuset: limits.cpuset,
          memoryBytes: limits.memory,
          binDir,
          volume: volume.path,
          stateDir: join(rt.stateDir, 'nodes'),
          logDir: rt.artifactsDir,
          settings: target.engine.settings,
          startTimeoutMs: target.engine.startTimeout,
          registry: rt.registry,
          onEvent: rt.event,
        })),
      describe: async () => ({ binDir, volume: volume.describe }),
      resources: async () => {
        const grant = engine ? await engine.process.resources() : { cpuset: limits.cpuset ?? null, cpus: null, memoryBytes: limits.memory ?? null, mechanism: 'none', notes: ['the engine did not start'] };
        // A CPU quota needs the cpu controller; bare metal pins instead (cpuset), which a fair comparison prefers anyway.
        if (limits.cpus !== undefined) grant.notes = [...(grant.notes ?? []), `cpus: ${limits.cpus} is not applied on bare metal; use cpuset`];
        return grant;
      },
    };
  }
}
