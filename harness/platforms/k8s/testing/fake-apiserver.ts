// A small fake Kubernetes API server for contract tests: node:http on 127.0.0.1, implementing only
// what statebench calls — discovery, server-side apply (PATCH application/apply-patch+yaml), get,
// list and watch with label/field selectors, delete, and pod logs. No controllers run: a test plays
// the controllers by putting objects (pods with statuses, events) itself, and every change is sent
// to open watches, so waits are exercised the way a real server drives them.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect as tcpConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { KubeConfig } from '@kubernetes/client-node';

interface ResourceType {
  groupVersion: string;
  plural: string;
  kind: string;
  namespaced: boolean;
}

const RESOURCES: ResourceType[] = [
  { groupVersion: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false },
  { groupVersion: 'v1', plural: 'nodes', kind: 'Node', namespaced: false },
  { groupVersion: 'v1', plural: 'persistentvolumes', kind: 'PersistentVolume', namespaced: false },
  { groupVersion: 'v1', plural: 'persistentvolumeclaims', kind: 'PersistentVolumeClaim', namespaced: true },
  { groupVersion: 'v1', plural: 'pods', kind: 'Pod', namespaced: true },
  { groupVersion: 'v1', plural: 'services', kind: 'Service', namespaced: true },
  { groupVersion: 'v1', plural: 'endpoints', kind: 'Endpoints', namespaced: true },
  { groupVersion: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true },
  { groupVersion: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true },
  { groupVersion: 'v1', plural: 'serviceaccounts', kind: 'ServiceAccount', namespaced: true },
  { groupVersion: 'v1', plural: 'events', kind: 'Event', namespaced: true },
  { groupVersion: 'apps/v1', plural: 'statefulsets', kind: 'StatefulSet', namespaced: true },
  { groupVersion: 'batch/v1', plural: 'jobs', kind: 'Job', namespaced: true },
  { groupVersion: 'policy/v1', plural: 'poddisruptionbudgets', kind: 'PodDisruptionBudget', namespaced: true },
  { groupVersion: 'rbac.authorization.k8s.io/v1', plural: 'roles', kind: 'Role', namespaced: true },
  { groupVersion: 'rbac.authorization.k8s.io/v1', plural: 'rolebindings', kind: 'RoleBinding', namespaced: true },
  { groupVersion: 'storage.k8s.io/v1', plural: 'storageclasses', kind: 'StorageClass', namespaced: false },
];

export interface StoredObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; resourceVersion?: string; [k: string]: unknown };
  [k: string]: unknown;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType?: string;
  body?: unknown;
}

interface Watcher {
  type: ResourceType;
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  res: ServerResponse;
}

function key(type: ResourceType, namespace: string | undefined, name: string): string {
  return `${type.groupVersion}/${type.plural}/${namespace ?? ''}/${name}`;
}

/** Equality-based selectors only (`a=b,c=d`), which is all statebench sends. */
function matchesLabels(obj: StoredObject, selector?: string): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const [k, v] = term.split('=');
    return obj.metadata.labels?.[k] === v;
  });
}

function matchesFields(obj: StoredObject, selector?: string): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const [k, v] = term.split('=');
    const value = k.split('.').reduce<unknown>((o, part) => (o as Record<string, unknown> | undefined)?.[part], obj);
    return value === v;
  });
}

