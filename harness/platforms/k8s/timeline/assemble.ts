// Kubernetes' own account of each fault cycle, from watches on the target's nodes, member pods, claims
// and volumes: when the node went NotReady and why, when the member pod lost Ready, who deleted it
// (statebench, the taint manager once the pod's toleration ran out, an operator action), whether and
// where its replacement was scheduled or why it stays Pending — a Local PV pinned to a dead node shows
// as exactly that —, when its container started and became Ready, and how Patroni's leader label moved.
//
// Times are run-clock milliseconds at which statebench received each change: the clock the fault
// schedule, the samples and the ledger use, so the two timelines line up. The API's own timestamps are
// wall-clock, from other machines' clocks, and are not mixed in.
//
// This file is the pure half: assembleTimeline() turns recorded observations and statebench's own marks
// (what it did, what it probed) into one KubernetesFaultTimeline per cycle, so recorded watch events are
// all a test needs. recorder.ts holds the list+watch recorder that produces the observations.
import { z } from 'zod';
import { KubernetesFaultTimelineSchema } from '../../../model/k8s-timeline.ts';
import type { KubernetesObject } from '@kubernetes/client-node';

// ---------------------------------------------------------------------------------------------------
// What is recorded

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** The parts of a Node, Pod, PersistentVolumeClaim or PersistentVolume kept, at their API paths. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    deletionTimestamp?: string;
    deletionGracePeriodSeconds?: number;
  };
  // The API's shapes, read defensively: a field missing from a recorded object is simply not known.
  spec?: any;
  status?: any;
  /** Endpoints only. */
  subsets?: any;
}

/** One change as a watch delivered it, with the run-clock time it arrived. */
export interface Observation {
  atMs: number;
  type: WatchEventType;
  object: KubeObject;
}

/**
 * A direct look at a member that does not go through the kubelet (kind: crictl exec in its node): the
 * old primary of the cycle, or (with `pod` and `kubeNode`) the member the leader key names meanwhile.
 * `primary` means the member accepted a write (it assigned a transaction id).
 */
export interface PrimaryProbe {
  atMs: number;
  role: 'primary' | 'replica' | 'unreachable';
  detail?: string;
  /** The probed member when it is not the cycle's own pod on the cycle's node. */
  pod?: string;
  kubeNode?: string;
}

/** Something statebench itself did during the cycle (docker kill, force-delete as operator, …). */
export interface StatebenchAction {
  atMs: number;
  what: string;
  detail?: string;
}

/** statebench's side of one cycle; the fault mode fills it in as it goes. */
export interface CycleMark {
  cycle: number;
  type: string;
  /** Engine node (node-0) and its pod (pg-0). */
  node: string;
  pod: string;
  /** Kubernetes node hosting the pod when the fault was injected. */
  kubeNode: string | null;
  injectedAtMs: number;
  recoverAtMs: number | null;
  healthyAtMs: number | null;
  forceDeleteAfterMs: number | null;
  actions: StatebenchAction[];
  probes: PrimaryProbe[];
}

export const NOT_READY_TAINT = 'node.kubernetes.io/not-ready';
export const UNREACHABLE_TAINT = 'node.kubernetes.io/unreachable';
const HOSTNAME_KEYS = ['kubernetes.io/hostname'];

// ---------------------------------------------------------------------------------------------------
// What is reported: the proposed `kubernetes` field of a FaultSummary

export { KubernetesFaultTimelineSchema };
export type KubernetesFaultTimeline = z.infer<typeof KubernetesFaultTimelineSchema>;
type Entry = KubernetesFaultTimeline['entries'][number];

export interface AssembleOptions {
  /** Patroni's leader label; null for a single PostgreSQL, whose one member is always the primary. */
  leaderLabel: { key: string; value: string } | null;
  /** Patroni (use_endpoints): the Endpoints holding the leader key, which clients are routed by. */
  leaderEndpoints?: string;
  /** Problems of the recorder (a watch that was refused), repeated in every cycle's findings. */
  problems?: string[];
}

// ---------------------------------------------------------------------------------------------------
// Reading objects

/** Node faults: while one holds, the API's view of the faulted node and its pods is stale by design. */
const NODE_FAULTS = ['node-crash', 'node-hang', 'kubelet-stop'];

/** The member the leader key names (Patroni's `leader` annotation on its Endpoints), if any. */
export function leaderKeyHolder(ep: KubeObject | undefined): string | null {
  return ep?.metadata?.annotations?.leader || null;
}

/** The addresses the leader Endpoints route clients to. */
export function leaderAddresses(ep: KubeObject | undefined): string[] {
  return ((ep?.subsets as { addresses?: { ip: string }[] }[] | undefined) ?? []).flatMap((s) => (s.addresses ?? []).map((a) => a.ip));
}

export function keyOf(o: KubeObject): string {
  return `${o.kind}/${o.metadata?.name ?? ''}`;
}

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

function condition(o: KubeObject | undefined, type: string): Condition | undefined {
  return (o?.status?.conditions as Condition[] | undefined)?.find((c) => c.type === type);
}

function nodeReady(n: KubeObject | undefined): Condition | undefined {
  return condition(n, 'Ready');
}

function internalIp(n: KubeObject | undefined): string | null {
  return (n?.status?.addresses as { type: string; address: string }[] | undefined)?.find((a) => a.type === 'InternalIP')?.address ?? null;
}

