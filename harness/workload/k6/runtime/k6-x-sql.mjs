// `k6/x/sql` (xk6-sql ≥ 1.0): sql.open(driver, dsn) → Database with exec, query, close. Calls block
// like xk6-sql's do. The SQL host makes the connection; then, in direct mode, this VU thread runs the
// statements on the connection's socket itself (pg-sync.mjs), otherwise it sends them to the host.
// Values follow lib/pq (the driver xk6-sql-driver-postgres uses): bigint columns arrive as numbers,
// server errors read "pq: <message>" and carry the SQLSTATE in `code`.
import { vu, sqlCall, guarded, checkInterrupt, UnsupportedError } from './vu-runtime.mjs';
import { SyncConnection } from './pg-sync.mjs';
import POSTGRES from './k6-x-sql-driver-postgres.mjs';

const DB_MEMBERS = ['exec', 'query', 'close'];

function toError(e) {
  const err = new Error(e.severity ? `pq: ${e.message}` : e.message);
  for (const k of ['code', 'severity', 'detail', 'hint', 'position', 'constraint', 'table', 'column', 'schema']) if (e[k] !== undefined) err[k] = e[k];
  return err;
}

function call(msg) {
  const r = sqlCall(msg);
  if (r.error) throw toError(r.error);
  return r;
}

function result(n) {
  return guarded(
    {
      rowsAffected: () => n,
      lastInsertId: () => {
        throw new Error('LastInsertId is not supported by this driver');
      },
    },
    'Result',
    ['rowsAffected', 'lastInsertId'],
  );
}

export function open(driver, dataSourceName) {
  if (typeof driver === 'string') {
    throw new UnsupportedError(`sql.open("${driver}", …) is the pre-1.0 xk6-sql API; import driver from "k6/x/sql/driver/postgres" and call sql.open(driver, dsn)`);
  }
  if (driver !== POSTGRES) throw new Error('unsupported database: the built-in runner provides the postgres driver only (import driver from "k6/x/sql/driver/postgres")');
  if (dataSourceName !== undefined && typeof dataSourceName !== 'string') throw new Error('sql.open(): the data source name must be a string');
  const h = vu.nextHandle++;
  // Like database/sql, opening only records the DSN; the connection is made by the first call.
  vu.sqlPort.postMessage({ op: 'open', h, dsn: dataSourceName ?? '', seq: 0 });
  let closed = false;
  /** @type {SyncConnection | null} */
  let conn = null;
  let bridge = !vu.sqlDirect;

  /** The direct connection, (re)made when there is none or it broke; null in bridge mode. */
  const direct = () => {
    if (bridge) return null;
    if (conn && !conn.broken) return conn;
    conn = null;
    const r = call({ op: 'connect', h, direct: true });
    if (r.fd === undefined) {
      bridge = true;
      return null;
    }
    conn = new SyncConnection(r.fd);
    return conn;
  };

  const run = (op, query, args) => {
    if (closed) throw new Error('sql: database is closed');
    checkInterrupt();
    const sql = String(query);
    const c = direct();
    if (!c) return call({ op, h, sql, args });
    const results = c.query(sql, args);
    if (op === 'exec') return { rowCount: results.length ? results[results.length - 1].rowCount : 0 };
    const first = results.find((x) => x.fields.length) ?? results[results.length - 1];
    return { rows: first ? first.rows : [] };
  };

  const db = {
    exec(query, ...args) {
      return result(run('exec', query, args).rowCount);
    },
    query(query, ...args) {
      return run('query', query, args).rows;
    },
    close() {
      if (closed) return;
      closed = true;
      conn?.terminate();
      conn = null;
      call({ op: 'close', h });
    },
  };
  return guarded(db, 'db', DB_MEMBERS);
}

export default guarded({ open }, 'sql', ['open']);
