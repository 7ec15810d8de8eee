// The recording half of the Kubernetes timeline: list+watch of the target's nodes, member pods,
// claims, volumes and the leader Endpoints while faults run (resumed after the server closes a watch,
// re-listed after a 410, with the difference replayed), each change compacted and appended to
// kubernetes-watch.jsonl as it arrives; the latest state of every object serves the fault modes'
// waits. assemble.ts turns what is recorded here into one timeline per cycle.
import { appendFileSync, writeFileSync } from 'node:fs';
import { KubernetesObjectApi, Watch, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import type { Clock } from '../../../core/clock.ts';
import { met, notYet, waitFor, Wakeup, type WaitClock } from '../../../core/wait.ts';
import type { Measurement } from '../../../measure/measurement.ts';
import { apiMessage } from '../cluster.ts';
import { assembleTimeline, compact, keyOf, type CycleMark, type KubeObject, type KubernetesFaultTimeline, type Observation, type WatchEventType } from './assemble.ts';

export interface KubernetesFindings {
  /** Kubernetes' account of the fault cycle a record describes. */
  faultTimeline?(record: { type: string; cycle: number; injectedAtMs: number }): KubernetesFaultTimeline | undefined;
}

/**
 * The recorder as one of a target's measurements. The platform starts the watches before the engine
 * is deployed (start here only joins them) and stops them when the engine stops, writing
 * kubernetes-timeline.json then: stopping here would end the record before the teardown it also shows.
 */
export function timelineMeasurement(t: KubernetesTimeline): Measurement<KubernetesFindings> {
  return {
    name: 'kubernetes-timeline',
    start: () => t.start(),
    stop: async () => {},
    async collect(findings) {
      const cycles = t.cycles();
      findings.faultTimeline = (r) => t.timelineFor(r, cycles);
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Recording

interface CollectionSpec {
  apiVersion: string;
  kind: 'Node' | 'Pod' | 'PersistentVolumeClaim' | 'PersistentVolume' | 'Endpoints';
  plural: string;
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Only objects this accepts are recorded (PVs of this namespace's claims). */
  keep?(o: KubeObject): boolean;
}

export interface KubernetesTimelineOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  /** Label selector of the member pods. */
  podSelector: string;
  clock: Clock;
  leaderLabel: { key: string; value: string } | null;
  /** Patroni: the Endpoints that hold its leader key (use_endpoints), recorded with the rest. */
  leaderEndpoints?: string;
  /** Observations are appended here (JSONL) as they arrive, so an interrupted run keeps them. */
  file?: string;
  /** Called with each statebench action as it is marked (the run's events.jsonl). */
  onEvent?(type: string, data: object): void;
  /** The clock of the fault modes' waits (a fake one in unit tests). @default the monotonic clock */
  waitClock?: WaitClock;
}


/**
 * Records what the cluster says about the target while faults run, and keeps the latest state of
 * every object for the fault modes' waits (node Ready again, replacement Ready).
 */
export class KubernetesTimeline {
  readonly observations: Observation[] = [];
  readonly marks: CycleMark[] = [];
  /** Watches that could not run (e.g. no right to list nodes): said in every cycle's findings. */
  readonly problems: string[] = [];
  private readonly view = new Map<string, KubeObject>();
  private readonly last = new Map<string, string>();
  /** Wakes the waits on the record when it changes. */
  private readonly changes = new Wakeup();
  private readonly stopper = new AbortController();
  private readonly controllers = new Set<AbortController>();
  private loops: Promise<void>[] = [];
  private started?: Promise<void>;
  private readonly objects: KubernetesObjectApi;
  private readonly watch: Watch;

  constructor(private readonly o: KubernetesTimelineOptions) {
    this.objects = KubernetesObjectApi.makeApiClient(o.kubeConfig);
    this.watch = new Watch(o.kubeConfig);
  }

  private collections(): CollectionSpec[] {
    const ns = this.o.namespace;
    return [
      { apiVersion: 'v1', kind: 'Node', plural: 'nodes' },
      { apiVersion: 'v1', kind: 'Pod', plural: 'pods', namespace: ns, labelSelector: this.o.podSelector },
      { apiVersion: 'v1', kind: 'PersistentVolumeClaim', plural: 'persistentvolumeclaims', namespace: ns },
      { apiVersion: 'v1', kind: 'PersistentVolume', plural: 'persistentvolumes', keep: (pv) => pv.spec?.claimRef?.namespace === ns },
      ...(this.o.leaderEndpoints
        ? [{ apiVersion: 'v1', kind: 'Endpoints' as const, plural: 'endpoints', namespace: ns, fieldSelector: `metadata.name=${this.o.leaderEndpoints}` }]
        : []),
    ];
  }

  /** Lists every collection once (so the state before the first fault is known), then keeps watching. */
  start(): Promise<void> {
    this.started ??= (async () => {
      const firstLists = this.collections().map((c) => {
        let listed!: () => void;
        const first = new Promise<void>((r) => (listed = r));
        this.loops.push(this.follow(c, listed));
        return first;
      });
      await Promise.all(firstLists);
    })();
    return this.started;
  }

  async stop(): Promise<void> {
    this.stopper.abort();
    for (const c of this.controllers) c.abort();
    await Promise.all(this.loops);
  }

  get stopped(): boolean {
    return this.stopper.signal.aborted;
  }

  /** Takes one change: recorded if it differs from the last recorded state of that object. */
  observe(type: WatchEventType, obj: KubernetesObject | KubeObject, atMs = this.o.clock.now()): void {
    const c = compact(obj);
    const k = keyOf(c);
    const text = JSON.stringify(c);
    if (type !== 'DELETED' && this.last.get(k) === text) return;
    if (type === 'DELETED' && !this.last.has(k)) return;
    if (type === 'DELETED') {
      this.last.delete(k);
      this.view.delete(k);
    } else {
      this.last.set(k, text);
      this.view.set(k, c);
    }
    const ob: Observation = { atMs: +atMs.toFixed(1), type, object: c };
    this.observations.push(ob);
    if (this.o.file) {
      try {
        appendFileSync(this.o.file, JSON.stringify(ob) + '\n');
      } catch {
        /* the in-memory record still has it */
      }
    }
    this.changes.notify();
  }

  /** The latest recorded state of an object. */
  get(kind: CollectionSpec['kind'], name: string): KubeObject | undefined {
    return this.view.get(`${kind}/${name}`);
  }

  /** Every recorded object of a kind. */
  all(kind: CollectionSpec['kind']): KubeObject[] {
    return [...this.view.values()].filter((x) => x.kind === kind);
  }

  /**
   * Resolves with `check`'s first defined value, looked at now, on every recorded change and twice a
   * second (for checks that depend on time passing): waitFor on the record, so a timeout is a
   * WaitTimeoutError naming `what` and `state()`.
   */
  waitFor<T>(what: string, check: () => T | undefined, opts: { timeoutMs: number; signal?: AbortSignal; state?: () => string }): Promise<T> {
    const timeoutMs = Math.max(0, Math.round(opts.timeoutMs));
    return waitFor(
      what,
      () => {
        const v = check();
        return v === undefined ? notYet(opts.state ?? 'the condition does not hold') : met(v);
      },
      { timeoutMs, intervalMs: 500, maxLooks: Wakeup.maxLooks(timeoutMs, 500), signal: opts.signal, clock: this.changes.clock(this.o.waitClock) },
    );
  }

  /** Opens a cycle's mark; the fault mode adds actions and probes to it as it goes. */
  beginCycle(m: Pick<CycleMark, 'cycle' | 'type' | 'node' | 'pod' | 'kubeNode' | 'forceDeleteAfterMs'> & { injectedAtMs?: number }): CycleMark {
    const mark: CycleMark = { ...m, injectedAtMs: m.injectedAtMs ?? this.o.clock.now(), recoverAtMs: null, healthyAtMs: null, actions: [], probes: [] };
    this.marks.push(mark);
    return mark;
  }

  /** Notes something statebench did, on the mark and in the run's events. */
  act(mark: CycleMark, what: string, detail?: string): void {
    const atMs = +this.o.clock.now().toFixed(1);
    mark.actions.push({ atMs, what, ...(detail ? { detail } : {}) });
    this.o.onEvent?.('kubernetes-fault-action', { fault: mark.type, cycle: mark.cycle, pod: mark.pod, node: mark.kubeNode, what, ...(detail ? { detail } : {}) });
  }

  cycles(): KubernetesFaultTimeline[] {
    return assembleTimeline(this.marks, this.observations, { leaderLabel: this.o.leaderLabel, leaderEndpoints: this.o.leaderEndpoints, problems: this.problems });
  }

  /** The timeline of the cycle a fault record describes: same type and cycle, nearest injection time. */
  timelineFor(r: { type: string; cycle: number; injectedAtMs: number }, all = this.cycles()): KubernetesFaultTimeline | undefined {
    return all.filter((t) => t.type === r.type && t.cycle === r.cycle).sort((a, b) => Math.abs(a.injectedAtMs - r.injectedAtMs) - Math.abs(b.injectedAtMs - r.injectedAtMs))[0];
  }

  /** Writes every cycle's timeline (kubernetes-timeline.json next to the watch log). */
  write(file: string): void {
    writeFileSync(file, JSON.stringify({ cycles: this.cycles(), problems: this.problems }, null, 2) + '\n');
  }

  /** List, then watch from that version; after the watch ends (timeout, 410, network), list again. */
  private async follow(c: CollectionSpec, listed: () => void): Promise<void> {
    let first = true;
    let failures = 0;
    const path = c.namespace ? `/api/${c.apiVersion}/namespaces/${encodeURIComponent(c.namespace)}/${c.plural}` : `/api/${c.apiVersion}/${c.plural}`;
    const keep = (o: KubeObject) => !c.keep || c.keep(o);
    while (!this.stopper.signal.aborted) {
      try {
        const list = await this.objects.list(c.apiVersion, c.kind, c.namespace, undefined, undefined, undefined, c.fieldSelector, c.labelSelector);
        const seen = new Set<string>();
        for (const item of list.items as KubeObject[]) {
          const withKind = { ...item, apiVersion: c.apiVersion, kind: c.kind } as KubeObject;
          if (!keep(withKind)) continue;
          seen.add(`${c.kind}/${item.metadata?.name}`);
          this.observe(this.last.has(`${c.kind}/${item.metadata?.name}`) ? 'MODIFIED' : 'ADDED', withKind);
        }
        // What disappeared while no watch was open is replayed as deleted.
        for (const [k, obj] of [...this.view.entries()]) if (obj.kind === c.kind && !seen.has(k)) this.observe('DELETED', obj);
        if (first) {
          first = false;
          listed();
        }
        failures = 0;
        // A watch that failed before works now; only a refusal that lasts is worth reporting.
        for (let i = this.problems.length - 1; i >= 0; i--) if (this.problems[i].startsWith(`no ${c.kind} watch:`)) this.problems.splice(i, 1);
        await new Promise<void>((ended) => {
          let ctl: AbortController | undefined;
          const onStop = () => {
            ctl?.abort();
            ended();
          };
          const end = () => {
            this.stopper.signal.removeEventListener('abort', onStop);
            if (ctl) this.controllers.delete(ctl);
            ended();
          };
          this.stopper.signal.addEventListener('abort', onStop, { once: true });
          this.watch
            .watch(
              path,
              { labelSelector: c.labelSelector, fieldSelector: c.fieldSelector, resourceVersion: list.metadata?.resourceVersion, allowWatchBookmarks: true },
              (type: string, obj: KubernetesObject) => {
                if (type === 'ERROR') {
                  // Usually 410 Gone: the version is too old; list again.
                  ctl?.abort();
                  end();
                  return;
                }
                if (type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED') return;
                const o = { ...obj, apiVersion: c.apiVersion, kind: c.kind } as KubeObject;
                if (keep(o) || this.last.has(keyOf(o))) this.observe(type, o);
              },
              () => end(),
            )
            .then((x) => {
              ctl = x;
              this.controllers.add(x);
              if (this.stopper.signal.aborted) x.abort();
            })
            .catch(() => end());
        });
      } catch (e) {
        failures++;
        const code = (e as { code?: number }).code;
        const msg = `no ${c.kind} watch: ${apiMessage(e)}`;
        if ((code === 401 || code === 403) && !this.problems.includes(msg)) this.problems.push(msg);
        if (first && (code === 401 || code === 403 || failures >= 3)) {
          // The rest of the timeline works without this collection; say so rather than block the run.
          first = false;
          if (!this.problems.includes(msg)) this.problems.push(msg);
          listed();
        }
      }
      if (!this.stopper.signal.aborted) await new Promise((r) => setTimeout(r, Math.min(30_000, 200 * 2 ** Math.min(failures, 7))));
    }
  }
}
