// Talking to a cluster: server-side apply, waits built on watches, diagnoses when a wait times out,
// pod logs and port-forwarding; and the kind CLI for clusters statebench creates itself.
import { createServer, type Server, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import {
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  PortForward,
  Watch,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { run, type CommandResult } from '../../core/exec.ts';
import type { CleanupRegistry, Registration } from '../../core/cleanup.ts';
import { hasTool } from '../../core/tools.ts';
import { met, monotonicClock, notYet, settledWithin, waitFor, Wakeup, type WaitClock } from '../../core/wait.ts';
import { StatebenchError, MissingToolError, WaitTimeoutError, EXIT } from '../../errors.ts';
import { FIELD_MANAGER, RUN_LABEL } from './names.ts';
import { describeObject } from './render/validate.ts';
import { diagnose, isPodReady, PERMANENT_WAITING_REASONS, type PodLike } from './diagnose.ts';
import type { K8sObject } from './render/manifests.ts';

/** Loads a kubeconfig file, or the default one ($KUBECONFIG, ~/.kube/config), and selects a context. */
export function loadKubeConfig(opts: { file?: string; context?: string } = {}): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (opts.file) kc.loadFromFile(opts.file);
    else kc.loadFromDefault();
  } catch (e) {
    throw new StatebenchError(`cannot read kubeconfig ${opts.file ?? '(default)'}: ${(e as Error).message}`, EXIT.environment, 'Set KUBECONFIG or create ~/.kube/config for the cluster');
  }
  if (opts.context) {
    const names = kc.getContexts().map((c) => c.name);
    if (!names.includes(opts.context)) {
      throw new StatebenchError(`kubeconfig has no context "${opts.context}"`, EXIT.usage, `Set target.context to one of: ${names.join(', ') || '(none)'}`);
    }
    kc.setCurrentContext(opts.context);
  }
  if (!kc.getCurrentCluster()) {
    throw new StatebenchError('the kubeconfig selects no cluster', EXIT.environment, 'Set target.context, or `kubectl config use-context NAME`');
  }
  return kc;
}

/** The API's own message from a failed call, without headers or the request body. */
export function apiMessage(e: unknown): string {
  const err = e as { code?: number; body?: unknown; message?: string };
  let body = err.body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      /* plain text */
    }
  }
  const status = body as { message?: string; reason?: string } | undefined;
  if (status && typeof status === 'object' && status.message) return `${err.code ?? ''} ${status.reason ?? ''}: ${status.message}`.trim();
  if (typeof body === 'string' && body) return `${err.code ?? ''} ${body.slice(0, 300)}`.trim();
  // ApiException's own message carries the response headers; keep only its first line.
  return (err.message ?? String(e)).split('\n')[0];
}

function codeOf(e: unknown): number | undefined {
  return (e as { code?: number; statusCode?: number }).code ?? (e as { statusCode?: number }).statusCode;
}

interface Collection {
  apiVersion: string;
  kind: string;
  /** URL plural, e.g. `pods`, `jobs`. */
  plural: string;
  namespace: string;
  labelSelector?: string;
  fieldSelector?: string;
}

function collectionPath(c: Collection): string {
  const root = c.apiVersion.includes('/') ? `/apis/${c.apiVersion}` : `/api/${c.apiVersion}`;
  return `${root}/namespaces/${encodeURIComponent(c.namespace)}/${c.plural}`;
}

export interface WaitOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

