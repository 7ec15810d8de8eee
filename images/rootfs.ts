// The pieces every image recipe shares: recipe names and hashes, the Debian mirror this machine's apt
// sources name, debootstrap with progress, `docker import`, and the bookkeeping of build processes.
// build.ts (postgres, patroni) and kind-node.ts both build on them.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  createWriteStream,
  existsSync,
  readdirSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../harness/core/exec.ts';
import { hasTool } from '../harness/core/tools.ts';
import { EXIT, MissingToolError, StatebenchError } from '../harness/errors.ts';

export const IMAGE_NAMES = ['postgres', 'patroni', 'kind-node'] as const;
export type ImageName = (typeof IMAGE_NAMES)[number];
/** What `all` builds: the docker platform's images. kind-node (long, only for offline kind) is built by name. */
export const ALL_IMAGES: readonly ImageName[] = ['postgres', 'patroni'];

/** Label carrying the recipe hash; the tag carries the same value. */
export const RECIPE_LABEL = 'statebench.recipe';
export const IMAGE_LABEL = 'statebench.image';
/** Bumped when this script changes what it puts into an image, so every tag changes with it. */
const BUILDER_VERSION = '1';
export const ENTRYPOINT_PATH = '/usr/local/bin/statebench-entrypoint';
/** Removed from every rootfs: package caches and lists, documentation, translations. */
export const TRIM_ALWAYS = ['/var/cache/apt', '/var/lib/apt/lists', '/usr/share/doc', '/usr/share/man', '/usr/share/info', '/usr/share/locale', '/var/log'];

const IMAGES_DIR = dirname(fileURLToPath(import.meta.url));

export interface Recipe {
  description: string;
  suite: string;
  variant: string;
  packages: string[];
  /** File in the recipe directory that becomes the image's entrypoint. */
  entrypoint: string;
  env: Record<string, string>;
  expose: string[];
  cmd: string[];
  /** Paths removed from the rootfs after installation (e.g. the cluster Debian creates on install). */
  trim: string[];
}

export function checkName(name: string): ImageName {
  if (!(IMAGE_NAMES as readonly string[]).includes(name)) {
    throw new StatebenchError(`unknown image "${name}"`, EXIT.usage, `Build one of: ${IMAGE_NAMES.join(', ')}, or all (${ALL_IMAGES.join(', ')})`);
  }
  return name as ImageName;
}

export function recipeDir(name: ImageName): string {
  return join(IMAGES_DIR, checkName(name));
}

export function loadRecipe(name: ImageName): Recipe {
  return JSON.parse(readFileSync(join(recipeDir(name), 'recipe.json'), 'utf8')) as Recipe;
}

/** Files of a recipe directory, recursively, as sorted paths relative to it. */
function recipeFiles(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? recipeFiles(dir, join(prefix, e.name)) : [join(prefix, e.name)]))
    .sort();
}

/**
 * First 12 hex digits of a SHA-256 over every file of the recipe directory (recursively) and the
 * builder version; for kind-node also over its builder, kind-node.ts, whose code is most of the recipe.
 */
export function recipeTag(name: ImageName): string {
  const dir = recipeDir(name);
  const h = createHash('sha256').update(`statebench-image-builder ${BUILDER_VERSION}\n`);
  for (const file of recipeFiles(dir)) {
    h.update(`${file}\0`);
    h.update(readFileSync(join(dir, file)));
    h.update('\0');
  }
  if (name === 'kind-node') h.update(readFileSync(join(IMAGES_DIR, 'kind-node.ts')));
  return h.digest('hex').slice(0, 12);
}

/** The image reference the current recipe builds, e.g. `statebench/postgres:3f9c0a1b2c4d`. */
export function imageRef(name: ImageName): string {
  return `statebench/${name}:${recipeTag(name)}`;
}

