// k6 workloads: scripts in workloads/k6/ run by k6 (with xk6-sql) or by the built-in runner.
export { K6Workload, selectRunner, dsnFor, type K6WorkloadOptions } from './workload.ts';
export { K6WorkloadSpec, K6_RUNNERS, MAX_VUS, type K6Runner, type K6WorkloadInput } from '../../model/k6.ts';
export { K6Session, runBuiltin, type BuiltinResult, type IterationEvent, type RunHooks } from './builtin.ts';
export { K6ScriptError, K6UnsupportedError, loadScript } from './loader.ts';
export { K6OptionsError, planRun } from './options.ts';
export { probeK6, runK6Binary, K6_INSTALL_HINT } from './k6-binary.ts';
export { parseSummaryExport, PointsAccumulator, measuredPhase } from './normalize.ts';
