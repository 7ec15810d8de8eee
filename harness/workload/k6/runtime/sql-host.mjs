// The SQL host: opens and authenticates the PostgreSQL connections of every VU's xk6-sql database
// handles, on its own thread, with node-postgres (so every authentication method and DSN form
// node-postgres knows works).
//
// Direct mode (the default): once a connection is ready, its socket stops being read here, is switched
// to blocking mode and its file descriptor is handed to the VU, which then speaks the protocol itself
// with blocking reads and writes (pg-sync.mjs) — one thread per statement, as in k6. The host closes
// the socket only when the VU has let go of it (reconnect, close, end of run).
//
// Bridge mode (TLS connections, a Node without blocking sockets, or when asked for): the host runs the
// statements. Each VU has its own MessagePort and a shared counter; an answer is posted on the port,
// then the counter is bumped and notified, which wakes the VU's Atomics.wait.
//
// Connection semantics follow Go's database/sql over lib/pq, which xk6-sql uses: the connection is
// made by the first call, a broken connection is replaced on the next call (so a VU recovers after the
// server restarts), a call without arguments uses the simple query protocol (several statements may be
// sent at once), a call with arguments the extended protocol with an unnamed statement.
import net from 'node:net';
import pg from 'pg';

const INT8 = 20;
const types = {
  getTypeParser(oid, format) {
    // lib/pq scans bigint into int64, which k6 hands to JavaScript as a number.
    if (oid === INT8 && format !== 'binary') return (v) => Number(v);
    return pg.types.getTypeParser(oid, format);
  },
};

/** lib/pq key=value DSN → node-postgres config; URLs (postgres://…) go to node-postgres as they are. */
export function parseDsn(dsn) {
  const text = (dsn ?? '').trim();
  if (/^postgres(ql)?:\/\//.test(text)) return { connectionString: text };
  const cfg = {};
  const re = /\s*([a-zA-Z_]+)\s*=\s*(?:'((?:[^'\\]|\\.)*)'|(\S*))/gy;
  let at = 0;
  while (at < text.length) {
    re.lastIndex = at;
    const m = re.exec(text);
    if (!m) throw new Error(`pq: invalid connection string near "${text.slice(at, at + 20)}"`);
    at = re.lastIndex;
    const v = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3];
    switch (m[1]) {
      case 'host':
        cfg.host = v;
        break;
      case 'port':
        cfg.port = Number(v);
        break;
      case 'user':
        cfg.user = v;
        break;
      case 'password':
        cfg.password = v;
        break;
      case 'dbname':
        cfg.database = v;
        break;
      case 'sslmode':
        cfg.ssl = v === 'disable' ? false : v === 'verify-full' || v === 'verify-ca' ? true : { rejectUnauthorized: false };
        break;
      case 'connect_timeout':
        cfg.connectionTimeoutMillis = Number(v) * 1000;
        break;
      case 'application_name':
        cfg.application_name = v;
        break;
      default:
        break;
    }
    while (at < text.length && /\s/.test(text[at])) at++;
  }
  return cfg;
}

function describeError(e) {
  const out = { message: e?.message ?? String(e) };
  for (const k of ['code', 'severity', 'detail', 'hint', 'position', 'constraint', 'table', 'column', 'schema']) if (e?.[k] !== undefined) out[k] = e[k];
  return out;
}

const ports = new Set();

