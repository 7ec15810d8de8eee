// The two helpers a bare-metal Patroni cluster needs besides its members: one etcd as the DCS, and
// HAProxy as the access path. Each is a ManagedProcess (own process group, registered for cleanup)
// listening on loopback ports only.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManagedProcess } from '../../core/exec.ts';
import type { CleanupRegistry } from '../../core/cleanup.ts';
import { freePort } from '../../core/net.ts';
import { StatebenchError } from '../../errors.ts';
import { met, notYet, waitFor } from '../../core/wait.ts';
import { restRequest } from './rest.ts';
import { renderHaproxyConfig, type HaproxyBackend, type HaproxyCheck } from './config.ts';
import { connect } from '../pg.ts';

async function until(what: string, timeoutMs: number, proc: ManagedProcess, logFile: string, probe: () => Promise<boolean>): Promise<void> {
  await waitFor(
    `${what} to be ready`,
    async () => {
      if (!proc.running) throw new StatebenchError(`${what} exited while starting (${JSON.stringify(proc.exitStatus)}); see ${logFile}`);
      return (await probe().catch(() => false)) ? met(undefined) : notYet('not answering');
    },
    { timeoutMs, intervalMs: 50, hint: `see ${logFile}` },
  );
}

export class EtcdServer {
  private constructor(
    readonly proc: ManagedProcess,
    readonly clientPort: number,
    readonly peerPort: number,
    readonly logFile: string,
  ) {}

  static async start(o: { registry: CleanupRegistry; dir: string; timeoutMs: number }): Promise<EtcdServer> {
    const dataDir = join(o.dir, 'data');
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const logFile = join(o.dir, 'etcd.log');
    const clientPort = await freePort();
    const peerPort = await freePort();
    const client = `http://127.0.0.1:${clientPort}`;
    const peer = `http://127.0.0.1:${peerPort}`;
    const proc = await ManagedProcess.start(
      o.registry,
      'etcd (Patroni DCS)',
      'etcd',
      [
        '--name', 'dcs',
        '--data-dir', dataDir,
        '--listen-client-urls', client,
        '--advertise-client-urls', client,
        '--listen-peer-urls', peer,
        '--initial-advertise-peer-urls', peer,
        '--initial-cluster', `dcs=${peer}`,
        '--initial-cluster-state', 'new',
        '--logger', 'zap',
        '--log-outputs', 'stderr',
      ],
      { logFile },
    );
    const etcd = new EtcdServer(proc, clientPort, peerPort, logFile);
    await until('etcd', o.timeoutMs, proc, logFile, async () => {
      const r = await restRequest<{ health?: string }>(clientPort, 'GET', '/health', 1_000);
      return r.status === 200 && typeof r.body === 'object' && r.body.health === 'true';
    });
    return etcd;
  }

  get pid(): number {
    return this.proc.pid;
  }

  async stop(): Promise<void> {
    if (this.proc.running) await this.proc.stop('SIGTERM', 10_000);
  }
}

export class Haproxy {
  private constructor(
    readonly proc: ManagedProcess,
    readonly port: number,
    readonly logFile: string,
  ) {}

  static async start(o: { registry: CleanupRegistry; dir: string; backends: HaproxyBackend[]; check?: HaproxyCheck; timeoutMs: number }): Promise<Haproxy> {
    mkdirSync(o.dir, { recursive: true });
    const port = await freePort();
    const cfg = join(o.dir, 'haproxy.cfg');
    writeFileSync(cfg, renderHaproxyConfig(port, o.backends, o.check));
    const logFile = join(o.dir, 'haproxy.log');
    // -db: stay in the foreground, in the process group statebench manages.
    const proc = await ManagedProcess.start(o.registry, 'haproxy (Patroni access path)', 'haproxy', ['-db', '-f', cfg], { logFile });
    const h = new Haproxy(proc, port, logFile);
    await until('haproxy', o.timeoutMs, proc, logFile, async () => {
      // Listening is enough here; whether a primary is behind it is the cluster's health.
      const c = await connect({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' }, { connectionTimeoutMillis: 500 }).catch((e: Error) => e);
      if (c instanceof Error) return !/ECONNREFUSED/.test(c.message);
      await c.end().catch(() => {});
      return true;
    });
    return h;
  }

  async stop(): Promise<void> {
    // SIGTERM is HAProxy's hard stop: a soft stop (SIGUSR1) would wait for every client session.
    if (this.proc.running) await this.proc.stop('SIGTERM', 5_000);
  }
}
