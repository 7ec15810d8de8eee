// Docker platform: each node is a container started through testcontainers from a locally built image
// (images/build.ts), on the same storage volume as bare metal (bind-mounted), with the same
// postgresql.conf. Ports are published on 127.0.0.1 only; every container and network carries the
// label statebench.run=<runId> and is registered for cleanup the moment it exists. Node faults map to
// docker verbs: kill → `docker kill` (SIGKILL), hang → `docker pause`, stop → `docker stop` with SIGINT
// (PostgreSQL's fast shutdown).
import { basename, dirname, join } from 'node:path';
import type Dockerode from 'dockerode';
import type { BoundPorts, ImagePullPolicy, WaitStrategy } from 'testcontainers';
import { BASE_SETTINGS, renderConf, type Settings } from '../../engine/postgres-config.ts';
import { awaitWritable } from '../../engine/pg.ts';
import type { ConnInfo, NodeControl } from '../../engine/types.ts';
import { SinglePostgres } from '../../engine/single-postgres.ts';
import { StatebenchError, EXIT } from '../../errors.ts';
import { probeIo } from '../../io/probe.ts';
import type { CleanupRegistry, Registration } from '../../core/cleanup.ts';
import type { PlannedTarget } from '../../model/plan.ts';
import type { TargetSpec } from '../../model/profile.ts';
import { storageFor } from '../../storage/index.ts';
import type { Volume } from '../../storage/types.ts';
import { freePort } from '../../core/net.ts';
import { checkCpuSet, formatCpuList, onlineCpus } from '../../core/resources.ts';
import type { ResourceGrant } from '../../model/summary.ts';
import type { Platform, ProvisionedTarget, TargetRuntime } from '../types.ts';
import { imageRef, RECIPE_LABEL } from '../../../images/build.ts';
import {
  DOCKER_HINT,
  NODE_LABEL,
  RUN_LABEL,
  TARGET_LABEL,
  dockerClient,
  loadTestcontainers,
  localImage,
  logTail,
  removeContainer,
  removeNetwork,
  testcontainersVersion,
} from './client.ts';

/** Where the node's volume is mounted in the container; PGDATA is `<mount>/pgdata`, as on bare metal. */
export const VOLUME_MOUNT = '/var/lib/statebench';
const PG_PORT = 5432;
/** /dev/shm for PostgreSQL's dynamic shared memory; Docker's default of 64 MiB is smaller than a host's. */
const SHM_BYTES = 1024 ** 3;
const STOP_GRACE_S = 30;

export interface DockerPlatformOptions {
  /** Defaults to the run directory's name (TargetRuntime.stateDir is `<runs>/<runId>/<target>`). */
  runId?: string;
}

/** Image a docker target runs: the profile's `image`, else the current recipe's statebench image. */
export function imageFor(target: Pick<TargetSpec, 'image'>, engine: string): string {
  if (target.image) return target.image;
  return imageRef(engine === 'patroni' ? 'patroni' : 'postgres');
}

function isStatebenchImage(ref: string): boolean {
  return ref.startsWith('statebench/');
}

function buildHint(ref: string): string {
  const which = ref.startsWith('statebench/patroni') ? 'patroni' : 'postgres';
  return isStatebenchImage(ref)
    ? `Build it locally with \`npx tsx images/build.ts ${which}\` (as root, needs debootstrap and a running Docker engine), or name an image that is present with targets[].image`
    : `Load it into the local engine (\`docker load\`/\`docker import\`), build the statebench image with \`npx tsx images/build.ts\`, or set targets[].pull: missing to let Docker pull it`;
}

/**
 * Checks the image against the pull policy before anything is created. Returns whether testcontainers
 * may pull: never with `pull: never`, nor for a present image with `pull: missing`; statebench/*
 * images are built locally and exist in no registry, so they are never pulled either.
 */
export async function resolveImage(ref: string, pull: TargetSpec['pull']): Promise<{ present: boolean; mayPull: boolean; id?: string; recipe?: string; sizeBytes?: number }> {
  const img = await localImage(ref);
  if (img) return { present: true, mayPull: pull === 'always' && !isStatebenchImage(ref), id: img.id, recipe: img.labels[RECIPE_LABEL], sizeBytes: img.sizeBytes };
  if (pull === 'never' || isStatebenchImage(ref)) {
    throw new StatebenchError(
      `image ${ref} is not present in the local Docker engine${pull === 'never' ? ' and the target says pull: never' : ' and statebench images are not published to any registry'}; nothing was started`,
      EXIT.environment,
      buildHint(ref),
    );
  }
  return { present: false, mayPull: true };
}

