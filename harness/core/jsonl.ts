// Results stream to disk as JSON lines while the run goes. Readers count lines they cannot parse
// instead of skipping them silently: a torn last line after a SIGKILL is expected, more is not.
import { createWriteStream, type WriteStream, readFileSync, existsSync } from 'node:fs';
import { redact } from './redact.ts';

export class JsonlWriter {
  private stream: WriteStream;
  private closed = false;

  constructor(readonly file: string) {
    this.stream = createWriteStream(file, { flags: 'a' });
  }

  write(record: object): void {
    if (this.closed) return;
    // Script output and error messages land here; secrets must not (redact.ts).
    this.stream.write(JSON.stringify(redact(record)) + '\n');
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve, reject) => this.stream.end((err?: Error | null) => (err ? reject(err) : resolve())));
  }
}

export interface JsonlRead<T> {
  records: T[];
  malformed: number;
  /** Each line that was not taken as data: its 1-based number and why. */
  rejected: { file: string; line: number; reason: string }[];
}

/**
 * A line's shape check: the value to keep, why the line is rejected, or `other`: a well-formed record
 * of another kind that the same stream carries (samples.jsonl holds workload seconds and host-noise
 * samples), which is neither data for this reader nor a rejected line.
 */
export type LineCheck<T> = (value: unknown) => { ok: true; value: T } | { ok: false; reason: string } | { ok: 'other' };

/** Reads JSON lines; with `check`, a line that parses but has the wrong shape is rejected too. */
export function readJsonl<T = Record<string, unknown>>(file: string, check?: LineCheck<T>): JsonlRead<T> {
  if (!existsSync(file)) return { records: [], malformed: 0, rejected: [] };
  const records: T[] = [];
  const rejected: JsonlRead<T>['rejected'] = [];
  const lines = readFileSync(file, 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      rejected.push({ file, line: i + 1, reason: i === lines.length - 1 ? 'not JSON (a torn last line, as a killed run leaves)' : 'not JSON' });
      return;
    }
    if (!check) {
      records.push(value as T);
      return;
    }
    const r = check(value);
    if (r.ok === true) records.push(r.value);
    else if (r.ok === false) rejected.push({ file, line: i + 1, reason: r.reason });
  });
  return { records, malformed: rejected.length, rejected };
}
