// What every Kubernetes fault mode shares: the context the platform hands it, and one cycle against
// one member (where its pod is, the timeline mark, the waits and the operator action).
import { type FaultCycle, type PlannedTarget } from '../../../model/plan.ts';
import type { FaultSubject } from '../../../fault/modes.ts';
import type { EngineNode } from '../../../engine/types.ts';
import type { Clock } from '../../../core/clock.ts';
import { met, monotonicClock, notYet, waitFor, type WaitClock } from '../../../core/wait.ts';
import { withClient } from '../../../engine/pg.ts';
import { StatebenchError } from '../../../errors.ts';
import { apiMessage, type Exec, type KubeCluster } from '../cluster.ts';
import { type CycleMark, type KubeObject } from '../timeline/assemble.ts';
import type { KubernetesTimeline } from '../timeline/recorder.ts';
import type { KubernetesFaultPolicy } from './policy.ts';

export interface KubernetesFaultContext {
  platform: 'kind' | 'kubernetes';
  target: PlannedTarget;
  runId: string;
  namespace: string;
  cluster: KubeCluster;
  timeline: KubernetesTimeline;
  clock: Clock;
  policy: KubernetesFaultPolicy;
  /** The docker CLI (kind): argument arrays only. */
  exec?: Exec;
  /** kind: the cluster's worker node containers; nothing else is ever faulted. */
  kindWorkers?: string[];
  /** Helper pod image when the policy names none (the target's database image). */
  image: string;
  pullPolicy: 'Never' | 'IfNotPresent' | 'Always';
  /** Labels every object of the run carries. */
  labels: Record<string, string>;
  /** The member pod of an engine node. */
  podOf(node: EngineNode): string;
  /** Resolves true once the member answers on its own connection (default: `select 1` through its port-forward). */
  memberAnswers?(node: EngineNode): Promise<boolean>;
  /** @default 2000 */
  probeIntervalMs?: number;
  /** Patroni: the Endpoints holding the leader key (recorded by the timeline). */
  leaderEndpoints?: string;
  /** The member's data directory inside its container (pod-force-delete watches for two postmasters on it). */
  pgdata?: string;
  /** How long propagation may take before the fault counts as not injected. @default 60_000 */
  propagationTimeoutMs?: number;
  /** Waits that outlive a cycle (operator action) stop with this. */
  signal?: AbortSignal;
  /** The clock of the modes' own waits (a fake one in unit tests); the timeline's waits run on its own. @default the monotonic clock */
  waitClock?: WaitClock;
}

export async function answersSelect1(node: EngineNode): Promise<boolean> {
  try {
    await withClient(node.conn, (c) => c.query('select 1'));
    return true;
  } catch {
    return false;
  }
}

/** One cycle against one member: where its pod is, the timeline mark, and the waits every mode shares. */
export class MemberCycle {
  readonly pod: string;
  uid: string | null = null;
  kubeNode: string | null = null;
  mark?: CycleMark;
  private operator?: AbortController;

  constructor(
    readonly cycle: FaultCycle,
    readonly s: FaultSubject,
    readonly ctx: KubernetesFaultContext,
  ) {
    this.pod = ctx.podOf(s.node);
  }

  /** Where the member runs now, from the timeline's view (or the API when the view has not seen it). */
  async locate(): Promise<void> {
    let p: KubeObject | undefined = this.ctx.timeline.get('Pod', this.pod);
    if (!p) {
      try {
        p = (await this.ctx.cluster.objects.read({ apiVersion: 'v1', kind: 'Pod', metadata: { name: this.pod, namespace: this.ctx.namespace } })) as KubeObject;
      } catch (e) {
        throw new StatebenchError(`${this.cycle.type}: cannot read pod ${this.ctx.namespace}/${this.pod}: ${apiMessage(e)}`);
      }
    }
    if (p.metadata?.deletionTimestamp) throw new StatebenchError(`${this.cycle.type}: pod ${this.pod} is already being deleted; the previous cycle has not recovered`);
    this.uid = p.metadata?.uid ?? null;
    this.kubeNode = (p.spec?.nodeName as string | undefined) ?? null;
    if (!this.kubeNode) throw new StatebenchError(`${this.cycle.type}: pod ${this.pod} is not scheduled on any node`);
  }

