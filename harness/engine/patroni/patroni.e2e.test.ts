// Real Patroni, etcd, HAProxy and PostgreSQL on loopback. Two clusters, one after the other:
//   A: sync-strict through HAProxy — bootstrap, a leader crash with fast timings, teardown;
//   B: async with direct access — an agent kill that leaves a stale primary accepting writes.
// Fast timings (ttl 10, loop_wait 2, retry_timeout 4) keep each failover around ten seconds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { missing } from '../../testing/requirements.ts';
import { CleanupRegistry } from '../../core/cleanup.ts';
import { RunClock, sleep } from '../../core/clock.ts';
import { childrenOf } from '../../core/process-tree.ts';
import { FaultInjection } from '../../fault/fault.ts';
import { resolveFaultMode } from '../../fault/catalog.ts';
import type { FaultCycle } from '../../model/plan.ts';
import { LedgerWriter, readLedger } from '../../safety/ledger.ts';
import { classifyLedger, readLedgerTable } from '../../safety/verifier.ts';
import { analyzeSplitBrain, membersByPort } from '../../safety/split-brain.ts';
import { withClient } from '../pg.ts';
import { deployPatroniCluster, type PatroniCluster } from './cluster.ts';
import { FailoverMonitor, type FailoverCycleTimeline } from '../../safety/ha/timeline.ts';
import { resolvePatroniBinDir } from '../../platforms/baremetal/patroni.ts';
import { PatroniOptions, type PatroniOptionsInput } from '../../model/patroni.ts';

const skip = missing({ tools: ['patroni', 'etcd', 'haproxy'], why: 'Patroni cluster tests need Debian patroni, etcd-server and haproxy' });
const FAST: PatroniOptionsInput = { ttl: 10, loopWait: 2, retryTimeout: 4 };
/** Longer than ttl, so the leader key expires while the node is down and a failover happens. */
const DOWN_MS = 12_000;

interface Harness {
  dir: string;
  registry: CleanupRegistry;
  clock: RunClock;
  cluster: PatroniCluster;
  bootstrapMs: number;
}

async function deploy(options: PatroniOptionsInput): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'statebench-patroni-'));
  // Patroni and PostgreSQL run as the unprivileged database user when the tests run as root.
  chmodSync(dir, 0o755);
  const registry = new CleanupRegistry();
  const clock = new RunClock();
  const parsed = PatroniOptions.parse(options);
  const t0 = performance.now();
  const cluster = await deployPatroniCluster({
    members: 3,
    binDir: await resolvePatroniBinDir(undefined, parsed.usePgRewind),
    volumes: [0, 1, 2].map((i) => join(dir, `volume-${i}`)),
    stateDir: join(dir, 'state'),
    settings: { shared_buffers: '32MB', max_connections: 40 },
    options: parsed,
    // The documented 3s/3/2 would add up to ~6s of HAProxy lag to each failover; the test only needs it to follow.
    haproxyCheck: { interMs: 500, fall: 2, rise: 1 },
    startTimeoutMs: 120_000,
    registry,
  });
  return { dir, registry, clock, cluster, bootstrapMs: Math.round(performance.now() - t0) };
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2) !== 'Z';
  } catch {
    return false;
  }
}

/** Processes (not zombies) whose command line mentions `dir`: postgres -D, patroni <cfg>, etcd, haproxy -f. */
function processesUnder(dir: string): string[] {
  const found: string[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(dir) && alive(Number(e))) found.push(`${e} ${cmd.slice(0, 120)}`);
    } catch {
      /* exited while we looked */
    }
  }
  return found;
}

/** Stops the cluster and releases everything; asserts via /proc that nothing it started survives. */
async function teardownLeavesNothing(h: Harness): Promise<void> {
  const p = h.cluster.pids();
  const pids = [p.etcd, ...(p.haproxy ? [p.haproxy] : []), ...p.agents, ...p.postmasters, ...p.postmasters.flatMap((pm) => childrenOf(pm))];
  expect(pids.length).toBeGreaterThan(7);
  expect(processesUnder(h.dir).length).toBeGreaterThan(0);
  await h.cluster.stop();
  expect(await h.registry.releaseAll()).toEqual([]);
  expect(pids.filter(alive)).toEqual([]);
  expect(processesUnder(h.dir)).toEqual([]);
}

