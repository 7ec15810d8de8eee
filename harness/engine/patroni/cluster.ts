// A bare-metal Patroni cluster: one etcd as the DCS, N Patroni members each managing a PostgreSQL,
// and an access path (HAProxy on Patroni's `/primary`, or direct to the first primary). Who leads is
// read from Patroni's REST API, never assumed.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CleanupRegistry } from '../../core/cleanup.ts';
import type { ConnInfo, DeployedEngine, EngineNode } from '../types.ts';
import type { Settings } from '../postgres-config.ts';
import { clientConfig } from '../pg.ts';
import { databaseUser } from '../../core/users.ts';
import { StatebenchError, EXIT } from '../../errors.ts';
import { met, notYet, waitFor } from '../../core/wait.ts';
import pg from 'pg';
import { PatroniMember } from './member.ts';
import { EtcdServer, Haproxy } from './services.ts';
import { getCluster, getStatus, isPrimaryRole, leaderOf, switchover, type ClusterView } from './rest.ts';
import type { HaproxyCheck } from './config.ts';
import type { PatroniOptions } from '../../model/patroni.ts';

export interface PatroniClusterOptions {
  /** Number of members, ≥ 1. Named node-0 … node-<n-1>. */
  members: number;
  /** PostgreSQL binaries with pg_ctl, initdb, pg_controldata, pg_basebackup, pg_rewind (resolvePatroniBinDir). */
  binDir: string;
  /** One volume directory per member, in member order. */
  volumes: string[];
  /** etcd, configs, logs and sockets live below it; not on the volumes under test. */
  stateDir: string;
  settings: Settings;
  options: PatroniOptions;
  /** Bound on bootstrap (etcd, leader, replicas cloned and streaming). */
  startTimeoutMs: number;
  registry: CleanupRegistry;
  onEvent?: (type: string, data: object) => void;
  /** HAProxy health-check timing; Patroni's documented values by default. */
  haproxyCheck?: HaproxyCheck;
  /** Patroni scope (cluster name) in the DCS. */
  scope?: string;
  /** CPUs and memory limit of each member (agent and PostgreSQL together); see PatroniMemberOptions. */
  cpuset?: string;
  memoryBytes?: number;
}

/** How long one REST call may take before the member counts as not answering. */
const REST_TIMEOUT_MS = 1_000;

export interface ReplicationState {
  leader: string;
  /** Member names streaming from the leader (pg_stat_replication.state = streaming). */
  streaming: string[];
  /** Member names the leader replicates to synchronously. */
  synchronous: string[];
}

export class PatroniCluster implements DeployedEngine {
  readonly kind = 'patroni';
  readonly nodes: EngineNode[];
  /** The member that was primary when the cluster became healthy: where `direct` clients stay. */
  initialPrimary?: string;

  constructor(
    readonly members: PatroniMember[],
    readonly etcd: EtcdServer,
    readonly options: PatroniOptions,
    private readonly haproxy?: Haproxy,
  ) {
    this.nodes = members.map((m) => ({ name: m.name, conn: m.conn, control: m }));
  }

  member(name: string): PatroniMember {
    const m = this.members.find((x) => x.name === name);
    if (!m) throw new StatebenchError(`no Patroni member ${name}`);
    return m;
  }

  /** The member whose PostgreSQL listens on `port` (as the server reports it). */
  memberByPort(port: number | null | undefined): PatroniMember | undefined {
    return port == null ? undefined : this.members.find((m) => m.conn.port === port);
  }

  get accessConn(): ConnInfo | undefined {
    return this.haproxy ? { host: '127.0.0.1', port: this.haproxy.port, user: this.members[0].conn.user, database: 'postgres' } : undefined;
  }

  clientConn(): ConnInfo {
    if (this.options.access === 'haproxy' && this.haproxy) return this.accessConn!;
    const name = this.initialPrimary ?? this.members[0].name;
    return this.member(name).conn;
  }

  /** The DCS view from the first member that answers; null when none does. */
  async view(timeoutMs = REST_TIMEOUT_MS): Promise<ClusterView | null> {
    try {
      return await Promise.any(this.members.map((m) => getCluster(m.apiPort, timeoutMs)));
    } catch {
      return null;
    }
  }

  async leaderName(timeoutMs = REST_TIMEOUT_MS): Promise<string | null> {
    const v = await this.view(timeoutMs);
    return v ? leaderOf(v) : null;
  }

