// Small helpers over node-postgres used by engines, workloads and verifiers.
import pg from 'pg';
import type { ConnInfo } from './types.ts';

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
  const deadline = performance.now() + timeoutMs;
  let last = 'no attempt';
  while (performance.now() < deadline) {
    signal?.throwIfAborted();
    try {
      await withClient(conn, async (c) => {
        const r = await c.query('select pg_is_in_recovery() as r');
        if (r.rows[0].r) throw new Error('server is in recovery (read-only)');
      });
      return;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`PostgreSQL at ${conn.host}:${conn.port} did not accept writes within ${timeoutMs}ms; last error: ${last}`);
}

/** e.g. "PostgreSQL 17.10", for reports. */
export function serverVersion(conn: ConnInfo): Promise<string> {
  return withClient(conn, async (c) => `PostgreSQL ${(await c.query('show server_version')).rows[0].server_version}`);
}