/** What the waits see of a Job. */
interface JobLike extends KubernetesObject {
  status?: { succeeded?: number; failed?: number; conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

export interface JobOutcome {
  succeeded: boolean;
  /** The Job's pod (the last one, if there were several). */
  pod?: string;
  reason?: string;
}

/** A collection kept current by list + watch while a wait looks at it. */
interface FollowedCollection {
  items(): KubernetesObject[];
  listed: boolean;
  /** The server refused to list: no wait on this collection can succeed. */
  refused?: StatebenchError;
  lastError?: string;
  /** Notified on every list and watch event. */
  changes: Wakeup;
  stop(): void;
}

export class KubeCluster {
  readonly objects: KubernetesObjectApi;
  readonly core: CoreV1Api;
  /** The clock of every wait on this cluster (a fake one in unit tests). */
  readonly clock: WaitClock;
  private readonly watcher: Watch;

  constructor(
    readonly kubeConfig: KubeConfig,
    o: { clock?: WaitClock } = {},
  ) {
    this.objects = KubernetesObjectApi.makeApiClient(kubeConfig);
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.watcher = new Watch(kubeConfig);
    this.clock = o.clock ?? monotonicClock;
  }

  /** Server-side apply of each object, in order, as field manager `statebench`, forcing ownership. */
  async apply(objs: K8sObject[]): Promise<void> {
    for (const o of objs) {
      try {
        // The client serialises the object as JSON, which is valid apply-patch+yaml.
        await this.objects.patch(structuredClone(o) as KubernetesObject, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
      } catch (e) {
        throw new StatebenchError(`applying ${describeObject(o)} failed: ${apiMessage(e)}`, EXIT.runFailed, hintForApply(e));
      }
    }
  }

  /** Deletes one object; an object that is already gone is fine. */
  async delete(o: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } }, opts: { gracePeriodSeconds?: number } = {}): Promise<void> {
    try {
      await this.objects.delete(o as KubernetesObject, undefined, undefined, opts.gracePeriodSeconds, undefined, 'Background');
    } catch (e) {
      if (codeOf(e) !== 404) throw new StatebenchError(`deleting ${describeObject(o)} failed: ${apiMessage(e)}`);
    }
  }

  /** Deletes every object of one cluster-scoped kind that carries this run's label. */
  async deleteByRun(apiVersion: string, kind: string, runLabelValue: string): Promise<void> {
    const list = await this.objects.list(apiVersion, kind, undefined, undefined, undefined, undefined, undefined, `${RUN_LABEL}=${runLabelValue}`);
    for (const item of list.items) await this.delete({ apiVersion, kind, metadata: { name: item.metadata!.name! } });
  }

  /**
   * The member Patroni's leader key names and the address its Endpoints route clients to; undefined
   * while no member holds the key (or the key names a member but routes nowhere).
   */
  async leaderOf(namespace: string, endpoints: string): Promise<{ member: string; ip: string } | undefined> {
    let ep: KubernetesObject;
    try {
      ep = await this.objects.read({ apiVersion: 'v1', kind: 'Endpoints', metadata: { name: endpoints, namespace } });
    } catch (e) {
      if (codeOf(e) === 404) return undefined;
      throw e;
    }
    return leaderFromEndpoints(ep);
  }

  /** Waits until a member holds Patroni's leader key and its Endpoints route to it. */
  waitForLeader(namespace: string, endpoints: string, opts: WaitOptions & { podSelector: string }): Promise<{ member: string; ip: string }> {
    return this.waitUntil(
      { apiVersion: 'v1', kind: 'Endpoints', plural: 'endpoints', namespace, fieldSelector: `metadata.name=${endpoints}` },
      (items) => {
        const ep = items.find((x) => x.metadata?.name === endpoints);
        return ep ? leaderFromEndpoints(ep) : undefined;
      },
      {
        ...opts,
        what: `Patroni's leader key in Endpoints ${namespace}/${endpoints} (a member holding it, and an address to route clients to)`,
        explain: () => this.explain(namespace, opts.podSelector),
      },
    );
  }

  async listPods(namespace: string, labelSelector: string): Promise<PodLike[]> {
    const list = await this.objects.list('v1', 'Pod', namespace, undefined, undefined, undefined, undefined, labelSelector);
    return list.items as PodLike[];
  }

  async podLog(namespace: string, pod: string, container: string): Promise<string> {
    try {
      return String(await this.core.readNamespacedPodLog({ name: pod, namespace, container }));
    } catch (e) {
      throw new StatebenchError(`reading the log of pod ${namespace}/${pod} failed: ${apiMessage(e)}`);
    }
  }

  /**
   * Waits until `check`, looked at on every change of the collection (list, then watch from that
   * version, listed again whenever the server ends the watch) and once a second, returns a value:
   * waitFor on the cluster's clock, so a timeout is a WaitTimeoutError, whose last state is
   * `explain()`'s diagnosis of the cluster.
   */
  async waitUntil<T>(
    c: Collection,
    check: (items: KubernetesObject[]) => T | undefined,
    opts: WaitOptions & { what: string; explain: () => Promise<{ lines: string[]; hints: string[] }> },
  ): Promise<T> {
    const followed = this.follow(c);
    try {
      return await waitFor(
        opts.what,
        () => {
          if (followed.refused) throw followed.refused;
          if (!followed.listed) return notYet(`${c.plural} not listed yet${followed.lastError ? ` (last API error: ${followed.lastError})` : ''}`);
          const v = check(followed.items());
          return v === undefined ? notYet(`${followed.items().length} ${c.plural}`) : met(v);
        },
        { timeoutMs: opts.timeoutMs, intervalMs: 1_000, maxLooks: Wakeup.maxLooks(opts.timeoutMs, 1_000), signal: opts.signal, clock: followed.changes.clock(this.clock) },
      );
    } catch (e) {
      if (!(e instanceof WaitTimeoutError)) throw e;
      let diagnosis: { lines: string[]; hints: string[] };
      try {
        // A bound on a call to the API server, in real time whatever clock the wait ran on.
        diagnosis = await settledWithin("the cluster's state", opts.explain(), { timeoutMs: 15_000, clock: monotonicClock });
      } catch (x) {
        diagnosis = { lines: [`(could not read the cluster's state: ${apiMessage(x)})`], hints: [] };
      }
      if (followed.lastError) diagnosis.lines.push(`last API error: ${followed.lastError}`);
      const seen = diagnosis.lines.length ? `the cluster says:${diagnosis.lines.map((l) => `\n  ${l}`).join('')}` : 'nothing in the cluster reported a problem';
      throw new WaitTimeoutError(e.what, e.timeoutMs, seen, e.looks, diagnosis.hints.join(' ') || undefined);
    } finally {
      followed.stop();
    }
  }

  /** Lists `c`, then watches it from that version; lists again after the watch ends, until stopped. */
  private follow(c: Collection): FollowedCollection {
    const cache = new Map<string, KubernetesObject>();
    const stopper = new AbortController();
    let controller: AbortController | undefined;
    const f: FollowedCollection = {
      items: () => [...cache.values()],
      listed: false,
      changes: new Wakeup(),
      stop: () => {
        stopper.abort();
        controller?.abort();
      },
    };
    const started = this.clock.now();
    void (async () => {
      while (!stopper.signal.aborted) {
        try {
          const list = await this.objects.list(c.apiVersion, c.kind, c.namespace, undefined, undefined, undefined, c.fieldSelector, c.labelSelector);
          cache.clear();
          for (const item of list.items) cache.set(item.metadata?.name ?? '', item);
          f.listed = true;
          f.changes.notify();
          if (stopper.signal.aborted) return;
          await new Promise<void>((watchEnded) => {
            this.watcher
              .watch(
                collectionPath(c),
                { labelSelector: c.labelSelector, fieldSelector: c.fieldSelector, resourceVersion: list.metadata?.resourceVersion, allowWatchBookmarks: true },
                (type: string, obj: KubernetesObject) => {
                  if (type === 'ADDED' || type === 'MODIFIED') cache.set(obj.metadata?.name ?? '', obj);
                  else if (type === 'DELETED') cache.delete(obj.metadata?.name ?? '');
                  else if (type === 'ERROR') {
                    // Usually 410 Gone: the version is too old; list again.
                    f.lastError = apiMessage({ body: obj });
                    controller?.abort();
                    watchEnded();
                    return;
                  } else return;
                  f.changes.notify();
                },
                (err: unknown) => {
                  if (err && (err as Error).name !== 'AbortError') f.lastError = apiMessage(err);
                  watchEnded();
                },
              )
              .then((ctl) => {
                controller = ctl;
                if (stopper.signal.aborted) ctl.abort();
              })
              .catch((e) => {
                f.lastError = apiMessage(e);
                watchEnded();
              });
          });
        } catch (e) {
          const code = codeOf(e);
          if (code === 401 || code === 403) {
            f.refused = new StatebenchError(`listing ${c.plural} in ${c.namespace} was refused: ${apiMessage(e)}`, EXIT.environment, 'The kubeconfig user needs rights to the namespace statebench creates');
            f.changes.notify();
            return;
          }
          f.lastError = apiMessage(e);
        }
        // Listed again sooner at first, then at most once a second.
        await this.clock.sleep(Math.min(1000, 100 + (this.clock.now() - started) / 20), stopper.signal).catch(() => {});
      }
    })();
    return f;
  }

  /** The pods, claims and events behind `selector`, in words. */
  async explain(namespace: string, labelSelector: string, owner?: { kind: string; name: string }) {
    const [pods, claims, events] = await Promise.all([
      this.listPods(namespace, labelSelector),
      this.objects.list('v1', 'PersistentVolumeClaim', namespace).then((l) => l.items),
      this.objects.list('v1', 'Event', namespace).then((l) => l.items),
    ]);
    return diagnose({ namespace, selector: labelSelector, pods, claims, events: events as never[], owner });
  }

  /**
   * Waits until `count` pods matching the selector are Ready (and, with `leader`, one of the ready
   * ones carries that label). Fails at once on a waiting reason that never heals (ErrImageNeverPull).
   */
  waitForPods(
    namespace: string,
    labelSelector: string,
    want: { count: number; leader?: { label: string; value: string }; owner?: { kind: string; name: string } },
    opts: WaitOptions,
  ): Promise<PodLike[]> {
    const what = `${want.count} ready pod${want.count === 1 ? '' : 's'} (${labelSelector}) in namespace ${namespace}${want.leader ? ` with a leader (${want.leader.label}=${want.leader.value})` : ''}`;
    return this.waitUntil(
      { apiVersion: 'v1', kind: 'Pod', plural: 'pods', namespace, labelSelector },
      (items) => {
        const pods = items as PodLike[];
        for (const p of pods) {
          for (const cs of p.status?.containerStatuses ?? []) {
            const reason = cs.state?.waiting?.reason;
            if (reason && PERMANENT_WAITING_REASONS.includes(reason)) {
              const d = diagnose({ namespace, selector: labelSelector, pods: [p] });
              throw new StatebenchError(`waiting for ${what} cannot succeed:${d.lines.map((l) => `\n  ${l}`).join('')}`, EXIT.runFailed, d.hints.join(' '));
            }
          }
        }
        const ready = pods.filter(isPodReady);
        if (ready.length < want.count) return undefined;
        if (want.leader && !ready.some((p) => (p as KubernetesObject).metadata?.labels?.[want.leader!.label] === want.leader!.value)) return undefined;
        return pods;
      },
      { ...opts, what, explain: () => this.explain(namespace, labelSelector, want.owner) },
    );
  }

  /** Waits until the Job succeeds or fails; a failed Job is an outcome, not an error. */
  async waitForJob(namespace: string, name: string, opts: WaitOptions): Promise<JobOutcome> {
    const podSelector = `job-name=${name}`;
    const done = await this.waitUntil(
      { apiVersion: 'batch/v1', kind: 'Job', plural: 'jobs', namespace, fieldSelector: `metadata.name=${name}` },
      (items) => {
        const job = items.find((j) => j.metadata?.name === name) as JobLike | undefined;
        if (!job?.status) return undefined;
        if ((job.status.succeeded ?? 0) > 0) return { succeeded: true };
        const failed = job.status.conditions?.find((c) => c.type === 'Failed' && c.status === 'True');
        if (failed || (job.status.failed ?? 0) > 0) return { succeeded: false, reason: failed ? `${failed.reason}: ${failed.message ?? ''}` : 'pod failed' };
        return undefined;
      },
      { ...opts, what: `Job ${namespace}/${name} to finish`, explain: () => this.explain(namespace, podSelector, { kind: 'Job', name }) },
    );
    const pods = await this.listPods(namespace, podSelector);
    return { ...done, pod: pods.at(-1)?.metadata?.name };
  }
}

/** Patroni's leader key (the `leader` annotation) and the first address of its Endpoints. */
export function leaderFromEndpoints(ep: KubernetesObject): { member: string; ip: string } | undefined {
  const member = ep.metadata?.annotations?.leader;
  const ip = ((ep as { subsets?: { addresses?: { ip: string }[] }[] }).subsets ?? []).flatMap((s) => s.addresses ?? [])[0]?.ip;
  return member && ip ? { member, ip } : undefined;
}

function hintForApply(e: unknown): string | undefined {
  const code = codeOf(e);
  if (code === 401 || code === 403) return 'The kubeconfig user needs rights to create namespaces, storage classes, persistent volumes and RBAC objects';
  if (code === 404) return 'The cluster does not serve this API version; statebench needs Kubernetes 1.25 or newer';
  if (code === 422) return 'The cluster rejected the object as invalid; `statebench plan --render DIR` writes it out for inspection';
  return undefined;
}

/**
 * A loopback TCP port that forwards each connection to port `remotePort` of the pod `pod()` names at
 * that moment, through the API server (what `kubectl port-forward` does). Asking per connection
 * follows the primary across failovers.
 */
export class PodPortForward {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly namespace: string,
    private readonly pod: () => Promise<string>,
    private readonly remotePort: number,
  ) {}

