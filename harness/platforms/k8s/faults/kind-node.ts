// kind's worker node containers, through the docker CLI (argument arrays only, never a shell): a
// member's node verbs (KindNodeControl), and the node faults (node-crash and node-hang on those verbs,
// kubelet-stop inside the node) with the marks only Kubernetes shows.
import type { FaultCycle } from '../../../model/plan.ts';
import type { FaultMode } from '../../../fault/fault.ts';
import type { FaultSubject } from '../../../fault/modes.ts';
import type { NodeControl } from '../../../engine/types.ts';
import { sleep } from '../../../core/clock.ts';
import { run } from '../../../core/exec.ts';
import { met, notYet, waitFor } from '../../../core/wait.ts';
import { StatebenchError } from '../../../errors.ts';
import { apiMessage, type Exec, type KubeCluster } from '../cluster.ts';
import { NAMES } from '../names.ts';
import { leaderKeyHolder } from '../timeline/assemble.ts';
import { MemberCycle, type KubernetesFaultContext } from './member-cycle.ts';
import { watchPostmasters } from './postmasters.ts';

/** Reads the old primary's role on its node through containerd, bypassing the kubelet. Fixed text. */
export const PRIMARY_PROBE_SCRIPT = `for d in \${PGBIN:-} /usr/lib/postgresql/*/bin /usr/local/bin /usr/bin; do
  if [ -x "$d/psql" ]; then
    PGPASSWORD="\${POSTGRES_PASSWORD:-\${PATRONI_SUPERUSER_PASSWORD:-}}" PGCONNECT_TIMEOUT=3 exec "$d/psql" -h 127.0.0.1 -p 5432 -U postgres -d postgres -XAtc "select case when pg_is_in_recovery() then 'replica' else 'primary ' || txid_current() end"
  fi
done
echo "no psql in the image" >&2
exit 69
`;

/**
 * Empties the volumes a kind worker mounts (its disk, the shared network volumes) from inside the node,
 * as its root: the database's files belong to the image's postgres user, in 0700 directories, which a
 * run that is not root cannot remove from the host. The mount points themselves stay.
 */
export async function wipeNodeVolumes(docker: Exec, node: string, mounts: string[], attempts = 3): Promise<void> {
  for (let i = 1; ; i++) {
    try {
      await docker('docker', ['exec', node, 'find', ...mounts, '-mindepth', '2', '-delete'], { timeoutMs: 120_000 });
      return;
    } catch (e) {
      // A file that vanished under find (a server still stopping) fails this pass; the next one finishes.
      if (i >= attempts) throw e;
      await sleep(2_000);
    }
  }
}

export class KindNodeContainer {
  constructor(
    readonly name: string,
    private readonly docker: Exec,
  ) {}

  private async inspect(format: string): Promise<string> {
    return (await this.docker('docker', ['inspect', '--format', format, this.name], { timeoutMs: 30_000 })).stdout.trim();
  }

  async state(): Promise<{ running: boolean; paused: boolean; status: string }> {
    const s = JSON.parse(await this.inspect('{{json .State}}')) as { Running?: boolean; Paused?: boolean; Status?: string };
    return { running: !!s.Running, paused: !!s.Paused, status: s.Status ?? 'unknown' };
  }

  /** Its address on the kind network (the first network otherwise). */
  async address(): Promise<string | null> {
    const nets = JSON.parse((await this.inspect('{{json .NetworkSettings.Networks}}')) || '{}') as Record<string, { IPAddress?: string }>;
    const ip = nets.kind?.IPAddress ?? Object.values(nets)[0]?.IPAddress;
    return ip || null;
  }

  kill(): Promise<unknown> {
    return this.docker('docker', ['kill', '--signal', 'KILL', this.name], { timeoutMs: 60_000 });
  }

  start(): Promise<unknown> {
    return this.docker('docker', ['start', this.name], { timeoutMs: 120_000 });
  }

  /** A clean shutdown: the image's stop signal (SIGRTMIN+3, systemd's halt), SIGKILL after 60 s. */
  stop(): Promise<unknown> {
    return this.docker('docker', ['stop', '--time', '60', this.name], { timeoutMs: 120_000 });
  }

  pause(): Promise<unknown> {
    return this.docker('docker', ['pause', this.name], { timeoutMs: 30_000 });
  }

  unpause(): Promise<unknown> {
    return this.docker('docker', ['unpause', this.name], { timeoutMs: 30_000 });
  }

  exec(args: string[], timeoutMs = 30_000): Promise<{ stdout: string; stderr: string }> {
    return this.docker('docker', ['exec', this.name, ...args], { timeoutMs });
  }

