// Patroni's YAML configuration and HAProxy's configuration, rendered from typed objects. Only keys
// Patroni 3.x documents are used; the names are Patroni's (snake_case), the values come from the
// profile through PatroniOptions.
import { stringify } from 'yaml';
import { BASE_SETTINGS, type Settings } from '../postgres-config.ts';
import type { PatroniOptions } from '../../model/patroni.ts';

export interface PatroniUser {
  username: string;
  password?: string;
}

/** The subset of Patroni's configuration file statebench writes. */
export interface PatroniConfig {
  scope: string;
  namespace: string;
  name: string;
  log: { level: 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR'; format?: string };
  restapi: { listen: string; connect_address: string };
  etcd3: { hosts: string[]; protocol: 'http' };
  bootstrap: {
    dcs: {
      ttl: number;
      loop_wait: number;
      retry_timeout: number;
      maximum_lag_on_failover: number;
      synchronous_mode: boolean;
      synchronous_mode_strict: boolean;
      postgresql: { use_pg_rewind: boolean; use_slots: boolean; parameters: Settings };
    };
    initdb: (string | Record<string, string>)[];
  };
  postgresql: {
    listen: string;
    connect_address: string;
    data_dir: string;
    bin_dir: string;
    pgpass: string;
    authentication: { superuser: PatroniUser; replication: PatroniUser; rewind: PatroniUser };
    parameters: Settings;
    pg_hba: string[];
    use_pg_rewind: boolean;
    pg_ctl_timeout: number;
    /** pg_basebackup options for cloning a replica. */
    basebackup: (string | Record<string, string>)[];
  };
  watchdog: { mode: 'off' | 'automatic' | 'required' };
  tags: { nofailover: boolean; noloadbalance: boolean; clonefrom: boolean; nosync: boolean };
}

export const SUPERUSER = 'postgres';
export const REPLICATION_USER = 'replicator';

/**
 * Parameters Patroni owns: it sets listen/port from `postgresql.listen`, writes
 * synchronous_standby_names itself in synchronous mode, and manages the recovery settings.
 */
const PATRONI_OWNED = new Set([
  'listen_addresses',
  'port',
  'synchronous_standby_names',
  'primary_conninfo',
  'primary_slot_name',
  'restore_command',
  'recovery_target_timeline',
  'hba_file',
  'ident_file',
  'config_file',
  'data_directory',
  'unix_socket_directories',
]);

/** The cluster-wide PostgreSQL parameters: statebench's base settings, the profile's, and what replication needs. */
export function clusterParameters(settings: Settings): Settings {
  const out: Settings = {};
  for (const [k, v] of Object.entries({ ...BASE_SETTINGS, ...settings })) if (!PATRONI_OWNED.has(k)) out[k] = v;
  return {
    ...out,
    wal_level: 'replica',
    hot_standby: true,
    // pg_rewind needs hint-bit changes in the WAL unless the cluster has data checksums.
    wal_log_hints: true,
    max_wal_senders: Math.max(10, Number(out.max_wal_senders ?? 0)),
    max_replication_slots: Math.max(10, Number(out.max_replication_slots ?? 0)),
  };
}

export interface MemberConfigInput {
  scope: string;
  name: string;
  apiPort: number;
  pgPort: number;
  etcdClientPort: number;
  dataDir: string;
  binDir: string;
  pgpass: string;
  socketDir: string;
  settings: Settings;
  options: PatroniOptions;
}

/**
 * The cluster-wide settings Patroni keeps in its DCS, from the options the planner resolved: the same
 * on every platform (bare metal with etcd, Kubernetes with its API as the DCS).
 */
export function dcsSettings(o: PatroniOptions, parameters: Settings): PatroniConfig['bootstrap']['dcs'] {
  return {
    ttl: o.ttl,
    loop_wait: o.loopWait,
    retry_timeout: o.retryTimeout,
    maximum_lag_on_failover: o.maximumLagOnFailover,
    synchronous_mode: o.replication !== 'async',
    synchronous_mode_strict: o.replication === 'sync-strict',
    postgresql: { use_pg_rewind: o.usePgRewind, use_slots: true, parameters },
  };
}

export function memberConfig(i: MemberConfigInput): PatroniConfig {
  const o = i.options;
  return {
    scope: i.scope,
    namespace: '/statebench/',
    name: i.name,
    log: { level: 'INFO', format: '%(asctime)s %(levelname)s: %(message)s' },
    restapi: { listen: `127.0.0.1:${i.apiPort}`, connect_address: `127.0.0.1:${i.apiPort}` },
    etcd3: { hosts: [`127.0.0.1:${i.etcdClientPort}`], protocol: 'http' },
    bootstrap: {
      dcs: dcsSettings(o, clusterParameters(i.settings)),
      // --no-sync as the single-node engine's initdb: the bootstrap is not what is measured.
      initdb: [{ encoding: 'UTF8' }, { locale: 'C' }, 'no-sync'],
    },
    postgresql: {
      listen: `127.0.0.1:${i.pgPort}`,
      connect_address: `127.0.0.1:${i.pgPort}`,
      data_dir: i.dataDir,
      bin_dir: i.binDir,
      pgpass: i.pgpass,
      // Loopback only and trust, like the single-node engine: the benchmark measures the database,
      // not authentication, and no password ever has to be written to disk or passed around.
      authentication: {
        superuser: { username: SUPERUSER },
        replication: { username: REPLICATION_USER },
        rewind: { username: SUPERUSER },
      },
      parameters: { unix_socket_directories: i.socketDir },
      pg_hba: ['local all all trust', 'local replication all trust', 'host all all 127.0.0.1/32 trust', 'host replication all 127.0.0.1/32 trust'],
      use_pg_rewind: o.usePgRewind,
      pg_ctl_timeout: 60,
      // An immediate checkpoint on the leader instead of a spread one: cloning waits for it.
      basebackup: [{ checkpoint: 'fast' }],
    },
    // No watchdog device on a benchmark host; its absence is exactly what agent-kill exposes.
    watchdog: { mode: 'off' },
    tags: { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false },
  };
}

export function renderPatroniConfig(c: PatroniConfig): string {
  return '# Written by statebench.\n' + stringify(c, { lineWidth: 0 });
}

export interface HaproxyBackend {
  name: string;
  pgPort: number;
  apiPort: number;
}

export interface HaproxyCheck {
  /** Health check interval, ms. */
  interMs: number;
  /** Failed checks before a server is taken out. */
  fall: number;
  /** Passed checks before a server is put back. */
  rise: number;
}

/** Patroni's documented HAProxy setup: `option httpchk OPTIONS /primary`, inter 3s fall 3 rise 2. */
export const DOCUMENTED_HAPROXY_CHECK: HaproxyCheck = { interMs: 3_000, fall: 3, rise: 2 };

/**
 * A TCP frontend that forwards to whichever member answers 200 on Patroni's REST `/primary`, and cuts
 * the sessions of a member as soon as it is marked down, as Patroni's documentation sets it up.
 */
export function renderHaproxyConfig(listenPort: number, backends: HaproxyBackend[], check: HaproxyCheck = DOCUMENTED_HAPROXY_CHECK): string {
  const lines = [
    '# Written by statebench.',
    'global',
    '  maxconn 1000',
    '',
    'defaults',
    '  mode tcp',
    '  retries 2',
    '  timeout connect 2s',
    '  timeout client 30m',
    '  timeout server 30m',
    `  timeout check ${Math.max(100, Math.min(check.interMs, 2_000))}ms`,
    '',
    'listen primary',
    `  bind 127.0.0.1:${listenPort}`,
    '  option httpchk OPTIONS /primary',
    '  http-check expect status 200',
    `  default-server inter ${check.interMs}ms fall ${check.fall} rise ${check.rise} on-marked-down shutdown-sessions`,
    ...backends.map((b) => `  server ${b.name} 127.0.0.1:${b.pgPort} maxconn 200 check port ${b.apiPort}`),
    '',
  ];
  return lines.join('\n');
}
