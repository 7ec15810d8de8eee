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

describe('LedgerTally packing', () => {
  const sum = (p: string) => payloadChecksum(p);
  it('classifies ids of the ledger form (packed by writer and seq) and any other id (kept by id) alike, and keeps the strongest claim', () => {
    const attempts: LedgerAttempt[] = [];
    for (let seq = 0; seq < 5000; seq++) attempts.push({ id: `ab12cd-1-${seq}`, writer: 1, seq, startMs: seq, endMs: seq + 1, outcome: seq % 10 === 0 ? 'indeterminate' : 'ok', checksum: sum(`p${seq}`) });
    // The same id twice: the acknowledgement wins over the earlier failure, with its checksum.
    attempts.push({ id: 'ab12cd-2-7', writer: 2, seq: 7, startMs: 0, endMs: 1, outcome: 'failed', checksum: sum('old') });
    attempts.push({ id: 'ab12cd-2-7', writer: 2, seq: 7, startMs: 2, endMs: 3, outcome: 'ok', checksum: sum('new') });
    // Not the ledger's form: a leading zero, no seq, a checksum that is not sha256 hex.
    attempts.push({ id: 'ab12cd-3-007', writer: 3, seq: 7, startMs: 0, endMs: 1, outcome: 'ok', checksum: sum('z') });
    attempts.push({ id: 'hand-made', writer: 0, seq: 0, startMs: 0, endMs: 1, outcome: 'ok', checksum: sum('h') });
    attempts.push({ id: 'ab12cd-1-5001', writer: 1, seq: 5001, startMs: 0, endMs: 1, outcome: 'ok', checksum: 'not-hex' });
    const rows: RowFound[] = [];
    for (let seq = 0; seq < 5000; seq++) if (seq !== 4321 && seq % 20 !== 0) rows.push({ id: `ab12cd-1-${seq}`, checksum: seq === 17 ? sum('tampered') : sum(`p${seq}`), count: 1, intact: true });
    rows.push({ id: 'ab12cd-2-7', checksum: sum('new'), count: 1, intact: true });
    rows.push({ id: 'ab12cd-3-007', checksum: sum('z'), count: 1, intact: true });
    rows.push({ id: 'ab12cd-1-5001', checksum: 'not-hex', count: 1, intact: true });
    rows.push({ id: 'ab12cd-1-6000', checksum: sum('x'), count: 2, intact: true });
    const c = classifyLedger(attempts, rows);
    // 5000 + 4 distinct ids; every 10th of writer 1 indeterminate (every 20th of those absent).
    expect(c).toMatchObject({ attempted: 5004, acknowledged: 4504, failed: 0, indeterminate: 500, indeterminatePresent: 250, indeterminateAbsent: 250, lost: 2, phantom: 1, phantomUnattempted: 1, duplicated: 1, corrupted: 1 });
    expect(c.lostIds).toEqual(['ab12cd-1-4321', 'hand-made']);
    expect(c.corruptedIds).toEqual(['ab12cd-1-17']);
    expect(c.phantomIds).toEqual(['ab12cd-1-6000']);
  });
});
