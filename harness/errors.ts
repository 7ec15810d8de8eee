// Typed errors carry the exit code and the text a user acts on. Only the CLI's error boundary turns
// them into an exit; library code throws.

export const EXIT = {
  ok: 0,
  /** The run finished but a conformance check failed. */
  checksFailed: 1,
  /** The profile or the command line is wrong; nothing was started. */
  usage: 2,
  /** Something statebench needs is missing from this machine (a tool, root, a free port). */
  environment: 3,
  /** The run itself failed (a database did not start, a workload broke). */
  runFailed: 4,
  interrupted: 130,
} as const;

export class StatebenchError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.runFailed,
    readonly hint?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export interface ProfileProblem {
  /** Dotted path into the profile, e.g. `targets.0.storage.kind`. */
  path: string;
  line?: number;
  message: string;
}

export class ProfileError extends StatebenchError {
  constructor(
    readonly file: string,
    readonly problems: ProfileProblem[],
  ) {
    super(
      `${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}, nothing was started\n` +
        problems.map((p) => `  ${p.line ? `line ${p.line}: ` : ''}${p.path || '(profile)'}: ${p.message}`).join('\n'),
      EXIT.usage,
    );
  }
}

export class MissingToolError extends StatebenchError {
  constructor(tool: string, why: string, install: string) {
    super(`${tool} is needed ${why} but was not found on PATH`, EXIT.environment, `${install}. Run \`statebench doctor\` to see what else is missing.`);
  }
}

/** A wait ran out of time: what was awaited, for how long, and the last state it saw. */
export class WaitTimeoutError extends StatebenchError {
  constructor(
    readonly what: string,
    readonly timeoutMs: number,
    readonly lastState: string,
    readonly looks: number,
    hint?: string,
  ) {
    super(`timed out after ${timeoutMs} ms waiting for ${what} (${looks} look${looks === 1 ? '' : 's'}); last seen: ${lastState}`, EXIT.runFailed, hint);
  }
}

export class InterruptedError extends StatebenchError {
  constructor(signal: string) {
    super(`interrupted by ${signal}; cleaned up, results measured so far are kept`, EXIT.interrupted);
  }
}
