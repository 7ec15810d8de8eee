// Builds the container images of the docker platform without a registry: debootstrap a Debian rootfs
// with the recipe's packages, trim it, add the entrypoint, and `docker import` it. The tag is a hash
// of the recipe (images/<name>/*), so an image whose recipe has not changed is reused, and a changed
// recipe can never be mistaken for the old image.
//
//   npx tsx images/build.ts [postgres|patroni|kind-node|all] [--force]     (all: postgres and patroni)
//
// Needs root, debootstrap, a running Docker engine and a Debian mirror: the one this machine's apt
// sources name for the suite, or STATEBENCH_DEBIAN_MIRROR. Downloaded packages are cached in
// STATEBENCH_DEBOOTSTRAP_CACHE (default /var/cache/statebench/debootstrap) for the next build.
//
// `kind-node` (a kind node image built from Go modules, for hosts without a registry) has its own
// builder in kind-node.ts; it shares the tagging, the Debian mirror and debootstrap with this one.
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { run } from '../harness/core/exec.ts';
import { hasTool } from '../harness/core/tools.ts';
import { EXIT, MissingToolError, StatebenchError } from '../harness/errors.ts';
import { buildKindNode } from './kind-node.ts';
import {
  ALL_IMAGES,
  ENTRYPOINT_PATH,
  IMAGE_LABEL,
  IMAGE_NAMES,
  RECIPE_LABEL,
  TRIM_ALWAYS,
  active,
  checkName,
  debianMirror,
  debootstrap,
  elapsed,
  importRootfs,
  loadRecipe,
  localRecipeLabel,
  mountsUnder,
  recipeDir,
  recipeTag,
  removeWorkdir,
  requireBuildTools,
  requireEngine,
  type BuildOptions,
  type BuildResult,
  type ImageName,
} from './rootfs.ts';

export * from './rootfs.ts';

const building = new Map<string, Promise<BuildResult>>();

/**
 * Builds `statebench/<name>:<recipe hash>` unless an image of the same recipe exists (or `force`).
 * Also tags it `statebench/<name>:latest`. Concurrent calls in one process share one build.
 */
export function buildImage(name: ImageName, opts: BuildOptions = {}): Promise<BuildResult> {
  const key = `${name}:${opts.force ? 'force' : ''}`;
  let p = building.get(key);
  if (!p) {
    p = (checkName(name) === 'kind-node' ? buildKindNode(opts) : doBuild(name, opts)).finally(() => building.delete(key));
    building.set(key, p);
  }
  return p;
}

