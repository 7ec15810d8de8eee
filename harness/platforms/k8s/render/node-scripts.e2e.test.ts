// The container's entry point run as a real process with the machine's PostgreSQL, the way the kubelet
// runs it: started (as root where the test runs as root) with the ConfigMap's environment, then sent
// SIGTERM as a graceful pod delete sends it. What must hold: no parent process stays between the
// signal and the database (the started PID itself runs as postgres), and a client holding a connection
// does not turn the stop into a kill: PostgreSQL logs a fast shutdown and a clean "shut down".
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, test } from 'vitest';
import { BASE_SETTINGS, renderConf } from '../../../engine/postgres-config.ts';
import { freePort } from '../../../core/net.ts';
import { START_SCRIPT } from './node-scripts.ts';

const PGBIN = ['/usr/lib/postgresql/17/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/15/bin'].find((d) => existsSync(join(d, 'postgres')));
const isRoot = process.getuid?.() === 0;

function uidOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('Uid:'))!;
  return Number(line.split(/\s+/)[1]);
}

function commOf(pid: number): string {
  return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
}

async function connect(host: string, port: number, deadlineMs: number): Promise<pg.Client> {
  const until = performance.now() + deadlineMs;
  for (;;) {
    const c = new pg.Client({ host, port, user: 'postgres', database: 'postgres' });
    try {
      await c.connect();
      return c;
    } catch (e) {
      await c.end().catch(() => {});
      if (performance.now() > until) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

let cleanup: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanup.reverse()) f();
  cleanup = [];
});

describe('start.sh (the database container entry point)', () => {
  test.skipIf(!PGBIN)('SIGTERM gives PostgreSQL a fast, clean shutdown even with a client connected, and no parent process stays', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-start-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    chmodSync(dir, 0o755);
    const dataRoot = join(dir, 'volume');
    const configDir = join(dir, 'config');
    const sockets = join(dir, 'sockets');
    for (const d of [dataRoot, configDir, sockets]) mkdirSync(d, { mode: 0o755 });
    chmodSync(sockets, 0o777);
    const port = await freePort();
    // The settings every platform renders, made visible at LOG level, on a socket of this test only.
    const conf = renderConf({ ...BASE_SETTINGS, shared_buffers: '16MB', log_min_messages: 'log', listen_addresses: '', port, unix_socket_directories: sockets });
    writeFileSync(join(configDir, 'postgresql.conf'), conf);
    const script = join(configDir, 'start.sh');
    writeFileSync(script, START_SCRIPT, { mode: 0o755 });

    let log = '';
    const child: ChildProcess = spawn('/bin/sh', [script], {
      env: {
        PATH: process.env.PATH,
        PGBIN,
        STATEBENCH_ENGINE: 'postgres',
        STATEBENCH_DATA_ROOT: dataRoot,
        STATEBENCH_CONFIG_DIR: configDir,
        PGDATA: join(dataRoot, 'pgdata'),
        POSTGRES_PASSWORD: 'not-used-on-the-socket',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (b) => (log += b));
    child.stderr!.on('data', (b) => (log += b));
    const exited = new Promise<{ code: number | null; signal: string | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
    cleanup.push(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });

    const held = await connect(sockets, port, 60_000);
    cleanup.push(() => void held.end().catch(() => {}));
    held.on('error', () => {});
    await held.query('create table t (v int); insert into t values (1)');

    // The PID the kubelet started is the one the signal reaches: no runuser or su stays in between.
    expect(commOf(child.pid!)).toBe('sh');
    if (isRoot) expect(uidOf(child.pid!)).not.toBe(0);

    const t0 = performance.now();
    child.kill('SIGTERM');
    const { code, signal } = await exited;
    const tookMs = performance.now() - t0;

    expect({ code, signal }, log).toEqual({ code: 0, signal: null });
    // A smart shutdown would still be waiting for the held connection; a kill would log neither line.
    const fast = log.indexOf('received fast shutdown request');
    const down = log.indexOf('database system is shut down');
    expect(fast, log).toBeGreaterThanOrEqual(0);
    expect(down, log).toBeGreaterThan(fast);
    expect(log).toContain('cluster state: shut down');
    expect(tookMs).toBeLessThan(10_000);
  });
});
