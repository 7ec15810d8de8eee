// One registry for everything a run creates. Each resource is journaled to disk the moment it exists,
// so `statebench clean` can release it even after the run was killed with SIGKILL; in-process, release
// happens in reverse order of creation on every exit path.
import { appendFileSync, readFileSync, existsSync } from 'node:fs';

export type ResourceKind = 'process' | 'dir' | 'mount' | 'loop' | 'container' | 'network' | 'cluster' | 'image-file' | 'k8s-namespace' | 'cgroup';

export interface ResourceRecord {
  kind: ResourceKind;
  /** pid, path, device, container id or cluster name. */
  id: string;
  /** Free-form description for logs, never secrets. */
  what: string;
}

interface Entry {
  seq: number;
  record: ResourceRecord;
  release: () => Promise<void>;
}

export interface Registration {
  /** Releases this one resource now (idempotent) and forgets it. */
  release(): Promise<void>;
  /** Forgets the resource without releasing it (it was released another way). */
  forget(): void;
}

export class CleanupRegistry {
  private entries: Entry[] = [];
  private seq = 0;

  constructor(private readonly journal?: string) {}

  add(record: ResourceRecord, release: () => Promise<void>): Registration {
    const entry: Entry = { seq: ++this.seq, record, release };
    this.entries.push(entry);
    this.write({ op: 'add', seq: entry.seq, ...record });
    let done = false;
    const forget = () => {
      this.entries = this.entries.filter((e) => e !== entry);
      this.write({ op: 'release', seq: entry.seq });
    };
    return {
      release: async () => {
        if (done) return;
        done = true;
        try {
          await entry.release();
        } finally {
          forget();
        }
      },
      forget: () => {
        if (done) return;
        done = true;
        forget();
      },
    };
  }

  get size(): number {
    return this.entries.length;
  }

  /** Releases everything, newest first; keeps going past failures and returns them. */
  async releaseAll(onProgress?: (r: ResourceRecord) => void): Promise<Error[]> {
    const errors: Error[] = [];
    while (this.entries.length) {
      const entry = this.entries.pop()!;
      onProgress?.(entry.record);
      try {
        await entry.release();
        this.write({ op: 'release', seq: entry.seq });
      } catch (e) {
        errors.push(new Error(`releasing ${entry.record.kind} ${entry.record.what}: ${(e as Error).message}`));
      }
    }
    return errors;
  }

  private write(line: object) {
    if (this.journal) appendFileSync(this.journal, JSON.stringify(line) + '\n');
  }
}

/** Resources a journal says were created and never released, newest first. */
export function unreleased(journal: string): ResourceRecord[] {
  if (!existsSync(journal)) return [];
  const open = new Map<number, ResourceRecord>();
  for (const line of readFileSync(journal, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const { op, seq, kind, id, what } = JSON.parse(line);
      if (op === 'add') open.set(seq, { kind, id, what });
      else if (op === 'release') open.delete(seq);
    } catch {
      // A line torn by SIGKILL mid-write: the resource it names is found by the /proc scan instead.
    }
  }
  return [...open.entries()].sort((a, b) => b[0] - a[0]).map(([, r]) => r);
}