/** The recipe label of a local image, or undefined when the image is not there. */
export async function localRecipeLabel(ref: string): Promise<string | undefined> {
  try {
    const r = await run('docker', ['image', 'inspect', '--format', `{{index .Config.Labels "${RECIPE_LABEL}"}}`, ref], { timeoutMs: 30_000 });
    return r.stdout.trim();
  } catch (e) {
    if (e instanceof StatebenchError && /no such (image|object)/i.test(e.message)) return undefined;
    throw e;
  }
}

export interface BuildOptions {
  /** Rebuild even when an image of the current recipe exists. */
  force?: boolean;
  /** Progress lines; defaults to stderr. */
  log?: (line: string) => void;
  mirror?: string;
}

export interface BuildResult {
  name: ImageName;
  ref: string;
  tag: string;
  /** True when an existing image of the same recipe was kept. */
  reused: boolean;
  /** Wall time of the whole call, and of its two slow steps. */
  seconds: number;
  debootstrapSeconds?: number;
  importSeconds?: number;
  sizeBytes?: number;
  /** Seconds per build step (kind-node). */
  steps?: Record<string, number>;
}

export function requireBuildTools(): void {
  if (process.getuid?.() !== 0) {
    throw new StatebenchError('building images needs root (debootstrap creates device nodes and chroots)', EXIT.environment, 'Run `sudo npx tsx images/build.ts`');
  }
  if (!hasTool('debootstrap')) throw new MissingToolError('debootstrap', 'to build container images', 'Install it with `apt-get install debootstrap`');
  if (!hasTool('docker')) throw new MissingToolError('docker', 'to import container images', 'Install it with `apt-get install docker.io` and start the engine (`dockerd --iptables=false &`)');
}

export async function requireEngine(): Promise<void> {
  try {
    await run('docker', ['version', '--format', '{{.Server.Version}}'], { timeoutMs: 20_000 });
  } catch (e) {
    throw new StatebenchError(`the Docker engine does not answer: ${(e as Error).message}`, EXIT.environment, 'Start it, e.g. `dockerd --iptables=false >/var/log/dockerd.log 2>&1 &`');
  }
}

/** Mount points below `dir` (debootstrap mounts /proc and /sys in the rootfs), deepest first. */
export function mountsUnder(dir: string): string[] {
  const prefix = resolve(dir) + '/';
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1]?.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((m): m is string => !!m && m.startsWith(prefix))
    .sort((a, b) => b.length - a.length);
}

export async function removeWorkdir(dir: string): Promise<void> {
  // Never recurse into a mounted /proc or /sys of an interrupted debootstrap.
  for (const m of mountsUnder(dir)) await run('umount', ['-l', m], { timeoutMs: 30_000 }).catch(() => {});
  if (mountsUnder(dir).length) throw new StatebenchError(`could not unmount everything below ${dir}; remove it by hand`);
  rmSync(dir, { recursive: true, force: true });
}

/** Children of a build in progress; the CLI stops them on SIGINT/SIGTERM so the rootfs is removed. */
export const active = new Set<ChildProcess>();

export function track<T extends ChildProcess>(child: T): T {
  active.add(child);
  child.once('exit', () => active.delete(child));
  return child;
}

