// Why pods are not ready, in words a person acts on: from pod conditions, container states, claims and
// events. Pure, so every message is tested without a cluster; KubeCluster feeds it live objects.

/** The parts of a Pod, PVC and Event this reads (structurally compatible with the API types). */
export interface PodLike {
  metadata?: { name?: string; deletionTimestamp?: unknown };
  spec?: { containers?: { name: string; image?: string }[] };
  status?: {
    phase?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    containerStatuses?: ContainerStatusLike[];
    initContainerStatuses?: ContainerStatusLike[];
  };
}

export interface ContainerStatusLike {
  name: string;
  image?: string;
  ready?: boolean;
  restartCount?: number;
  state?: { waiting?: { reason?: string; message?: string }; running?: object; terminated?: TerminatedLike };
  lastState?: { terminated?: TerminatedLike };
}

interface TerminatedLike {
  exitCode?: number;
  reason?: string;
  message?: string;
}

export interface ClaimLike {
  metadata?: { name?: string };
  status?: { phase?: string };
}

export interface EventLike {
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  involvedObject?: { kind?: string; name?: string };
  lastTimestamp?: unknown;
  eventTime?: unknown;
  firstTimestamp?: unknown;
  metadata?: { creationTimestamp?: unknown };
}

export interface Diagnosis {
  /** One line per thing that is wrong, e.g. `pod pg-0 Pending: 0/3 nodes are available: …`. */
  lines: string[];
  /** What to do about it; deduplicated. */
  hints: string[];
}

/** Waiting reasons no amount of waiting cures: a wait stops at once on them. */
export const PERMANENT_WAITING_REASONS = ['ErrImageNeverPull', 'InvalidImageName'];
const IMAGE_REASONS = ['ErrImagePull', 'ImagePullBackOff', 'ErrImageNeverPull', 'InvalidImageName'];

function time(e: EventLike): number {
  for (const t of [e.lastTimestamp, e.eventTime, e.firstTimestamp, e.metadata?.creationTimestamp]) {
    if (t) {
      const ms = new Date(t as string).getTime();
      if (Number.isFinite(ms)) return ms;
    }
  }
  return 0;
}

function latestEvent(events: EventLike[], kind: string, name: string, warningsOnly = true): EventLike | undefined {
  return events
    .filter((e) => e.involvedObject?.kind === kind && e.involvedObject?.name === name && (!warningsOnly || e.type === 'Warning'))
    .sort((a, b) => time(b) - time(a))[0];
}

function oneLine(text: string | undefined, maxLines = 5): string {
  if (!text) return '';
  const lines = text.trim().split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.slice(-maxLines).join(' | ');
}

export function isPodReady(p: PodLike): boolean {
  return !p.metadata?.deletionTimestamp && !!p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
}

