// The big-data workload schemas and profiles/big-data.yaml. The profile is checked piecewise (its
// workloads against these schemas, the rest against the profile schema) and, once the profile's
// workload union includes the big-data kinds, as a whole.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { Profile, Workload } from './profile.ts';
import { AnalyticWorkload, BulkLoadWorkload, BULK_LOAD_DEFAULT_SIZE } from './big-data.ts';
import { BulkData } from '../workload/bulk-load.ts';

const BigData = z.discriminatedUnion('kind', [BulkLoadWorkload, AnalyticWorkload]);

describe('big-data workload schemas', () => {
  it('fill in defaults and parse units', () => {
    expect(BulkLoadWorkload.parse({ kind: 'bulk-load', size: '2GiB', chunk: '8MiB', duration: '5m' })).toMatchObject({
      size: 2 * 1024 ** 3,
      chunk: 8 * 1024 ** 2,
      duration: 300_000,
      warmup: 0,
      streams: 4,
      seed: 1,
      table: 'bulk_load',
    });
    expect(BulkData.fromSpec(BulkLoadWorkload.parse({ kind: 'bulk-load' })).rows).toBe(BulkData.rowsForSize(BULK_LOAD_DEFAULT_SIZE, 4 * 1024 ** 2));
    expect(AnalyticWorkload.parse({ kind: 'analytic', scaleFactor: 0.1, queries: ['q6', 'q1'] })).toMatchObject({
      scaleFactor: 0.1,
      queries: ['q6', 'q1'],
      repetitions: 5,
      streams: 2,
    });
  });

  it('report every problem with its path', () => {
    const r = BigData.safeParse({ kind: 'bulk-load', size: 'lots', streams: 0, chunk: '1KiB' });
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => i.path.join('.')).sort()).toEqual(['chunk', 'size', 'streams']);
    expect(BigData.safeParse({ kind: 'analytic', scaleFactor: 1000 }).success).toBe(false);
  });
});

describe('profiles/big-data.yaml', () => {
  const doc = parse(readFileSync(new URL('../../profiles/big-data.yaml', import.meta.url), 'utf8'));

  it('has valid big-data workloads and an otherwise valid profile', () => {
    const workloads = doc.workloads.map((w: unknown) => BigData.safeParse(w));
    expect(workloads.flatMap((w: { success: boolean; error?: { issues: unknown[] } }) => (w.success ? [] : w.error!.issues))).toEqual([]);
    expect(workloads.map((w: { data: { kind: string } }) => w.data.kind)).toEqual(['bulk-load', 'analytic']);
    const rest = Profile.safeParse({ ...doc, workloads: [{ kind: 'oltp-tpcb' }] });
    expect(rest.success ? [] : rest.error.issues).toEqual([]);
    expect(rest.data?.targets.map((t) => t.storage.kind)).toEqual(['local', 'remote']);
  });

  const wired = Workload.options.some((o) => o === (BulkLoadWorkload as unknown));
  it.skipIf(!wired)('is a valid profile as a whole', () => {
    const r = Profile.safeParse(doc);
    expect(r.success ? [] : r.error.issues).toEqual([]);
  });
});
