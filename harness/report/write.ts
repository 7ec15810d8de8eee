// Writes summary.json and the reports rendered from it. `statebench report` calls the same function.
import { writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Summary } from '../model/summary.ts';
import { redact } from '../core/redact.ts';
import { renderMarkdown } from './markdown.ts';
import { renderJunit } from './junit.ts';
import { writeHtmlReport } from './html/index.ts';

async function atomicWrite(file: string, content: string): Promise<void> {
  // Rename over the old file so an interrupt never leaves a half-written summary.
  await writeFile(file + '.tmp', content);
  await rename(file + '.tmp', file);
}

export async function writeReports(dir: string, unredacted: Summary): Promise<string[]> {
  // Every report is rendered from the redacted summary: no secret reaches a published file.
  const summary = redact(unredacted);
  const files = {
    'summary.json': JSON.stringify(summary, null, 2) + '\n',
    'report.md': renderMarkdown(summary),
    'junit.xml': renderJunit(summary),
  };
  await Promise.all(Object.entries(files).map(([name, content]) => atomicWrite(join(dir, name), content)));
  const written = Object.keys(files).map((f) => join(dir, f));
  // report.html reads the summary.json just written, plus the run's samples and events.
  written.push(await writeHtmlReport(dir));
  return written;
}
