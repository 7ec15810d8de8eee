// I/O figures from different tools are never set against each other: the helper, and the report
// table that uses it.
import { describe, expect, it } from 'vitest';
import { ioComparable, ioToolOf } from './types.ts';
import { buildRun } from '../../test/fixtures/runs/synthetic.ts';
import { comparisonsOf } from '../report/ratios.ts';
import { renderMarkdown } from '../report/markdown.ts';

describe('ioComparable', () => {
  it('compares figures of one tool, whatever its version, and names both tools otherwise', () => {
    expect(ioToolOf({ tool: 'fio-3.33' })).toBe('fio');
    expect(ioToolOf({ tool: 'fio 3.35' })).toBe('fio');
    expect(ioComparable({ tool: 'fio-3.33' }, { tool: 'fio-3.35' })).toEqual({ comparable: true });
    expect(ioComparable({ tool: 'builtin' }, { tool: 'builtin' })).toEqual({ comparable: true });
    expect(ioComparable({ tool: 'fio-3.33' }, { tool: 'builtin' })).toEqual({ comparable: false, reason: 'not comparable: measured by different tools (fio-3.33 vs builtin)' });
    expect(ioComparable(undefined, { tool: 'builtin' }).comparable).toBe(false);
  });

  it('report.md gives no I/O ratio between a fio target and a built-in one, but does between two fio targets', () => {
    const io = { randWriteIops: 40000, seqWriteMiBps: 600, fsyncP50: 0.3, fsyncP99: 5 };
    const { summary } = buildRun({
      runId: 'r',
      profile: 'p',
      startedAt: '2026-11-20T10:00:00.000Z',
      seed: 1,
      targets: [
        { name: 'baremetal/local', platform: 'baremetal', storage: 'local', latencyMs: 5, io },
        { name: 'docker/volume', platform: 'docker', storage: 'volume', latencyMs: 5, io: { ...io, fsyncP99: 10, tool: 'builtin' } },
        { name: 'docker/bind', platform: 'docker', storage: 'bind', latencyMs: 5, io: { ...io, fsyncP99: 10, tool: 'fio-3.35' } },
      ],
    });
    const md = renderMarkdown(summary);
    const rowOf = (name: string) => md.split('\n').find((l) => l.startsWith(`| ${name} |`))!;
    expect(rowOf('docker/volume')).toContain('| builtin |');
    const fsync = (target: string) => comparisonsOf(summary).find((c) => c.target === target && c.metric === 'fdatasync p99')!;
    expect(fsync('docker/volume')).toMatchObject({ verdict: 'not-comparable', ratio: null });
    expect(fsync('docker/volume').text).toContain('measured by different tools (fio-3.33 vs builtin)');
    expect(md).toMatch(/\| fdatasync p99 \| 5 ms \(n=1\) \| 10 ms \(n=1\) \| — \| — \| not comparable \|/);
    // Two fio versions are the same instrument: a ratio (here a single observation).
    expect(fsync('docker/bind').verdict).toBe('single-observation');
    expect(fsync('docker/bind').ratio).toBeCloseTo(2, 6);
  });
});
