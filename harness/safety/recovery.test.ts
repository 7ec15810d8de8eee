import { describe, expect, it } from 'vitest';
import { buildRecovery, type TimedAttempt } from './recovery.ts';

const ok = (startMs: number, endMs: number): TimedAttempt => ({ startMs, endMs, outcome: 'ok' });
const failed = (startMs: number, endMs: number): TimedAttempt => ({ startMs, endMs, outcome: 'failed' });
const unknown = (startMs: number, endMs: number): TimedAttempt => ({ startMs, endMs, outcome: 'indeterminate' });

describe('buildRecovery', () => {
  it('measures from the last success before the fault to the first write after the first failure', () => {
    const r = buildRecovery(1_000, [ok(900, 950), ok(990, 998), unknown(999, 1_003), failed(1_010, 1_011), failed(1_030, 1_031), ok(1_500, 1_520), ok(1_600, 1_610)], {
      healthyAtMs: 1_490,
    });
    expect(r).toEqual({
      lastSuccessBeforeMs: 998,
      firstFailureMs: 1_003,
      firstWriteAfterMs: 1_520,
      unavailableMs: 1_520 - 998,
      timeToFirstWriteMs: 520,
      timeToHealthyMs: 490,
      recovered: true,
    });
  });

  it('does not count a write that started before the first failure as recovery', () => {
    // The fault lands a little after injection; this write got through before it did.
    const r = buildRecovery(1_000, [ok(990, 995), ok(1_001, 1_004), failed(1_005, 1_050), ok(1_040, 1_200), ok(1_300, 1_310)]);
    expect(r.firstFailureMs).toBe(1_050);
    expect(r.firstWriteAfterMs).toBe(1_310);
    expect(r.timeToFirstWriteMs).toBe(310);
  });

  it('takes the last success by its end, across clients', () => {
    const r = buildRecovery(1_000, [ok(950, 999.5), ok(960, 970), failed(1_001, 1_002), ok(1_100, 1_101)]);
    expect(r.lastSuccessBeforeMs).toBe(999.5);
    expect(r.unavailableMs).toBeCloseTo(101.5);
  });

  it('takes the first write after injection when nothing failed', () => {
    const r = buildRecovery(1_000, [ok(990, 999), ok(1_000, 1_002), ok(1_010, 1_012)]);
    expect(r).toMatchObject({ recovered: true, firstFailureMs: null, firstWriteAfterMs: 1_002, timeToFirstWriteMs: 2, unavailableMs: 3 });
  });

  it('is not recovered, with nulls, when no write succeeded after the fault', () => {
    const r = buildRecovery(1_000, [ok(990, 999), failed(1_001, 1_002), unknown(1_003, 3_003)]);
    expect(r).toEqual({
      lastSuccessBeforeMs: 999,
      firstFailureMs: 1_002,
      firstWriteAfterMs: null,
      unavailableMs: null,
      timeToFirstWriteMs: null,
      timeToHealthyMs: null,
      recovered: false,
    });
  });

  it('ignores failures that ended before the injection', () => {
    const r = buildRecovery(1_000, [failed(500, 510), ok(600, 610), failed(1_020, 1_021), ok(1_100, 1_105)]);
    expect(r.firstFailureMs).toBe(1_021);
    expect(r.lastSuccessBeforeMs).toBe(610);
  });

  it('stops at the next cycle', () => {
    const attempts = [ok(900, 910), failed(1_001, 1_002), failed(1_800, 1_900), ok(2_100, 2_110)];
    expect(buildRecovery(1_000, attempts, { untilMs: 2_000 }).recovered).toBe(false);
    expect(buildRecovery(1_000, attempts).firstWriteAfterMs).toBe(2_110);
  });

  it('leaves unavailableMs null when nothing succeeded before the fault', () => {
    const r = buildRecovery(1_000, [failed(1_001, 1_002), ok(1_200, 1_210)]);
    expect(r).toMatchObject({ recovered: true, lastSuccessBeforeMs: null, unavailableMs: null, timeToFirstWriteMs: 210 });
  });
});
