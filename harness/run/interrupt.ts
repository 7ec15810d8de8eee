// How a run is interrupted from outside: SIGINT or SIGTERM, or the death of an npx launcher above it
// (launcher-watch.ts). The first aborts the run's signal, so teardown releases everything the run
// created; a second exits at once and leaves the rest to `statebench clean`. The CLI and any script
// that calls runPlan itself (bench/) share it, so a benchmark killed halfway leaves no servers behind.
import { EXIT, InterruptedError } from '../errors.ts';
import { watchLaunchers } from './launcher-watch.ts';

export interface Interruption {
  signal: AbortSignal;
  /** Stops listening; call when the run is over. */
  dispose(): void;
}

export function interruptOnSignals(): Interruption {
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      process.stderr.write(`\n${sig}: stopping, cleaning up (send again to force)…\n`);
      controller.abort(new InterruptedError(sig));
    } else {
      // The second signal: teardown is already running; leave the rest to `statebench clean`.
      process.stderr.write(`${sig} again: exiting now; run \`statebench clean\` to remove leftovers\n`);
      process.exit(EXIT.interrupted);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Under npx a SIGTERM ends npm without reaching us.
  const unwatch = watchLaunchers((why) => {
    // Whoever read our output is gone with it; writing to the dead pipe must not crash teardown.
    for (const s of [process.stdout, process.stderr]) s.on('error', () => {});
    process.stderr.write(`\n${why}: stopping, cleaning up…\n`);
    onSignal('SIGTERM');
  });
  return {
    signal: controller.signal,
    dispose() {
      unwatch();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
