// The Docker engine as statebench uses it: one client (through testcontainers, which never pulls
// unless told to), image presence, and removal of the containers and networks a run created, both
// in-process and for `statebench clean` after a SIGKILL.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type Dockerode from 'dockerode';
import type { ContainerRuntimeClient } from 'testcontainers';
import { StatebenchError, EXIT } from '../../errors.ts';
import { met, notYet, waitFor } from '../../core/wait.ts';

/** Every container and network a run creates carries this label with the run id as its value. */
export const RUN_LABEL = 'statebench.run';
export const TARGET_LABEL = 'statebench.target';
export const NODE_LABEL = 'statebench.node';

export const DOCKER_HINT = 'Install Docker (`apt-get install docker.io`) and start the engine, e.g. `dockerd --iptables=false >/var/log/dockerd.log 2>&1 &`; `statebench doctor` shows what is missing';

/**
 * testcontainers settings statebench relies on: no Ryuk helper container (its image would have to be
 * pulled, and statebench's cleanup registry removes what a run creates), and published ports reached
 * on 127.0.0.1. A value the user set is kept.
 */
function configureTestcontainers(): void {
  process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
  process.env.TESTCONTAINERS_HOST_OVERRIDE ??= '127.0.0.1';
}

let testcontainers: Promise<typeof import('testcontainers')> | undefined;

/** testcontainers, loaded on first use so commands that never touch Docker do not load it. */
export function loadTestcontainers(): Promise<typeof import('testcontainers')> {
  configureTestcontainers();
  testcontainers ??= import('testcontainers');
  return testcontainers;
}

export async function dockerClient(): Promise<ContainerRuntimeClient> {
  const tc = await loadTestcontainers();
  try {
    return await tc.getContainerRuntimeClient();
  } catch (e) {
    throw new StatebenchError(`no Docker engine answers (${(e as Error).message})`, EXIT.environment, DOCKER_HINT);
  }
}

export async function dockerode(): Promise<Dockerode> {
  return (await dockerClient()).container.dockerode;
}

export function testcontainersVersion(): string {
  try {
    const entry = createRequire(import.meta.url).resolve('testcontainers');
    // build/index.js → package root
    const pkg = JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as { version: string };
    return pkg.version;
  } catch {
    return 'unknown';
  }
}

function statusCode(e: unknown): number | undefined {
  return (e as { statusCode?: number }).statusCode;
}

/** The local image's id and labels, or undefined when there is no such image. Contacts no registry. */
export async function localImage(ref: string): Promise<{ id: string; labels: Record<string, string>; sizeBytes: number } | undefined> {
  const d = await dockerode();
  try {
    const info = await d.getImage(ref).inspect();
    return { id: info.Id, labels: info.Config?.Labels ?? {}, sizeBytes: info.Size };
  } catch (e) {
    if (statusCode(e) === 404) return undefined;
    throw e;
  }
}

/** Removes a container whatever its state (running, paused, exited); an absent one is fine. */
export async function removeContainer(id: string): Promise<void> {
  const d = await dockerode();
  try {
    await d.getContainer(id).remove({ force: true, v: true });
  } catch (e) {
    // 404: already gone. 409: removal already in progress (e.g. AutoRemove); wait for it below.
    if (statusCode(e) !== 404 && statusCode(e) !== 409) throw e;
  }
  await waitFor(
    `container ${id.slice(0, 12)} to be gone after its removal`,
    async () => {
      try {
        const c = await d.getContainer(id).inspect();
        return notYet(`still there (${c.State?.Status ?? 'state unknown'})`);
      } catch (e) {
        if (statusCode(e) === 404) return met(undefined);
        throw e;
      }
    },
    { timeoutMs: 20_000, intervalMs: 100 },
  );
}

export async function removeNetwork(id: string): Promise<void> {
  const d = await dockerode();
  try {
    await d.getNetwork(id).remove();
  } catch (e) {
    if (statusCode(e) !== 404) throw e;
  }
}

export interface RunLeftovers {
  containers: { id: string; name: string }[];
  networks: { id: string; name: string }[];
}

/** Containers (any state) and networks labelled with the run id. */
export async function listRunResources(runId: string): Promise<RunLeftovers> {
  const d = await dockerode();
  const filters = JSON.stringify({ label: [`${RUN_LABEL}=${runId}`] });
  const containers = await d.listContainers({ all: true, filters });
  const networks = await d.listNetworks({ filters });
  return {
    containers: containers.map((c) => ({ id: c.Id, name: (c.Names[0] ?? c.Id).replace(/^\//, '') })),
    networks: networks.map((n) => ({ id: n.Id, name: n.Name })),
  };
}

/**
 * Removes every container and network labelled `statebench.run=<runId>`: the label is the source of
 * truth, so this finds what a killed run left even when its resource journal lost the line. Returns
 * what was removed, as `container <name>` / `network <name>`.
 */
export async function removeRunContainers(runId: string): Promise<string[]> {
  const found = await listRunResources(runId);
  const removed: string[] = [];
  for (const c of found.containers) {
    await removeContainer(c.id);
    removed.push(`container ${c.name}`);
  }
  // Networks last: a network with attached containers cannot be removed.
  for (const n of found.networks) {
    await removeNetwork(n.id);
    removed.push(`network ${n.name}`);
  }
  return removed;
}

/** Docker's multiplexed log stream (8-byte frame headers, no TTY) as text. */
export function demuxLogs(buf: Buffer): string {
  let out = '';
  let i = 0;
  while (i + 8 <= buf.length) {
    const type = buf[i];
    const size = buf.readUInt32BE(i + 4);
    if (type > 2 || buf[i + 1] !== 0 || buf[i + 2] !== 0 || buf[i + 3] !== 0) return buf.toString('utf8');
    out += buf.subarray(i + 8, i + 8 + size).toString('utf8');
    i += 8 + size;
  }
  return out;
}

export async function logTail(container: Dockerode.Container, lines = 15): Promise<string> {
  try {
    const raw = (await container.logs({ stdout: true, stderr: true, follow: false, tail: lines })) as unknown as Buffer;
    return demuxLogs(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw))).trim();
  } catch {
    return '(logs unavailable)';
  }
}