  async start(): Promise<number> {
    const forward = new PortForward(this.kubeConfig);
    this.server = createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      // The API server reports a failed connection to the pod's port on the error channel; the
      // client must see its connection drop rather than hang.
      const errors = new Writable({
        write: (chunk: Buffer, _enc, done) => {
          // The first frame of each channel only carries the port number, stripped to nothing.
          if (chunk.length > 0) socket.destroy();
          done();
        },
      });
      this.pod()
        .then((name) => forward.portForward(this.namespace, name, [this.remotePort], socket, errors, socket))
        .then((ws) => {
          const w = (typeof ws === 'function' ? ws() : ws) as { on?: (ev: string, fn: () => void) => void; close(): void } | null;
          w?.on?.('close', () => socket.destroy());
          socket.on('close', () => w?.close());
        })
        .catch(() => socket.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as { port: number }).port;
    return this.port;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    const srv = this.server;
    this.server = undefined;
    if (srv) await new Promise<void>((r) => srv.close(() => r()));
  }
}

export type Exec = (cmd: string, args: string[], opts?: { timeoutMs?: number }) => Promise<CommandResult>;

/** kind's CLI: clusters statebench creates, registered for cleanup the moment creation starts. */
export class KindCli {
  constructor(
    private readonly exec: Exec = run,
    private readonly onPath: (tool: string) => boolean = hasTool,
  ) {}