function noExecuteTaints(n: KubeObject | undefined): string[] {
  return ((n?.spec?.taints as { key: string; effect: string }[] | undefined) ?? []).filter((t) => t.effect === 'NoExecute').map((t) => t.key);
}

function podIsReady(p: KubeObject | undefined): boolean {
  return condition(p, 'Ready')?.status === 'True';
}

function containerStarted(p: KubeObject | undefined): boolean {
  const statuses = (p?.status?.containerStatuses as { started?: boolean; state?: { running?: object } }[] | undefined) ?? [];
  return statuses.some((c) => c.started === true || !!c.state?.running);
}

function restarts(p: KubeObject | undefined): number | null {
  const statuses = (p?.status?.containerStatuses as { restartCount?: number }[] | undefined) ?? [];
  return statuses.length ? statuses.reduce((s, c) => s + (c.restartCount ?? 0), 0) : null;
}

function claimOf(p: KubeObject | undefined): string | undefined {
  const vols = (p?.spec?.volumes as { persistentVolumeClaim?: { claimName?: string } }[] | undefined) ?? [];
  return vols.map((v) => v.persistentVolumeClaim?.claimName).find((c): c is string => !!c);
}

/** The node a PV's nodeAffinity pins it to (Local PVs, static PVs on kind), if any. */
export function pinnedNode(pv: KubeObject | undefined): string | null {
  const terms = (pv?.spec?.nodeAffinity?.required?.nodeSelectorTerms as { matchExpressions?: { key: string; operator: string; values?: string[] }[] }[] | undefined) ?? [];
  for (const t of terms) {
    for (const e of t.matchExpressions ?? []) if (HOSTNAME_KEYS.includes(e.key) && e.operator === 'In' && e.values?.length === 1) return e.values[0];
  }
  return null;
}

function toleration(p: KubeObject | undefined, key: string): KubernetesFaultTimeline['policy']['notReadyToleration'] {
  if (!p) return null;
  const tols = (p.spec?.tolerations as { key?: string; operator?: string; effect?: string; tolerationSeconds?: number }[] | undefined) ?? [];
  const t = tols.find((x) => (x.key === key || (x.key === undefined && x.operator === 'Exists')) && (!x.effect || x.effect === 'NoExecute'));
  if (!t) return 'none';
  return typeof t.tolerationSeconds === 'number' ? t.tolerationSeconds : 'forever';
}

interface PatroniStatus {
  role?: string;
  state?: string;
  xlog_location?: number;
}

function patroniStatus(p: KubeObject | undefined): PatroniStatus | undefined {
  const raw = p?.metadata?.annotations?.status;
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as PatroniStatus;
  } catch {
    return undefined;
  }
}

const PRIMARY_ROLES = ['master', 'primary', 'standby_leader'];

function secs(ms: number): string {
  return `${ms >= 0 ? '+' : ''}${(ms / 1000).toFixed(1)}s`;
}

function conditionText(c: Condition | undefined): string {
  if (!c) return 'no Ready condition';
  const why = [c.reason, c.message].filter(Boolean).join(': ');
  return `Ready=${c.status}${why ? ` (${why})` : ''}`;
}

// ---------------------------------------------------------------------------------------------------
// Assembly

type Item = { atMs: number; order: number } & ({ obs: Observation } | { probe: PrimaryProbe } | { action: StatebenchAction });

/**
 * One cycle's timeline from what the watches delivered and what statebench did. `observations` must
 * be in arrival order and may start long before the cycle (the state at injection is replayed from
 * them); only those before `untilMs` (the next cycle's injection) count for this cycle.
 */
