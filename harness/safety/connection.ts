// A database connection for the safety workloads, whose every operation ends within a deadline.
// A frozen server (SIGSTOP, a paused container, a stalled disk) never answers, and TCP keeps the
// socket open, so without our own timer an attempt would wait forever and the writer would stop
// probing. On expiry the socket is destroyed: the outcome of anything in flight is then unknown,
// and reusing the connection would mix the late answer into the next attempt.
import pg from 'pg';
import type { Socket } from 'node:net';
import { clientConfig } from '../engine/pg.ts';
import type { ConnInfo } from '../engine/types.ts';

export class DeadlineExceeded extends Error {
  constructor(what: string, ms: number) {
    super(`${what} did not finish within ${Math.round(ms)}ms`);
    this.name = 'DeadlineExceeded';
  }
}

/** Where an operation failed, which decides whether a write may have committed. */
export type FailureStage = 'connect' | 'statement';

export class SafetyConnection {
  private client?: pg.Client;
  private live = false;

  /** The server that answered this connection's startup: identity cannot change within a connection. */
  identity?: ServerIdentity;

  get usable(): boolean {
    return this.live;
  }

  async open(conn: ConnInfo, timeoutMs: number, applicationName: string): Promise<void> {
    this.close();
    const client = new pg.Client(clientConfig(conn, { connectionTimeoutMillis: timeoutMs, application_name: applicationName }));
    // An idle connection whose server dies reports the error here; marking it unusable lets the next
    // attempt reconnect instead of writing into a dead socket and calling the outcome unknown.
    client.on('error', () => {
      this.live = false;
    });
    client.on('end', () => {
      this.live = false;
    });
    this.client = client;
    await withDeadline(client.connect(), timeoutMs, 'connect', () => this.close());
    this.live = true;
  }

  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values: unknown[], timeoutMs: number): Promise<pg.QueryResult<R>> {
    const client = this.client;
    if (!client || !this.live) throw new Error('connection is not open');
    return withDeadline(client.query<R>(text, values), timeoutMs, 'statement', () => this.close());
  }

  /** Drops the connection without a goodbye: a hung server would never acknowledge one. */
  close(): void {
    const client = this.client;
    this.client = undefined;
    this.live = false;
    if (!client) return;
    const stream = (client as unknown as { connection?: { stream?: Socket } }).connection?.stream;
    if (stream && !stream.destroyed) stream.destroy();
    else client.end().catch(() => {});
  }
}

export interface ServerIdentity {
  /** Port the server listens on, as the server reports it (differs from ours behind a proxy). */
  port: number | null;
  /** pg_control system identifier: differs between independently initialised clusters. */
  systemId: string;
}

function withDeadline<T>(p: Promise<T>, ms: number, what: string, onExpire: () => void): Promise<T> {
  // The original promise settles later (rejected once the socket is destroyed); nobody waits for it.
  p.catch(() => {});
  let timer: NodeJS.Timeout | undefined;
  const expiry = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onExpire();
      reject(new DeadlineExceeded(what, ms));
    }, ms);
  });
  return Promise.race([p, expiry]).finally(() => clearTimeout(timer));
}

/**
 * True when the server answered with an ERROR (not FATAL/PANIC) and kept the session: the statement's
 * transaction was rolled back, so the write did not commit. PostgreSQL turns an error raised after the
 * commit record into a PANIC, never into a plain ERROR.
 */
export function isDefiniteRollback(err: unknown): boolean {
  const e = err as { severity?: string; code?: string } | undefined;
  return typeof e?.code === 'string' && e.code.length === 5 && e.severity === 'ERROR';
}

export function errorText(err: unknown): string {
  const e = err as { code?: string; message?: string } | undefined;
  const msg = e?.message ?? String(err);
  return e?.code && /^[0-9A-Z]{5}$/.test(e.code) ? `${e.code} ${msg}` : msg;
}
