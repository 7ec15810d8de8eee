// Builds a kind node image without a container registry (`npx tsx images/build.ts kind-node`):
// everything a kind cluster runs comes from Go modules (through the Go module proxy `go env` names)
// and Debian packages, and is assembled the way `kind build node-image` does it, which cannot run
// offline because it pulls every component image.
//
//   1. binaries: one `go build` of the Kubernetes commands from a wrapper module (k8s.io/kubernetes
//      replaces its staging modules with ./staging paths, so the wrapper replaces each with its
//      release), version-stamped; etcd's server the same way; CNI plugins, crictl, CoreDNS,
//      local-path-provisioner and kind with `go install module@version`; the pause binary from
//      Kubernetes' build/pause/linux/pause.c with a static gcc; statebench's kindnet agent.
//      Cached under $STATEBENCH_KIND_NODE_CACHE/<binaries hash>/bin.
//   2. base image: debootstrap'd Debian with the packages and files kind's images/base/Dockerfile
//      installs, read from the kind module in the Go module cache (nothing of kind is copied into
//      this repository); containerd and runc are Debian's. `statebench/kind-base:<base hash>`.
//   3. component images, named exactly as kubeadm (`kubeadm config images list`) and kind's node
//      image build (pkg/build/nodeimage) name them, so nothing is ever pulled.
//   4. node image: a container of the base image gets the binaries, /kind/version, kind's default CNI
//      and storage manifests, and every component image in containerd's k8s.io namespace; then it is
//      committed as `statebench/kind-node:<recipe hash>`.
//
// kind's own CNI agent (kindnetd) is a nested module of the kind repository that the module proxy
// does not serve: the image runs statebench's agent (kind-node/kindnet) under its own name, driven by
// kind's unchanged DaemonSet except for the image reference.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, lstatSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync, type WriteStream } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXIT, MissingToolError, StatebenchError } from '../harness/errors.ts';
import { hasTool } from '../harness/core/tools.ts';
import {
  IMAGE_LABEL,
  RECIPE_LABEL,
  debianMirror,
  debootstrap,
  elapsed,
  importRootfs,
  localRecipeLabel,
  mountsUnder,
  recipeTag,
  removeWorkdir,
  requireBuildTools,
  requireEngine,
  track,
  type BuildOptions,
  type BuildResult,
} from './rootfs.ts';

const RECIPE_DIR = join(dirname(fileURLToPath(import.meta.url)), 'kind-node');
/** Bump when the Go build commands or flags change: part of the binaries' cache key. */
const BINARIES_VERSION = '1';
/** Bump when the base rootfs steps below change: part of the base image's tag. */
const BASE_VERSION = '1';
const KUBE_COMMANDS = ['kubeadm', 'kubelet', 'kubectl', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy'] as const;
const CNI_PLUGINS = ['main/ptp', 'ipam/host-local', 'main/loopback', 'meta/portmap'] as const;
/** Removed from the base rootfs, as kind's clean-install does. */
const TRIM = ['/var/cache/apt', '/var/lib/apt/lists', '/var/cache/debconf', '/usr/share/doc', '/usr/share/doc-base', '/usr/share/man', '/usr/share/info', '/usr/share/locale', '/var/log', '/tmp', '/var/tmp'];

export interface KindNodeRecipe {
  description: string;
  kubernetes: string;
  kind: string;
  etcd: string;
  coredns: string;
  cniPlugins: string;
  crictl: string;
  localPathProvisioner: string;
  suite: string;
  variant: string;
  /** Debian packages beyond the ones kind's base Dockerfile installs (containerd and runc). */
  packages: string[];
}

export function loadKindNodeRecipe(): KindNodeRecipe {
  return JSON.parse(readFileSync(join(RECIPE_DIR, 'recipe.json'), 'utf8')) as KindNodeRecipe;
}

export function kindNodeCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.STATEBENCH_KIND_NODE_CACHE ?? '/var/cache/statebench/kind-node';
}

function shortHash(...parts: string[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex').slice(0, 12);
}

/** Key of the built binaries: the component versions and the build commands' version. */
export function binariesHash(r: KindNodeRecipe): string {
  return shortHash(`binaries ${BINARIES_VERSION}`, r.kubernetes, r.kind, r.etcd, r.coredns, r.cniPlugins, r.crictl, r.localPathProvisioner);
}

/** Tag of the base image: Debian suite and packages, kind's version, the base steps' version. */
export function baseHash(r: KindNodeRecipe): string {
  return shortHash(`base ${BASE_VERSION}`, r.suite, r.variant, r.kind, ...r.packages);
}

// ---------------------------------------------------------------------------------------------
// Reading kind's and kubeadm's sources

/** Names images by `<repository>:<tag>` the way a node's containerd lists them. */
export function normalizeImage(ref: string): string {
  const first = ref.split('/')[0]!;
  const hasHost = ref.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (hasHost) return ref;
  return ref.includes('/') ? `docker.io/${ref}` : `docker.io/library/${ref}`;
}

/**
 * Evaluates the string constants of a Go source file that are raw/interpreted string literals or
 * `+` concatenations of literals and earlier constants (enough for kind's nodeimage constants).
 */
export function goStringConstants(src: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /(?:^|\n)\s*(?:const\s+)?([A-Za-z_]\w*)\s*=\s*(?=["`])/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(src))) {
    let i = re.lastIndex;
    let value = '';
    let ok = true;
    for (;;) {
      while (/[ \t]/.test(src[i] ?? '')) i++;
      const c = src[i];
      if (c === '`') {
        const end = src.indexOf('`', i + 1);
        if (end < 0) return out;
        value += src.slice(i + 1, end);
        i = end + 1;
      } else if (c === '"') {
        const lit = /^"((?:[^"\\\n]|\\.)*)"/.exec(src.slice(i));
        if (!lit) {
          ok = false;
          break;
        }
        value += JSON.parse(`"${lit[1]}"`) as string;
        i += lit[0].length;
      } else {
        const id = /^[A-Za-z_]\w*/.exec(src.slice(i));
        if (!id || out[id[0]] === undefined) {
          ok = false;
          break;
        }
        value += out[id[0]];
        i += id[0].length;
      }
      while (/[ \t]/.test(src[i] ?? '')) i++;
      if (src[i] !== '+') break;
      i++;
      while (/\s/.test(src[i] ?? '')) i++;
    }
    if (ok) out[m[1]!] = value;
    re.lastIndex = i;
  }
  return out;
}

