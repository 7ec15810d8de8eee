// Writes summary.json and the reports rendered from it. `statebench report` calls the same function.
import { writeFile, rename } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { rejectedLines } from './html/run-data.ts';
import type { Summary } from '../model/summary.ts';
import { redact } from '../core/redact.ts';
import { renderMarkdown } from './markdown.ts';
import { renderJunit } from './junit.ts';

async function atomicWrite(file: string, content: string): Promise<void> {
  // Rename over the old file so an interrupt never leaves a half-written summary.
  await writeFile(file + '.tmp', content);
  await rename(file + '.tmp', file);
}

/** Every result line a reader refused, by file and line: readers count them, never skip them silently. */
function rejectedSection(dir: string): string {
  const rejected = rejectedLines(dir);
  if (!rejected.length) return '';
  const shown = rejected.slice(0, 100).map((r) => `- \`${basename(r.file)}:${r.line}\`: ${r.reason}`);
  return `\n## Rejected result lines\n\n${rejected.length} line(s) of the streamed results were not taken as data (a torn last line after a kill is expected; more is not):\n\n${shown.join('\n')}${rejected.length > 100 ? `\n- … and ${rejected.length - 100} more` : ''}\n`;
}

export async function writeReports(dir: string, unredacted: Summary): Promise<string[]> {
  // Every report is rendered from the redacted summary: no secret reaches a published file.
  const summary = redact(unredacted);
  const files = {
    'summary.json': JSON.stringify(summary, null, 2) + '\n',
    'report.md': renderMarkdown(summary) + rejectedSection(dir),
    'junit.xml': renderJunit(summary),
  };
  await Promise.all(Object.entries(files).map(([name, content]) => atomicWrite(join(dir, name), content)));
  const written = Object.keys(files).map((f) => join(dir, f));
  // report.html reads the summary.json just written, plus the run's samples and events. Its chart
  // library is loaded only now: held for the whole run it was ~75 MB of the CLI's resident memory.
  const { writeHtmlReport } = await import('./html/index.ts');
  written.push(await writeHtmlReport(dir));
  return written;
}
