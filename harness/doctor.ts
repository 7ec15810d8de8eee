// `statebench doctor`: every external tool statebench can use, whether it is here, its version,
// what it enables and how to get it.
import { hasTool } from './core/tools.ts';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { run } from './core/exec.ts';
import { storageRequirements } from './storage/remote.ts';

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
  return [...tools, await kubeContext(), ...(await storageRequirements())];
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
