// The files and environment variables a profile names, checked when it is planned: a missing k6
// script or a wrong binDir must be reported before a database starts, not after. Reads only (stat,
// access, realpath); creates nothing.
import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import { dirname, extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Profile } from './profile.ts';
import type { Problem } from './plan.ts';

/** The statebench checkout: shipped k6 scripts live in its workloads/. */
const REPO_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface FileCheckOptions {
  /** The profile's file; its directory may hold the profile's own k6 scripts. */
  profileFile?: string;
  env: NodeJS.ProcessEnv;
  repoDir?: string;
  cwd?: string;
}

function inside(dir: string, file: string): boolean {
  const rel = relative(dir, file);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
}

function realOr(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

export function checkFiles(profile: Profile, o: FileCheckOptions): Problem[] {
  const problems: Problem[] = [];
  const cwd = o.cwd ?? process.cwd();
  const roots = [realOr(join(o.repoDir ?? REPO_DIR, 'workloads'))];
  if (o.profileFile) roots.push(realOr(dirname(resolve(cwd, o.profileFile))));

  profile.workloads.forEach((w, i) => {
    if (w.kind !== 'k6') return;
    const path = ['workloads', i, 'script'];
    const file = resolve(cwd, w.script);
    let real: string;
    try {
      real = realpathSync(file);
    } catch {
      problems.push({ path, message: `k6 script ${w.script} does not exist (resolved to ${file})` });
      return;
    }
    if (!statSync(real).isFile()) {
      problems.push({ path, message: `k6 script ${w.script} is not a file` });
      return;
    }
    // Only JavaScript is run as a script: a .env or a token file named here by mistake must not be.
    if (!['.js', '.mjs'].includes(extname(real))) {
      problems.push({ path, message: `k6 script ${w.script} is not a .js or .mjs file` });
      return;
    }
    try {
      accessSync(real, constants.R_OK);
    } catch {
      problems.push({ path, message: `k6 script ${w.script} is not readable` });
      return;
    }
    if (!w.allowScriptOutside && !roots.some((r) => inside(r, real))) {
      problems.push({ path, message: `k6 script ${w.script} is outside the profile's directory and statebench's workloads/; move it there, or set allowScriptOutside: true` });
    }
  });

  profile.workloads.forEach((w, i) => {
    if (w.kind !== 'k6') return;
    for (const [name, v] of Object.entries(w.env)) {
      if (typeof v === 'object' && o.env[v.fromEnv] === undefined) {
        problems.push({ path: ['workloads', i, 'env', name, 'fromEnv'], message: `environment variable ${v.fromEnv} is not set; export it before running` });
      }
    }
  });

  const binDir = profile.engine.binDir;
  if (binDir !== undefined) {
    const path = ['engine', 'binDir'];
    if (!isAbsolute(binDir)) {
      problems.push({ path, message: `binDir must be an absolute path, e.g. /usr/lib/postgresql/17/bin; got ${binDir}` });
    } else {
      let isDir = false;
      try {
        isDir = statSync(binDir).isDirectory();
      } catch {
        /* reported below */
      }
      if (!isDir) problems.push({ path, message: `${binDir} is not a directory` });
      else {
        const missing = ['postgres', 'initdb'].filter((b) => {
          try {
            accessSync(join(binDir, b), constants.X_OK);
            return !statSync(join(binDir, b)).isFile();
          } catch {
            return true;
          }
        });
        if (missing.length) problems.push({ path, message: `${binDir} has no executable ${missing.join(', ')}; point binDir at a PostgreSQL bin directory, e.g. /usr/lib/postgresql/17/bin` });
      }
    }
  }
  return problems;
}
