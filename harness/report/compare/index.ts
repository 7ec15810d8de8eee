// Baseline vs candidate run comparison with noise-aware verdicts.
export { compareRuns, compareRunData, DEFAULT_THRESHOLDS, type CompareThresholds, type Comparison, type MetricChange, type Verdict } from './compare.ts';
export { renderCompareMarkdown, renderCompareHtml } from './render.ts';
export { compareCommand, type CompareCommandOptions, type CompareCommandResult } from './command.ts';
export { mannWhitneyU, type RankTest } from './stats.ts';