  async kubeletState(): Promise<string> {
    return (await this.exec(['systemctl', 'show', '--property=ActiveState', '--value', 'kubelet.service'])).stdout.trim();
  }

  /** The running database container of a pod, as containerd knows it (empty when none). */
  async memberContainer(namespace: string, pod: string): Promise<string> {
    const { stdout } = await this.exec(['crictl', 'ps', '--quiet', '--state', 'running', '--label', `io.kubernetes.pod.namespace=${namespace}`, '--label', `io.kubernetes.pod.name=${pod}`, '--label', `io.kubernetes.container.name=${NAMES.container}`]);
    return stdout.trim().split('\n')[0]?.trim() ?? '';
  }

  async probePrimary(container: string): Promise<{ role: 'primary' | 'replica' | 'unreachable'; detail?: string }> {
    try {
      const { stdout } = await this.exec(['crictl', 'exec', '--sync', container, '/bin/sh', '-c', PRIMARY_PROBE_SCRIPT], 15_000);
      const out = stdout.trim();
      if (out.startsWith('primary')) return { role: 'primary', detail: `wrote xid ${out.slice(8)}` };
      if (out === 'replica') return { role: 'replica' };
      return { role: 'unreachable', detail: out.slice(0, 200) || 'no answer' };
    } catch (e) {
      return { role: 'unreachable', detail: (e as Error).message.split('\n')[0].slice(0, 200) };
    }
  }
}

/**
 * A member's node verbs on kind: the worker node container its pod runs on. kill (`docker kill`),
 * stop (`docker stop`) and pause (`docker pause`) act on the worker hosting the pod at that moment and
 * remember it, so start and resume bring back that same container even if the pod has moved since.
 * start and resume return once the container runs again: the member's pod comes back through that
 * node's kubelet, which the fault's recovery waits for. The control plane is never faulted.
 */
export class KindNodeControl implements NodeControl {
  private faulted?: KindNodeContainer;
  private down = false;

  constructor(
    private readonly docker: Exec,
    /** The worker the member's pod runs on now; throws for any other node. */
    private readonly hostOf: () => Promise<string>,
  ) {}

  /** A paused node is running, as a SIGSTOPped process is on bare metal. */
  get running(): boolean {
    return !this.down;
  }

  /** The container the last kill, stop or pause acted on, until start or resume brings it back. */
  get node(): KindNodeContainer | undefined {
    return this.faulted;
  }

  /** The worker container the member's pod runs on now. */
  async host(): Promise<KindNodeContainer> {
    return new KindNodeContainer(await this.hostOf(), this.docker);
  }

  async kill(): Promise<void> {
    const n = (this.faulted = await this.host());
    await n.kill();
    this.down = true;
  }

  async stop(): Promise<void> {
    const n = (this.faulted = await this.host());
    await n.stop();
    this.down = true;
  }

  async pause(): Promise<void> {
    const n = (this.faulted = await this.host());
    await n.pause();
  }

  /** Unpauses the remembered container (the member's worker when none is); nothing when it is not paused. */
  async resume(): Promise<void> {
    const n = this.faulted ?? (await this.host());
    if ((await n.state()).paused) await n.unpause();
    if (!this.down) this.faulted = undefined;
  }

  /** Starts the remembered container (unpausing it first if need be); nothing when it runs. */
  async start(): Promise<void> {
    const n = this.faulted ?? (await this.host());
    const st = await n.state();
    if (st.paused) await n.unpause();
    if (!st.running) await n.start();
    this.down = false;
    this.faulted = undefined;
  }
}

/** The verbs of the member whose pod is `pod`, finding its worker through the API server. */
export function kindNodeControl(o: { docker: Exec; cluster: KubeCluster; namespace: string; pod: string; workers: string[] }): KindNodeControl {
  return new KindNodeControl(o.docker, async () => {
    let node: string | undefined;
    try {
      const p = (await o.cluster.objects.read({ apiVersion: 'v1', kind: 'Pod', metadata: { name: o.pod, namespace: o.namespace } })) as { spec?: { nodeName?: string } };
      node = p.spec?.nodeName;
    } catch (e) {
      throw new StatebenchError(`cannot find the node of pod ${o.namespace}/${o.pod}: ${apiMessage(e)}`);
    }
    if (!node || !o.workers.includes(node)) {
      throw new StatebenchError(`pod ${o.pod} runs on ${node ?? 'no node'}, not on a worker of this kind cluster (${o.workers.join(', ')}); the control plane is never faulted`);
    }
    return node;
  });
}