export function assembleCycle(mark: CycleMark, observations: Observation[], untilMs: number, o: AssembleOptions): KubernetesFaultTimeline {
  const view = new Map<string, KubeObject>();
  const apply = (ob: Observation) => (ob.type === 'DELETED' ? view.delete(keyOf(ob.object)) : view.set(keyOf(ob.object), ob.object));
  const t0 = mark.injectedAtMs;
  const before = observations.filter((x) => x.atMs < t0);
  for (const ob of before) apply(ob);

  const podKey = `Pod/${mark.pod}`;
  const oldPod = view.get(podKey);
  const oldUid = oldPod?.metadata?.uid ?? null;
  const kubeNode = mark.kubeNode ?? (oldPod?.spec?.nodeName as string | undefined) ?? null;
  const nodeKey = `Node/${kubeNode}`;
  const claimName = claimOf(oldPod) ?? null;
  const volumeBefore = claimName ? ((view.get(`PersistentVolumeClaim/${claimName}`)?.spec?.volumeName as string | undefined) ?? null) : null;

  const leadersOf = (): { names: string[]; uids: string[] } => {
    const pods = [...view.values()].filter((x) => x.kind === 'Pod');
    const labelled = o.leaderLabel ? pods.filter((p) => p.metadata?.labels?.[o.leaderLabel!.key] === o.leaderLabel!.value) : pods.filter((p) => p.metadata?.name === mark.pod);
    return { names: labelled.map((p) => p.metadata?.name ?? '?').sort(), uids: labelled.map((p) => p.metadata?.uid ?? '?') };
  };
  const leaderBefore = leadersOf();
  const oldWasPrimary = o.leaderLabel ? !!oldUid && leaderBefore.uids.includes(oldUid) : true;

  const entries: Entry[] = [];
  const entry = (atMs: number, source: Entry['source'], object: string, what: string) => entries.push({ atMs: +atMs.toFixed(1), sinceInjectMs: +(atMs - t0).toFixed(1), source, object, what });

  const t: KubernetesFaultTimeline = {
    cycle: mark.cycle,
    type: mark.type,
    node: mark.node,
    pod: mark.pod,
    kubeNode,
    injectedAtMs: t0,
    recoverAtMs: mark.recoverAtMs,
    healthyAtMs: mark.healthyAtMs,
    policy: { notReadyToleration: toleration(oldPod, NOT_READY_TAINT), unreachableToleration: toleration(oldPod, UNREACHABLE_TAINT), forceDeleteAfterMs: mark.forceDeleteAfterMs },
    nodeStatus: { notReadyAtMs: null, condition: null, reason: null, message: null, readyAgainAtMs: null, noExecuteTaint: null, address: null },
    member: { uid: oldUid, notReadyAtMs: null, deletionRequestedAtMs: null, deletedBy: null, evictedAtMs: null, goneAtMs: null, readyAgainAtMs: null, restarts: restarts(oldPod) },
    replacement: null,
    stuck: null,
    claim: null,
    leader: {
      before: leaderBefore.names.join(',') || null,
      after: null,
      changes: [],
      secondPrimaryAtMs: null,
      key: o.leaderEndpoints ? { before: leaderKeyHolder(view.get(`Endpoints/${o.leaderEndpoints}`)), after: null, releasedAtMs: null, takenAtMs: null, takenBy: null } : null,
    },
    oldPrimary: oldWasPrimary ? { probes: 0, lastServedAtMs: null, servingWhileNodeNotReady: null, patroniLastReportAtMs: null, walAdvancedWhileNodeNotReady: null } : null,
    operatorActionAtMs: null,
    dataSafety: null,
    durations: { toNodeNotReadyMs: null, toEvictionMs: null, toReplacementScheduledMs: null, toMemberReadyMs: null },
    findings: [],
    entries,
  };

  const nodeInitiallyReady = nodeReady(view.get(nodeKey))?.status === 'True';
  let nodeDown = !nodeInitiallyReady && !!view.get(nodeKey);
  let memberWasDisturbed = false;
  let lastProbe: PrimaryProbe | undefined;
  /** Latest probe of each other member (`pod@node`) that was probed while the fault held. */
  const peerProbes = new Map<string, PrimaryProbe>();
  const isOldMember = (p: PrimaryProbe) => (p.pod ?? mark.pod) === mark.pod && (p.kubeNode ?? kubeNode) === kubeNode;
  let lastPatroni = patroniStatus(oldPod);
  let terminatingUntilNodeReady = false;
  const statebenchDeletedAt: number[] = [];
  const operatorDeletedAt: number[] = [];

  const items: Item[] = [];
  let order = 0;
  for (const ob of observations) if (ob.atMs >= t0 && ob.atMs < untilMs) items.push({ atMs: ob.atMs, order: order++, obs: ob });
  for (const p of mark.probes) items.push({ atMs: p.atMs, order: order++, probe: p });
  for (const a of mark.actions) items.push({ atMs: a.atMs, order: order++, action: a });
  items.sort((a, b) => a.atMs - b.atMs || a.order - b.order);

  let twoLabelledNoted = false;
  /**
   * A second primary is reported only on evidence that two members acted as primary at once:
   *   - probes that bypass the kubelet show the old primary and another member each accepting a write
   *     while the fault held (after its undo a stale probe proves nothing); or
   *   - two pods carry the leader label while both, and their nodes, are Ready, outside a node fault.
   * Two labels alone are not evidence: a primary on a crashed or paused node keeps its label and stays
   * Ready until the node monitor grace period (50 s) runs out, long after Patroni promoted a replica.
   */
  const checkSecondPrimary = (atMs: number) => {
    if (t.leader.secondPrimaryAtMs !== null) return;
    const { names } = leadersOf();
    const holding = mark.recoverAtMs === null || atMs <= mark.recoverAtMs;
    const oldStillServes = oldWasPrimary && holding && lastProbe?.role === 'primary';
    const peer = [...peerProbes.entries()].find(([, p]) => p.role === 'primary');
    if (oldStillServes && peer) {
      t.leader.secondPrimaryAtMs = atMs;
      entry(atMs, 'statebench', `${mark.pod},${peer[0]}`, `two members accepted writes: the old primary ${mark.pod} on ${kubeNode} (${lastProbe!.detail ?? 'primary'}) and ${peer[0]} (${peer[1].detail ?? 'primary'})`);
      return;
    }
    if (names.length < 2) return;
    const pods = [...view.values()].filter((x) => x.kind === 'Pod' && names.includes(x.metadata?.name ?? ''));
    const nodeFaultHolds = NODE_FAULTS.includes(mark.type) && holding;
    const allHealthy = pods.length >= 2 && pods.every((p) => podIsReady(p) && nodeReady(view.get(`Node/${p.spec?.nodeName}`))?.status === 'True');
    if (allHealthy && !nodeFaultHolds) {
      t.leader.secondPrimaryAtMs = atMs;
      entry(atMs, 'pod', names.join(','), `two pods labelled leader, both Ready on Ready nodes: ${names.join(', ')}`);
    } else if (!twoLabelledNoted) {
      twoLabelledNoted = true;
      entry(atMs, 'pod', names.join(','), `two pods labelled leader (${names.join(', ')}); not a second primary: the old label is stale${nodeFaultHolds ? ` while ${kubeNode} is faulted` : ''}`);
    }
  };

  const checkStuck = (atMs: number, pod: KubeObject) => {
    const sched = condition(pod, 'PodScheduled');
    if (pod.spec?.nodeName || sched?.status !== 'False') return;
    const claim = claimOf(pod) ?? claimName;
    if (!claim) return;
    const pvc = view.get(`PersistentVolumeClaim/${claim}`);
    const volume = pvc?.spec?.volumeName as string | undefined;
    if (!volume) return;
    const pinned = pinnedNode(view.get(`PersistentVolume/${volume}`));
    if (!pinned) return;
    const ready = nodeReady(view.get(`Node/${pinned}`));
    if (ready?.status === 'True') return;
    if (t.stuck && t.stuck.untilMs === null) {
      t.stuck.schedulerMessage = sched.message ?? t.stuck.schedulerMessage;
      return;
    }
    t.stuck = { sinceMs: atMs, untilMs: null, claim, volume, pinnedTo: pinned, nodeCondition: conditionText(ready), schedulerMessage: sched.message ?? '' };
    entry(atMs, 'pod', mark.pod, `stuck Pending on a dead node: claim ${claim} is bound to ${volume}, pinned to ${pinned}, which is ${conditionText(ready)}`);
  };

  for (const it of items) {
    const at = it.atMs;
    if ('action' in it) {
      entry(at, 'statebench', mark.pod, it.action.detail ? `${it.action.what}: ${it.action.detail}` : it.action.what);
      if (/^two postmasters/.test(it.action.what)) {
        t.dataSafety ??= { twoPostmastersAtMs: at, detail: it.action.detail ?? '' };
        continue;
      }
      if (/^force-delete \(operator action\)/.test(it.action.what)) {
        t.operatorActionAtMs ??= at;
        operatorDeletedAt.push(at);
      } else if (/^(delete|force-delete)\b/.test(it.action.what)) statebenchDeletedAt.push(at);
      continue;
    }
    if ('probe' in it) {
      const p = it.probe;
      if (!isOldMember(p)) {
        const who = `${p.pod ?? mark.pod}@${p.kubeNode ?? '?'}`;
        if (peerProbes.get(who)?.role !== p.role) entry(at, 'statebench', p.pod ?? mark.pod, `probe of the leader-key holder on ${p.kubeNode ?? '?'}: ${p.role}${p.detail ? ` (${p.detail})` : ''}`);
        if (mark.recoverAtMs === null || at <= mark.recoverAtMs) peerProbes.set(who, p);
        checkSecondPrimary(at);
        continue;
      }
      if (lastProbe?.role !== p.role) entry(at, 'statebench', mark.pod, `probe of the old primary on its node: ${p.role}${p.detail ? ` (${p.detail})` : ''}`);
      lastProbe = p;
      if (t.oldPrimary) {
        t.oldPrimary.probes++;
        if (p.role === 'primary') {
          t.oldPrimary.lastServedAtMs = at;
          if (nodeDown) t.oldPrimary.servingWhileNodeNotReady = true;
        } else if (nodeDown && t.oldPrimary.servingWhileNodeNotReady === null) t.oldPrimary.servingWhileNodeNotReady = false;
      }
      checkSecondPrimary(at);
      continue;
    }

    const ob = it.obs;
    const k = keyOf(ob.object);
    const prev = view.get(k);
    const leadersBefore = leadersOf().names.join(',');
    apply(ob);
    const cur = ob.type === 'DELETED' ? undefined : ob.object;
    const name = ob.object.metadata?.name ?? '?';

    switch (ob.object.kind) {
      case 'Node': {
        if (name !== kubeNode) break;
        const was = nodeReady(prev);
        const now = nodeReady(cur);
        if (was?.status !== now?.status) {
          entry(at, 'node', name, conditionText(now));
          if (now?.status !== 'True' && t.nodeStatus.notReadyAtMs === null) {
            t.nodeStatus.notReadyAtMs = at;
            t.nodeStatus.condition = now?.status ?? null;
            t.nodeStatus.reason = now?.reason ?? null;
            t.nodeStatus.message = now?.message ?? null;
          }
          if (now?.status === 'True' && nodeDown && t.nodeStatus.readyAgainAtMs === null) t.nodeStatus.readyAgainAtMs = at;
          nodeDown = now?.status !== 'True';
          if (nodeDown && t.oldPrimary && lastPatroni && PRIMARY_ROLES.includes(lastPatroni.role ?? '')) t.oldPrimary.walAdvancedWhileNodeNotReady ??= false;
        }
        const wasTaints = noExecuteTaints(prev);
        for (const key of noExecuteTaints(cur)) {
          if (wasTaints.includes(key)) continue;
          entry(at, 'node', name, `taint ${key}:NoExecute added`);
          t.nodeStatus.noExecuteTaint ??= { key, atMs: at };
        }
        for (const key of wasTaints) if (!noExecuteTaints(cur).includes(key)) entry(at, 'node', name, `taint ${key}:NoExecute removed`);
        const ipBefore = internalIp(prev);
        const ipNow = internalIp(cur);
        if (prev && cur && ipBefore !== ipNow) {
          entry(at, 'node', name, `InternalIP ${ipBefore ?? 'none'} → ${ipNow ?? 'none'}`);
          t.nodeStatus.address ??= { before: ipBefore, after: ipNow, atMs: at };
          if (t.nodeStatus.address) t.nodeStatus.address.after = ipNow;
        }
        break;
      }
      case 'Pod': {
        if (name === mark.pod) {
          const uid = ob.object.metadata?.uid ?? null;
          if (uid === oldUid) {
            if (podIsReady(prev) && !podIsReady(cur) && ob.type !== 'DELETED') {
              entry(at, 'pod', name, `Ready=False${condition(cur, 'Ready')?.reason ? ` (${condition(cur, 'Ready')!.reason})` : ''}`);
              t.member.notReadyAtMs ??= at;
              memberWasDisturbed = true;
            }
            // The taint manager first sets DisruptionTarget (DeletionByTaintManager), then deletes.
            const evicting = (x: KubeObject | undefined) => {
              const c = condition(x, 'DisruptionTarget');
              return c?.status === 'True' && c.reason === 'DeletionByTaintManager' ? c : undefined;
            };
            const eviction = evicting(cur);
            if (eviction && !evicting(prev)) {
              entry(at, 'pod', name, `evicted by the taint manager (${eviction.message ?? eviction.reason})`);
              t.member.evictedAtMs ??= at;
              t.member.deletedBy ??= 'taint-manager';
              memberWasDisturbed = true;
            }
            if (!prev?.metadata?.deletionTimestamp && cur?.metadata?.deletionTimestamp) {
              entry(at, 'pod', name, `marked for deletion (grace ${cur.metadata.deletionGracePeriodSeconds ?? '?'}s)`);
              t.member.deletionRequestedAtMs ??= at;
              memberWasDisturbed = true;
              if (nodeDown) terminatingUntilNodeReady = true;
            }
            if (restarts(cur) !== null && restarts(prev) !== null && restarts(cur)! > restarts(prev)!) {
              entry(at, 'pod', name, `container restarted (restarts ${restarts(cur)})`);
              memberWasDisturbed = true;
              t.member.restarts = restarts(cur);
            }
            const patroni = patroniStatus(cur);
            if (t.oldPrimary && patroni && cur && JSON.stringify(patroni) !== JSON.stringify(lastPatroni)) {
              t.oldPrimary.patroniLastReportAtMs = at;
              const advanced = (patroni.xlog_location ?? 0) > (lastPatroni?.xlog_location ?? 0);
              if (nodeDown && PRIMARY_ROLES.includes(patroni.role ?? '') && advanced) t.oldPrimary.walAdvancedWhileNodeNotReady = true;
              if (nodeDown && patroni.role !== lastPatroni?.role) entry(at, 'pod', name, `Patroni reports role ${patroni.role} while its node is not Ready`);
              lastPatroni = patroni;
            }
            if (ob.type === 'DELETED') {
              entry(at, 'pod', name, 'deleted from the API');
              t.member.goneAtMs ??= at;
              t.member.deletionRequestedAtMs ??= at;
              memberWasDisturbed = true;
            }
            if (ob.type !== 'DELETED' && memberWasDisturbed && !prev?.metadata?.deletionTimestamp && podIsReady(cur) && !podIsReady(prev) && t.member.readyAgainAtMs === null) {
              entry(at, 'pod', name, 'Ready=True again');
              t.member.readyAgainAtMs = at;
            }
          } else if (uid) {
            if (!t.replacement || t.replacement.uid !== uid) {
              t.replacement = { uid, createdAtMs: at, scheduledAtMs: null, kubeNode: null, pending: null, containerStartedAtMs: null, readyAtMs: null };
              entry(at, 'pod', name, `replacement created (uid ${uid.slice(0, 8)})`);
            }
            const r = t.replacement;
            if (cur?.spec?.nodeName && !r.kubeNode) {
              r.kubeNode = cur.spec.nodeName as string;
              r.scheduledAtMs = at;
              entry(at, 'pod', name, `replacement scheduled on ${r.kubeNode}${r.kubeNode === kubeNode ? ' (the faulted node)' : ''}`);
              if (t.stuck && t.stuck.untilMs === null) t.stuck.untilMs = at;
            }
            const sched = condition(cur, 'PodScheduled');
            if (cur && !cur.spec?.nodeName && sched?.status === 'False') {
              const reason = sched.reason ?? 'Unschedulable';
              const message = sched.message ?? '';
              if (!r.pending || r.pending.message !== message) {
                entry(at, 'pod', name, `replacement Pending (${reason}): ${message}`);
                r.pending = { reason, message, sinceMs: r.pending?.sinceMs ?? at };
              }
              checkStuck(at, cur);
            }
            if (containerStarted(cur) && r.containerStartedAtMs === null) {
              r.containerStartedAtMs = at;
              entry(at, 'pod', name, 'replacement container started');
            }
            if (podIsReady(cur) && r.readyAtMs === null) {
              r.readyAtMs = at;
              t.member.readyAgainAtMs ??= at;
              entry(at, 'pod', name, 'replacement Ready=True');
            }
            if (ob.type === 'DELETED') entry(at, 'pod', name, 'replacement deleted');
          }
        }
        const leadersNow = leadersOf().names.join(',');
        if (o.leaderLabel && leadersNow !== leadersBefore) {
          t.leader.changes.push({ atMs: at, leaders: leadersNow ? leadersNow.split(',') : [] });
          entry(at, 'pod', leadersNow || '-', leadersNow ? `leader label on ${leadersNow}` : 'no pod carries the leader label');
        }
        checkSecondPrimary(at);
        break;
      }
      case 'Endpoints': {
        if (!t.leader.key || name !== o.leaderEndpoints) break;
        const was = leaderKeyHolder(prev);
        const now = leaderKeyHolder(cur);
        if (was === now) break;
        const ips = leaderAddresses(cur);
        if (now) {
          if (now !== t.leader.key.before && t.leader.key.takenAtMs === null) {
            t.leader.key.takenAtMs = at;
            t.leader.key.takenBy = now;
          }
          entry(at, 'leader-key', name, `leader key held by ${now}${ips.length ? `; clients routed to ${ips.join(', ')}` : ''}`);
        } else {
          if (was === mark.pod) t.leader.key.releasedAtMs ??= at;
          entry(at, 'leader-key', name, `leader key released by ${was ?? 'nobody'}${ips.length ? '' : '; no client route'}`);
        }
        break;
      }
      case 'PersistentVolumeClaim': {
        if (name !== claimName) break;
        if (prev?.status?.phase !== cur?.status?.phase || prev?.spec?.volumeName !== cur?.spec?.volumeName) {
          entry(at, 'claim', name, cur ? `${cur.status?.phase ?? '?'}${cur.spec?.volumeName ? ` to ${cur.spec.volumeName}` : ''}` : 'deleted');
        }
        break;
      }
      case 'PersistentVolume': {
        const claimRef = (cur ?? prev)?.spec?.claimRef as { name?: string } | undefined;
        if (!claimName || claimRef?.name !== claimName) break;
        if (prev?.status?.phase !== cur?.status?.phase) entry(at, 'volume', name, cur ? `${cur.status?.phase ?? '?'}` : 'deleted');
        break;
      }
    }
    // A replacement still Pending is re-judged whenever the node, claim or volume changes.
    if (t.replacement && !t.replacement.kubeNode && ob.object.kind !== 'Pod') {
      const r = view.get(podKey);
      if (r && r.metadata?.uid === t.replacement.uid) checkStuck(at, r);
    }
  }

  // What is true at the end of the window.
  const leadersEnd = leadersOf();
  t.leader.after = leadersEnd.names.join(',') || null;
  if (t.leader.key) t.leader.key.after = leaderKeyHolder(view.get(`Endpoints/${o.leaderEndpoints}`));
  if (claimName) {
    const pvc = view.get(`PersistentVolumeClaim/${claimName}`);
    const volume = (pvc?.spec?.volumeName as string | undefined) ?? null;
    t.claim = { name: claimName, phase: (pvc?.status?.phase as string | undefined) ?? null, volume, pinnedTo: volume ? pinnedNode(view.get(`PersistentVolume/${volume}`)) : null, volumeBefore };
  }
  if (t.member.deletedBy === null && t.member.deletionRequestedAtMs !== null) {
    const at = t.member.deletionRequestedAtMs;
    const near = (xs: number[]) => xs.some((x) => x <= at + 1);
    t.member.deletedBy = near(operatorDeletedAt) ? 'operator-action' : near(statebenchDeletedAt) ? 'statebench' : 'other';
  }
  if (t.oldPrimary && lastPatroni === undefined && t.oldPrimary.probes === 0) t.oldPrimary.walAdvancedWhileNodeNotReady = null;
  const d = (x: number | null) => (x === null ? null : +(x - t0).toFixed(1));
  t.durations = {
    toNodeNotReadyMs: d(t.nodeStatus.notReadyAtMs),
    toEvictionMs: d(t.member.evictedAtMs),
    toReplacementScheduledMs: d(t.replacement?.scheduledAtMs ?? null),
    toMemberReadyMs: d(t.member.readyAgainAtMs),
  };
  t.findings = findings(t, terminatingUntilNodeReady, o);
  return t;
}