  /** The member holding the leader key; waits up to `waitMs` for one to exist. */
  async primary(waitMs = 10_000): Promise<EngineNode> {
    return waitFor(
      'a Patroni member to hold the leader key',
      async () => {
        const leader = await this.leaderName();
        return leader ? met(this.nodes.find((n) => n.name === leader)!) : notYet('no member holds the leader key');
      },
      { timeoutMs: waitMs, intervalMs: 100 },
    );
  }

  /** Leader and who streams from it, as the leader's own `/patroni` reports pg_stat_replication. */
  async replication(timeoutMs = REST_TIMEOUT_MS): Promise<ReplicationState | null> {
    const leader = await this.leaderName(timeoutMs);
    if (!leader) return null;
    const st = await getStatus(this.member(leader).apiPort, timeoutMs).catch(() => null);
    if (!st || !isPrimaryRole(st.role) || st.state !== 'running') return null;
    const names = new Set(this.members.map((m) => m.name));
    const rep = (st.replication ?? []).filter((r) => names.has(r.application_name) && r.state === 'streaming');
    return {
      leader,
      streaming: rep.map((r) => r.application_name),
      synchronous: rep.filter((r) => r.sync_state === 'sync' || r.sync_state === 'quorum').map((r) => r.application_name),
    };
  }

  /**
   * A leader exists, its PostgreSQL commits a write (a transaction id is assigned and committed, so
   * a synchronous standby must confirm it), every other member streams from it, and with HAProxy the
   * access path reaches it.
   */
  async awaitHealthy(timeoutMs: number): Promise<void> {
    await waitFor(
      'the Patroni cluster to be healthy',
      async (left) => {
        try {
          const problem = await this.healthProblem(Math.max(200, Math.min(3_000, left)));
          return problem ? notYet(problem) : met(undefined);
        } catch (e) {
          return notYet((e as Error).message);
        }
      },
      { timeoutMs, intervalMs: 100 },
    );
  }

  /** '' when healthy, otherwise what is missing. */
  async healthProblem(writeTimeoutMs = 3_000): Promise<string> {
    const rep = await this.replication();
    if (!rep) return 'no leader running as primary';
    const missing = this.members.map((m) => m.name).filter((n) => n !== rep.leader && !rep.streaming.includes(n));
    if (missing.length) return `leader ${rep.leader}; not streaming: ${missing.join(', ')}`;
    if (this.options.replication !== 'async' && this.members.length > 1) {
      // Patroni records the synchronous standby in the DCS a loop after the replica streams; until
      // then a switchover is refused and a failover has no synchronous candidate.
      if (!rep.synchronous.length) return `leader ${rep.leader}; no synchronous standby yet`;
      const view = await this.view();
      if (!view?.members.some((m) => m.role === 'sync_standby')) return `leader ${rep.leader}; no synchronous standby recorded in the DCS yet`;
    }
    await commitOne(this.member(rep.leader).conn, writeTimeoutMs);
    if (this.options.access === 'haproxy' && this.haproxy) {
      const via = await commitOne(this.accessConn!, writeTimeoutMs);
      if (via !== this.member(rep.leader).conn.port) return `HAProxy still routes to port ${via}, the leader is ${rep.leader}`;
    }
    return '';
  }

  /**
   * Planned switchover via the leader's REST API (Patroni picks the candidate when none is named; in
   * synchronous mode it must be the synchronous standby). Resolves once another member holds the lock.
   */
  async switchover(candidate?: string, timeoutMs = 60_000): Promise<{ from: string; to: string }> {
    const from = (await this.primary()).name;
    await switchover(this.member(from).apiPort, from, candidate, timeoutMs);
    const to = await waitFor(
      `another member than ${from} to take the leader lock (switchover)`,
      async () => {
        const leader = await this.leaderName();
        return leader && leader !== from ? met(leader) : notYet(leader ? `${leader} still holds it` : 'no member holds it');
      },
      { timeoutMs, intervalMs: 100 },
    );
    return { from, to };
  }

  async version(): Promise<string> {
    const leader = await this.primary();
    const m = this.member(leader.name);
    const st = (await getStatus(m.apiPort, 2_000)) as { server_version?: number; patroni?: { version?: string } };
    const v = st.server_version ?? 0;
    const pgVersion = v >= 100000 ? `${Math.floor(v / 10000)}.${v % 10000}` : String(v);
    return `PostgreSQL ${pgVersion} (Patroni ${st.patroni?.version ?? 'unknown'})`;
  }

