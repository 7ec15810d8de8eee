// Helpers shared by statebench's k6 scripts. Plain k6 and xk6-sql: the scripts run unchanged under
// `k6` built with xk6-sql + xk6-sql-driver-postgres, and under statebench's built-in runner.
//
// Conventions statebench reads:
//  - the database comes from __ENV.STATEBENCH_DSN (postgres://user:pass@host:port/db?sslmode=disable);
//  - one iteration is one transaction: its duration is the transaction latency;
//  - a transaction that fails is rolled back and counted by adding 1 to the counter
//    `statebench_errors`, tagged with `kind` (deadlock, serialization, timeout, server-shutdown,
//    connection, sql). The iteration then ends normally, so the VU goes on with the next one.
//
// A transaction is BEGIN … COMMIT through separate db.exec() calls. Each VU opens its own database
// handle in its init code and calls it one statement at a time, so all of a VU's statements use the
// same connection.
import sql from 'k6/x/sql';
import driver from 'k6/x/sql/driver/postgres';
import { Counter } from 'k6/metrics';

export const errors = new Counter('statebench_errors');

export function openDb() {
  const dsn = __ENV.STATEBENCH_DSN;
  if (!dsn) throw new Error('STATEBENCH_DSN is not set; e.g. STATEBENCH_DSN=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable');
  return sql.open(driver, dsn);
}

/** A positive whole number from the environment, or `fallback`. */
export function intEnv(name, fallback) {
  const v = __ENV[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive whole number, got "${v}"`);
  return n;
}

export function strEnv(name, fallback) {
  const v = __ENV[name];
  return v === undefined || v === '' ? fallback : v;
}

/** Uniform integer in [lo, hi]. */
export function randInt(lo, hi) {
  return lo + Math.floor(Math.random() * (hi - lo + 1));
}

const ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** sysbench-style filler: groups of 11 digits/letters separated by dashes, `len` characters. */
export function filler(len) {
  let s = '';
  while (s.length < len) {
    for (let i = 0; i < 11 && s.length < len; i++) s += ALNUM[Math.floor(Math.random() * ALNUM.length)];
    if (s.length < len) s += '-';
  }
  return s;
}

/** Sorts an error into the kinds statebench reports. xk6-sql gives only the message (lib/pq: "pq: …"). */
export function errorKind(e) {
  const m = String((e && e.message) || e);
  if (/deadlock detected/i.test(m)) return 'deadlock';
  if (/could not serialize access/i.test(m)) return 'serialization';
  if (/statement timeout|canceling statement/i.test(m)) return 'timeout';
  if (/terminating connection|database system is (shutting down|starting up|in recovery)|cannot execute .* in a read-only transaction/i.test(m)) return 'server-shutdown';
  if (/connection|connect:|broken pipe|EOF|ECONNRE|closed|terminated/i.test(m)) return 'connection';
  return 'sql';
}

/** Counts a failed transaction in statebench_errors. */
export function countError(e) {
  errors.add(1, { kind: errorKind(e) });
}

/** Runs `body` in a transaction. On failure: roll back, count it in statebench_errors, return false. */
export function transaction(db, body) {
  try {
    db.exec('BEGIN');
    body();
    db.exec('COMMIT');
    return true;
  } catch (e) {
    try {
      db.exec('ROLLBACK');
    } catch (_) {
      // The connection is gone; the next statement reconnects.
    }
    countError(e);
    return false;
  }
}