/** The Debian packages kind's base Dockerfile installs with clean-install (its first stage). */
export function kindBasePackages(dockerfile: string): string[] {
  const m = /clean-install\s*\\\n([\s\S]*?)\n\s*&&/.exec(dockerfile);
  if (!m) throw new StatebenchError('kind images/base/Dockerfile: no clean-install package list found', EXIT.environment);
  return m[1]!.split(/[\s\\]+/).filter((p) => /^[a-z0-9][a-z0-9.+-]+$/.test(p));
}

export interface KindSources {
  dir: string;
  kindnetdImage: string;
  storageProvisionerImage: string;
  storageHelperImage: string;
  cniManifest: string;
  storageManifest: string;
  sandboxImage: string;
  basePackages: string[];
  localPathProvisionerVersion?: string;
}

export function readKindSources(dir: string): KindSources {
  const nodeimage = join(dir, 'pkg/build/nodeimage');
  const cni = goStringConstants(readFileSync(join(nodeimage, 'const_cni.go'), 'utf8'));
  const storage = goStringConstants(readFileSync(join(nodeimage, 'const_storage.go'), 'utf8'));
  const need = (o: Record<string, string>, k: string, file: string) => {
    const v = o[k];
    if (v === undefined) throw new StatebenchError(`kind ${file}: constant ${k} not found (kind's sources changed?)`, EXIT.environment);
    return v;
  };
  const config = readFileSync(join(dir, 'images/base/files/etc/containerd/config.toml'), 'utf8');
  const sandbox = /sandbox_image\s*=\s*"([^"]+)"/.exec(config)?.[1];
  if (!sandbox) throw new StatebenchError('kind images/base/files/etc/containerd/config.toml: no sandbox_image', EXIT.environment);
  const lppMakefile = join(dir, 'images/local-path-provisioner/Makefile');
  return {
    dir,
    kindnetdImage: need(cni, 'kindnetdImage', 'const_cni.go'),
    cniManifest: need(cni, 'defaultCNIManifest', 'const_cni.go'),
    storageProvisionerImage: need(storage, 'storageProvisionerImage', 'const_storage.go'),
    storageHelperImage: need(storage, 'storageHelperImage', 'const_storage.go'),
    storageManifest: need(storage, 'defaultStorageManifest', 'const_storage.go'),
    sandboxImage: sandbox,
    basePackages: kindBasePackages(readFileSync(join(dir, 'images/base/Dockerfile'), 'utf8')),
    localPathProvisionerVersion: existsSync(lppMakefile) ? /^VERSION\s*=\s*(\S+)/m.exec(readFileSync(lppMakefile, 'utf8'))?.[1] : undefined,
  };
}