export function diagnose(input: { namespace: string; selector: string; pods: PodLike[]; claims?: ClaimLike[]; events?: EventLike[]; owner?: { kind: string; name: string } }): Diagnosis {
  const { namespace: ns, pods } = input;
  const events = input.events ?? [];
  const lines: string[] = [];
  const hints = new Set<string>();
  const hintFor = (text: string, pod?: string, container?: string, image?: string) => {
    if (/didn't find available persistent volumes|volume node affinity conflict|node\(s\) had volume node affinity/i.test(text)) {
      hints.add(
        `Local PVs bind only on the node that holds them: check that every worker has a free PV of this run (kubectl get pv -l statebench.run) and that each PV's nodeAffinity names an existing node.`,
      );
    }
    if (/unbound immediate PersistentVolumeClaims|storageclass\.storage\.k8s\.io ".*" not found|no persistent volumes available/i.test(text)) {
      hints.add(`Check that the StorageClass exists and can provision (kubectl get storageclass; kubectl describe pvc -n ${ns}).`);
    }
    if (/didn't match pod anti-affinity|didn't satisfy existing pods anti-affinity/i.test(text)) {
      hints.add('Each member needs a node of its own: add workers or lower engine.members.');
    }
    if (/Insufficient (cpu|memory)/i.test(text)) hints.add('The nodes lack the CPU or memory the target asks for: lower resources.cpus/resources.memory or use larger nodes.');
    if (image) {
      hints.add(
        `The image ${image} must be on every node: with pull: never or missing statebench loads it into kind (kind load docker-image) when docker has it locally, so build it first; on an existing cluster push it to a registry the nodes can reach and set pull: missing or always.`,
      );
    }
    if (pod && container && /CrashLoopBackOff|Error|OOMKilled/.test(text)) {
      hints.add(`The container's own log says why: kubectl logs -n ${ns} ${pod} -c ${container} --previous`);
    }
  };

  if (pods.length === 0) {
    const owner = input.owner;
    const ev = owner ? latestEvent(events, owner.kind, owner.name) : undefined;
    lines.push(`no pod matches ${input.selector} in namespace ${ns}${ev ? `; ${owner!.kind} ${owner!.name}: ${ev.reason}: ${oneLine(ev.message)}` : ''}`);
    if (ev?.message) hintFor(ev.message);
  }

  for (const p of pods) {
    const name = p.metadata?.name ?? '?';
    if (isPodReady(p)) continue;
    const phase = p.status?.phase ?? 'Unknown';
    const statuses = [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])];
    let explained = false;

    const scheduled = p.status?.conditions?.find((c) => c.type === 'PodScheduled');
    if (scheduled && scheduled.status !== 'True') {
      const message = scheduled.message || latestEvent(events, 'Pod', name)?.message || scheduled.reason || 'not scheduled';
      lines.push(`pod ${name} ${phase}: ${oneLine(message)}`);
      hintFor(message);
      explained = true;
    }

    for (const cs of statuses) {
      const waiting = cs.state?.waiting;
      const image = cs.image ?? p.spec?.containers?.find((c) => c.name === cs.name)?.image;
      if (waiting?.reason && IMAGE_REASONS.includes(waiting.reason)) {
        lines.push(`pod ${name} container ${cs.name} ${waiting.reason}: ${oneLine(waiting.message) || `cannot pull ${image}`}`);
        hintFor(waiting.reason, name, cs.name, image);
        explained = true;
      } else if (waiting?.reason === 'CrashLoopBackOff') {
        const last = cs.lastState?.terminated;
        const why = last ? `last exit code ${last.exitCode ?? '?'}${last.reason ? ` (${last.reason})` : ''}${last.message ? `: ${oneLine(last.message)}` : ''}` : oneLine(waiting.message);
        lines.push(`pod ${name} container ${cs.name} CrashLoopBackOff after ${cs.restartCount ?? 0} restarts; ${why}`);
        hintFor(`CrashLoopBackOff ${last?.reason ?? ''}`, name, cs.name);
        explained = true;
      } else if (waiting?.reason && waiting.reason !== 'ContainerCreating' && waiting.reason !== 'PodInitializing') {
        lines.push(`pod ${name} container ${cs.name} ${waiting.reason}: ${oneLine(waiting.message)}`);
        hintFor(waiting.message ?? '');
        explained = true;
      } else if (cs.state?.terminated) {
        const t = cs.state.terminated;
        lines.push(`pod ${name} container ${cs.name} exited with code ${t.exitCode ?? '?'}${t.reason ? ` (${t.reason})` : ''}${t.message ? `: ${oneLine(t.message)}` : ''}`);
        hintFor(`Error ${t.reason ?? ''}`, name, cs.name);
        explained = true;
      }
    }

    if (!explained) {
      const ev = latestEvent(events, 'Pod', name);
      const ready = p.status?.conditions?.find((c) => c.type === 'Ready');
      const detail = ev?.message ? `${ev.reason}: ${oneLine(ev.message)}` : ready?.message || ready?.reason || 'waiting';
      lines.push(`pod ${name} ${phase}, not ready: ${detail}`);
      if (ev?.message) hintFor(ev.message);
    }
  }

  for (const c of input.claims ?? []) {
    if (c.status?.phase === 'Bound') continue;
    const name = c.metadata?.name ?? '?';
    const ev = latestEvent(events, 'PersistentVolumeClaim', name, false);
    lines.push(`pvc ${name} ${c.status?.phase ?? 'Pending'}${ev?.message ? `: ${oneLine(ev.message)}` : ''}`);
    if (ev?.message) hintFor(ev.message);
  }

  return { lines, hints: [...hints] };
}
