// The recovery timeline of one fault, read off the ledger: the writer probes the database every few
// milliseconds, so its attempts show when writes stopped succeeding and when they came back, as a
// client sees it rather than as the engine reports it.
import type { Recovery } from '../model/summary.ts';

/** The parts of a ledger attempt the timeline needs. */
export interface TimedAttempt {
  startMs: number;
  endMs: number;
  outcome: 'ok' | 'failed' | 'indeterminate';
}

export interface RecoveryWindow {
  /** Attempts that start at or after this belong to the next fault cycle. Default: no limit. */
  untilMs?: number;
  /** When the engine reported healthy again, run-clock ms; fills timeToHealthyMs. */
  healthyAtMs?: number | null;
}

export function buildRecovery(injectedAtMs: number, attempts: Iterable<TimedAttempt>, window: RecoveryWindow = {}): Recovery {
  const until = window.untilMs ?? Infinity;
  let lastSuccessBefore: number | null = null;
  let firstFailure: number | null = null;
  const okAfter: TimedAttempt[] = [];
  for (const a of attempts) {
    if (a.startMs >= until) continue;
    if (a.outcome === 'ok') {
      if (a.startMs < injectedAtMs) {
        if (lastSuccessBefore === null || a.endMs > lastSuccessBefore) lastSuccessBefore = a.endMs;
      } else {
        okAfter.push(a);
      }
    } else if (a.endMs >= injectedAtMs && (firstFailure === null || a.endMs < firstFailure)) {
      firstFailure = a.endMs;
    }
  }
  // A write that started before the first failure was seen may have slipped through before the fault
  // took hold (a kill lands after the signal is sent); it says nothing about recovery.
  let firstWriteAfter: number | null = null;
  for (const a of okAfter) {
    if (firstFailure !== null && a.startMs <= firstFailure) continue;
    if (firstWriteAfter === null || a.endMs < firstWriteAfter) firstWriteAfter = a.endMs;
  }
  const healthyAt = window.healthyAtMs ?? null;
  const recovered = firstWriteAfter !== null;
  return {
    unavailableMs: recovered && lastSuccessBefore !== null ? firstWriteAfter! - lastSuccessBefore : null,
    timeToFirstWriteMs: recovered ? firstWriteAfter! - injectedAtMs : null,
    timeToHealthyMs: healthyAt !== null ? healthyAt - injectedAtMs : null,
    lastSuccessBeforeMs: lastSuccessBefore,
    firstFailureMs: firstFailure,
    firstWriteAfterMs: firstWriteAfter,
    recovered,
  };
}