/** Writes a Go wrapper module that requires `module@version` and replaces each relative replace of its go.mod with `<path> <version>`. */
export function wrapperGoMod(name: string, modulePath: string, version: string, moduleGoMod: string, replaceVersion: (path: string) => string): string {
  const goLine = /^go\s+(\S+)/m.exec(moduleGoMod)?.[1] ?? '1.24';
  const godebug = /^godebug\s+.+$/m.exec(moduleGoMod)?.[0];
  // Replaces by a relative path, except the ones pointing at a deliberately missing directory
  // (etcd marks modules it must never depend on that way).
  const replaced = [...moduleGoMod.matchAll(/^\s*(?:replace\s+)?(\S+)\s*=>\s*(\.\.?\/\S*)\s*$/gm)]
    .filter((m) => !m[2]!.includes('FORBIDDEN'))
    .map((m) => m[1]!);
  const lines = [`module statebench.local/kind-node/${name}`, '', `go ${goLine}`, ''];
  if (godebug) lines.push(godebug, '');
  lines.push(`require ${modulePath} ${version}`, '');
  if (replaced.length) lines.push('replace (', ...replaced.map((p) => `\t${p} => ${p} ${replaceVersion(p)}`), ')', '');
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Running commands with their output in the build log

interface Runner {
  log: (line: string) => void;
  out: WriteStream;
  t0: number;
}

interface ExecOpts {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** File streamed to the command's stdin. */
  stdinFile?: string;
  /** Return stdout instead of writing it to the log. */
  capture?: boolean;
  timeoutMs?: number;
}

function exec(r: Runner, cmd: string, args: string[], o: ExecOpts = {}): Promise<string> {
  return new Promise((resolveExec, reject) => {
    r.out.write(`\n$ ${cmd} ${args.join(' ')}${o.cwd ? `   (in ${o.cwd})` : ''}\n`);
    const child = track(spawn(cmd, args, { cwd: o.cwd, env: o.env ?? process.env, stdio: [o.stdinFile ? 'pipe' : 'ignore', 'pipe', 'pipe'] }));
    let stdout = '';
    let tail = '';
    const keep = (s: string) => (tail = (tail + s).slice(-4000));
    child.stdout!.on('data', (d: Buffer) => {
      if (o.capture) stdout += d.toString();
      else r.out.write(d);
      keep(d.toString());
    });
    child.stderr!.on('data', (d: Buffer) => {
      r.out.write(d);
      keep(d.toString());
    });
    if (o.stdinFile) {
      const input = createReadStream(o.stdinFile);
      input.pipe(child.stdin!);
      child.stdin!.on('error', () => {});
      input.on('error', reject);
    }
    const timeoutMs = o.timeoutMs ?? 10 * 60_000;
    const timer = setTimeout(() => {
      r.out.write(`\n(timed out after ${timeoutMs / 1000}s)\n`);
      child.kill('SIGTERM');
    }, timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolveExec(stdout);
      else reject(new StatebenchError(`${cmd} ${args.slice(0, 6).join(' ')}${args.length > 6 ? ' …' : ''} failed (${signal ?? `exit ${code}`}):\n    ${tail.trim().split('\n').slice(-8).join('\n    ')}`, EXIT.environment));
    });
  });
}

/** Times `fn` as a named step: a progress line before and after, and the seconds into `timings`. */
async function step<T>(r: Runner, timings: Record<string, number>, name: string, what: string, fn: () => Promise<T>): Promise<T> {
  r.log(`  ${elapsed(r.t0)} ${name}: ${what}`);
  r.out.write(`\n==== ${name}: ${what}\n`);
  const t = performance.now();
  const v = await fn();
  timings[name] = Math.round((performance.now() - t) / 100) / 10;
  r.log(`  ${elapsed(r.t0)} ${name}: done in ${timings[name]}s`);
  return v;
}

// ---------------------------------------------------------------------------------------------
// Step 1: binaries

interface GoModule {
  Path: string;
  Version: string;
  Dir: string;
  GoMod: string;
}

async function goDownload(r: Runner, ...modules: string[]): Promise<GoModule[]> {
  const out = await exec(r, 'go', ['mod', 'download', '-json', ...modules], { capture: true, cwd: tmpdir() });
  // `go mod download -json` prints one JSON object per module, concatenated.
  return out
    .split(/\n(?=\{)/)
    .filter((s) => s.trim())
    .map((s) => JSON.parse(s) as GoModule & { Error?: string })
    .map((m) => {
      if (m.Error) throw new StatebenchError(`go mod download ${m.Path}@${m.Version}: ${m.Error}`, EXIT.environment, 'The Go module proxy (`go env GOPROXY`) must serve it');
      return m;
    });
}

const goEnv = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ ...process.env, CGO_ENABLED: '0', ...extra });

