// point-select: sysbench's oltp_point_select — one primary-key lookup per transaction — offered at
// a fixed arrival rate.
//
// Models a read-mostly service (a cache-miss path, a session or profile lookup) whose clients arrive
// on their own schedule. constant-arrival-rate starts RATE lookups per second whether or not earlier
// ones have finished, so a slow database shows as higher latency and, past its capacity, as dropped
// iterations (k6's dropped_iterations), instead of the load quietly falling (no coordinated omission).
//
// Every lookup is one index scan of sbtest_point's primary key: pg_stat_user_tables.idx_scan for the
// table counts them in the database.
//
// Environment: STATEBENCH_DSN (required), TABLE_SIZE (rows, default 10000), RATE (lookups per
// second, default 200), DURATION (default "30s"), VUS (pre-allocated VUs, default 4; up to 4x more
// are added if lookups queue).
import { check } from 'k6';
import { openDb, intEnv, strEnv, randInt, countError } from './lib/statebench.js';

const TABLE_SIZE = intEnv('TABLE_SIZE', 10000);
const VUS = intEnv('VUS', 4);

export const options = {
  scenarios: {
    lookups: {
      executor: 'constant-arrival-rate',
      rate: intEnv('RATE', 200),
      timeUnit: '1s',
      duration: strEnv('DURATION', '30s'),
      preAllocatedVUs: VUS,
      maxVUs: VUS * 4,
      gracefulStop: '10s',
    },
  },
  thresholds: {
    iteration_duration: ['p(99)<200'],
    dropped_iterations: ['count<100'],
    'checks{check:row found}': ['rate>0.999'],
  },
};

const db = openDb();

export function setup() {
  db.exec('DROP TABLE IF EXISTS sbtest_point');
  db.exec(`CREATE TABLE sbtest_point (
    id INTEGER PRIMARY KEY,
    k INTEGER DEFAULT 0 NOT NULL,
    c CHAR(120) DEFAULT '' NOT NULL,
    pad CHAR(60) DEFAULT '' NOT NULL)`);
  db.exec(
    `INSERT INTO sbtest_point (id, k, c, pad)
     SELECT g, (random() * $1)::int,
            substr(repeat(md5(g::text || random()::text), 4), 1, 119),
            substr(repeat(md5(random()::text), 2), 1, 59)
       FROM generate_series(1, $1::int) AS g`,
    TABLE_SIZE,
  );
  db.exec('ANALYZE sbtest_point');
  return { tableSize: TABLE_SIZE };
}

export default function (data) {
  // Autocommit, as sysbench runs point selects with --skip-trx.
  let rows;
  try {
    rows = db.query('SELECT c FROM sbtest_point WHERE id = $1', randInt(1, data.tableSize));
  } catch (e) {
    countError(e);
    return;
  }
  check(rows, { 'row found': (r) => r.length === 1 });
}

export function teardown() {
  db.close();
}
