// Where a run's live state lives: data directories, sockets, logs, the resource journal. Everything a
// run starts lives below one directory named by its run id, so leftovers can be found after a SIGKILL.
import { chmodSync, mkdirSync, writeFileSync, readFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

export function statebenchHome(): string {
  return process.env.STATEBENCH_HOME ?? join(tmpdir(), 'statebench');
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
    // World-traversable: database processes run as an unprivileged user when statebench runs as root,
    // and must reach their data directories below here (a mkdtemp'd STATEBENCH_HOME is 0700).
    mkdirSync(this.dir, { recursive: true, mode: 0o755 });
    for (const d of [statebenchHome(), runsRoot(), this.dir]) chmodSync(d, 0o755);
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
