// Progress on the terminal: one live line on a TTY (log-update), and on a pipe (CI logs) a line per
// phase change plus at most one line every 10 s, so logs stay readable.
import { createLogUpdate } from 'log-update';
import { redactString } from '../core/redact.ts';

export interface Progress {
  status(target: string, phase: string, detail?: string): void;
  log(line: string): void;
  done(): void;
}

export function createProgress(stream: NodeJS.WriteStream = process.stderr, quiet = false): Progress {
  const t0 = performance.now();
  const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(0).padStart(4)}s`;
  if (quiet) return { status() {}, log() {}, done() {} };
  if (stream.isTTY) {
    const live = createLogUpdate(stream);
    return {
      status: (target, phase, detail) => live(`[${elapsed()}] ${target} ${phase}${detail ? `: ${detail}` : ''}`),
      log: (line) => {
        live.clear();
        stream.write(redactString(line) + '\n');
      },
      done: () => live.done(),
    };
  }
  let lastPhase = '';
  let lastPrint = 0;
  return {
    status(target, phase, detail) {
      const key = `${target} ${phase}`;
      const now = performance.now();
      if (key === lastPhase && now - lastPrint < 10_000) return;
      lastPhase = key;
      lastPrint = now;
      stream.write(`[${elapsed()}] ${key}${detail ? `: ${detail}` : ''}\n`);
    },
    log: (line) => stream.write(redactString(line) + '\n'),
    done() {},
  };
}