/** Runs the node until PostgreSQL accepts writes, failing early (with its log) if the container exits. */
async function awaitReady(container: Dockerode.Container, conn: ConnInfo, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  const stop = new AbortController();
  const both = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
  const exited = (async () => {
    while (!stop.signal.aborted) {
      const info = await container.inspect();
      if (!info.State.Running) {
        throw new StatebenchError(
          `container ${container.id.slice(0, 12)} exited during start (code ${info.State.ExitCode}${info.State.OOMKilled ? ', OOM-killed: raise resources.memory' : ''}); last log lines:\n${await logTail(container)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  try {
    await Promise.race([awaitWritable(conn, timeoutMs, both), exited]);
  } catch (e) {
    if (e instanceof StatebenchError || signal?.aborted) throw e;
    throw new StatebenchError(`${(e as Error).message}; last log lines of container ${container.id.slice(0, 12)}:\n${await logTail(container)}`);
  } finally {
    stop.abort();
    exited.catch(() => {});
  }
}

/** testcontainers' wait step: PostgreSQL accepts writes (the same test bare metal uses). */
class WritableWait implements WaitStrategy {
  private timeoutMs = 60_000;
  private timeoutSet = false;

  constructor(
    private readonly conn: ConnInfo,
    private readonly signal?: AbortSignal,
  ) {}

  waitUntilReady(container: Dockerode.Container, _ports: BoundPorts): Promise<void> {
    return awaitReady(container, this.conn, this.timeoutMs, this.signal);
  }

  withStartupTimeout(ms: number): this {
    this.timeoutMs = ms;
    this.timeoutSet = true;
    return this;
  }

  isStartupTimeoutSet(): boolean {
    return this.timeoutSet;
  }

  getStartupTimeout(): number {
    return this.timeoutMs;
  }
}

export interface ContainerResources {
  cpus?: number;
  /** CPU list (--cpuset-cpus). */
  cpuset?: string;
  /** Bytes. */
  memory?: number;
}

export interface ContainerNodeOptions {
  name: string;
  runId: string;
  target: string;
  image: string;
  /** False: the image is present and must not be pulled. True: testcontainers pulls it before creating. */
  mayPull: boolean;
  /** Host directory bind-mounted as the data volume. */
  volume: string;
  settings: Settings;
  resources: ContainerResources;
  /** Docker network the container joins; other nodes reach it by its container name. */
  network?: string;
  startTimeoutMs: number;
  registry: CleanupRegistry;
  signal?: AbortSignal;
  onEvent?: (type: string, data: object) => void;
}

/** One PostgreSQL container, with the verbs faults need. */
export class PostgresContainer implements NodeControl {
  conn!: ConnInfo;
  private container?: Dockerode.Container;
  private registration?: Registration;
  private state: 'new' | 'running' | 'paused' | 'killed' | 'stopped' = 'new';
  /** Milliseconds from `docker start` to the first successful write, per start. */
  readonly readyMs: number[] = [];

  constructor(private readonly o: ContainerNodeOptions) {}

  get name(): string {
    return this.o.name;
  }

  get id(): string | undefined {
    return this.container?.id;
  }

  /** CPUs and memory of the container as Docker holds them, and its init's pid on this host. */
  async limits(): Promise<{ grant: ResourceGrant; pid: number | null }> {
    const info = await this.need().inspect();
    const hc = info.HostConfig as { CpusetCpus?: string; NanoCpus?: number; Memory?: number };
    const cpuset = hc.CpusetCpus ? hc.CpusetCpus : formatCpuList(onlineCpus());
    return {
      grant: { cpuset, cpus: hc.NanoCpus ? hc.NanoCpus / 1e9 : null, memoryBytes: hc.Memory ? hc.Memory : null, mechanism: 'docker' },
      pid: info.State.Running && info.State.Pid ? info.State.Pid : null,
    };
  }

  /** A paused node is running, as a SIGSTOPped process is on bare metal. */
  get running(): boolean {
    return this.state === 'running' || this.state === 'paused';
  }

  /** postgresql.conf lines, configured as on bare metal apart from where it listens. */
  conf(): string {
    return renderConf({
      ...BASE_SETTINGS,
      ...this.o.settings,
      port: PG_PORT,
      listen_addresses: '*',
      unix_socket_directories: '/run/postgresql',
    });
  }

  /** Creates and starts the container; returns when PostgreSQL accepts writes. */
  async create(): Promise<void> {
    const tc = await loadTestcontainers();
    const o = this.o;
    const hostPort = await freePort();
    this.conn = { host: '127.0.0.1', port: hostPort, user: 'postgres', database: 'postgres' };
    const onCreated = (id: string) => {
      this.registration = o.registry.add({ kind: 'container', id, what: `container ${containerName(o)}` }, () => removeContainer(id));
    };
    const hostConfig: Partial<Dockerode.HostConfig> = {
      ShmSize: SHM_BYTES,
      ...(o.resources.cpus ? { NanoCpus: Math.round(o.resources.cpus * 1e9) } : {}),
      ...(o.resources.cpuset ? { CpusetCpus: o.resources.cpuset } : {}),
      // No swap beyond the limit: the limit is what the database gets.
      ...(o.resources.memory ? { Memory: o.resources.memory, MemorySwap: o.resources.memory } : {}),
    };

    class NodeContainer extends tc.GenericContainer {
      protected override async beforeContainerCreated(): Promise<void> {
        // testcontainers publishes on every host address; the database is reachable from this host only.
        for (const bindings of Object.values(this.hostConfig.PortBindings ?? {}) as { HostIp?: string }[][]) {
          for (const b of bindings) b.HostIp = '127.0.0.1';
        }
        Object.assign(this.hostConfig, hostConfig);
        // `docker import` cannot set STOPSIGNAL in the image; PostgreSQL's fast shutdown is SIGINT.
        this.createOpts.StopSignal = 'SIGINT';
        this.createOpts.StopTimeout = STOP_GRACE_S;
      }

      protected override async containerCreated(id: string): Promise<void> {
        onCreated(id);
      }
    }

    const neverPull: ImagePullPolicy = { shouldPull: () => false };
    let container = new NodeContainer(o.image)
      .withName(containerName(o))
      .withLabels({ [RUN_LABEL]: o.runId, [TARGET_LABEL]: o.target, [NODE_LABEL]: o.name })
      .withEnvironment({ STATEBENCH_CONF: this.conf() })
      .withBindMounts([{ source: o.volume, target: VOLUME_MOUNT, mode: 'rw' }])
      .withExposedPorts({ container: PG_PORT, host: hostPort })
      .withAutoRemove(false)
      // Never pulling is what keeps a run off every registry: testcontainers pulls whenever the policy
      // says so or the image is absent, and the image was checked to be present unless pulling is allowed.
      .withPullPolicy(o.mayPull ? tc.PullPolicy.alwaysPull() : neverPull)
      .withWaitStrategy(new WritableWait(this.conn, o.signal))
      .withStartupTimeout(o.startTimeoutMs);
    if (o.network) container = container.withNetworkMode(o.network);

    const t0 = performance.now();
    try {
      const started = await container.start();
      this.container = (await dockerClient()).container.getById(started.getId());
    } catch (e) {
      // testcontainers removed a container that failed its wait; the registration finds it gone.
      await this.registration?.release().catch(() => {});
      if (e instanceof StatebenchError) throw e;
      throw new StatebenchError(`starting ${containerName(o)} from ${o.image}: ${(e as Error).message}`, EXIT.runFailed, DOCKER_HINT);
    }
    this.state = 'running';
    this.started(performance.now() - t0);
  }

  private started(ms: number): void {
    this.readyMs.push(Math.round(ms));
    this.o.onEvent?.('node-started', { node: this.o.name, container: this.container?.id.slice(0, 12), readyMs: Math.round(ms) });
  }

  private need(): Dockerode.Container {
    if (!this.container) throw new StatebenchError(`node ${this.o.name} has no container yet`);
    return this.container;
  }

  /** `docker start` after kill/stop; returns when PostgreSQL accepts writes again. */
  async start(): Promise<void> {
    const c = this.need();
    if (this.state === 'paused') return;
    // The container may have exited by itself (a crash, the OOM killer): ask the engine, not our state.
    if ((await c.inspect()).State.Running) {
      this.state = 'running';
      return;
    }
    const t0 = performance.now();
    await c.start();
    this.state = 'running';
    await awaitReady(c, this.conn, this.o.startTimeoutMs, this.o.signal);
    this.started(performance.now() - t0);
  }

  /** `docker kill`: SIGKILL to every process of the container at once; returns when it has exited. */
  async kill(): Promise<void> {
    if (!this.container) return;
    const c = this.container;
    await c.kill({ signal: 'SIGKILL' }).catch((e: { statusCode?: number }) => {
      // 409: not running any more (it died by itself).
      if (e.statusCode !== 409) throw e;
    });
    await c.wait({ condition: 'not-running' }).catch(() => {});
    this.state = 'killed';
  }

  async pause(): Promise<void> {
    if (this.state !== 'running') return;
    await this.need().pause();
    this.state = 'paused';
  }

  async resume(): Promise<void> {
    if (this.state !== 'paused') return;
    await this.need().unpause();
    this.state = 'running';
  }

  /** `docker stop` with SIGINT (fast shutdown: roll back sessions, checkpoint, exit); SIGKILL after 30s. */
  async stop(): Promise<void> {
    if (!this.running) return;
    await this.need()
      .stop({ t: STOP_GRACE_S })
      .catch((e: { statusCode?: number }) => {
        // 304: already stopped.
        if (e.statusCode !== 304) throw e;
      });
    this.state = 'stopped';
  }

  /** Removes the container now (teardown does it through the registry otherwise). */
  async remove(): Promise<void> {
    if (this.registration) await this.registration.release();
    else if (this.container) await removeContainer(this.container.id);
    this.state = 'stopped';
  }
}

function containerName(o: Pick<ContainerNodeOptions, 'runId' | 'target' | 'name'>): string {
  return `statebench-${o.runId}-${o.target.replace(/[^A-Za-z0-9_.-]+/g, '_')}-${o.name}`;
}

export class DockerPostgres extends SinglePostgres<PostgresContainer> {
  constructor(node: PostgresContainer) {
    super(node, node.name);
  }

  get container(): PostgresContainer {
    return this.node;
  }
}

/** The run id from TargetRuntime.stateDir (`<runs>/<runId>/<target slug>`). */
export function runIdFrom(stateDir: string): string {
  const id = basename(dirname(stateDir));
  if (!/^[0-9A-Za-z-]+$/.test(id)) throw new StatebenchError(`cannot tell the run id from the state directory ${stateDir}`);
  return id;
}

/** A per-target bridge network, so multi-node engines (patroni) find each other by node name. */
async function createNetwork(name: string, runId: string, target: string, registry: CleanupRegistry): Promise<void> {
  const client = await dockerClient();
  const net = await client.network.create({ Name: name, Driver: 'bridge', CheckDuplicate: true, Labels: { [RUN_LABEL]: runId, [TARGET_LABEL]: target } });
  registry.add({ kind: 'network', id: net.id, what: `network ${name}` }, () => removeNetwork(net.id));
}

export class DockerPlatform implements Platform {
  readonly name = 'docker';

  constructor(private readonly opts: DockerPlatformOptions = {}) {}

  async provision(target: PlannedTarget, rt: TargetRuntime): Promise<ProvisionedTarget> {
    if (target.engine.kind !== 'postgres') {
      throw new StatebenchError(`engine ${target.engine.kind} is not available on the docker platform yet`, EXIT.usage, 'Use engine.kind: postgres for docker targets');
    }
    const runId = this.opts.runId ?? runIdFrom(rt.stateDir);
    // Everything that can fail for lack of Docker or of the image fails here, before anything exists.
    const client = await dockerClient();
    const image = imageFor(target.spec, target.engine.kind);
    const resolved = await resolveImage(image, target.spec.pull);
    const limits = target.resources ?? target.spec.resources ?? {};
    if (limits.cpuset) checkCpuSet(limits.cpuset, `${target.name} cpuset`);
    const resources: ContainerResources = { cpus: limits.cpus, cpuset: limits.cpuset, memory: limits.memory };

    const networkName = `statebench-${runId}-${target.slug}`;
    await createNetwork(networkName, runId, target.name, rt.registry);
    const volume: Volume = await storageFor(target.storage).prepare('node-0', { registry: rt.registry, stateDir: rt.stateDir, onEvent: rt.event });
    let node: PostgresContainer | undefined;

    return {
      volumes: [volume],
      probeIo: () => probeIo(target.io, volume.path, join(rt.artifactsDir, 'fio.json')),
      deployEngine: async () => {
        node = new PostgresContainer({
          name: 'node-0',
          runId,
          target: target.name,
          image,
          mayPull: resolved.mayPull,
          volume: volume.path,
          settings: target.engine.settings,
          resources,
          network: networkName,
          startTimeoutMs: target.engine.startTimeout,
          registry: rt.registry,
          signal: rt.signal,
          onEvent: rt.event,
        });
        await node.create();
        return new DockerPostgres(node);
      },
      resources: async () => (node?.id ? (await node.limits()).grant : { cpuset: resources.cpuset ?? null, cpus: resources.cpus ?? null, memoryBytes: resources.memory ?? null, mechanism: 'docker', notes: ['the container did not start'] }),
      hostPids: async () => {
        const pid = node?.id ? (await node.limits().catch(() => ({ pid: null }))).pid : null;
        return pid ? [pid] : [];
      },
      describe: async () => ({
        image,
        imageId: resolved.id,
        imageRecipe: resolved.recipe,
        pull: target.spec.pull,
        docker: {
          serverVersion: client.info.containerRuntime.serverVersion,
          operatingSystem: client.info.containerRuntime.operatingSystem,
          architecture: client.info.containerRuntime.architecture,
        },
        testcontainers: testcontainersVersion(),
        limits: {
          cpus: resources.cpus ?? 'unlimited',
          cpuset: resources.cpuset ?? 'any',
          memoryBytes: resources.memory ?? 'unlimited',
          shmBytes: SHM_BYTES,
        },
        network: networkName,
        publishedOn: '127.0.0.1',
        volume: { ...volume.describe, mount: `bind ${VOLUME_MOUNT}` },
        ...(node?.readyMs.length ? { readyMs: node.readyMs } : {}),
      }),
    };
  }
}