/** Builds whatever of the binaries is missing in `binDir`; each group leaves a marker when complete. */
async function buildBinaries(r: Runner, timings: Record<string, number>, recipe: KindNodeRecipe, cacheDir: string, kubeDir: string): Promise<string> {
  const bin = join(cacheDir, 'bin');
  const src = join(cacheDir, 'src');
  mkdirSync(bin, { recursive: true });
  mkdirSync(src, { recursive: true });
  const done = (g: string) => existsSync(join(bin, `.${g}.done`));
  const markDone = (g: string) => writeFileSync(join(bin, `.${g}.done`), new Date().toISOString() + '\n');
  const k = recipe.kubernetes;
  const [major, minor] = k.replace(/^v/, '').split('.');
  const staging = `v0.${k.replace(/^v\d+\./, '')}`;

  if (!done('kubernetes')) {
    await step(r, timings, 'kubernetes', `go build of ${KUBE_COMMANDS.join(', ')} ${k} (the slow one)`, async () => {
      const dir = join(src, 'kubernetes');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'go.mod'), wrapperGoMod('kubernetes', 'k8s.io/kubernetes', k, readFileSync(join(kubeDir, 'go.mod'), 'utf8'), () => staging));
      const pkgs = KUBE_COMMANDS.map((c) => `k8s.io/kubernetes/cmd/${c}`);
      await exec(r, 'go', ['get', ...pkgs.map((p) => `${p}@${k}`)], { cwd: dir, env: goEnv(), timeoutMs: 20 * 60_000 });
      // gitCommit: there is no git checkout; the module's content hash identifies the sources.
      const sum = /^k8s\.io\/kubernetes \S+ h1:(\S+)=$/m.exec(readFileSync(join(dir, 'go.sum'), 'utf8'))?.[1] ?? 'unknown';
      const info = JSON.parse(await exec(r, 'go', ['mod', 'download', '-json', `k8s.io/kubernetes@${k}`], { capture: true, cwd: dir })) as { Time?: string };
      const stamp = ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version'].flatMap((p) => [
        `-X ${p}.gitVersion=${k}`,
        `-X ${p}.gitMajor=${major}`,
        `-X ${p}.gitMinor=${minor}`,
        `-X ${p}.gitTreeState=clean`,
        `-X ${p}.gitCommit=${sum}`,
        `-X ${p}.buildDate=${(info.Time ?? '1970-01-01T00:00:00Z').replace(/\.\d+Z$/, 'Z')}`,
      ]);
      await exec(r, 'go', ['build', '-trimpath', '-ldflags', ['-s', '-w', ...stamp].join(' '), '-o', bin + '/', ...pkgs], { cwd: dir, env: goEnv(), timeoutMs: 90 * 60_000 });
      markDone('kubernetes');
    });
  }
  if (!done('etcd')) {
    await step(r, timings, 'etcd', `go build of etcd ${recipe.etcd} (server module)`, async () => {
      const [server] = await goDownload(r, `go.etcd.io/etcd/server/v3@${recipe.etcd}`);
      const dir = join(src, 'etcd');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'go.mod'), wrapperGoMod('etcd', 'go.etcd.io/etcd/server/v3', recipe.etcd, readFileSync(server!.GoMod, 'utf8'), () => recipe.etcd));
      await exec(r, 'go', ['get', `go.etcd.io/etcd/server/v3@${recipe.etcd}`], { cwd: dir, env: goEnv(), timeoutMs: 20 * 60_000 });
      await exec(r, 'go', ['build', '-trimpath', '-ldflags', '-s -w', '-o', join(bin, 'etcd'), 'go.etcd.io/etcd/server/v3'], { cwd: dir, env: goEnv(), timeoutMs: 30 * 60_000 });
      markDone('etcd');
    });
  }
  const installs: [string, string[]][] = [
    ['cni-plugins', CNI_PLUGINS.map((p) => `github.com/containernetworking/plugins/plugins/${p}@${recipe.cniPlugins}`)],
    ['kind', [`sigs.k8s.io/kind@${recipe.kind}`]],
    ['crictl', [`sigs.k8s.io/cri-tools/cmd/crictl@${recipe.crictl}`]],
    ['local-path-provisioner', [`github.com/rancher/local-path-provisioner@${recipe.localPathProvisioner}`]],
    ['coredns', [`github.com/coredns/coredns@${recipe.coredns}`]],
  ];
  for (const [group, pkgs] of installs) {
    if (done(group)) continue;
    await step(r, timings, group, `go install ${pkgs.map((p) => p.replace(/^.*\//, '')).join(' ')}`, async () => {
      await exec(r, 'go', ['install', '-trimpath', '-ldflags', '-s -w', ...pkgs], { cwd: tmpdir(), env: goEnv({ GOBIN: bin }), timeoutMs: 30 * 60_000 });
      markDone(group);
    });
  }
  if (!done('pause')) {
    await step(r, timings, 'pause', 'static gcc build of build/pause/linux/pause.c', async () => {
      const version = /^TAG\s*\?=\s*(\S+)/m.exec(readFileSync(join(kubeDir, 'build/pause/Makefile'), 'utf8'))?.[1] ?? 'unknown';
      await exec(r, 'gcc', ['-Os', '-Wall', '-Werror', '-static', `-DVERSION=v${version}-statebench`, '-o', join(bin, 'pause'), join(kubeDir, 'build/pause/linux/pause.c')]);
      markDone('pause');
    });
  }
  return bin;
}

// ---------------------------------------------------------------------------------------------
// Step 2: base image

/** Copies a file of kind's images/base/files into the rootfs with the mode kind's Dockerfile gives it. */
function copyKindFile(from: string, to: string, mode: number): void {
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(from, to);
  chmodSync(to, mode);
}

function copyKindDir(from: string, to: string, mode: number, recursive = false): void {
  if (!existsSync(from)) return;
  for (const e of readdirSync(from, { withFileTypes: true })) {
    if (e.isFile()) copyKindFile(join(from, e.name), join(to, e.name), mode);
    else if (recursive && e.isDirectory()) copyKindDir(join(from, e.name), join(to, e.name), mode, true);
  }
}