function findings(t: KubernetesFaultTimeline, terminatingUntilNodeReady: boolean, o: AssembleOptions): string[] {
  const f: string[] = [];
  const at = (ms: number | null) => (ms === null ? 'never' : secs(ms - t.injectedAtMs));
  const node = t.kubeNode ?? 'its node';
  const ns = t.nodeStatus;
  if (ns.notReadyAtMs !== null) {
    f.push(`node ${node} became Ready=${ns.condition} ${at(ns.notReadyAtMs)} after injection (${[ns.reason, ns.message].filter(Boolean).join(': ')})${ns.readyAgainAtMs !== null ? `, Ready again ${at(ns.readyAgainAtMs)}` : ''}`);
  } else if (['node-crash', 'node-hang', 'kubelet-stop'].includes(t.type)) {
    f.push(`node ${node} was never reported NotReady: it came back before the node monitor grace period ran out`);
  }
  const tol = ns.noExecuteTaint?.key === NOT_READY_TAINT ? t.policy.notReadyToleration : t.policy.unreachableToleration;
  if (t.member.evictedAtMs !== null) {
    f.push(`${t.pod} was evicted by the taint manager ${at(t.member.evictedAtMs)} after injection (toleration ${tol === null ? 'unknown' : typeof tol === 'number' ? `${tol}s` : tol})`);
  } else if (ns.noExecuteTaint) {
    const tolText = tol === null ? 'unknown' : typeof tol === 'number' ? `${tol}s` : tol;
    if (t.member.deletedBy && t.member.deletedBy !== 'taint-manager') f.push(`${t.pod} was deleted (${t.member.deletedBy}) before its ${ns.noExecuteTaint.key} toleration (${tolText}) ran out`);
    else f.push(`${t.pod} was not evicted: the ${ns.noExecuteTaint.key} toleration (${tolText}) had not run out when the node came back or the cycle ended`);
  }
  if (terminatingUntilNodeReady) {
    f.push(`${t.pod} stayed Terminating while its node was down: only the kubelet (or a force delete) can finish a deletion${t.member.goneAtMs !== null ? `; it was gone ${at(t.member.goneAtMs)}` : ', and it never went'}`);
  }
  if (t.dataSafety) {
    f.push(`DATA-SAFETY EXPOSURE of the force delete ${at(t.dataSafety.twoPostmastersAtMs)} after injection: two postmasters ran ${t.dataSafety.detail.replace(/^on /, 'on ')}. This is the StatefulSet force-delete hazard, not an ordinary fault: PostgreSQL's postmaster.pid check does not see across PID namespaces`);
  }
  if (t.operatorActionAtMs !== null) f.push(`operator action: ${t.pod} force-deleted ${at(t.operatorActionAtMs)} after injection, its node NotReady for ≥ ${((t.policy.forceDeleteAfterMs ?? 0) / 1000).toFixed(0)}s`);
  if (t.stuck) {
    f.push(`${t.pod}'s replacement was stuck Pending from ${at(t.stuck.sinceMs)} ${t.stuck.untilMs !== null ? `to ${at(t.stuck.untilMs)}` : 'to the end of the cycle'}: its volume ${t.stuck.volume} is pinned to ${t.stuck.pinnedTo}, which was ${t.stuck.nodeCondition}`);
  } else if (t.replacement?.pending && t.replacement.scheduledAtMs === null) {
    f.push(`${t.pod}'s replacement stayed Pending (${t.replacement.pending.reason}): ${t.replacement.pending.message}`);
  }
  if (t.replacement?.scheduledAtMs != null) f.push(`${t.pod}'s replacement was scheduled on ${t.replacement.kubeNode} ${at(t.replacement.scheduledAtMs)} after injection${t.replacement.readyAtMs !== null ? ` and Ready ${at(t.replacement.readyAtMs)}` : ', never Ready in this cycle'}`);
  if (o.leaderLabel) {
    if (t.leader.before !== t.leader.after) f.push(`leader label moved from ${t.leader.before ?? 'nobody'} to ${t.leader.after ?? 'nobody'}`);
    else f.push(`leader label stayed on ${t.leader.before ?? 'nobody'}`);
  }
  const key = t.leader.key;
  if (key) {
    if (key.releasedAtMs !== null) {
      // After a force delete the pod object is gone at once, before the container's shutdown releases the key.
      const gap = t.member.goneAtMs !== null ? (t.member.goneAtMs - key.releasedAtMs) / 1000 : null;
      const rel = gap === null ? '' : gap >= 0 ? `, ${gap.toFixed(1)}s before its pod was gone` : `, ${(-gap).toFixed(1)}s after its pod object was gone`;
      f.push(`${t.pod} released the leader key ${at(key.releasedAtMs)} after injection${rel}`);
    }
    if (key.before !== key.after) f.push(`leader key (clients' route) moved from ${key.before ?? 'nobody'} to ${key.after ?? 'nobody'}${key.takenAtMs !== null ? `, taken ${at(key.takenAtMs)} after injection` : ''}`);
    else f.push(`leader key (clients' route) stayed with ${key.before ?? 'nobody'}`);
  }
  if (t.leader.secondPrimaryAtMs !== null) f.push(`SECOND PRIMARY ${at(t.leader.secondPrimaryAtMs)} after injection`);
  else if (t.oldPrimary && (t.oldPrimary.probes > 0 || o.leaderLabel)) f.push('no second primary observed');
  const op = t.oldPrimary;
  if (op) {
    if (op.servingWhileNodeNotReady) f.push(`the old primary ${t.pod} kept serving writes on ${node} while the node was not Ready (last confirmed ${at(op.lastServedAtMs)})`);
    else if (op.walAdvancedWhileNodeNotReady) f.push(`the old primary ${t.pod} kept writing WAL while its node was not Ready (Patroni's last report ${at(op.patroniLastReportAtMs)})`);
    else if (op.servingWhileNodeNotReady === false) f.push(`the old primary ${t.pod} did not serve while its node was not Ready`);
  }
  if (ns.address && ns.address.before !== ns.address.after) f.push(`node ${node} came back with InternalIP ${ns.address.after} (was ${ns.address.before})`);
  for (const p of o.problems ?? []) f.push(p);
  return f;
}

