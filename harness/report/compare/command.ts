// `statebench compare <baseline> <candidate>`: the comparison as Markdown on stdout, optionally as an
// HTML file, and an exit code that fails a CI job on a regression.
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { compareRuns, type CompareThresholds, type Comparison } from './compare.ts';
import { renderCompareHtml, renderCompareMarkdown } from './render.ts';
import { EXIT, StatebenchError } from '../../errors.ts';

export interface CompareCommandOptions extends CompareThresholds {
  /** Also write the HTML comparison to this file. */
  html?: string;
}

export interface CompareCommandResult {
  /** 0: no regression; 1: at least one regression (the same code as a failed check in `run`). */
  exitCode: number;
  markdown: string;
  html: string;
  comparison: Comparison;
  /** The HTML file written, when opts.html was given. */
  htmlFile?: string;
}

export async function compareCommand(baseline: string | string[], candidate: string | string[], opts: CompareCommandOptions = {}): Promise<CompareCommandResult> {
  let comparison: Comparison;
  try {
    comparison = await compareRuns(baseline, candidate, { minEffect: opts.minEffect, alpha: opts.alpha, singleValueMinEffect: opts.singleValueMinEffect, busyHost: opts.busyHost });
  } catch (e) {
    if (e instanceof RangeError) throw new StatebenchError(e.message, EXIT.usage, 'Thresholds are fractions: --min-effect 0.05 means 5 %, --alpha 0.05 a 95 % interval; --busy-host is decline or ignore.');
    throw e;
  }
  const markdown = renderCompareMarkdown(comparison);
  const html = renderCompareHtml(comparison);
  let htmlFile: string | undefined;
  if (opts.html) {
    htmlFile = resolve(opts.html);
    await writeFile(htmlFile, html);
  }
  return { exitCode: comparison.regressions.length ? EXIT.checksFailed : EXIT.ok, markdown, html, comparison, htmlFile };
}