/** Runs debootstrap, writing its output to `logFile` and a line per phase to `log`. */
export function debootstrap(args: string[], logFile: string, log: (l: string) => void, t0: number): Promise<void> {
  return new Promise((resolveRun, reject) => {
    const out = createWriteStream(logFile);
    const child = track(spawn('debootstrap', args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    let phase = '';
    let pending = '';
    const onData = (chunk: Buffer) => {
      out.write(chunk);
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        // "I: Retrieving libc6 2.36-9", "I: Unpacking the base system..." → one line per phase.
        const m = /^I: (\S+)/.exec(line);
        // Downloading alternates "Retrieving x" / "Validating x" per package: one phase.
        const key = m && (m[1] === 'Retrieving' || m[1] === 'Validating' ? 'fetch' : m[1]);
        if (key && key !== phase) {
          phase = key;
          log(`  ${elapsed(t0)} ${line.slice(3)}`);
        }
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      out.end();
      if (code === 0) resolveRun();
      else {
        const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n').slice(-8).join('\n    ') : '';
        reject(new StatebenchError(`debootstrap failed (${signal ?? `exit ${code}`}); last lines of ${logFile}:\n    ${tail}`, EXIT.environment, 'Check that the Debian mirror is reachable (STATEBENCH_DEBIAN_MIRROR) and that the packages exist'));
      }
    });
  });
}

/** `tar -C rootfs -c . | docker import --change … - ref`, with argument arrays only. */
export function importRootfs(rootfs: string, changes: string[], ref: string): Promise<void> {
  return new Promise((resolveImport, reject) => {
    const tar = track(spawn('tar', ['--numeric-owner', '--xattrs', '-C', rootfs, '-c', '.'], { stdio: ['ignore', 'pipe', 'pipe'] }));
    const imp = track(spawn('docker', ['import', ...changes.flatMap((c) => ['--change', c]), '-', ref], { stdio: ['pipe', 'pipe', 'pipe'] }));
    let errors = '';
    tar.stderr.on('data', (d: Buffer) => (errors += d.toString()));
    imp.stderr.on('data', (d: Buffer) => (errors += d.toString()));
    tar.stdout.pipe(imp.stdin);
    imp.stdin.on('error', () => {});
    const tarDone = new Promise<number | null>((r) => tar.once('exit', (c) => r(c)));
    tar.once('error', reject);
    imp.once('error', reject);
    imp.once('exit', async (code) => {
      const tarCode = await tarDone;
      if (code === 0 && tarCode === 0) resolveImport();
      else reject(new StatebenchError(`docker import of ${ref} failed (tar ${tarCode}, docker ${code}): ${errors.trim().split('\n').slice(-5).join(' | ')}`));
    });
  });
}

export function elapsed(t0: number): string {
  return `[${((performance.now() - t0) / 1000).toFixed(0).padStart(3)}s]`;
}

/**
 * The Debian mirror for `suite`: STATEBENCH_DEBIAN_MIRROR, else the first `deb` source of this
 * machine's apt configuration that serves the suite (deb822 files in /etc/apt/sources.list.d, then
 * one-line sources.list files). Nothing is assumed when neither names one.
 */
export function debianMirror(suite: string, env: NodeJS.ProcessEnv = process.env, aptDir = '/etc/apt'): string {
  if (env.STATEBENCH_DEBIAN_MIRROR) return env.STATEBENCH_DEBIAN_MIRROR;
  const read = (f: string) => {
    try {
      return readFileSync(f, 'utf8');
    } catch {
      return '';
    }
  };
  const listDir = join(aptDir, 'sources.list.d');
  const dirFiles = existsSync(listDir) ? readdirSync(listDir).sort().map((f) => join(listDir, f)) : [];
  for (const file of dirFiles.filter((f) => f.endsWith('.sources'))) {
    for (const stanza of read(file).split(/\n\s*\n/)) {
      const field = (k: string) => new RegExp(`^${k}:[ \\t]*(.*)$`, 'im').exec(stanza)?.[1]?.trim().split(/\s+/) ?? [];
      if (/^Enabled:\s*no\s*$/im.test(stanza)) continue;
      if (field('Types').includes('deb') && field('Suites').includes(suite) && field('URIs')[0]) return field('URIs')[0]!;
    }
  }
  for (const file of [join(aptDir, 'sources.list'), ...dirFiles.filter((f) => f.endsWith('.list'))]) {
    for (const raw of read(file).split('\n')) {
      const line = raw.replace(/#.*/, '').replace(/\[[^\]]*\]/, ' ').trim().split(/\s+/);
      if (line[0] === 'deb' && line[2] === suite && line[1]) return line[1];
    }
  }
  throw new StatebenchError(
    `no Debian mirror for ${suite}: this machine's apt sources name none`,
    EXIT.environment,
    'Set STATEBENCH_DEBIAN_MIRROR to a Debian mirror URL',
  );
}