  /** Access path first, then replicas, then the leader (so no replica races for a lock being released), then etcd. */
  async stop(): Promise<void> {
    const errors: string[] = [];
    const attempt = async (p: Promise<void>) => p.catch((e) => void errors.push((e as Error).message));
    await attempt(this.haproxy?.stop() ?? Promise.resolve());
    const leader = await this.leaderName().catch(() => null);
    await Promise.all(this.members.filter((m) => m.name !== leader).map((m) => attempt(m.stop())));
    await Promise.all(this.members.filter((m) => m.name === leader).map((m) => attempt(m.stop())));
    await attempt(this.etcd.stop());
    if (errors.length) throw new StatebenchError(`stopping the Patroni cluster: ${errors.join('; ')}`);
  }

  get access(): { kind: PatroniOptions['access']; port: number | null } {
    return { kind: this.options.access, port: this.haproxy?.port ?? null };
  }

  /** Every process the cluster runs now, for diagnostics and teardown checks. */
  pids(): { etcd: number; haproxy?: number; agents: number[]; postmasters: number[] } {
    return {
      etcd: this.etcd.pid,
      haproxy: this.haproxy?.proc.pid,
      agents: this.members.map((m) => m.agentPid).filter((p): p is number => p !== undefined),
      postmasters: this.members.map((m) => m.postmasterPid()).filter((p): p is number => p !== undefined),
    };
  }
}

/** Commits one write-bearing transaction; resolves to the port the server reports. */
async function commitOne(conn: ConnInfo, timeoutMs: number): Promise<number> {
  const c = new pg.Client(clientConfig(conn, { connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs }));
  c.on('error', () => {});
  try {
    await c.connect();
    const r = await c.query<{ ro: boolean; port: number }>('select pg_is_in_recovery() as ro, inet_server_port() as port');
    if (r.rows[0].ro) throw new Error(`${conn.host}:${conn.port} is read-only (in recovery)`);
    await c.query('select txid_current()');
    return r.rows[0].port;
  } finally {
    await c.end().catch(() => {});
  }
}

export async function deployPatroniCluster(o: PatroniClusterOptions): Promise<PatroniCluster> {
  if (o.members < 1) throw new StatebenchError('a Patroni cluster needs at least one member');
  if (o.volumes.length < o.members) throw new StatebenchError(`${o.members} Patroni members need ${o.members} volumes, got ${o.volumes.length}`);
  if (o.options.replication === 'sync-strict' && o.members < 2) {
    throw new StatebenchError('replication "sync-strict" with one member blocks every write', EXIT.usage, 'Use engine.members ≥ 2');
  }
  const t0 = performance.now();
  mkdirSync(o.stateDir, { recursive: true });
  const runAs = await databaseUser();
  const etcd = await EtcdServer.start({ registry: o.registry, dir: join(o.stateDir, 'etcd'), timeoutMs: o.startTimeoutMs });
  const scope = o.scope ?? 'statebench';
  const members: PatroniMember[] = [];
  for (let i = 0; i < o.members; i++) {
    const m = new PatroniMember({
      name: `node-${i}`,
      scope,
      binDir: o.binDir,
      volume: o.volumes[i],
      dir: join(o.stateDir, `node-${i}`),
      etcdClientPort: etcd.clientPort,
      settings: o.settings,
      options: o.options,
      startTimeoutMs: o.startTimeoutMs,
      registry: o.registry,
      runAs,
      onEvent: o.onEvent,
      cpuset: o.cpuset,
      memoryBytes: o.memoryBytes,
    });
    await m.init();
    members.push(m);
  }
  // All agents at once: one wins the initialize key and runs initdb, the others wait for it and clone.
  await Promise.all(members.map((m) => m.startAgent()));
  let haproxy: Haproxy | undefined;
  if (o.options.access === 'haproxy') {
    haproxy = await Haproxy.start({
      registry: o.registry,
      dir: join(o.stateDir, 'haproxy'),
      backends: members.map((m) => ({ name: m.name, pgPort: m.conn.port, apiPort: m.apiPort })),
      check: o.haproxyCheck,
      timeoutMs: o.startTimeoutMs,
    });
  }
  const cluster = new PatroniCluster(members, etcd, o.options, haproxy);
  await cluster.awaitHealthy(Math.max(1_000, o.startTimeoutMs - (performance.now() - t0)));
  cluster.initialPrimary = (await cluster.primary()).name;
  o.onEvent?.('patroni-ready', {
    members: o.members,
    leader: cluster.initialPrimary,
    access: o.options.access,
    replication: o.options.replication,
    bootstrapMs: Math.round(performance.now() - t0),
  });
  return cluster;
}