  begin(): CycleMark {
    this.mark = this.ctx.timeline.beginCycle({
      cycle: this.cycle.cycle,
      type: this.cycle.type,
      node: this.s.node.name,
      pod: this.pod,
      kubeNode: this.kubeNode,
      forceDeleteAfterMs: this.ctx.policy.forceDeleteAfterMs ?? null,
    });
    return this.mark;
  }

  act(what: string, detail?: string): void {
    if (this.mark) this.ctx.timeline.act(this.mark, what, detail);
  }

  markRecover(): void {
    if (this.mark && this.mark.recoverAtMs === null) this.mark.recoverAtMs = +this.ctx.clock.now().toFixed(1);
  }

  /** The pod object is gone, being deleted, or replaced (another uid). */
  podLeft(timeoutMs: number): Promise<true> {
    const tl = this.ctx.timeline;
    return tl.waitFor(
      `pod ${this.pod} to be deleted`,
      () => {
        const p = tl.get('Pod', this.pod);
        return !p || p.metadata?.deletionTimestamp || p.metadata?.uid !== this.uid ? true : undefined;
      },
      { timeoutMs, state: () => describePod(tl.get('Pod', this.pod)) },
    );
  }

  nodeIsReady(expectAddress?: string | null): boolean {
    const n = this.ctx.timeline.get('Node', this.kubeNode ?? '');
    const ready = (n?.status?.conditions as { type: string; status: string }[] | undefined)?.find((c) => c.type === 'Ready')?.status === 'True';
    if (!ready) return false;
    if (!expectAddress) return true;
    const ip = (n?.status?.addresses as { type: string; address: string }[] | undefined)?.find((a) => a.type === 'InternalIP')?.address;
    return !ip || ip === expectAddress;
  }

  /**
   * Recovered: (pod faults) a replacement pod is Ready, (node faults) its node is Ready — with
   * `expectAddress` as its InternalIP, when given — the faulted member answers on its own connection
   * again, and, last, the engine accepts writes through the client path the workload uses. Last,
   * because that path is Kubernetes' (kind's NodePort, routed to the member's node by address) and
   * follows a restarted node only after the node reports its new address: a member that answers on
   * its port-forward is not yet one the workload reaches.
   */
  async recovered(timeoutMs: number, o: { node?: boolean; expectAddress?: string | null; replaced?: boolean } = {}): Promise<void> {
    const clock = this.ctx.waitClock ?? monotonicClock;
    const deadline = clock.now() + timeoutMs;
    const left = () => Math.max(1, Math.round(deadline - clock.now()));
    const tl = this.ctx.timeline;
    try {
      if (o.replaced) {
        await tl.waitFor(
          `a replacement of pod ${this.pod} to be Ready`,
          () => {
            const p = tl.get('Pod', this.pod);
            const ready = (p?.status?.conditions as { type: string; status: string }[] | undefined)?.some((c) => c.type === 'Ready' && c.status === 'True');
            return p && p.metadata?.uid !== this.uid && !p.metadata?.deletionTimestamp && ready ? true : undefined;
          },
          { timeoutMs: left(), state: () => describePod(tl.get('Pod', this.pod)) },
        );
      }
      if (o.node) {
        await tl.waitFor(`node ${this.kubeNode} to be Ready${o.expectAddress ? ` at ${o.expectAddress}` : ''}`, () => (this.nodeIsReady(o.expectAddress) ? true : undefined), {
          timeoutMs: left(),
          state: () => describeNode(tl.get('Node', this.kubeNode ?? '')),
        });
      }
      const answers = this.ctx.memberAnswers ?? answersSelect1;
      await waitFor(
        `${this.s.node.name} (pod ${this.pod}) to answer on its own connection again`,
        async () => {
          try {
            return (await answers(this.s.node)) ? met(undefined) : notYet(() => describePod(tl.get('Pod', this.pod)));
          } catch (e) {
            return notYet(`${(e as Error).message}; ${describePod(tl.get('Pod', this.pod))}`);
          }
        },
        { timeoutMs: left(), intervalMs: 500, clock },
      );
      await this.s.engine.awaitHealthy(left());
      if (this.mark) this.mark.healthyAtMs = +this.ctx.clock.now().toFixed(1);
    } finally {
      this.stopOperator();
    }
  }

