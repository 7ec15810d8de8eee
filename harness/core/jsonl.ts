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
}

export function readJsonl<T = Record<string, unknown>>(file: string): JsonlRead<T> {
  if (!existsSync(file)) return { records: [], malformed: 0 };
  const records: T[] = [];
  let malformed = 0;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      records.push(JSON.parse(line));
    } catch {
      malformed++;
    }
  }
  return { records, malformed };
}
