// Writes summary.json and the reports rendered from it. `statebench report` calls the same function.
import { writeFile, rename } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
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
  // report.html reads the summary.json just written, plus the run's samples and events, and is
  // rendered in a child process: its chart library and the SVG it builds took the CLI's resident
  // memory from ~145 MB to ~190 MB at the end of a 2-minute run, and past 200 MB at the end of a
  // 10-minute one; in a child that memory is returned when it exits. Where the child cannot run
  // (no tsx next to this file, a failed spawn), the report is rendered here as before.
  written.push(await writeHtmlInChild(dir).catch(async () => {
    const { writeHtmlReport } = await import('./html/index.ts');
    return writeHtmlReport(dir);
  }));
  return written;
}

const HTML_CHILD = fileURLToPath(new URL('./html/write-child.mjs', import.meta.url));
/** A report of a long run renders in seconds; a child still alive after this is stuck. */
const HTML_CHILD_TIMEOUT_MS = 300_000;

function writeHtmlInChild(dir: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [HTML_CHILD, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), HTML_CHILD_TIMEOUT_MS);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0 && out) resolve(out);
      else reject(new Error(`report.html child exited with ${code}: ${err.slice(0, 500)}`));
    });
  });
}