function cycleOf(cycleType: FaultCycle['type'], holdMs: number): FaultCycle {
  return { faultIndex: 0, cycle: 0, type: cycleType, target: 'primary', atMs: 0, holdMs, errorRate: 0, recoveryTimeoutMs: 120_000 };
}

/** Runs one fault cycle on the leader under the safety writer; returns the writer's ledger and the cycle's timeline. */
async function faultUnderLoad(h: Harness, cycle: FaultCycle) {
  const { cluster, clock } = h;
  const monitor = new FailoverMonitor({ cluster, clock, pollMs: 200 });
  const ledgerFile = join(h.dir, `ledger-${cycle.type}.jsonl`);
  const writer = new LedgerWriter({ conn: () => cluster.clientConn(), clock, file: ledgerFile, clients: 2, ratePerClient: 100, timeoutMs: 2_000, onAttempt: (a) => monitor.onAttempt(a) });
  await writer.prepare((await cluster.primary()).conn);
  monitor.start();
  writer.start();
  let timeline: FailoverCycleTimeline | undefined;
  let fault: FaultInjection | undefined;
  const leader = await cluster.primary();
  try {
    await sleep(1_000);
    fault = new FaultInjection(resolveFaultMode(cycle, { engine: cluster, node: leader }, { tracker: monitor }));
    await fault.inject();
    await sleep(cycle.holdMs);
    await fault.recover();
    await fault.waitForRecovery(cycle.recoveryTimeoutMs);
    // Bounded wait for the faulted node to be back and caught up.
    for (let i = 0; i < 150 && monitor.cycles()[0]?.lagBelowThresholdAtMs == null; i++) await sleep(200);
    await sleep(500);
  } finally {
    await writer.stop();
    await monitor.stop();
    await fault?.cleanup().catch(() => {});
    timeline = monitor.cycles()[0];
  }
  const newLeader = await cluster.primary();
  const rows = (await readLedgerTable(newLeader.conn)) ?? [];
  const { attempts } = await readLedger(ledgerFile);
  const verdict = classifyLedger(attempts, rows);
  const split = analyzeSplitBrain({
    attempts,
    leaderTimeline: monitor.leaderTimeline(),
    memberOf: membersByPort(cluster.members.map((m) => ({ name: m.name, port: m.conn.port }))),
    presentIds: rows.map((r) => r.id),
  });
  const rel = (t: number | null | undefined) => (t == null || !timeline ? null : Math.round(t - timeline.injectedAtMs));
  console.log(
    `${cycle.type} on ${leader.name} (${cluster.options.replication}, ${cluster.options.access}):`,
    JSON.stringify({
      leaderLostMs: rel(timeline?.leaderLostAtMs),
      electedMs: rel(timeline?.newLeaderAtMs),
      newLeader: timeline?.newLeader,
      firstWriteOnNewLeaderMs: rel(timeline?.firstWriteOnNewLeaderAtMs),
      rejoinedMs: rel(timeline?.nodeRejoinedAtMs),
      caughtUpMs: rel(timeline?.lagBelowThresholdAtMs),
      acknowledged: verdict.acknowledged,
      lost: verdict.lost,
      splitBrainWrites: split.splitBrainWrites,
      dualWriterMs: Math.round(split.dualWriterMs),
      lostByCause: split.lost?.byCause,
    }),
  );
  return { oldLeader: leader.name, timeline: timeline!, verdict, split, attempts };
}