/** Every cycle, each with the observations up to the next cycle's injection. */
export function assembleTimeline(marks: CycleMark[], observations: Observation[], o: AssembleOptions): KubernetesFaultTimeline[] {
  const sorted = [...marks].sort((a, b) => a.injectedAtMs - b.injectedAtMs);
  return sorted.map((m, i) => assembleCycle(m, observations, sorted[i + 1]?.injectedAtMs ?? Number.POSITIVE_INFINITY, o));
}

// ---------------------------------------------------------------------------------------------------
// Compaction: the fields read above, at their API paths, and nothing that changes on every heartbeat

function pick<T extends object>(o: T | undefined, keys: string[]): Record<string, unknown> | undefined {
  if (!o) return undefined;
  const out: Record<string, unknown> = {};
  for (const k of keys) if ((o as Record<string, unknown>)[k] !== undefined) out[k] = (o as Record<string, unknown>)[k];
  return Object.keys(out).length ? out : undefined;
}

/**
 * A timestamp as the API server writes it (RFC 3339, fractional seconds only where there are any).
 * The client turns the timestamps of listed objects into Dates, while watch events carry the server's
 * text; both must read the same, or every relist records a change that did not happen.
 */
export function apiTime(v: unknown): string {
  const d = v instanceof Date ? v : new Date(String(v));
  if (Number.isNaN(d.getTime())) return String(v);
  return d.toISOString().replace(/\.000Z$/, 'Z');
}

