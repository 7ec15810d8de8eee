// Chunks made on generator threads are byte for byte the chunks made here, whichever thread makes
// them and however often they are asked for.
import { afterAll, describe, expect, it } from 'vitest';
import { BulkData, type BulkChunk } from './bulk-load.ts';
import { GeneratorThreads } from './generator-threads.ts';

describe('GeneratorThreads', () => {
  const data = new BulkData('t', 42, 5_000, 1_000);
  const threads = new GeneratorThreads<BulkChunk>(data.recipe(), 2);
  afterAll(() => threads.close());

  it('returns the same bytes, rows and checksum as generating on this thread', async () => {
    const got = await Promise.all([3, 0, 4, 1, 2, 3].map((c) => threads.generate(c)));
    [3, 0, 4, 1, 2, 3].forEach((c, i) => {
      const local = data.generate(c);
      expect(got[i].rows).toBe(local.rows);
      expect(got[i].checksum).toBe(local.checksum);
      expect(Buffer.compare(got[i].data, local.data)).toBe(0);
    });
  });

  it('is ready once every thread has built its data set, and says so when one cannot start', async () => {
    await expect(threads.ready).resolves.toBeUndefined();
    const broken = new GeneratorThreads<BulkChunk>({ module: new URL('./no-such-module.ts', import.meta.url).href, exportName: 'X', args: [] }, 1);
    try {
      await expect(broken.ready).rejects.toThrow();
    } finally {
      await broken.close();
    }
  });

  it('rejects after close, so a caller falls back to generating itself', async () => {
    const t = new GeneratorThreads<BulkChunk>(data.recipe(), 1);
    await t.close();
    await expect(t.generate(0)).rejects.toThrow('generator threads are closed');
  });
});