describe.skipIf(!!skip)('Patroni cluster on bare metal', () => {
  describe('sync-strict through HAProxy, fast timings', () => {
    let h: Harness | undefined;
    beforeAll(async () => {
      h = await deploy({ ...FAST, replication: 'sync-strict', access: 'haproxy' });
      console.log(`bootstrap (3 members, sync-strict, haproxy): ${h.bootstrapMs} ms`);
    }, 150_000);
    afterAll(async () => {
      await h?.registry.releaseAll();
      if (h) rmSync(h.dir, { recursive: true, force: true });
    }, 60_000);

    it('bootstraps one leader and two streaming replicas, one of them synchronous', async () => {
      const { cluster } = h!;
      const view = await cluster.view();
      expect(view?.members.filter((m) => m.role === 'leader')).toHaveLength(1);
      const rep = await cluster.replication();
      expect(rep).not.toBeNull();
      expect(rep!.streaming.sort()).toEqual(cluster.members.map((m) => m.name).filter((n) => n !== rep!.leader));
      expect(rep!.synchronous).toHaveLength(1);
      // HAProxy routes to the leader.
      const port = await withClient(cluster.clientConn(), async (c) => (await c.query('select inet_server_port() as p')).rows[0].p);
      expect(port).toBe(cluster.member(rep!.leader).conn.port);
      expect(await cluster.version()).toMatch(/^PostgreSQL \d+\.\d+ \(Patroni \d/);
    });

    it('fails over after a leader crash: a new leader accepts writes and no acknowledged write is lost', async () => {
      const r = await faultUnderLoad(h!, cycleOf('node-crash', DOWN_MS));
      const t = r.timeline;
      expect(t.oldLeader).toBe(r.oldLeader);
      expect(t.newLeader).not.toBeNull();
      expect(t.newLeader).not.toBe(r.oldLeader);
      expect(t.leaderLostAtMs).not.toBeNull();
      expect(t.newLeaderAtMs!).toBeGreaterThanOrEqual(t.leaderLostAtMs!);
      expect(t.firstWriteOnNewLeaderAtMs).not.toBeNull();
      expect(t.nodeRejoinedAtMs).not.toBeNull();
      expect(r.verdict.acknowledged).toBeGreaterThan(100);
      expect(r.verdict.lost).toBe(0);
      expect(r.split.splitBrainWrites).toBe(0);
      expect(r.split.singleWriter.passed).toBe(true);
    }, 170_000);

    it('teardown leaves no process behind', async () => {
      await teardownLeavesNothing(h!);
    }, 60_000);
  });

  describe('async with direct access, agent kill', () => {
    let h: Harness | undefined;
    beforeAll(async () => {
      h = await deploy({ ...FAST, replication: 'async', access: 'direct' });
      console.log(`bootstrap (3 members, async, direct): ${h.bootstrapMs} ms`);
    }, 150_000);
    afterAll(async () => {
      await h?.registry.releaseAll();
      if (h) rmSync(h.dir, { recursive: true, force: true });
    }, 60_000);

    it('keeps PostgreSQL running without its agent; the stale primary acknowledges split-brain writes', async () => {
      const { cluster } = h!;
      const leader = cluster.member((await cluster.primary()).name);
      const postmaster = leader.postmasterPid();
      expect(postmaster).toBeDefined();
      // ha-modes checks that the postmaster outlived its agent (waitForPropagation), or the cycle fails.
      const r = await faultUnderLoad(h!, cycleOf('agent-kill', DOWN_MS + 2_000));
      expect(r.timeline.newLeader).not.toBeNull();
      expect(r.timeline.newLeader).not.toBe(r.oldLeader);
      expect(r.split.splitBrainWrites).toBeGreaterThan(0);
      expect(r.split.byMember[r.oldLeader].whileNotLeader).toBe(r.split.splitBrainWrites);
      expect(r.split.episodes[0].dualWriter).not.toBeNull();
      expect(r.split.singleWriter.passed).toBe(false);
      // The agent came back, demoted its PostgreSQL and rewound it: what it acknowledged alone is gone.
      expect(r.timeline.nodeRejoinedAtMs).not.toBeNull();
      expect(r.verdict.lost).toBeGreaterThan(0);
      expect(r.split.lost!.byCause['split-brain']).toBeGreaterThan(0);
    }, 170_000);

    it('teardown leaves no process behind', async () => {
      await teardownLeavesNothing(h!);
    }, 60_000);
  });
});
