// Trends of headline figures across many runs, with step changes flagged.
export { historyReport, historyCommand, findRunDirs, type History, type HistoryOptions, type HistoryCommandOptions, type HistoryCommandResult, type HistorySeries, type HistoryFlag } from './history.ts';
export { changePoints, type ChangePoint, type ChangePointOptions } from './changepoint.ts';
