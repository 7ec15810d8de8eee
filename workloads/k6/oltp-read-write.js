// oltp-read-write: sysbench's oltp_read_write transaction against one sbtest table, closed loop.
//
// Models a mixed OLTP application: every transaction reads (10 primary-key lookups, four 100-row
// range queries: plain, SUM, ORDER BY, DISTINCT) and writes (an indexed-column update, a
// non-indexed update, a delete and re-insert of one row), with sysbench's table layout and data.
// VUs run transactions back to back (constant-vus), so the result is the throughput the database
// sustains for that many clients, and its latency.
//
// Differences from sysbench, both so the database can be checked against the runner's count: the
// deleted row is re-inserted with its own `k` (DELETE … RETURNING), and each transaction ends by
// bumping its VU's row in sbtest_tally (a per-VU row, so VUs never contend on it). SUM(n) in
// sbtest_tally is the number of committed transactions.
//
// Environment: STATEBENCH_DSN (required), TABLE_SIZE (rows, default 10000), VUS (default 4),
// DURATION (default "30s").
import { check } from 'k6';
import { openDb, intEnv, strEnv, randInt, filler, transaction } from './lib/statebench.js';

const TABLE_SIZE = intEnv('TABLE_SIZE', 10000);
const RANGE = 100;

export const options = {
  scenarios: {
    oltp: {
      executor: 'constant-vus',
      vus: intEnv('VUS', 4),
      duration: strEnv('DURATION', '30s'),
      gracefulStop: '10s',
    },
  },
  thresholds: {
    iteration_duration: ['p(95)<1000'],
    checks: ['rate>0.99'],
  },
};

const db = openDb();

export function setup() {
  db.exec('DROP TABLE IF EXISTS sbtest1, sbtest_tally');
  db.exec(`CREATE TABLE sbtest1 (
    id SERIAL PRIMARY KEY,
    k INTEGER DEFAULT 0 NOT NULL,
    c CHAR(120) DEFAULT '' NOT NULL,
    pad CHAR(60) DEFAULT '' NOT NULL)`);
  // sysbench fills c and pad with dash-separated groups of 11 digits; md5 text is as incompressible.
  db.exec(
    `INSERT INTO sbtest1 (k, c, pad)
     SELECT (random() * $1)::int,
            substr(repeat(md5(g::text || random()::text), 4), 1, 119),
            substr(repeat(md5(random()::text), 2), 1, 59)
       FROM generate_series(1, $1::int) AS g`,
    TABLE_SIZE,
  );
  db.exec('CREATE INDEX k_1 ON sbtest1 (k)');
  db.exec('CREATE TABLE sbtest_tally (vu INTEGER PRIMARY KEY, n BIGINT NOT NULL)');
  db.exec('ANALYZE sbtest1');
  return { tableSize: TABLE_SIZE };
}

export default function (data) {
  const size = data.tableSize;
  transaction(db, () => {
    for (let i = 0; i < 10; i++) {
      const rows = db.query('SELECT c FROM sbtest1 WHERE id = $1', randInt(1, size));
      check(rows, { 'point select finds at most one row': (r) => r.length <= 1 });
    }
    let lo = randInt(1, size - RANGE + 1);
    db.query('SELECT c FROM sbtest1 WHERE id BETWEEN $1 AND $2', lo, lo + RANGE - 1);
    lo = randInt(1, size - RANGE + 1);
    db.query('SELECT SUM(k) FROM sbtest1 WHERE id BETWEEN $1 AND $2', lo, lo + RANGE - 1);
    lo = randInt(1, size - RANGE + 1);
    db.query('SELECT c FROM sbtest1 WHERE id BETWEEN $1 AND $2 ORDER BY c', lo, lo + RANGE - 1);
    lo = randInt(1, size - RANGE + 1);
    db.query('SELECT DISTINCT c FROM sbtest1 WHERE id BETWEEN $1 AND $2 ORDER BY c', lo, lo + RANGE - 1);

    db.exec('UPDATE sbtest1 SET k = k + 1 WHERE id = $1', randInt(1, size));
    db.exec('UPDATE sbtest1 SET c = $2 WHERE id = $1', randInt(1, size), filler(119));
    const id = randInt(1, size);
    const gone = db.query('DELETE FROM sbtest1 WHERE id = $1 RETURNING k', id);
    // Another VU may have deleted it first; then there is nothing to put back.
    if (gone.length === 1) {
      db.exec('INSERT INTO sbtest1 (id, k, c, pad) VALUES ($1, $2, $3, $4)', id, gone[0].k, filler(119), filler(59));
    }
    db.exec('INSERT INTO sbtest_tally (vu, n) VALUES ($1, 1) ON CONFLICT (vu) DO UPDATE SET n = sbtest_tally.n + 1', __VU);
  });
}

export function teardown() {
  db.close();
}