async function doBuild(name: ImageName, opts: BuildOptions): Promise<BuildResult> {
  const log = opts.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const t0 = performance.now();
  const recipe = loadRecipe(name);
  const tag = recipeTag(name);
  const ref = `statebench/${name}:${tag}`;
  if (!hasTool('docker')) throw new MissingToolError('docker', 'to build container images', 'Install it with `apt-get install docker.io` and start the engine (`dockerd --iptables=false &`)');
  await requireEngine();

  if (!opts.force && (await localRecipeLabel(ref)) === tag) {
    await run('docker', ['tag', ref, `statebench/${name}:latest`], { timeoutMs: 30_000 });
    log(`${ref} is up to date (recipe unchanged); nothing to build`);
    return { name, ref, tag, reused: true, seconds: (performance.now() - t0) / 1000 };
  }
  requireBuildTools();

  const mirror = opts.mirror ?? debianMirror(recipe.suite);
  const cacheDir = process.env.STATEBENCH_DEBOOTSTRAP_CACHE ?? '/var/cache/statebench/debootstrap';
  mkdirSync(cacheDir, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), `statebench-image-${name}-`));
  const rootfs = join(work, 'rootfs');
  try {
    log(`building ${ref}: debootstrap ${recipe.suite} (${recipe.variant}) + ${recipe.packages.join(', ')} from ${mirror}`);
    const tBoot = performance.now();
    await debootstrap(
      [`--variant=${recipe.variant}`, `--include=${recipe.packages.join(',')}`, `--cache-dir=${cacheDir}`, recipe.suite, rootfs, mirror],
      join(work, 'debootstrap.log'),
      log,
      t0,
    );
    const debootstrapSeconds = (performance.now() - tBoot) / 1000;
    for (const m of mountsUnder(rootfs)) await run('umount', ['-l', m], { timeoutMs: 30_000 });

    log(`  ${elapsed(t0)} trimming caches, documentation and the default cluster`);
    for (const p of [...TRIM_ALWAYS, ...recipe.trim]) {
      const abs = join(rootfs, p);
      if (!resolve(abs).startsWith(resolve(rootfs) + '/')) throw new StatebenchError(`recipe ${name}: trim path ${p} leaves the rootfs`, EXIT.usage);
      rmSync(abs, { recursive: true, force: true });
    }
    for (const keep of ['/var/cache/apt/archives/partial', '/var/lib/apt/lists/partial', '/var/log']) mkdirSync(join(rootfs, keep), { recursive: true });

    copyFileSync(join(recipeDir(name), recipe.entrypoint), join(rootfs, ENTRYPOINT_PATH));
    chmodSync(join(rootfs, ENTRYPOINT_PATH), 0o755);
    writeFileSync(join(rootfs, 'etc/statebench-image'), `${name} ${tag}\n`);

    log(`  ${elapsed(t0)} docker import ${ref}`);
    const tImport = performance.now();
    const changes = [
      `ENTRYPOINT ${JSON.stringify([ENTRYPOINT_PATH])}`,
      `CMD ${JSON.stringify(recipe.cmd)}`,
      ...Object.entries(recipe.env).map(([k, v]) => `ENV ${k}=${v}`),
      ...recipe.expose.map((p) => `EXPOSE ${p}`),
      `LABEL ${RECIPE_LABEL}=${tag} ${IMAGE_LABEL}=${name}`,
    ];
    await importRootfs(rootfs, changes, ref);
    const importSeconds = (performance.now() - tImport) / 1000;
    await run('docker', ['tag', ref, `statebench/${name}:latest`], { timeoutMs: 30_000 });
    const size = Number((await run('docker', ['image', 'inspect', '--format', '{{.Size}}', ref])).stdout.trim());
    const seconds = (performance.now() - t0) / 1000;
    log(`built ${ref} in ${seconds.toFixed(0)}s (debootstrap ${debootstrapSeconds.toFixed(0)}s, import ${importSeconds.toFixed(0)}s), ${(size / 1024 ** 2).toFixed(0)} MiB`);
    const older = (await run('docker', ['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}', `statebench/${name}`])).stdout
      .split('\n')
      .map((l) => l.trim())
      .filter((r) => r && r !== ref && !r.endsWith(':latest') && !r.endsWith(':<none>'));
    if (older.length) log(`  older recipes of ${name} are still present; remove them with: docker rmi ${older.join(' ')}`);
    return { name, ref, tag, reused: false, seconds, debootstrapSeconds, importSeconds, sizeBytes: size };
  } finally {
    await removeWorkdir(work);
  }
}

/**
 * Builds `which` (an image name, or all) and prints each image reference on stdout; SIGINT/SIGTERM
 * stop the build and remove its work directory. `npx tsx images/build.ts` and `statebench images build`.
 */
export async function buildCommand(which = 'all', force = false): Promise<void> {
  const names = which === 'all' ? [...ALL_IMAGES] : [checkName(which)];
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      process.stderr.write(`${sig}: stopping the build and removing its work directory\n`);
      for (const c of active) c.kill('SIGTERM');
    });
  }
  for (const name of names) {
    const r = await buildImage(name, { force });
    process.stdout.write(`${r.ref}\n`);
  }
}

async function main(argv: string[]): Promise<number> {
  const args = argv.filter((a) => !a.startsWith('-'));
  if (argv.includes('--help') || argv.includes('-h') || args.length > 1) {
    process.stdout.write(`usage: npx tsx images/build.ts [${IMAGE_NAMES.join('|')}|all] [--force]\n`);
    return args.length > 1 ? EXIT.usage : EXIT.ok;
  }
  await buildCommand(args[0], argv.includes('--force'));
  return EXIT.ok;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      const err = e as StatebenchError;
      process.stderr.write(`error: ${err.message}\n${err.hint ? `  ${err.hint}\n` : ''}`);
      process.exit(err instanceof StatebenchError ? err.exitCode : 1);
    },
  );
}