/**
 * One form for an object whatever path it came by: keys sorted (the client's models order them by
 * their schema, the server's JSON by its own), Dates as API text, undefined fields gone.
 */
export function canonical<T>(v: T): T {
  if (v instanceof Date) return apiTime(v) as T;
  if (Array.isArray(v)) return v.map((x) => canonical(x)) as T;
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = canonical(x);
    }
    return out as T;
  }
  return v;
}

const KEPT_ANNOTATIONS = ['status', 'volume.kubernetes.io/selected-node', 'pv.kubernetes.io/bind-completed'];

/** The object as recorded: API paths kept, heartbeat times and everything else dropped, in canonical form. */
export function compact(obj: KubernetesObject | KubeObject): KubeObject {
  return canonical(compactFields(obj));
}

function compactFields(obj: KubernetesObject | KubeObject): KubeObject {
  const o = obj as KubeObject;
  const m = o.metadata ?? {};
  const annotations = pick(m.annotations ?? {}, KEPT_ANNOTATIONS) as Record<string, string> | undefined;
  const metadata: KubeObject['metadata'] = {
    name: m.name,
    ...(m.namespace ? { namespace: m.namespace } : {}),
    ...(m.uid ? { uid: m.uid } : {}),
    ...(o.kind === 'Pod' && m.labels ? { labels: { ...m.labels } } : {}),
    ...(annotations ? { annotations } : {}),
    ...(m.deletionTimestamp ? { deletionTimestamp: apiTime(m.deletionTimestamp as unknown) } : {}),
    ...(m.deletionGracePeriodSeconds !== undefined ? { deletionGracePeriodSeconds: m.deletionGracePeriodSeconds } : {}),
  };
  const base = { apiVersion: o.apiVersion ?? 'v1', kind: o.kind, metadata };
  const s = o.spec ?? {};
  const st = o.status ?? {};
  switch (o.kind) {
    case 'Node':
      return {
        ...base,
        spec: { ...(s.taints ? { taints: (s.taints as object[]).map((t) => pick(t, ['key', 'value', 'effect'])) } : {}), ...(s.unschedulable ? { unschedulable: true } : {}) },
        status: {
          conditions: ((st.conditions as Condition[] | undefined) ?? []).filter((c) => c.type === 'Ready').map((c) => pick(c, ['type', 'status', 'reason', 'message'])),
          addresses: ((st.addresses as { type: string }[] | undefined) ?? []).filter((a) => a.type === 'InternalIP'),
          ...(st.nodeInfo ? { nodeInfo: pick(st.nodeInfo, ['containerRuntimeVersion', 'kubeletVersion']) } : {}),
        },
      };
    case 'Pod':
      return {
        ...base,
        spec: {
          ...(s.nodeName ? { nodeName: s.nodeName } : {}),
          tolerations: ((s.tolerations as { key?: string }[] | undefined) ?? []).filter((t) => t.key === NOT_READY_TAINT || t.key === UNREACHABLE_TAINT || t.key === undefined).map((t) => pick(t, ['key', 'operator', 'effect', 'tolerationSeconds'])),
          volumes: ((s.volumes as { name: string; persistentVolumeClaim?: { claimName: string } }[] | undefined) ?? []).filter((v) => v.persistentVolumeClaim).map((v) => ({ name: v.name, persistentVolumeClaim: { claimName: v.persistentVolumeClaim!.claimName } })),
        },
        status: {
          ...(st.phase ? { phase: st.phase } : {}),
          ...(st.reason ? { reason: st.reason } : {}),
          ...(st.message ? { message: st.message } : {}),
          conditions: ((st.conditions as Condition[] | undefined) ?? []).map((c) => pick(c, ['type', 'status', 'reason', 'message'])),
          containerStatuses: ((st.containerStatuses as { name: string; state?: Record<string, Record<string, unknown>> }[] | undefined) ?? []).map((c) => ({
            ...pick(c, ['name', 'ready', 'started', 'restartCount']),
            state: Object.fromEntries(Object.entries(c.state ?? {}).map(([k, v]) => [k, pick(v, ['reason', 'exitCode']) ?? {}])),
          })),
        },
      };
    case 'PersistentVolumeClaim':
      return { ...base, spec: pick(s, ['volumeName', 'storageClassName']) ?? {}, status: pick(st, ['phase']) ?? {} };
    case 'Endpoints': {
      // The leader key and where it routes; renewTime changes on every Patroni loop and is dropped.
      const leader = (m.annotations as Record<string, string> | undefined)?.leader;
      const subsets = ((o as { subsets?: { addresses?: { ip: string }[] }[] }).subsets ?? []).map((x) => ({ addresses: (x.addresses ?? []).map((a) => ({ ip: a.ip })) }));
      return { ...base, metadata: { ...metadata, annotations: leader ? { leader } : undefined }, subsets };
    }
    case 'PersistentVolume':
      return {
        ...base,
        spec: {
          ...(s.claimRef ? { claimRef: pick(s.claimRef, ['namespace', 'name']) } : {}),
          ...(s.nodeAffinity ? { nodeAffinity: s.nodeAffinity } : {}),
          ...(s.storageClassName ? { storageClassName: s.storageClassName } : {}),
        },
        status: pick(st, ['phase']) ?? {},
      };
    default:
      return base;
  }
}
