// Entry of the child process that writes report.html (see writeReports in ../write.ts): argv[2] is
// the run directory. Exit 0 once the file is written; a message on stderr and exit 1 otherwise.
import { register } from 'tsx/esm/api';

register();
try {
  const { writeHtmlReport } = await import('./render.ts');
  process.stdout.write(await writeHtmlReport(process.argv[2]));
} catch (e) {
  process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
}