async function buildBase(r: Runner, timings: Record<string, number>, recipe: KindNodeRecipe, kind: KindSources, ref: string, mirror: string): Promise<void> {
  const cacheDir = process.env.STATEBENCH_DEBOOTSTRAP_CACHE ?? '/var/cache/statebench/debootstrap';
  mkdirSync(cacheDir, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'statebench-kind-base-'));
  const rootfs = join(work, 'rootfs');
  const packages = [...new Set([...kind.basePackages, ...recipe.packages])];
  try {
    await step(r, timings, 'debootstrap', `${recipe.suite} (${recipe.variant}) + ${packages.join(' ')} from ${mirror}`, () =>
      debootstrap([`--variant=${recipe.variant}`, `--include=${packages.join(',')}`, `--cache-dir=${cacheDir}`, recipe.suite, rootfs, mirror], join(work, 'debootstrap.log'), r.log, r.t0).finally(() => {
        if (existsSync(join(work, 'debootstrap.log'))) r.out.write(readFileSync(join(work, 'debootstrap.log')));
      }),
    );
    await step(r, timings, 'base-config', "kind's images/base files, units and cleanup", async () => {
      for (const m of mountsUnder(rootfs)) await exec(r, 'umount', ['-l', m]);
      const files = join(kind.dir, 'images/base/files');
      // The COPY lines of kind's images/base/Dockerfile, with their modes.
      copyKindDir(join(files, 'usr/local/bin'), join(rootfs, 'usr/local/bin'), 0o755);
      copyKindDir(join(files, 'kind'), join(rootfs, 'kind'), 0o644, true);
      copyKindDir(join(files, 'kind/bin'), join(rootfs, 'kind/bin'), 0o755);
      copyKindDir(join(files, 'LICENSES'), join(rootfs, 'LICENSES'), 0o644);
      for (const d of ['etc', 'etc/containerd', 'etc/default', 'etc/sysctl.d', 'etc/systemd/system', 'etc/systemd/system/kubelet.service.d']) {
        copyKindDir(join(files, d), join(rootfs, d), 0o644);
      }
      chmodSync(join(rootfs, 'kind/bin'), 0o755);
      // The cleanup of kind's first RUN: no tmpfiles setup, no wanted units, no kmsg in journald.
      const rmGlob = (dir: string, match: (n: string) => boolean = () => true) => {
        const abs = join(rootfs, dir);
        if (!existsSync(abs)) return;
        for (const n of readdirSync(abs)) if (match(n)) rmSync(join(abs, n), { force: true, recursive: false });
      };
      rmGlob('lib/systemd/system/sysinit.target.wants', (n) => n === 'systemd-tmpfiles-setup.service');
      rmGlob('lib/systemd/system/multi-user.target.wants');
      for (const d of readdirSync(join(rootfs, 'etc/systemd/system'))) if (d.endsWith('.wants')) rmGlob(`etc/systemd/system/${d}`);
      rmGlob('lib/systemd/system/local-fs.target.wants');
      rmGlob('lib/systemd/system/sockets.target.wants', (n) => n.includes('udev') || n.includes('initctl'));
      rmGlob('lib/systemd/system/basic.target.wants');
      writeFileSync(join(rootfs, 'etc/systemd/journald.conf'), readFileSync(join(rootfs, 'etc/systemd/journald.conf'), 'utf8') + 'ReadKMsg=no\n');
      const init = join(rootfs, 'sbin/init');
      if (lstatSync(init, { throwIfNoEntry: false })) unlinkSync(init);
      symlinkSync('/lib/systemd/systemd', init);
      // kind's units run containerd from /usr/local/bin, where its own build puts it; Debian's is in /usr/bin.
      for (const b of ['containerd', 'containerd-shim-runc-v2', 'ctr']) {
        const link = join(rootfs, 'usr/local/bin', b);
        if (!existsSync(link) && existsSync(join(rootfs, 'usr/bin', b))) symlinkSync(`/usr/bin/${b}`, link);
      }
      await exec(r, 'chroot', [rootfs, 'systemctl', 'enable', 'kubelet.service', 'containerd.service', 'undo-mount-hacks.service']);
      await exec(r, 'chroot', [rootfs, 'systemctl', 'mask', 'systemd-binfmt.service']);
      mkdirSync(join(rootfs, 'etc/kubernetes/manifests'), { recursive: true });
      // containerd's base OCI spec, as kind's build stage makes it: product-files hook, no rlimits.
      const spec = JSON.parse(await exec(r, 'chroot', [rootfs, 'ctr', 'oci', 'spec'], { capture: true })) as { hooks?: { createContainer?: { path: string }[] }; process?: { rlimits?: unknown } };
      spec.hooks ??= {};
      spec.hooks.createContainer = [...(spec.hooks.createContainer ?? []), { path: '/kind/bin/mount-product-files.sh' }];
      delete spec.process?.rlimits;
      writeFileSync(join(rootfs, 'etc/containerd/cri-base.json'), JSON.stringify(spec, null, 2) + '\n');
      for (const p of TRIM) {
        rmSync(join(rootfs, p), { recursive: true, force: true });
      }
      for (const keep of ['/var/cache/apt/archives/partial', '/var/lib/apt/lists/partial', '/var/log', '/var/tmp']) mkdirSync(join(rootfs, keep), { recursive: true });
      mkdirSync(join(rootfs, 'tmp'), { recursive: true, mode: 0o1777 });
      chmodSync(join(rootfs, 'tmp'), 0o1777);
      chmodSync(join(rootfs, 'var/tmp'), 0o1777);
      writeFileSync(join(rootfs, 'etc/statebench-image'), `kind-base ${ref}\n`);
    });
    await step(r, timings, 'base-image', `docker import + STOPSIGNAL → ${ref}`, async () => {
      const imported = `${ref}-rootfs`;
      await importRootfs(rootfs, [`ENV container=docker`, `ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]`], imported);
      // docker import cannot set a stop signal; a build FROM the imported image (present, so nothing is pulled) can.
      await dockerBuild(r, `FROM ${imported}\nSTOPSIGNAL SIGRTMIN+3\nLABEL ${IMAGE_LABEL}=kind-base\n`, {}, ref);
      await exec(r, 'docker', ['rmi', imported]);
    });
  } finally {
    await removeWorkdir(work);
  }
}


