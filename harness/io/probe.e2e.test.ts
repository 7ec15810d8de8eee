// The built-in I/O probe on a real filesystem: it measures (fdatasync samples, a write rate), says it
// was the built-in tool, leaves nothing behind, and where O_DIRECT is refused (tmpfs) still measures.
// Nothing here asserts how fast the disk is.
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeIo } from './probe.ts';

const spec = { enabled: true, tool: 'builtin' as const, size: 8 * 1024 ** 2, runtime: 3_000 };

describe('built-in I/O probe', () => {
  it('measures sequential writes and fdatasync latency in its own threads and cleans up', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'statebench-probe-test-'));
    try {
      const io = await probeIo(spec, dir);
      expect(io.tool).toBe('builtin');
      expect(io.path).toBe(dir);
      expect(io.seqWriteMiBps).toBeGreaterThan(0);
      expect(io.fsyncSamples).toBeGreaterThan(0);
      expect(io.fsyncLatencyMs.p99).toBeGreaterThanOrEqual(io.fsyncLatencyMs.p50);
      expect(io.randWriteIops).toBeUndefined();
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('falls back to buffered writes where the filesystem refuses O_DIRECT', async (ctx) => {
    if (!existsSync('/dev/shm')) ctx.skip();
    const dir = mkdtempSync('/dev/shm/statebench-probe-test-');
    try {
      const io = await probeIo(spec, dir);
      expect(io.seqWriteMiBps).toBeGreaterThan(0);
      expect(io.fsyncSamples).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names the directory when it cannot write there', async () => {
    await expect(probeIo(spec, '/nonexistent/statebench')).rejects.toThrow(/built-in I\/O probe in \/nonexistent\/statebench failed: .*ENOENT/);
  });
});
