// A kind run by an ordinary user leaves nothing behind. The CLI runs as uid/gid 65534 with only the
// docker socket's group (setpriv, no account added), as the nightly workflow runs without sudo: it
// creates a kind cluster with Local PVs on host directories it owns, probes one with fio, runs
// PostgreSQL — whose files inside the node belong to the image's postgres user, in 0700 directories —
// and releases everything. Then, as root, the test looks for what could have stayed: the cluster and
// its node containers, the host directories behind the Local PVs, the run's workspace. The same user
// is refused remote volumes (they need root) with exit 2 before anything starts.
//
// Needs root (to drop to the ordinary user), setpriv, kind, a running docker, the kind node image
// (STATEBENCH_KIND_NODE_IMAGE) and statebench/postgres:latest. Skipped, saying why, where any is
// missing; under CI (STATEBENCH_REQUIRE_KIND=1 or CI=true) that is a failure.
import { execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { hasTool } from '../../core/tools.ts';
import { KindCli } from './cluster.ts';
import { defaultImage } from './render/manifests.ts';
import { kindClusterName } from './names.ts';
import { kindRequired, kindTestGaps } from './testing/kind-requirements.ts';

const ROOT = new URL('../../../', import.meta.url).pathname;
const IMAGE = process.env.STATEBENCH_KIND_IMAGE ?? defaultImage('postgres');
const NOBODY = 65534;
const DOCKER_SOCKET = '/var/run/docker.sock';

function gaps(): string | undefined {
  const g: string[] = [];
  if (process.getuid?.() !== 0) g.push('not root (the test drops to an ordinary user with setpriv)');
  if (!hasTool('setpriv')) g.push('setpriv not on PATH (util-linux)');
  if (!existsSync(DOCKER_SOCKET)) g.push(`no docker socket at ${DOCKER_SOCKET}`);
  const kind = kindTestGaps({ test: 'kind non-root test', image: IMAGE, imageHint: 'npx tsx images/build.ts postgres, or set STATEBENCH_KIND_IMAGE', nodeImage: true });
  if (kind) g.push(kind);
  return g.length ? `kind non-root test: ${g.join('; ')}` : undefined;
}

const reason = gaps();
if (reason && !kindRequired) console.warn(`SKIP ${reason}`);

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The CLI as uid/gid 65534 with the docker socket's group and nothing else; killed after timeoutMs. */
function cliAsNobody(args: string[], env: Record<string, string>, timeoutMs: number): Promise<Outcome> {
  const dockerGroup = statSync(DOCKER_SOCKET).gid;
  const child = spawn('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, `--groups=${dockerGroup}`, '--', process.execPath, join(ROOT, 'bin', 'statebench.js'), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => {
    // SIGTERM lets statebench clean up as it would under CI cancellation; what it cannot, the test's
    // own cleanup below removes.
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

const KIND_PROFILE = (image: string) => `name: kind-nonroot
targets:
  - name: kind/local-pv
    platform: kind
    storage: { kind: local-pv, size: 1GiB }
    image: ${image}
    pull: never
engine:
  startTimeout: 180s
  settings: { shared_buffers: 32MB }
io: { tool: fio, size: 16MiB, runtime: 3s }
workloads:
  - kind: oltp-tpcb
    scale: 1
    clients: 2
    warmup: 1s
    duration: 5s
`;

const REMOTE_PROFILE = `name: kind-nonroot-remote
targets:
  - platform: kind
    storage: { kind: remote, latencyMs: 1 }
workloads:
  - kind: oltp-tpcb
`;

describe('kind as an ordinary user', () => {
  test.skipIf(!!reason && !kindRequired)(
    'a Local PV run cleans up without root: no EACCES, no cluster, no node container, no host directory left; remote volumes refused with exit 2',
    async () => {
      if (reason) throw new Error(`kind end-to-end tests are required here (CI) but ${reason}`);
      const base = mkdtempSync('/tmp/statebench-kind-nonroot-');
      chownSync(base, NOBODY, NOBODY);
      const home = join(base, 'home');
      const workspace = join(base, 'workspace');
      const out = join(base, 'out');
      mkdirSync(home);
      chownSync(home, NOBODY, NOBODY);
      writeFileSync(join(base, 'kind.yaml'), KIND_PROFILE(IMAGE));
      writeFileSync(join(base, 'remote.yaml'), REMOTE_PROFILE);
      // kind writes its kubeconfig under HOME unless told otherwise; the workspace is statebench's own.
      const env = { HOME: home, STATEBENCH_HOME: workspace, STATEBENCH_KIND_NODE_IMAGE: process.env.STATEBENCH_KIND_NODE_IMAGE ?? '' };
      let cluster: string | undefined;
      try {
        const refused = await cliAsNobody(['plan', join(base, 'remote.yaml')], env, 60_000);
        expect(refused.code, refused.stderr).toBe(2);
        expect(refused.stderr).toContain(
          'line 4: targets.0.storage.kind: remote storage served by statebench (nbdkit, a loop device, mkfs and a mount) needs root, and statebench runs as uid 65534; run it as root (e.g. with sudo), or use local-pv or a StorageClass',
        );

        // While it runs, the Local PVs' host directories hold files of another user (the image's
        // postgres, as the node's root made them): what the user could not remove from the host.
        let foreign = '';
        const look = setInterval(() => {
          if (foreign) return;
          try {
            foreign = execFileSync('find', [join(workspace, 'runs'), '-path', '*/kind/disk-*', '!', '-uid', String(NOBODY), '-printf', '%u(%U) %m %p', '-quit'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
          } catch {
            /* not there yet */
          }
        }, 2_000);
        const t0 = performance.now();
        const r = await cliAsNobody(['run', join(base, 'kind.yaml'), '--out', out], env, 540_000).finally(() => clearInterval(look));
        console.log(`[kind non-root] run took ${((performance.now() - t0) / 1000).toFixed(0)} s, exit ${r.code ?? r.signal}; stderr ends:\n${r.stderr.split('\n').slice(-15).join('\n')}`);
        const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { runId: string; status: string; targets: { status: string; error?: string; io?: { tool: string }; workloads: { tps: number }[] }[] };
        cluster = kindClusterName(summary.runId, 'kind/local-pv');
        expect(r.code, r.stderr).toBe(0);
        expect(r.stderr).not.toMatch(/EACCES|permission denied|operation not permitted/i);
        expect(summary.status).toBe('completed');
        expect(summary.targets[0]).toMatchObject({ status: 'completed' });
        expect(summary.targets[0].io?.tool).toMatch(/^fio/);
        expect(summary.targets[0].workloads[0].tps).toBeGreaterThan(0);
        expect(foreign, 'no file of another user appeared under the kind disks while the run went on').not.toBe('');
        console.log(`[kind non-root] under the user's kind disks while it ran: ${foreign}`);
        const events = readFileSync(join(out, 'events.jsonl'), 'utf8');
        expect(events).toContain('"kind-cluster-created"');
        expect(events).not.toContain('"kind-wipe-failed"');
        expect(events).not.toContain('"teardown-error"');

        // What a run as root would find left behind: the run's workspace (with the kind disks, the
        // Local PVs' host directories), the cluster, and its node containers.
        const runDirOnHost = join(workspace, 'runs', summary.runId);
        expect(existsSync(runDirOnHost), `${runDirOnHost} is left: ${existsSync(runDirOnHost) ? execFileSync('find', [runDirOnHost, '-maxdepth', '4', '-printf', '%u %m %p\\n'], { encoding: 'utf8' }) : ''}`).toBe(false);
        expect(readdirSync(join(workspace, 'runs'))).toEqual([]);
        expect(await new KindCli().statebenchClusters()).not.toContain(cluster);
        expect(execFileSync('docker', ['ps', '-a', '--quiet', '--filter', `label=io.x-k8s.kind.cluster=${cluster}`], { encoding: 'utf8' }).trim()).toBe('');
        // Everything the user left in its own directories is its own: nothing root-owned to trip on.
        expect(execFileSync('find', [base, '!', '-uid', String(NOBODY), '!', '-path', base, '!', '-name', '*.yaml'], { encoding: 'utf8' }).trim()).toBe('');
      } finally {
        // A run that died leaves its cluster; remove it as root (only this run's, by its name, from the
        // summary or from the run directory it left in the workspace).
        const ids = existsSync(join(workspace, 'runs')) ? readdirSync(join(workspace, 'runs')) : [];
        const names = new Set([...(cluster ? [cluster] : []), ...ids.map((id) => kindClusterName(id, 'kind/local-pv'))]);
        const present = await new KindCli().statebenchClusters().catch(() => [] as string[]);
        for (const n of names) if (present.includes(n)) await new KindCli().deleteCluster(n).catch(() => {});
        rmSync(base, { recursive: true, force: true });
      }
    },
    660_000,
  );
});
