// report.html: the self-contained HTML report of one run directory.
export { renderHtml, writeHtmlReport, renderRunHtml } from './render.ts';
export { loadRun, readSummary, runDirOf, type RunData, type SecondSample, type RunEvent } from './run-data.ts';
