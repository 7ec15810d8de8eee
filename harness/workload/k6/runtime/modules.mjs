// The k6 modules the built-in runner provides, the file that implements each, and the names each
// exports. The loader checks every import of a script against this table before anything runs.
// Plain JavaScript: it is loaded by worker threads, which run without a TypeScript loader.

export const MODULES = {
  k6: { file: 'k6.mjs', exports: ['default', 'check', 'fail', 'group', 'randomSeed', 'sleep'] },
  'k6/metrics': { file: 'k6-metrics.mjs', exports: ['default', 'Counter', 'Gauge', 'Rate', 'Trend'] },
  'k6/x/sql': { file: 'k6-x-sql.mjs', exports: ['default', 'open'] },
  'k6/x/sql/driver/postgres': { file: 'k6-x-sql-driver-postgres.mjs', exports: ['default'] },
};
