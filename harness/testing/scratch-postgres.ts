// A throwaway PostgreSQL for benchmarks and tests: the same embedded server the smoke profile uses
// (or STATEBENCH_BIN_DIR), in a temp directory, released on the way out.
import { mkdtempSync, chmodSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CleanupRegistry } from '../core/cleanup.ts';
import { deployBareMetalPostgres, resolveBinDir, type BareMetalPostgres } from '../platforms/baremetal/platform.ts';

export interface ScratchPostgres {
  engine: BareMetalPostgres;
  /** Scratch directory for the benchmark's own files (world-readable, for the server's user). */
  dir: string;
  /** Releases everything; returns what could not be released (tests assert it is empty). */
  release(): Promise<Error[]>;
}

export async function startScratchPostgres(prefix: string): Promise<ScratchPostgres> {
  const registry = new CleanupRegistry();
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  const release = async () => {
    const errors = await registry.releaseAll();
    rmSync(dir, { recursive: true, force: true });
    return errors;
  };
  try {
    const engine = await deployBareMetalPostgres({
      binDir: await resolveBinDir(process.env.STATEBENCH_BIN_DIR),
      volume: join(dir, 'vol'),
      stateDir: join(dir, 'state'),
      settings: {},
      startTimeoutMs: 60_000,
      registry,
    });
    return { engine, dir, release };
  } catch (e) {
    await release();
    throw e;
  }
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
