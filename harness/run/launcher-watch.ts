// `npx statebench run …` is three processes: npm exec → sh -c → node. A SIGTERM to npx (what
// `timeout … npx statebench run …` sends) ends npm at once without passing the signal on, and the
// benchmark would run on alone with nobody waiting for it. So the run watches the launcher chain above
// it (npm/npx processes and the `sh -c` they start) and stops, as on SIGTERM, when a link of it dies:
// that link's child is then reparented, which is what the watch looks for. A parent that is not a
// launcher (a shell, nohup, CI's runner) is not watched: leaving it is not a reason to stop.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface Link {
  pid: number;
  ppid: number;
}

function ppidOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

function argvOf(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

/** npm and npx (their process title is `npm exec …`), and the `sh -c` they run a bin through. */
export function isLauncher(argv: string[]): boolean {
  if (!argv.length) return false;
  const cmd = basename(argv[0]);
  if (/^npm (exec|run|start|x)\b/.test(argv.join(' '))) return true;
  if (cmd === 'npm' || cmd === 'npx') return true;
  if (argv.some((a) => /(npm|npx)-cli\.js$/.test(a))) return true;
  return ['sh', 'dash', 'bash'].includes(cmd) && argv[1] === '-c' && argv.slice(2).some((a) => a.includes('statebench'));
}

/** The links from this process up through its launchers; empty when not started by one. */
export function launcherChain(self = process.pid): Link[] {
  const chain: Link[] = [];
  let pid = self;
  for (let i = 0; i < 8; i++) {
    const ppid = ppidOf(pid);
    if (ppid === undefined || ppid <= 1) break;
    if (i > 0 && !isLauncher(argvOf(pid))) break;
    if (!isLauncher(argvOf(ppid)) && i === 0) break;
    chain.push({ pid, ppid });
    pid = ppid;
  }
  // The last link's parent is whoever started npx; only links whose parent is a launcher matter.
  return chain.filter((l) => isLauncher(argvOf(l.ppid)));
}

/** Calls `onGone` once when a launcher above this process has exited. Returns a function that stops watching. */
export function watchLaunchers(onGone: (why: string) => void, intervalMs = 500): () => void {
  if (process.platform !== 'linux') return () => {};
  const chain = launcherChain();
  if (!chain.length) return () => {};
  const timer = setInterval(() => {
    for (const link of chain) {
      if (ppidOf(link.pid) !== link.ppid) {
        clearInterval(timer);
        onGone(`the launcher (pid ${link.ppid}, e.g. npx) exited`);
        return;
      }
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
