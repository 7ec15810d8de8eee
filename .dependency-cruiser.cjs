// The layers of harness/, lowest first. A module may import its own layer and the layers below it,
// never one above, and no import cycle is allowed anywhere. `npm run deps` checks this; the unit
// test harness/dependencies.test.ts runs it so `npm test` catches a regression.
//
//   errors.ts                  the typed errors every layer throws
//   model/                     profile schema, units, options, plan, capabilities, result schemas (pure:
//                              no Node module that reads files, runs programs or opens sockets)
//   core/                      exec, clock, wait, cleanup, jsonl, workspace, net, tools
//   measure/ io/ storage/      figures and their distribution; the I/O probe; data volumes
//   engine/                    the database: single PostgreSQL, Patroni, binaries
//   safety/ workload/ fault/ report/
//   platforms/                 baremetal, docker, k8s: nodes with the same verbs
//   run/                       runner, target session, factories
//   cli.ts clean.ts doctor.ts  the commands
// testing/ holds test helpers: only tests (and other helpers) import it.
const LAYERS = [
  ['errors', ['^harness/errors\\.ts$']],
  ['model', ['^harness/model/']],
  ['core', ['^harness/core/']],
  ['measure', ['^harness/measure/', '^harness/io/', '^harness/storage/']],
  ['engine', ['^harness/engine/']],
  ['domain', ['^harness/safety/', '^harness/workload/', '^harness/fault/', '^harness/report/']],
  ['platforms', ['^harness/platforms/']],
  ['run', ['^harness/run/']],
  ['commands', ['^harness/cli\\.ts$', '^harness/clean\\.ts$', '^harness/doctor\\.ts$']],
];

const TESTS = '\\.test\\.ts$';

const upward = LAYERS.slice(0, -1).map(([name, paths], i) => ({
  name: `no-upward-from-${name}`,
  comment: `${name} may import only its own layer and those below it (see .dependency-cruiser.cjs)`,
  severity: 'error',
  from: { path: paths, pathNot: [TESTS, '^harness/testing/', '/testing/'] },
  to: { path: LAYERS.slice(i + 1).flatMap(([, p]) => p) },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'import cycles make the load order and the layering unreadable',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    ...upward,
    {
      name: 'model-is-pure',
      comment: 'model/ is data and the rules on it, so `plan` has no side effects; what looks at the machine (files, programs, the network) belongs in run/ (profile-files.ts, preflight.ts)',
      severity: 'error',
      from: { path: '^harness/model/', pathNot: [TESTS] },
      to: { dependencyTypes: ['core'], path: '^(node:)?(fs|fs/promises|child_process|net|os|worker_threads|http|https|http2|dgram|dns|module|process)$' },
    },
    {
      name: 'testing-only-from-tests',
      comment: 'harness/testing/ and */testing/ hold test helpers; runtime code must not import them',
      severity: 'error',
      from: { path: '^harness/', pathNot: [TESTS, '^harness/testing/', '/testing/'] },
      to: { path: ['^harness/testing/', '^harness/.+/testing/'] },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['node_modules', '/fixtures/'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.mts', '.mjs', '.js', '.d.mts'], exportsFields: ['exports'], conditionNames: ['import', 'node', 'default'] },
  },
};