/** `docker build` of a Dockerfile and files (name → source path) in a throwaway context; the legacy builder, so nothing is resolved remotely. */
async function dockerBuild(r: Runner, dockerfile: string, files: Record<string, string>, ...tags: string[]): Promise<void> {
  const ctx = mkdtempSync(join(tmpdir(), 'statebench-kind-ctx-'));
  try {
    writeFileSync(join(ctx, 'Dockerfile'), dockerfile);
    for (const [name, from] of Object.entries(files)) {
      mkdirSync(dirname(join(ctx, name)), { recursive: true });
      copyFileSync(from, join(ctx, name));
      chmodSync(join(ctx, name), 0o755);
    }
    mkdirSync(join(ctx, 'empty'), { recursive: true });
    await exec(r, 'docker', ['build', '-q', ...tags.flatMap((t) => ['-t', t]), ctx], { env: { ...process.env, DOCKER_BUILDKIT: '0' } });
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Step 3: component images

interface ComponentImage {
  names: string[];
  /** Dockerfile; `bin/<name>` refers to a built binary. */
  dockerfile: string;
  binaries: string[];
}

const SCRATCH_ENV = 'ENV PATH=/usr/local/bin:/usr/bin:/bin\nCOPY empty /tmp\n';

export function componentImages(o: { kubeadmImages: string[]; kind: KindSources; baseRef: string; kindnetRef: string; label: string }): ComponentImage[] {
  const find = (re: RegExp) => {
    const hit = o.kubeadmImages.find((i) => re.test(i));
    if (!hit) throw new StatebenchError(`kubeadm config images list names no image matching ${re}: ${o.kubeadmImages.join(', ')}`, EXIT.environment);
    return hit;
  };
  const label = `LABEL ${o.label}\n`;
  const scratch = (bin: string, names: string[], entrypoint?: string): ComponentImage => ({
    names,
    binaries: [bin],
    dockerfile: `FROM scratch\n${SCRATCH_ENV}COPY bin/${bin} /usr/local/bin/${bin}\n${entrypoint ? `ENTRYPOINT ["${entrypoint}"]\n` : ''}${label}`,
  });
  const tools = (bin: string, names: string[], dest: string, entrypoint?: string): ComponentImage => ({
    names,
    binaries: [bin],
    // The base rootfs has iptables, nftables, conntrack and iproute2 (kube-proxy, the CNI agent) and a shell (the local-path helper).
    dockerfile: `FROM ${o.baseRef}\nCOPY bin/${bin} ${dest}\nENTRYPOINT ${entrypoint ? `["${entrypoint}"]` : '[]'}\nSTOPSIGNAL SIGTERM\n${label}`,
  });
  const images: ComponentImage[] = [
    ...(['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const).map((c) => scratch(c, [find(new RegExp(`/${c}:`))])),
    tools('kube-proxy', [find(/\/kube-proxy:/)], '/usr/local/bin/kube-proxy'),
    scratch('etcd', [find(/\/etcd:/)]),
    {
      names: [find(/\/coredns:/)],
      binaries: ['coredns'],
      dockerfile: `FROM scratch\n${SCRATCH_ENV}COPY bin/coredns /coredns\nENTRYPOINT ["/coredns"]\n${label}`,
    },
    {
      // kubeadm's pause and the one kind's containerd config uses as its sandbox image.
      names: [...new Set([find(/\/pause:/), o.kind.sandboxImage])],
      binaries: ['pause'],
      dockerfile: `FROM scratch\nCOPY bin/pause /pause\nENTRYPOINT ["/pause"]\n${label}`,
    },
    scratch('local-path-provisioner', [o.kind.storageProvisionerImage], '/usr/local/bin/local-path-provisioner'),
    { names: [o.kind.storageHelperImage], binaries: [], dockerfile: `FROM ${o.baseRef}\nENTRYPOINT []\nSTOPSIGNAL SIGTERM\n${label}` },
    tools('kindnetd', [o.kindnetRef], '/bin/kindnetd', '/bin/kindnetd'),
  ];
  return images;
}

// ---------------------------------------------------------------------------------------------
// Step 4: node image

async function assembleNode(r: Runner, timings: Record<string, number>, o: { baseRef: string; ref: string; tag: string; bin: string; kubeVersion: string; imagesTar: string; manifests: Record<string, string>; expected: string[] }): Promise<void> {
  const name = `statebench-kind-build-${o.tag}`;
  await exec(r, 'docker', ['rm', '-f', '-v', name]).catch(() => {});
  try {
    await step(r, timings, 'node-files', 'container from the base image, binaries, /kind/version, manifests', async () => {
      await exec(r, 'docker', ['run', '-d', '--entrypoint=sleep', `--name=${name}`, '--security-opt', 'seccomp=unconfined', o.baseRef, 'infinity']);
      const cp = async (from: string, to: string) => {
        await exec(r, 'docker', ['cp', from, `${name}:${to}`]);
        await exec(r, 'docker', ['exec', name, 'chown', 'root:root', to]);
      };
      for (const b of ['kubeadm', 'kubelet', 'kubectl']) await cp(join(o.bin, b), `/usr/bin/${b}`);
      await cp(join(o.bin, 'crictl'), '/usr/local/bin/crictl');
      await exec(r, 'docker', ['exec', name, 'mkdir', '-p', '/opt/cni/bin', '/kind/manifests']);
      for (const p of CNI_PLUGINS) {
        const b = p.split('/')[1]!;
        await cp(join(o.bin, b), `/opt/cni/bin/${b}`);
      }
      const files = mkdtempSync(join(tmpdir(), 'statebench-kind-files-'));
      try {
        writeFileSync(join(files, 'version'), o.kubeVersion);
        await cp(join(files, 'version'), '/kind/version');
        for (const [file, text] of Object.entries(o.manifests)) {
          writeFileSync(join(files, file), text);
          await cp(join(files, file), `/kind/manifests/${file}`);
        }
      } finally {
        rmSync(files, { recursive: true, force: true });
      }
    });
    await step(r, timings, 'node-images', `import ${o.expected.length} images into containerd's k8s.io namespace`, async () => {
      await exec(r, 'docker', ['exec', name, 'bash', '-c', 'nohup containerd >/tmp/containerd.log 2>&1 &']);
      let ready = false;
      for (let i = 0; i < 30 && !ready; i++) {
        ready = await exec(r, 'docker', ['exec', name, 'ctr', 'version']).then(() => true, () => false);
        if (!ready) await new Promise((res) => setTimeout(res, 1000));
      }
      if (!ready) throw new StatebenchError(`containerd did not start in the build container ${name} within 30 s`, EXIT.environment);
      await exec(r, 'docker', ['exec', '-i', name, 'ctr', '--namespace=k8s.io', 'images', 'import', '--label=io.cri-containerd.pinned=pinned', '--all-platforms', '--no-unpack', '--digests', '-'], { stdinFile: o.imagesTar, timeoutMs: 20 * 60_000 });
      const listed = (await exec(r, 'docker', ['exec', name, 'ctr', '--namespace=k8s.io', 'images', 'list', '-q'], { capture: true })).split('\n').map((l) => l.trim());
      r.out.write(listed.join('\n') + '\n');
      const missing = o.expected.filter((i) => !listed.includes(i));
      if (missing.length) throw new StatebenchError(`images missing from the node's containerd after import: ${missing.join(', ')}`, EXIT.environment);
      await exec(r, 'docker', ['exec', name, 'bash', '-c', 'kill $(pidof containerd); for i in $(seq 1 30); do pidof containerd >/dev/null || exit 0; sleep 1; done; exit 1']);
      await exec(r, 'docker', ['exec', name, 'rm', '-f', '/tmp/containerd.log']);
    });
    await step(r, timings, 'node-commit', `docker commit → ${o.ref}`, async () => {
      await exec(r, 'docker', [
        'commit',
        '--change', 'ENTRYPOINT [ "/usr/local/bin/entrypoint", "/sbin/init" ]',
        '--change', 'ENV HTTP_PROXY="" HTTPS_PROXY="" NO_PROXY=""',
        '--change', `LABEL ${RECIPE_LABEL}=${o.tag} ${IMAGE_LABEL}=kind-node statebench.kubernetes=${o.kubeVersion}`,
        name,
        o.ref,
      ], { timeoutMs: 20 * 60_000 });
    });
  } finally {
    await exec(r, 'docker', ['rm', '-f', '-v', name]).catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------

async function imageExists(ref: string): Promise<boolean> {
  return (await localRecipeLabel(ref)) !== undefined;
}

/** Installs `from` as `to` when absent or different (the kind CLI on the host). */
function installBinary(from: string, to: string): boolean {
  const same = existsSync(to) && createHash('sha256').update(readFileSync(to)).digest('hex') === createHash('sha256').update(readFileSync(from)).digest('hex');
  if (same) return false;
  const tmp = `${to}.statebench-${process.pid}`;
  copyFileSync(from, tmp);
  chmodSync(tmp, 0o755);
  renameSync(tmp, to);
  return true;
}

export async function buildKindNode(opts: BuildOptions = {}): Promise<BuildResult> {
  const progress = opts.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const t0 = performance.now();
  const recipe = loadKindNodeRecipe();
  const tag = recipeTag('kind-node');
  const ref = `statebench/kind-node:${tag}`;
  if (!hasTool('docker')) throw new MissingToolError('docker', 'to build container images', 'Run scripts/host-prep.sh (as root)');
  await requireEngine();
  if (!opts.force && (await localRecipeLabel(ref)) === tag) {
    await exec({ log: progress, out: { write: () => true } as unknown as WriteStream, t0 }, 'docker', ['tag', ref, 'statebench/kind-node:latest']);
    progress(`${ref} is up to date (recipe unchanged); nothing to build`);
    return { name: 'kind-node', ref, tag, reused: true, seconds: (performance.now() - t0) / 1000 };
  }
  requireBuildTools();
  for (const t of ['go', 'gcc']) if (!hasTool(t)) throw new MissingToolError(t, 'to build the kind node image', t === 'go' ? 'Install the Go toolchain' : 'apt-get install gcc libc6-dev');

  const root = kindNodeCacheRoot();
  const logDir = join(root, 'logs');
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, `${tag}-${new Date().toISOString().replace(/[:.]/g, '-')}.log`);
  const out = createWriteStream(logFile);
  const r: Runner = { log: progress, out, t0 };
  const timings: Record<string, number> = {};
  progress(`building ${ref} (Kubernetes ${recipe.kubernetes}, kind ${recipe.kind}, ${Math.max(1, cpus().length)} CPUs); log: ${logFile}`);
  try {
    const [kindMod, kubeMod] = await step(r, timings, 'modules', `go mod download sigs.k8s.io/kind@${recipe.kind} k8s.io/kubernetes@${recipe.kubernetes}`, () =>
      goDownload(r, `sigs.k8s.io/kind@${recipe.kind}`, `k8s.io/kubernetes@${recipe.kubernetes}`),
    );
    const kind = readKindSources(kindMod!.Dir);
    if (kind.localPathProvisionerVersion && kind.localPathProvisionerVersion !== recipe.localPathProvisioner) {
      throw new StatebenchError(`recipe localPathProvisioner ${recipe.localPathProvisioner}, kind ${recipe.kind} builds ${kind.localPathProvisionerVersion}`, EXIT.usage, 'Update images/kind-node/recipe.json');
    }
    // debootstrap waits mostly on the mirror and dpkg: it runs beside the compiles.
    const baseRef = `statebench/kind-base:${baseHash(recipe)}`;
    const baseBuild = (async () => {
      if (await imageExists(baseRef)) progress(`  ${elapsed(t0)} base image ${baseRef} present; reused`);
      else await buildBase(r, timings, recipe, kind, baseRef, opts.mirror ?? debianMirror(recipe.suite));
    })();
    const binaries = (async () => {
      const bin = await buildBinaries(r, timings, recipe, join(root, binariesHash(recipe)), kubeMod!.Dir);
      await step(r, timings, 'kindnet', 'go build of the CNI agent (images/kind-node/kindnet)', () =>
        exec(r, 'go', ['build', '-trimpath', '-ldflags', '-s -w', '-o', join(bin, 'kindnetd'), '.'], { cwd: join(RECIPE_DIR, 'kindnet'), env: goEnv() }),
      );
      return bin;
    })();
    const [binResult, baseResult] = await Promise.allSettled([binaries, baseBuild]);
    if (binResult.status === 'rejected') throw binResult.reason;
    if (baseResult.status === 'rejected') throw baseResult.reason;
    const bin = binResult.value;
    if (installBinary(join(bin, 'kind'), '/usr/local/bin/kind')) progress(`  installed /usr/local/bin/kind (${recipe.kind})`);

    const kubeadmImages = (await exec(r, join(bin, 'kubeadm'), ['config', 'images', 'list', '--kubernetes-version', recipe.kubernetes], { capture: true }))
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
    r.out.write(`kubeadm images: ${kubeadmImages.join(' ')}\n`);
    const etcdImage = kubeadmImages.find((i) => /\/etcd:/.test(i)) ?? '';
    if (!etcdImage.endsWith(`:${recipe.etcd.replace(/^v/, '')}-0`) || !kubeadmImages.some((i) => i.endsWith(`/coredns:${recipe.coredns}`))) {
      throw new StatebenchError(`kubeadm ${recipe.kubernetes} expects ${kubeadmImages.join(', ')}; the recipe builds etcd ${recipe.etcd} and CoreDNS ${recipe.coredns}`, EXIT.usage, 'Update images/kind-node/recipe.json');
    }


    const kindnetRef = `docker.io/statebench/kindnet:${tag}`;
    const images = componentImages({ kubeadmImages, kind, baseRef, kindnetRef, label: `statebench.kind-node=${tag}` });
    const expected = images.flatMap((i) => i.names.map(normalizeImage));
    const work = mkdtempSync(join(tmpdir(), 'statebench-kind-node-'));
    try {
      const imagesTar = join(work, 'images.tar');
      await step(r, timings, 'component-images', `${expected.length} images: docker build + docker save`, async () => {
        for (const img of images) {
          await dockerBuild(r, img.dockerfile, Object.fromEntries(img.binaries.map((b) => [`bin/${b}`, join(bin, b)])), ...img.names);
        }
        await exec(r, 'docker', ['save', '-o', imagesTar, ...images.flatMap((i) => i.names)], { timeoutMs: 20 * 60_000 });
      });
      const manifests = {
        // kind's DaemonSet, with statebench's agent in place of kindnetd (see the header).
        'default-cni.yaml': kind.cniManifest.split(kind.kindnetdImage).join(kindnetRef),
        'default-storage.yaml': kind.storageManifest,
      };
      await assembleNode(r, timings, { baseRef, ref, tag, bin, kubeVersion: recipe.kubernetes, imagesTar, manifests, expected });
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
    // The component images live on in the node image; their docker copies are not needed.
    await exec(r, 'docker', ['rmi', ...images.flatMap((i) => i.names)]).catch(() => {});
    await exec(r, 'docker', ['tag', ref, 'statebench/kind-node:latest']);
    const size = Number((await exec(r, 'docker', ['image', 'inspect', '--format', '{{.Size}}', ref], { capture: true })).trim());
    const seconds = (performance.now() - t0) / 1000;
    writeFileSync(join(logDir, `${tag}-timings.json`), JSON.stringify({ ref, seconds: Math.round(seconds), steps: timings }, null, 2) + '\n');
    progress(`built ${ref} in ${seconds.toFixed(0)}s (${Object.entries(timings).map(([k, v]) => `${k} ${v}s`).join(', ')}), ${(size / 1024 ** 2).toFixed(0)} MiB`);
    return { name: 'kind-node', ref, tag, reused: false, seconds, sizeBytes: size, steps: timings };
  } catch (e) {
    progress(`kind-node build failed; log: ${logFile}`);
    throw e;
  } finally {
    out.end();
  }
}
