// Where a run's live state lives: data directories, sockets, logs, the resource journal. Everything a
// run starts lives below one directory named by its run id, so leftovers can be found after a SIGKILL.
import { chmodSync, mkdirSync, writeFileSync, readFileSync, existsSync, readdirSync, lstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { StatebenchError, EXIT } from '../errors.ts';

/**
 * Per user: /tmp/statebench-<uid>. One shared /tmp/statebench let the first user to run anything own
 * it (everyone else then failed with EACCES), and let any local user pre-create it, or symlinks in it,
 * to read or redirect another user's runs.
 */
export function statebenchHome(): string {
  return process.env.STATEBENCH_HOME ?? join(tmpdir(), `statebench-${process.getuid?.() ?? 'user'}`);
}

/**
 * Mode of the workspace directories. Only we may write or list them; as root, database processes run
 * as an unprivileged user and must traverse them to their data directories (execute only).
 */
const PRIVATE_MODE = process.getuid?.() === 0 ? 0o711 : 0o700;

/**
 * Creates the workspace (and its runs directory) for this user, or checks an existing one: a real
 * directory (not a symlink) owned by us that nobody else can write. Refuses anything else with what
 * to do, before a run starts.
 */
export function ensureHome(home = statebenchHome()): string {
  for (const dir of [home, join(home, 'runs')]) {
    try {
      mkdirSync(dir, { mode: PRIVATE_MODE });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new StatebenchError(`cannot create the workspace ${dir}: ${(e as Error).message}`, EXIT.environment, 'Set STATEBENCH_HOME to a directory you own.');
      }
    }
    const st = lstatSync(dir);
    const uid = process.getuid?.();
    if (st.isSymbolicLink() || !st.isDirectory()) {
      throw new StatebenchError(`the workspace ${dir} is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}; refusing to use it`, EXIT.environment, `Remove it, or set STATEBENCH_HOME to a directory you own.`);
    }
    if (uid !== undefined && st.uid !== uid) {
      throw new StatebenchError(`the workspace ${dir} is owned by uid ${st.uid}, not by you (uid ${uid}); refusing to use it`, EXIT.environment, `Another user created it. Remove it, or set STATEBENCH_HOME to a directory you own.`);
    }
    if (st.mode & 0o022) {
      throw new StatebenchError(`the workspace ${dir} is writable by other users (mode ${(st.mode & 0o777).toString(8)}); refusing to use it`, EXIT.environment, `chmod go-w ${dir}, or set STATEBENCH_HOME to a directory you own.`);
    }
  }
  return home;
}

export function runsRoot(): string {
  return join(statebenchHome(), 'runs');
}

export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${stamp}-${randomBytes(2).toString('hex')}`;
}

export interface Owner {
  pid: number;
  runId: string;
  startedAt: string;
  outDir: string;
}

export class Workspace {
  readonly dir: string;
  readonly journal: string;

  constructor(readonly runId: string) {
    this.dir = join(runsRoot(), runId);
    this.journal = join(this.dir, 'resources.jsonl');
  }

  create(outDir: string): void {
    ensureHome();
    // As root, database processes run as an unprivileged user and must reach their data directories
    // below here: the run directory is world-traversable (the workspace above it only traversable).
    mkdirSync(this.dir, { mode: 0o755 });
    chmodSync(this.dir, 0o755);
    if (process.getuid?.() === 0) for (const d of [statebenchHome(), runsRoot()]) chmodSync(d, lstatSync(d).mode & 0o777 | 0o011);
    const owner: Owner = { pid: process.pid, runId: this.runId, startedAt: new Date().toISOString(), outDir };
    writeFileSync(join(this.dir, 'owner.json'), JSON.stringify(owner));
  }

  path(...parts: string[]): string {
    return join(this.dir, ...parts);
  }

  static owner(runId: string): Owner | undefined {
    const f = join(runsRoot(), runId, 'owner.json');
    if (!existsSync(f)) return undefined;
    try {
      return JSON.parse(readFileSync(f, 'utf8'));
    } catch {
      return undefined;
    }
  }

  static list(): string[] {
    return existsSync(runsRoot()) ? readdirSync(runsRoot()) : [];
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
