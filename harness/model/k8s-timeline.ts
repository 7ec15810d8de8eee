// The Kubernetes-level timeline of one fault cycle, as summary.json carries it (FaultSummary.kubernetes).
// Pure data: imported by the summary schema without loading the Kubernetes client.
import { z } from 'zod';

const Ms = z.number().nullable();
/** tolerationSeconds of a NoExecute toleration: seconds, `forever` (no limit) or `none` (evicted at once). */
const Toleration = z.union([z.number(), z.literal('forever'), z.literal('none')]).nullable();

export const KubernetesFaultTimelineSchema = z.object({
  cycle: z.number().int(),
  type: z.string(),
  node: z.string(),
  pod: z.string(),
  kubeNode: z.string().nullable(),
  injectedAtMs: z.number(),
  recoverAtMs: Ms,
  healthyAtMs: Ms,
  /** The knobs that decide what Kubernetes does, as the member pod carried them (DefaultTolerationSeconds included). */
  policy: z.object({ notReadyToleration: Toleration, unreachableToleration: Toleration, forceDeleteAfterMs: Ms }),
  nodeStatus: z.object({
    notReadyAtMs: Ms,
    /** Ready condition status when it left True: `Unknown` (kubelet silent) or `False`. */
    condition: z.string().nullable(),
    reason: z.string().nullable(),
    message: z.string().nullable(),
    readyAgainAtMs: Ms,
    noExecuteTaint: z.object({ key: z.string(), atMs: z.number() }).nullable(),
    /** InternalIP before and after, when it changed (a restarted kind node container). */
    address: z.object({ before: z.string().nullable(), after: z.string().nullable(), atMs: z.number() }).nullable(),
  }),
  member: z.object({
    uid: z.string().nullable(),
    notReadyAtMs: Ms,
    deletionRequestedAtMs: Ms,
    deletedBy: z.enum(['statebench', 'taint-manager', 'operator-action', 'other']).nullable(),
    evictedAtMs: Ms,
    goneAtMs: Ms,
    /** The member (same pod or its replacement) Ready again. */
    readyAgainAtMs: Ms,
    restarts: z.number().int().nullable(),
  }),
  replacement: z
    .object({
      uid: z.string(),
      createdAtMs: z.number(),
      scheduledAtMs: Ms,
      kubeNode: z.string().nullable(),
      pending: z.object({ reason: z.string(), message: z.string(), sinceMs: z.number() }).nullable(),
      containerStartedAtMs: Ms,
      readyAtMs: Ms,
    })
    .nullable(),
  /** The replacement could not be scheduled because its volume is pinned to a node that is not Ready. */
  stuck: z
    .object({
      sinceMs: z.number(),
      untilMs: Ms,
      claim: z.string(),
      volume: z.string(),
      pinnedTo: z.string(),
      nodeCondition: z.string(),
      schedulerMessage: z.string(),
    })
    .nullable(),
  claim: z
    .object({
      name: z.string(),
      phase: z.string().nullable(),
      volume: z.string().nullable(),
      pinnedTo: z.string().nullable(),
      /** The volume the claim was bound to when the fault was injected (absent in older summaries). */
      volumeBefore: z.string().nullable().optional(),
    })
    .nullable(),
  leader: z.object({
    before: z.string().nullable(),
    after: z.string().nullable(),
    changes: z.array(z.object({ atMs: z.number(), leaders: z.array(z.string()) })),
    /**
     * First moment two members acted as primary: probes showed the old primary and another member each
     * accepting a write, or two pods labelled leader while both and their nodes were Ready.
     */
    secondPrimaryAtMs: Ms,
    /** Patroni's leader key (the Endpoints clients are routed by): who held it, when it was released and taken. */
    key: z
      .object({ before: z.string().nullable(), after: z.string().nullable(), releasedAtMs: Ms, takenAtMs: Ms, takenBy: z.string().nullable() })
      .nullable()
      .optional(),
  }),
  /** Whether the primary on the faulted node kept going; null when the faulted member was not the primary. */
  oldPrimary: z
    .object({
      probes: z.number().int(),
      lastServedAtMs: Ms,
      servingWhileNodeNotReady: z.boolean().nullable(),
      patroniLastReportAtMs: Ms,
      walAdvancedWhileNodeNotReady: z.boolean().nullable(),
    })
    .nullable(),
  operatorActionAtMs: Ms,
  /**
   * A data-safety exposure the fault (an operator action) opened: two postmasters seen on one data
   * directory after a force delete on a Local PV. Null when none was seen; absent in older summaries.
   */
  dataSafety: z.object({ twoPostmastersAtMs: z.number(), detail: z.string() }).nullable().optional(),
  durations: z.object({ toNodeNotReadyMs: Ms, toEvictionMs: Ms, toReplacementScheduledMs: Ms, toMemberReadyMs: Ms }),
  /** Conclusions in words, for the report. */
  findings: z.array(z.string()),
  entries: z.array(
    z.object({
      atMs: z.number(),
      sinceInjectMs: z.number(),
      source: z.enum(['node', 'pod', 'claim', 'volume', 'leader-key', 'statebench']),
      object: z.string(),
      what: z.string(),
    }),
  ),
});


/**
 * How a StatefulSet's members came up when it was created, from the pod watch (TargetSummary
 * .statefulSetStartup): per ordinal, when the watch first saw its pod and first saw it Ready. The
 * `…Seq` fields are those observations' positions in the pod watch, which delivers changes in the API
 * server's order: what statefulset.ordered-startup compares, rather than times from different clocks.
 */
export const StatefulSetStartupSchema = z.object({
  /** As rendered into the StatefulSet, for the reader; the check goes by what the watch saw. */
  podManagementPolicy: z.string(),
  members: z.array(
    z.object({
      pod: z.string(),
      ordinal: z.number().int(),
      uid: z.string().nullable(),
      /** Null when the pod already existed when the watch began (its creation was not seen). */
      createdAtMs: Ms,
      createdSeq: z.number().int().nullable(),
      readyAtMs: Ms,
      readySeq: z.number().int().nullable(),
    }),
  ),
});
