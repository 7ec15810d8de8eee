// Small helpers over node-postgres used by engines, workloads and verifiers.
import pg from 'pg';
import type { ConnInfo } from './types.ts';
import { met, notYet, waitFor } from '../core/wait.ts';

export function clientConfig(conn: ConnInfo, extra: Partial<pg.ClientConfig> = {}): pg.ClientConfig {
  return {
    host: conn.host,
    port: conn.port,
    user: conn.user,
    database: conn.database,
    password: conn.password,
    connectionTimeoutMillis: 5_000,
    ...extra,
  };
}

export async function connect(conn: ConnInfo, extra: Partial<pg.ClientConfig> = {}): Promise<pg.Client> {
  const client = new pg.Client(clientConfig(conn, extra));
  // Errors on an idle connection (the server was killed) must not crash the process; the next query
  // on this client fails and its caller decides what to do.
  client.on('error', () => {});
  await client.connect();
  return client;
}

export async function withClient<T>(conn: ConnInfo, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = await connect(conn);
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => {});
  }
}

/** Retries a connection until a write-capable query succeeds or the deadline passes. */
export async function awaitWritable(conn: ConnInfo, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  await waitFor(
    `PostgreSQL at ${conn.host}:${conn.port} to accept writes`,
    async () => {
      try {
        const inRecovery = await withClient(conn, async (c) => (await c.query('select pg_is_in_recovery() as r')).rows[0].r as boolean);
        return inRecovery ? notYet('server is in recovery (read-only)') : met(undefined);
      } catch (e) {
        return notYet((e as Error).message);
      }
    },
    { timeoutMs, intervalMs: 50, signal },
  );
}

/** e.g. "PostgreSQL 17.10", for reports. */
export function serverVersion(conn: ConnInfo): Promise<string> {
  return withClient(conn, async (c) => `PostgreSQL ${(await c.query('show server_version')).rows[0].server_version}`);
}