  /**
   * Operator action: once the member's node has been NotReady for forceDeleteAfter, force-delete the
   * pod (uid precondition, so a replacement is never touched), as an operator would to let the
   * StatefulSet recreate it. Runs in the background until recovery.
   */
  startOperator(): void {
    const after = this.ctx.policy.forceDeleteAfterMs;
    if (after === undefined || !this.kubeNode || !this.uid) return;
    const ctl = new AbortController();
    this.operator = ctl;
    const signal = this.ctx.signal ? AbortSignal.any([ctl.signal, this.ctx.signal]) : ctl.signal;
    const tl = this.ctx.timeline;
    void (async () => {
      await tl.waitFor(`node ${this.kubeNode} NotReady`, () => (this.nodeIsReady() ? undefined : true), { timeoutMs: 6 * 3_600_000, signal });
      await (this.ctx.waitClock ?? monotonicClock).sleep(after, signal);
      const p = tl.get('Pod', this.pod);
      if (this.nodeIsReady() || !p || p.metadata?.uid !== this.uid) return;
      this.act('force-delete (operator action)', `node ${this.kubeNode} NotReady for ${(after / 1000).toFixed(0)}s`);
      try {
        // Everything in the body: the API server reads DeleteOptions from the query only when the body
        // is empty, so a body holding just the precondition would drop grace 0 and leave the pod
        // Terminating for its remaining grace period, which a dead node's kubelet never ends.
        await this.ctx.cluster.objects.delete(
          { apiVersion: 'v1', kind: 'Pod', metadata: { name: this.pod, namespace: this.ctx.namespace } },
          undefined,
          undefined,
          0,
          undefined,
          'Background',
          { gracePeriodSeconds: 0, propagationPolicy: 'Background', preconditions: { uid: this.uid! } } as never,
        );
      } catch (e) {
        this.act('force-delete (operator action) failed', apiMessage(e));
      }
    })().catch(() => {});
  }

  stopOperator(): void {
    this.operator?.abort();
    this.operator = undefined;
  }
}

export function describePod(p: KubeObject | undefined): string {
  if (!p) return 'the pod does not exist';
  const conds = ((p.status?.conditions as { type: string; status: string; reason?: string }[] | undefined) ?? []).map((c) => `${c.type}=${c.status}${c.reason ? `(${c.reason})` : ''}`).join(' ');
  return `pod ${p.metadata?.name} ${p.status?.phase ?? '?'} on ${p.spec?.nodeName ?? 'no node'}${p.metadata?.deletionTimestamp ? ', terminating' : ''}${conds ? `, ${conds}` : ''}`;
}

export function describeNode(n: KubeObject | undefined): string {
  if (!n) return 'the node is not known';
  const ready = (n.status?.conditions as { type: string; status: string; reason?: string; message?: string }[] | undefined)?.find((c) => c.type === 'Ready');
  const ip = (n.status?.addresses as { type: string; address: string }[] | undefined)?.find((a) => a.type === 'InternalIP')?.address;
  return `node ${n.metadata?.name} Ready=${ready?.status ?? '?'}${ready?.reason ? ` (${ready.reason}${ready.message ? `: ${ready.message}` : ''})` : ''}, InternalIP ${ip ?? 'none'}`;
}