  requireTools(): void {
    if (!this.onPath('kind')) throw new MissingToolError('kind', 'for kind targets', 'Install it from the kind release binaries (go install sigs.k8s.io/kind@latest, or the release page)');
    if (!this.onPath('docker')) throw new MissingToolError('docker', 'for kind targets', 'Install docker (apt-get install docker.io) and start dockerd');
  }

  /**
   * `kind create cluster`; the cluster is registered before creation starts, so a run killed while it
   * is created still leaves a journal line for `statebench clean`.
   */
  async createCluster(registry: CleanupRegistry, o: { name: string; configFile: string; kubeconfigFile: string; timeoutMs?: number; beforeDelete?: () => Promise<void> }): Promise<Registration> {
    const reg = registry.add({ kind: 'cluster', id: o.name, what: `kind cluster ${o.name}` }, async () => {
      await o.beforeDelete?.().catch(() => {});
      await this.deleteCluster(o.name, o.kubeconfigFile);
    });
    try {
      await this.exec('kind', ['create', 'cluster', '--name', o.name, '--config', o.configFile, '--kubeconfig', o.kubeconfigFile, '--wait', '180s'], {
        timeoutMs: o.timeoutMs ?? 600_000,
      });
    } catch (e) {
      await reg.release().catch(() => {});
      throw new StatebenchError(`creating kind cluster ${o.name} failed: ${(e as Error).message}`, EXIT.runFailed, 'kind needs a running docker and its node image; `kind create cluster` on its own shows what is missing');
    }
    return reg;
  }

  async deleteCluster(name: string, kubeconfigFile?: string): Promise<void> {
    await this.exec('kind', ['delete', 'cluster', '--name', name, ...(kubeconfigFile ? ['--kubeconfig', kubeconfigFile] : [])], { timeoutMs: 180_000 });
  }

  async imageExistsLocally(image: string): Promise<boolean> {
    try {
      await this.exec('docker', ['image', 'inspect', '--format', '{{.Id}}', image], { timeoutMs: 30_000 });
      return true;
    } catch {
      return false;
    }
  }

  async loadImage(cluster: string, image: string): Promise<void> {
    await this.exec('kind', ['load', 'docker-image', image, '--name', cluster], { timeoutMs: 600_000 });
  }

  async version(): Promise<string> {
    return (await this.exec('kind', ['version'], { timeoutMs: 30_000 })).stdout.trim();
  }

  /** The statebench clusters kind knows of (for `statebench clean`). */
  async statebenchClusters(): Promise<string[]> {
    const { stdout } = await this.exec('kind', ['get', 'clusters'], { timeoutMs: 30_000 });
    return stdout.split('\n').map((s) => s.trim()).filter((s) => s.startsWith('statebench-'));
  }
}
