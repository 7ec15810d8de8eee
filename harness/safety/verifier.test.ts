import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classifyLedger, type RowFound } from './verifier.ts';
import { payloadChecksum, readLedger, type LedgerAttempt, type Outcome } from './ledger.ts';

let t = 0;
function attempt(id: string, outcome: Outcome, payload = `payload-${id}`): LedgerAttempt {
  t += 10;
  return { id, writer: 0, seq: t, startMs: t, endMs: t + 5, outcome, checksum: payloadChecksum(payload) };
}

function row(id: string, payload = `payload-${id}`, count = 1): RowFound {
  return { id, checksum: payloadChecksum(payload), count, intact: true };
}

describe('classifyLedger', () => {
  it('finds nothing wrong when every acknowledged write is there and nothing else is', () => {
    const c = classifyLedger([attempt('a', 'ok'), attempt('b', 'ok'), attempt('c', 'failed')], [row('a'), row('b')]);
    expect(c).toMatchObject({ attempted: 3, acknowledged: 2, failed: 1, indeterminate: 0, lost: 0, phantom: 0, duplicated: 0, corrupted: 0 });
  });

  it('counts an acknowledged write that is missing as lost and names it', () => {
    const c = classifyLedger([attempt('a', 'ok'), attempt('b', 'ok')], [row('a')]);
    expect(c.lost).toBe(1);
    expect(c.lostIds).toEqual(['b']);
  });

  it('keeps only the first 100 lost ids but counts them all', () => {
    const attempts = Array.from({ length: 150 }, (_, i) => attempt(`x${i}`, 'ok'));
    const c = classifyLedger(attempts, []);
    expect(c.lost).toBe(150);
    expect(c.lostIds).toHaveLength(100);
    expect(c.lostIds[0]).toBe('x0');
  });

  it('counts a row no attempt wrote as a phantom', () => {
    const c = classifyLedger([attempt('a', 'ok')], [row('a'), row('stranger')]);
    expect(c.phantom).toBe(1);
    expect(c.phantomUnattempted).toBe(1);
    expect(c.phantomIds).toEqual(['stranger']);
    expect(c.corrupted).toBe(0);
  });

  it('counts a row whose attempt definitely failed as a phantom', () => {
    const c = classifyLedger([attempt('a', 'failed')], [row('a')]);
    expect(c.phantom).toBe(1);
    expect(c.phantomUnattempted).toBe(0);
    expect(c.failed).toBe(1);
  });

  it('accepts an indeterminate attempt whose row is present', () => {
    const c = classifyLedger([attempt('a', 'indeterminate')], [row('a')]);
    expect(c).toMatchObject({ indeterminate: 1, indeterminatePresent: 1, indeterminateAbsent: 0, lost: 0, phantom: 0 });
  });

  it('accepts an indeterminate attempt whose row is absent', () => {
    const c = classifyLedger([attempt('a', 'indeterminate')], []);
    expect(c).toMatchObject({ indeterminate: 1, indeterminatePresent: 0, indeterminateAbsent: 1, lost: 0, phantom: 0 });
  });

  it('counts an id stored more than once as duplicated, grouped or not', () => {
    const grouped = classifyLedger([attempt('a', 'ok')], [row('a', 'payload-a', 2)]);
    expect(grouped.duplicated).toBe(1);
    expect(grouped.duplicatedIds).toEqual(['a']);
    const raw = classifyLedger([attempt('b', 'ok')], [row('b'), row('b')]);
    expect(raw.duplicated).toBe(1);
    expect(raw.lost).toBe(0);
    expect(raw.corrupted).toBe(0);
  });

  it('counts a payload that does not match the ledger checksum as corrupted', () => {
    const c = classifyLedger([attempt('a', 'ok'), attempt('b', 'indeterminate')], [row('a', 'bit-flipped'), row('b', 'also wrong')]);
    expect(c.corrupted).toBe(2);
    expect(c.corruptedIds.sort()).toEqual(['a', 'b']);
    expect(c.lost).toBe(0);
  });

  it('counts a row whose own checksum column disagrees with its payload as corrupted, even a phantom', () => {
    const c = classifyLedger([], [{ ...row('z'), intact: false }]);
    expect(c.phantom).toBe(1);
    expect(c.corrupted).toBe(1);
  });

  it('counts duplicates that disagree on content as corrupted too', () => {
    const c = classifyLedger([attempt('a', 'ok')], [row('a'), row('a', 'other content')]);
    expect(c.duplicated).toBe(1);
    expect(c.corrupted).toBe(1);
  });

  it('lets an acknowledgement win when the ledger holds an id twice', () => {
    const c = classifyLedger([attempt('a', 'failed'), attempt('a', 'ok')], []);
    expect(c.attempted).toBe(1);
    expect(c.acknowledged).toBe(1);
    expect(c.lost).toBe(1);
  });
});

describe('readLedger', () => {
  it('counts torn and foreign lines as malformed and keeps the attempts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ledger-'));
    try {
      const file = join(dir, 'ledger.jsonl');
      const good = attempt('a', 'ok');
      writeFileSync(
        file,
        [JSON.stringify(good), '{"id":"b","outco', JSON.stringify({ type: 'something-else' }), '', JSON.stringify(attempt('c', 'failed')), '{"id":"d"'].join('\n'),
      );
      const { attempts, malformed } = await readLedger(file);
      expect(attempts.map((a) => a.id)).toEqual(['a', 'c']);
      expect(malformed).toBe(3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads a missing ledger as empty', async () => {
    expect(await readLedger('/nonexistent/ledger.jsonl')).toEqual({ attempts: [], malformed: 0 });
  });
});