/** Serves one VU: `port` carries requests and answers, `sab` holds the wake-up counter. */
export function attachVu(port, sab, vu) {
  const flag = new Int32Array(sab);
  /** @type {Map<number, {dsn: string, client?: pg.Client, ready?: Promise<void>, broken: boolean}>} */
  const handles = new Map();
  const state = { port, handles, vu };
  ports.add(state);

  const answer = (msg) => {
    port.postMessage(msg);
    Atomics.add(flag, 0, 1);
    Atomics.notify(flag, 0);
  };

  const client = async (h) => {
    const entry = handles.get(h);
    if (!entry) throw new Error(`sql: unknown database handle ${h}`);
    if (entry.client && entry.broken) {
      release(entry);
      entry.client = undefined;
    }
    if (!entry.client) {
      const c = new pg.Client({ ...parseDsn(entry.dsn), types });
      entry.broken = false;
      // Events of a connection that has since been replaced must not mark its successor.
      const lost = () => {
        if (entry.client === c) entry.broken = true;
      };
      c.on('error', lost);
      c.on('end', lost);
      entry.client = c;
      entry.direct = false;
      entry.ready = c.connect().catch((e) => {
        lost();
        throw e;
      });
    }
    await entry.ready;
    return entry.client;
  };

  port.on('message', async (m) => {
    switch (m.op) {
      case 'open':
        handles.set(m.h, { dsn: m.dsn, broken: false });
        return;
      case 'connect': {
        // (Re)connect; hand the socket over when the VU asks for direct mode and it can be had.
        const entry = handles.get(m.h);
        if (!entry) {
          answer({ seq: m.seq, error: { message: `sql: unknown database handle ${m.h}` } });
          return;
        }
        if (entry.client) {
          release(entry);
          entry.client = undefined;
        }
        try {
          const c = await client(m.h);
          const fd = m.direct ? detach(c) : undefined;
          entry.direct = fd !== undefined;
          answer(fd !== undefined ? { seq: m.seq, fd } : { seq: m.seq, bridge: true });
        } catch (e) {
          answer({ seq: m.seq, error: describeError(e) });
        }
        return;
      }
      case 'close': {
        const e = handles.get(m.h);
        handles.delete(m.h);
        if (e?.client) await release(e);
        answer({ seq: m.seq });
        return;
      }
      case 'exec':
      case 'query': {
        try {
          const c = await client(m.h);
          const res = await c.query(m.args.length ? { text: m.sql, values: m.args } : m.sql);
          const list = Array.isArray(res) ? res : [res];
          if (m.op === 'exec') {
            answer({ seq: m.seq, rowCount: list[list.length - 1]?.rowCount ?? 0 });
          } else {
            const first = list.find((r) => r.fields?.length) ?? list[list.length - 1];
            answer({ seq: m.seq, rows: first?.rows ?? [] });
          }
        } catch (e) {
          const entry = handles.get(m.h);
          // A connection-level failure: the next call opens a new connection, as database/sql does.
          if (entry && !e?.severity) entry.broken = true;
          answer({ seq: m.seq, error: describeError(e) });
        }
        return;
      }
      default:
        answer({ seq: m.seq, error: { message: `sql host: unknown operation ${m.op}` } });
    }
  });
  port.start?.();
}

/**
 * Stops reading a connected, idle, plain-TCP connection and makes its socket blocking; returns the
 * file descriptor, or undefined when the connection cannot be handed over (TLS, unknown internals).
 */
function detach(c) {
  const sock = c.connection?.stream;
  const handle = sock?._handle;
  if (!(sock instanceof net.Socket) || sock.encrypted || typeof handle?.setBlocking !== 'function' || typeof handle.readStop !== 'function') return undefined;
  const fd = handle.fd;
  if (typeof fd !== 'number' || fd < 0 || sock.readableLength > 0) return undefined;
  sock.pause();
  sock.removeAllListeners('data');
  handle.readStop();
  if (handle.setBlocking(true) !== 0) return undefined;
  return fd;
}

/** Closes a handle's connection. A handed-over socket is blocking and no longer read here: destroy it. */
function release(entry) {
  const c = entry.client;
  if (!c) return Promise.resolve();
  if (entry.direct) {
    entry.direct = false;
    c.connection?.stream?.destroy();
    return Promise.resolve();
  }
  return c.end().catch(() => {});
}

/**
 * Ends the server sessions of the given VUs (pg_terminate_backend from a separate connection): a VU
 * blocked on a statement that outlives its graceful stop gets its answer (the connection closes).
 */
export async function terminateBackends(vus) {
  const wanted = new Set(vus);
  const jobs = [];
  for (const p of ports) {
    if (!wanted.has(p.vu)) continue;
    for (const h of p.handles.values()) {
      const pid = h.client?.processID;
      if (!pid) continue;
      jobs.push(
        (async () => {
          const killer = new pg.Client({ ...parseDsn(h.dsn), connectionTimeoutMillis: 5000 });
          killer.on('error', () => {});
          try {
            await killer.connect();
            await killer.query('SELECT pg_terminate_backend($1)', [pid]);
          } finally {
            await killer.end().catch(() => {});
          }
        })().catch(() => {}),
      );
    }
  }
  await Promise.race([Promise.all(jobs), new Promise((r) => setTimeout(r, 10_000))]);
}

/** Open connections, for the run's details. */
export function connectionCount() {
  let n = 0;
  for (const p of ports) for (const h of p.handles.values()) if (h.client && !h.broken) n++;
  return n;
}

/** Closes every connection and port. */
export async function closeAll() {
  const ends = [];
  for (const p of ports) {
    for (const h of p.handles.values()) if (h.client) ends.push(release(h));
    p.handles.clear();
    p.port.close();
  }
  ports.clear();
  await Promise.race([Promise.all(ends), new Promise((r) => setTimeout(r, 5000))]);
}