export class FakeApiServer {
  readonly requests: RecordedRequest[] = [];
  private readonly objects = new Map<string, StoredObject>();
  private readonly watchers = new Set<Watcher>();
  private readonly logs = new Map<string, string>();
  private version = 1;
  private server?: Server;
  private readonly wss = new WebSocketServer({ noServer: true, handleProtocols: (protocols) => (protocols.has('v4.channel.k8s.io') ? 'v4.channel.k8s.io' : false) });
  /** Where `pods/<name>/portforward` connects, by `namespace/pod`: the test's stand-in for the pod. */
  readonly podAddresses = new Map<string, { host: string; port: number }>();
  /** Called after each server-side apply, like a controller reacting to a new spec. */
  onApply?: (obj: StoredObject, server: FakeApiServer) => void;
  /** Lets a test refuse an apply the way admission or validation would: return code and message. */
  rejectApply?: (obj: StoredObject) => { code: number; reason: string; message: string } | undefined;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        try {
          this.handle(req, res, body);
        } catch (e) {
          this.status(res, 500, 'InternalError', (e as Error).message);
        }
      });
    });
    this.server.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return this;
  }

  async stop(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    this.wss.close();
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'tester', token: 'not-a-secret' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'tester' }],
      currentContext: 'fake',
    });
    return kc;
  }

  /** Creates or replaces an object (as a controller or the kubelet would) and tells the watches. */
  put(obj: StoredObject): StoredObject {
    const type = this.typeOf(obj.apiVersion, obj.kind);
    const k = key(type, obj.metadata.namespace, obj.metadata.name);
    const existed = this.objects.has(k);
    const stored = structuredClone(obj);
    stored.metadata.resourceVersion = String(++this.version);
    this.objects.set(k, stored);
    this.notify(type, existed ? 'MODIFIED' : 'ADDED', stored);
    return stored;
  }

  /** Changes an object in place, e.g. a pod's status. */
  update(apiVersion: string, kind: string, namespace: string | undefined, name: string, change: (o: StoredObject) => void): StoredObject {
    const current = this.get(apiVersion, kind, namespace, name);
    if (!current) throw new Error(`${kind} ${namespace}/${name} does not exist`);
    const next = structuredClone(current);
    change(next);
    return this.put(next);
  }

  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): StoredObject | undefined {
    return this.objects.get(key(this.typeOf(apiVersion, kind), namespace, name));
  }

  list(kind: string): StoredObject[] {
    return [...this.objects.values()].filter((o) => o.kind === kind);
  }

  setLog(namespace: string, pod: string, container: string, text: string): void {
    this.logs.set(`${namespace}/${pod}/${container}`, text);
  }

  /** Ends every open watch, as an API server does when its watch timeout passes. */
  closeWatches(): void {
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
  }

  get openWatches(): number {
    return this.watchers.size;
  }

  /**
   * `pods/<name>/portforward` in the v4.channel.k8s.io protocol: binary frames whose first byte is the
   * channel (0 data, 1 error for the one port); each channel opens with the port number (2 bytes LE).
   */
  /**
   * `pods/<name>/exec`: what the command's exit status is, by `namespace/pod` (default success). The
   * command is recorded with the UPGRADE request (query `command`, one per argument).
   */
  onExec?: (namespace: string, pod: string, command: string[]) => { status: 'Success' } | { status: 'Failure'; message: string };
  readonly execs: { namespace: string; pod: string; container: string; command: string[] }[] = [];

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    const ex = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/exec$/.exec(url.pathname);
    if (ex) {
      const [ns, pod] = [decodeURIComponent(ex[1]), decodeURIComponent(ex[2])];
      const command = url.searchParams.getAll('command');
      this.requests.push({ method: 'UPGRADE', path: url.pathname, query: Object.fromEntries(url.searchParams.entries()) });
      this.execs.push({ namespace: ns, pod, container: url.searchParams.get('container') ?? '', command });
      this.wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
        const result = this.onExec?.(ns, pod, command) ?? { status: 'Success' as const };
        // Channel 3 carries the exit status as a v1 Status, then the stream ends.
        ws.send(Buffer.concat([Buffer.from([3]), Buffer.from(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, ...result }))]));
        ws.close();
      });
      return;
    }
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/portforward$/.exec(url.pathname);
    this.requests.push({ method: 'UPGRADE', path: url.pathname, query: Object.fromEntries(url.searchParams.entries()) });
    if (!m) {
      socket.destroy();
      return;
    }
    const [ns, pod] = [decodeURIComponent(m[1]), decodeURIComponent(m[2])];
    const remotePort = Number(url.searchParams.get('ports'));
    this.wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      const portFrame = (channel: number) => Buffer.from([channel, remotePort & 0xff, remotePort >> 8]);
      ws.send(portFrame(0));
      ws.send(portFrame(1));
      const target = this.podAddresses.get(`${ns}/${pod}`);
      if (!target) {
        ws.send(Buffer.concat([Buffer.from([1]), Buffer.from(`error forwarding port ${remotePort} to pod ${pod}: pod not found`)]));
        ws.close();
        return;
      }
      const tcp = tcpConnect(target.port, target.host);
      tcp.on('data', (d) => ws.send(Buffer.concat([Buffer.from([0]), d])));
      tcp.on('close', () => ws.close());
      tcp.on('error', (e) => {
        ws.send(Buffer.concat([Buffer.from([1]), Buffer.from(`error forwarding port ${remotePort}: ${e.message}`)]));
        ws.close();
      });
      ws.on('message', (data: Buffer) => {
        if (data[0] === 0) tcp.write(data.subarray(1));
      });
      ws.on('close', () => tcp.destroy());
    });
  }

  private typeOf(apiVersion: string, kind: string): ResourceType {
    const t = RESOURCES.find((r) => r.groupVersion === apiVersion && r.kind === kind);
    if (!t) throw new Error(`the fake API server does not serve ${apiVersion} ${kind}`);
    return t;
  }

  private notify(type: ResourceType, event: 'ADDED' | 'MODIFIED' | 'DELETED', obj: StoredObject): void {
    for (const w of this.watchers) {
      if (w.type !== type) continue;
      if (w.namespace && w.namespace !== obj.metadata.namespace) continue;
      if (!matchesLabels(obj, w.labelSelector) || !matchesFields(obj, w.fieldSelector)) continue;
      w.res.write(JSON.stringify({ type: event, object: obj }) + '\n');
    }
  }

  private status(res: ServerResponse, code: number, reason: string, message: string): void {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message }));
  }

  private json(res: ServerResponse, body: unknown): void {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private handle(req: IncomingMessage, res: ServerResponse, rawBody: string): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    const query = Object.fromEntries(url.searchParams.entries());
    let body: unknown;
    if (rawBody) {
      try {
        body = JSON.parse(rawBody);
      } catch {
        body = rawBody;
      }
    }
    this.requests.push({ method: req.method ?? 'GET', path: url.pathname, query, contentType: req.headers['content-type'], body });

    // Discovery: /api/v1, /apis/<group>/<version>
    const discovery = /^\/(?:api\/(v1)|apis\/([^/]+\/[^/]+))$/.exec(url.pathname);
    if (discovery) {
      const gv = discovery[1] ?? discovery[2];
      const resources = RESOURCES.filter((r) => r.groupVersion === gv).map((r) => ({ name: r.plural, singularName: r.kind.toLowerCase(), kind: r.kind, namespaced: r.namespaced, verbs: ['get', 'list', 'watch', 'patch', 'delete'] }));
      if (!resources.length) return this.status(res, 404, 'NotFound', `the server could not find the requested resource (${gv})`);
      return this.json(res, { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: gv, resources });
    }
    if (url.pathname === '/version') return this.json(res, { major: '1', minor: '31', gitVersion: 'v1.31.0-fake' });

    const m = /^\/(?:api\/(v1)|apis\/([^/]+\/[^/]+))(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?(?:\/(log))?$/.exec(url.pathname);
    if (!m) return this.status(res, 404, 'NotFound', `no route for ${url.pathname}`);
    const gv = m[1] ?? m[2];
    const namespace = m[3] ? decodeURIComponent(m[3]) : undefined;
    const plural = m[4];
    const name = m[5] ? decodeURIComponent(m[5]) : undefined;
    const type = RESOURCES.find((r) => r.groupVersion === gv && r.plural === plural);
    if (!type) return this.status(res, 404, 'NotFound', `the server could not find the requested resource ${gv}/${plural}`);

    if (m[6] === 'log') {
      const text = this.logs.get(`${namespace}/${name}/${query.container ?? ''}`);
      if (text === undefined) return this.status(res, 400, 'BadRequest', `container ${query.container} of pod ${name} has no log`);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(text);
      return;
    }

    const method = req.method ?? 'GET';
    if (method === 'PATCH' && name) {
      if (req.headers['content-type'] !== 'application/apply-patch+yaml' && req.headers['content-type'] !== 'application/merge-patch+json') {
        return this.status(res, 415, 'UnsupportedMediaType', `the fake server only takes apply or merge patches, got ${req.headers['content-type']}`);
      }
      if (req.headers['content-type'] === 'application/apply-patch+yaml' && !query.fieldManager) {
        return this.status(res, 400, 'BadRequest', 'PATCH with apply requires fieldManager');
      }
      const incoming = body as StoredObject;
      const refused = req.headers['content-type'] === 'application/apply-patch+yaml' ? this.rejectApply?.(incoming) : undefined;
      if (refused) return this.status(res, refused.code, refused.reason, refused.message);
      const existing = this.objects.get(key(type, namespace, name));
      let next: StoredObject;
      if (req.headers['content-type'] === 'application/merge-patch+json') {
        if (!existing) return this.status(res, 404, 'NotFound', `${type.plural} "${name}" not found`);
        next = mergePatch(structuredClone(existing), incoming) as StoredObject;
      } else {
        // Apply: the applier's fields replace its previous ones; status (owned by controllers) stays.
        next = { ...structuredClone(incoming), ...(existing?.status ? { status: existing.status } : {}) };
        next.metadata = { ...incoming.metadata, namespace };
      }
      const stored = this.put(next);
      if (req.headers['content-type'] === 'application/apply-patch+yaml') this.onApply?.(stored, this);
      return this.json(res, stored);
    }
    if (method === 'DELETE' && name) {
      const k = key(type, namespace, name);
      const existing = this.objects.get(k);
      if (!existing) return this.status(res, 404, 'NotFound', `${type.plural} "${name}" not found`);
      this.objects.delete(k);
      this.notify(type, 'DELETED', existing);
      return this.json(res, { kind: 'Status', apiVersion: 'v1', status: 'Success' });
    }
    if (method === 'GET' && name) {
      const obj = this.objects.get(key(type, namespace, name));
      return obj ? this.json(res, obj) : this.status(res, 404, 'NotFound', `${type.plural} "${name}" not found`);
    }
    if (method === 'GET') {
      const items = [...this.objects.values()].filter(
        (o) =>
          this.typeOf(o.apiVersion, o.kind) === type &&
          (!namespace || o.metadata.namespace === namespace) &&
          matchesLabels(o, query.labelSelector) &&
          matchesFields(o, query.fieldSelector),
      );
      if (query.watch === 'true') {
        res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
        res.flushHeaders();
        const w: Watcher = { type, namespace, labelSelector: query.labelSelector, fieldSelector: query.fieldSelector, res };
        this.watchers.add(w);
        res.on('close', () => this.watchers.delete(w));
        // Changes between the list and this watch would be replayed by a real server from
        // resourceVersion; here they are sent as ADDED so nothing is missed.
        const since = Number(query.resourceVersion ?? 0);
        for (const o of items) if (Number(o.metadata.resourceVersion) > since) res.write(JSON.stringify({ type: 'ADDED', object: o }) + '\n');
        return;
      }
      return this.json(res, { kind: `${type.kind}List`, apiVersion: type.groupVersion, metadata: { resourceVersion: String(this.version) }, items });
    }
    return this.status(res, 405, 'MethodNotAllowed', `${method} is not implemented by the fake API server`);
  }
}

function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out = (target && typeof target === 'object' && !Array.isArray(target) ? target : {}) as Record<string, unknown>;
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}
