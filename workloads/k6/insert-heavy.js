// insert-heavy: append-only ingestion — every transaction inserts BATCH rows (an event log, metrics
// or audit trail written by many producers).
//
// Almost all the work is WAL: each iteration is one multi-row INSERT with ~200 bytes of payload a
// row into a table with a bigint identity key and a timestamp index, committed on its own. It is the
// workload most sensitive to fsync latency, so it separates local from remote storage sharply.
// Writers ramp up (ramping-vus) over RAMP, then hold VUS writers for DURATION; use the profile's
// warmup to leave the ramp out of the measured phase.
//
// Committed iterations × BATCH = rows in ingest_events.
//
// Environment: STATEBENCH_DSN (required), BATCH (rows per insert, default 10), VUS (default 4),
// RAMP (default "5s"), DURATION (hold, default "30s").
import { check } from 'k6';
import { openDb, intEnv, strEnv, filler, countError } from './lib/statebench.js';

const BATCH = intEnv('BATCH', 10);
const VUS = intEnv('VUS', 4);

export const options = {
  scenarios: {
    ingest: {
      executor: 'ramping-vus',
      startVUs: 1,
      stages: [
        { duration: strEnv('RAMP', '5s'), target: VUS },
        { duration: strEnv('DURATION', '30s'), target: VUS },
      ],
      gracefulRampDown: '5s',
      gracefulStop: '10s',
    },
  },
  thresholds: {
    iteration_duration: ['p(95)<500'],
    'checks{check:all rows inserted}': ['rate>0.99'],
  },
};

const db = openDb();

// One statement with BATCH rows: ($1, $2, $3), ($4, $5, $6), …
const INSERT = (() => {
  const rows = [];
  for (let i = 0; i < BATCH; i++) rows.push(`($${i * 3 + 1}, $${i * 3 + 2}, $${i * 3 + 3})`);
  return `INSERT INTO ingest_events (producer, seq, payload) VALUES ${rows.join(', ')}`;
})();

export function setup() {
  db.exec('DROP TABLE IF EXISTS ingest_events');
  db.exec(`CREATE TABLE ingest_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    producer INTEGER NOT NULL,
    seq BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    payload TEXT NOT NULL)`);
  db.exec('CREATE INDEX ingest_events_created_at ON ingest_events (created_at)');
  return { batch: BATCH };
}

let seq = 0;

export default function () {
  const args = [];
  for (let i = 0; i < BATCH; i++) args.push(__VU, seq++, filler(200));
  let inserted;
  try {
    inserted = db.exec(INSERT, ...args).rowsAffected();
  } catch (e) {
    countError(e);
    return;
  }
  check(inserted, { 'all rows inserted': (n) => n === BATCH });
}

export function teardown() {
  db.close();
}