export function kindNodeFault(cycle: FaultCycle, s: FaultSubject, ctx: KubernetesFaultContext): FaultMode {
  const m = new MemberCycle(cycle, s, ctx);
  if (!ctx.exec) throw new StatebenchError(`${cycle.type} on kind needs the docker CLI`);
  const docker = ctx.exec;
  let node: KindNodeContainer | undefined;
  let addressBefore: string | null = null;
  let addressAfter: string | null = null;
  let container = '';
  let probing: { stop: AbortController; done: Promise<void> } | undefined;
  let frozenWatch: { stop(): Promise<void> } | undefined;

  const target = async (): Promise<KindNodeContainer> => {
    await m.locate();
    const workers = ctx.kindWorkers ?? [];
    if (!m.kubeNode || !workers.includes(m.kubeNode)) {
      throw new StatebenchError(`${cycle.type}: pod ${m.pod} runs on ${m.kubeNode ?? 'no node'}, not on a worker of this kind cluster (${workers.join(', ')}); the control plane is never faulted`);
    }
    return new KindNodeContainer(m.kubeNode, docker);
  };

  /**
   * Probes the old primary on its node and, once the leader key names another member, that member on
   * its node too: a second primary is reported only when both accept writes.
   */
  const probeLoop = (n: KindNodeContainer) => {
    const stop = new AbortController();
    const every = ctx.probeIntervalMs ?? 2_000;
    const done = (async () => {
      while (!stop.signal.aborted) {
        const started = ctx.clock.now();
        const r = await n.probePrimary(container);
        m.mark?.probes.push({ atMs: +started.toFixed(1), role: r.role, ...(r.detail ? { detail: r.detail } : {}) });
        const holder = ctx.leaderEndpoints ? leaderKeyHolder(ctx.timeline.get('Endpoints', ctx.leaderEndpoints)) : null;
        const holderNode = holder ? (ctx.timeline.get('Pod', holder)?.spec?.nodeName as string | undefined) : undefined;
        if (holder && holderNode && (holder !== m.pod || holderNode !== m.kubeNode) && (ctx.kindWorkers ?? []).includes(holderNode)) {
          const at = ctx.clock.now();
          const peer = new KindNodeContainer(holderNode, docker);
          const id = await peer.memberContainer(ctx.namespace, holder).catch(() => '');
          const p = id ? await peer.probePrimary(id) : { role: 'unreachable' as const, detail: 'no running container' };
          m.mark?.probes.push({ atMs: +at.toFixed(1), role: p.role, ...(p.detail ? { detail: p.detail } : {}), pod: holder, kubeNode: holderNode });
        }
        await sleep(every, stop.signal).catch(() => {});
      }
    })();
    return { stop, done };
  };

  /** Until the node container (or its kubelet) is in the state `holds` accepts; what docker said last is in the timeout. */
  const untilNode = <S,>(what: string, read: () => Promise<S>, holds: (state: S) => boolean, describe: (state: S) => string) =>
    waitFor(
      what,
      async () => {
        try {
          const st = await read();
          return holds(st) ? met(undefined) : notYet(describe(st));
        } catch (e) {
          return notYet((e as Error).message);
        }
      },
      { timeoutMs: ctx.propagationTimeoutMs ?? 30_000, intervalMs: 250, clock: ctx.waitClock },
    );

  /** node-crash and node-hang act through the member's verbs; kind gives every member these. */
  const verbs = (): KindNodeControl => {
    const c = s.node.control;
    if (!(c instanceof KindNodeControl)) throw new StatebenchError(`${cycle.type} on kind acts through ${s.node.name}'s node verbs, which are not a kind node's`);
    return c;
  };

  /** The verbs found the pod where setup did; otherwise another node was faulted, and the cycle is void. */
  const sameNode = (c: KindNodeControl) => {
    if (c.node && c.node.name !== node!.name) throw new StatebenchError(`${cycle.type}: pod ${m.pod} moved from ${node!.name} to ${c.node.name} before the fault; ${c.node.name} was faulted instead`);
  };

  /**
   * The one undo of node-crash and node-hang: the container the verbs acted on is unpaused and/or
   * started, whatever the fault left it in, and each step is recorded on the cycle. Idempotent: after
   * it the verbs remember nothing, so a second call (cleanup after recover) does nothing.
   */
  const bringBack = async (c: KindNodeControl): Promise<void> => {
    const n = c.node;
    if (!n) return;
    const st = await n.state();
    if (st.paused) {
      m.act('docker unpause', n.name);
      await c.resume();
    }
    if (!st.running) m.act('docker start', n.name);
    // Also when the container came back by itself (its restart policy): start forgets it.
    if (c.node) await c.start();
  };

  const stopProbes = async () => {
    const p = probing;
    probing = undefined;
    p?.stop.abort();
    await p?.done;
  };

  switch (cycle.type) {
    case 'node-crash': {
      const c = verbs();
      return {
        type: cycle.type,
        setup: async () => {
          node = await target();
          const st = await node.state();
          if (!st.running || st.paused) throw new StatebenchError(`node-crash: node container ${node.name} is ${st.status}${st.paused ? ' (paused)' : ''}, not running`);
          addressBefore = await node.address();
        },
        inject: async () => {
          m.begin();
          m.act('docker kill --signal KILL', `${node!.name} (address ${addressBefore ?? 'unknown'})`);
          await c.kill();
          sameNode(c);
        },
        waitForPropagation: async () => {
          await untilNode(`node container ${node!.name} to stop`, () => node!.state(), (st) => !st.running, (st) => `docker says ${st.status}`);
          m.startOperator();
        },
        recover: async () => {
          m.stopOperator();
          m.markRecover();
          const n = c.node;
          if (!n) return;
          await bringBack(c);
          addressAfter = await n.address().catch(() => null);
          if (addressBefore && addressAfter && addressAfter !== addressBefore) {
            m.act('node address changed', `${addressBefore} → ${addressAfter}; kind's entrypoint points the kubelet's --node-ip at the new address`);
          }
        },
        waitForRecovery: (timeoutMs) => m.recovered(timeoutMs, { node: true, expectAddress: addressAfter }),
      };
    }
    case 'node-hang': {
      const c = verbs();
      return {
        type: cycle.type,
        setup: async () => {
          node = await target();
          const st = await node.state();
          if (!st.running || st.paused) throw new StatebenchError(`node-hang: node container ${node.name} is ${st.status}${st.paused ? ' (already paused)' : ''}`);
        },
        inject: async () => {
          m.begin();
          m.act('docker pause', node!.name);
          await c.pause();
          sameNode(c);
        },
        waitForPropagation: async () => {
          await untilNode(`node container ${node!.name} to be paused`, () => node!.state(), (st) => st.paused, (st) => `docker says ${st.status}`);
          m.startOperator();
          // The operator action can let a replacement start while the old server is frozen, not gone.
          if (ctx.policy.forceDeleteAfterMs !== undefined) frozenWatch = watchPostmasters(ctx, m, "the operator's force delete let the replacement start while the old server was frozen on its paused node");
        },
        recover: async () => {
          m.stopOperator();
          m.markRecover();
          await bringBack(c);
        },
        waitForRecovery: async (timeoutMs) => {
          try {
            await m.recovered(timeoutMs, { node: true });
          } finally {
            await frozenWatch?.stop();
            frozenWatch = undefined;
          }
        },
      };
    }
    case 'kubelet-stop':
      return {
        type: cycle.type,
        setup: async () => {
          node = await target();
          const kubelet = await node.kubeletState();
          if (kubelet !== 'active') throw new StatebenchError(`kubelet-stop: the kubelet on ${node.name} is ${kubelet || 'unknown'}, not active`);
          container = await node.memberContainer(ctx.namespace, m.pod);
          if (!container) throw new StatebenchError(`kubelet-stop: containerd on ${node.name} runs no ${NAMES.container} container of pod ${m.pod}`);
        },
        inject: async () => {
          m.begin();
          m.act('systemctl stop kubelet', node!.name);
          await node!.exec(['systemctl', 'stop', 'kubelet.service']);
        },
        // The point of this fault is a database that outlives its kubelet: check that it did.
        waitForPropagation: async () => {
          await untilNode(`the kubelet on ${node!.name} to stop`, () => node!.kubeletState(), (st) => ['inactive', 'failed'].includes(st), (st) => `kubelet.service ${st || 'unknown'}`);
          const still = await node!.memberContainer(ctx.namespace, m.pod);
          if (still !== container) throw new StatebenchError(`kubelet-stop: the database container of ${m.pod} (${container.slice(0, 12)}) stopped with the kubelet, so this was not a kubelet-only failure`);
          probing = probeLoop(node!);
          m.startOperator();
        },
        recover: async () => {
          m.stopOperator();
          await stopProbes();
          m.markRecover();
          const n = node;
          if (!n) return;
          if ((await n.kubeletState()) !== 'active') {
            m.act('systemctl start kubelet', n.name);
            await n.exec(['systemctl', 'start', 'kubelet.service']);
          }
        },
        waitForRecovery: (timeoutMs) => m.recovered(timeoutMs, { node: true }),
      };
    default:
      throw new StatebenchError(`${cycle.type} is not a node fault`);
  }
}

/** The docker CLI for KindNodeContainer, through the same Exec type KindCli takes (argument arrays). */
export const dockerExec: Exec = (cmd, args, opts) => run(cmd, args, { timeoutMs: opts?.timeoutMs });
