// Measures the built-in k6 runner against node-postgres driven directly: the same statements, the same
// number of clients, the same server, in one run. Prints builtin TPS / native TPS (target ≥ 0.9).
//
//   npx tsx bench/k6-runner.ts [--workload oltp-read-write|point-select|insert-heavy] [--clients 4]
//                              [--seconds 10] [--rounds 3] [--warmup 1] [--table-size 10000] [--bridge]
//                              [--vu-steps 1,2,4,8,16,32,64] [--json FILE]
//
// --vu-steps: after the rounds, the built-in runner alone at each VU count (point-select is the
// cheapest statement, so the runner's own cost per second is highest): TPS and the process's CPU in
// cores. The runner sustains a VU count while its own CPU stays below 80 % of the CPU set; where TPS
// stops growing first, the database is the limit, not the runner.
//
// The built-in side runs the unchanged script from workloads/k6/ with statebench's vus/duration
// override (constant-vus, closed loop). The native side runs N async node-postgres clients on one
// event loop issuing the script's statements in the script's order, with the same argument protocol
// (parameterized, unnamed statements; BEGIN/COMMIT as separate calls). Rounds alternate the two so
// drift (page cache, checkpoints, autovacuum, other load) hits both alike; the ratio reported is the
// median of the per-round ratios.
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startScratchPostgres, median } from '../harness/testing/scratch-postgres.ts';
import { clientConfig } from '../harness/engine/pg.ts';
import type { ConnInfo } from '../harness/engine/types.ts';
import { K6Session, type SqlMode } from '../harness/workload/k6/builtin.ts';
import { dsnFor } from '../harness/workload/k6/workload.ts';

const { values } = parseArgs({
  options: {
    workload: { type: 'string', default: 'oltp-read-write' },
    clients: { type: 'string', default: '4' },
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    /** Leading seconds of each measurement not counted (connections, caches, JIT), both sides alike. */
    warmup: { type: 'string', default: '1' },
    'table-size': { type: 'string', default: '10000' },
    /** Also measure the bridge mode (every statement through the SQL host thread). */
    bridge: { type: 'boolean', default: false },
    'vu-steps': { type: 'string' },
    json: { type: 'string' },
  },
});
const workload = values.workload!;
const clients = Number(values.clients);
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const warmupMs = Number(values.warmup) * 1000;
const tableSize = Number(values['table-size']);

const randInt = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo + 1));
const ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';
function filler(len: number): string {
  let s = '';
  while (s.length < len) {
    for (let i = 0; i < 11 && s.length < len; i++) s += ALNUM[Math.floor(Math.random() * ALNUM.length)];
    if (s.length < len) s += '-';
  }
  return s;
}

/** One transaction of each script, as the script issues it, on an async client. */
const NATIVE: Record<string, (c: pg.Client, vu: number, state: { seq: number }) => Promise<void>> = {
  async 'oltp-read-write'(c, vu) {
    const size = tableSize;
    const RANGE = 100;
    await c.query('BEGIN');
    try {
      for (let i = 0; i < 10; i++) await c.query('SELECT c FROM sbtest1 WHERE id = $1', [randInt(1, size)]);
      let lo = randInt(1, size - RANGE + 1);
      await c.query('SELECT c FROM sbtest1 WHERE id BETWEEN $1 AND $2', [lo, lo + RANGE - 1]);
      lo = randInt(1, size - RANGE + 1);
      await c.query('SELECT SUM(k) FROM sbtest1 WHERE id BETWEEN $1 AND $2', [lo, lo + RANGE - 1]);
      lo = randInt(1, size - RANGE + 1);
      await c.query('SELECT c FROM sbtest1 WHERE id BETWEEN $1 AND $2 ORDER BY c', [lo, lo + RANGE - 1]);
      lo = randInt(1, size - RANGE + 1);
      await c.query('SELECT DISTINCT c FROM sbtest1 WHERE id BETWEEN $1 AND $2 ORDER BY c', [lo, lo + RANGE - 1]);
      await c.query('UPDATE sbtest1 SET k = k + 1 WHERE id = $1', [randInt(1, size)]);
      await c.query('UPDATE sbtest1 SET c = $2 WHERE id = $1', [randInt(1, size), filler(119)]);
      const id = randInt(1, size);
      const gone = await c.query('DELETE FROM sbtest1 WHERE id = $1 RETURNING k', [id]);
      if (gone.rows.length === 1) await c.query('INSERT INTO sbtest1 (id, k, c, pad) VALUES ($1, $2, $3, $4)', [id, gone.rows[0].k, filler(119), filler(59)]);
      await c.query('INSERT INTO sbtest_tally (vu, n) VALUES ($1, 1) ON CONFLICT (vu) DO UPDATE SET n = sbtest_tally.n + 1', [vu]);
      await c.query('COMMIT');
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {});
      throw e;
    }
  },
  async 'point-select'(c) {
    await c.query('SELECT c FROM sbtest_point WHERE id = $1', [randInt(1, tableSize)]);
  },
  async 'insert-heavy'(c, vu, state) {
    const BATCH = 10;
    const rows: string[] = [];
    const args: unknown[] = [];
    for (let i = 0; i < BATCH; i++) {
      rows.push(`($${i * 3 + 1}, $${i * 3 + 2}, $${i * 3 + 3})`);
      args.push(vu, state.seq++, filler(200));
    }
    await c.query(`INSERT INTO ingest_events (producer, seq, payload) VALUES ${rows.join(', ')}`, args);
  },
};

if (!NATIVE[workload]) {
  console.error(`unknown --workload ${workload}; use one of ${Object.keys(NATIVE).join(', ')}`);
  process.exit(2);
}

const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;

async function native(conn: ConnInfo): Promise<{ tps: number; errors: number; cpuUsPerTx: number }> {
  const cs = await Promise.all(
    Array.from({ length: clients }, async () => {
      const c = new pg.Client(clientConfig(conn));
      c.on('error', () => {});
      await c.connect();
      return c;
    }),
  );
  let done = 0;
  let errors = 0;
  const start = performance.now();
  const from = start + warmupMs;
  const end = from + seconds * 1000;
  let cpu0: NodeJS.CpuUsage | undefined;
  const warm = setTimeout(() => (cpu0 = process.cpuUsage()), warmupMs);
  await Promise.all(
    cs.map(async (c, i) => {
      const state = { seq: 0 };
      while (performance.now() < end) {
        try {
          await NATIVE[workload](c, i + 1, state);
          if (performance.now() >= from) done++;
        } catch {
          errors++;
        }
      }
    }),
  );
  clearTimeout(warm);
  const tps = (done * 1000) / (performance.now() - from);
  const cpuUsPerTx = cpu0 ? (cpuMs(process.cpuUsage(cpu0)) * 1000) / Math.max(1, done) : NaN;
  await Promise.all(cs.map((c) => c.end().catch(() => {})));
  return { tps, errors, cpuUsPerTx };
}

async function builtin(session: K6Session): Promise<{ tps: number; errors: number; p99: number; cpuUsPerTx: number }> {
  const plan = session.plan({ vus: clients, durationMs: warmupMs + seconds * 1000 });
  plan.summaryTrendStats = [...plan.summaryTrendStats, 'p(99)'];
  let from = Infinity;
  let last = 0;
  let ok = 0;
  let counted = 0;
  let cpu0: NodeJS.CpuUsage | undefined;
  let warm: NodeJS.Timeout | undefined;
  const r = await session.run(plan, JSON.stringify({ tableSize, batch: 10 }), {
    log: () => {},
    onStart: () => {
      // Same leading window as the native side, from when the VUs start iterating.
      from = performance.timeOrigin + performance.now() + warmupMs;
      warm = setTimeout(() => (cpu0 = process.cpuUsage()), warmupMs);
    },
    onIteration: (e) => {
      if (e.startAbs < from) return;
      last = Math.max(last, e.startAbs + e.durationMs);
      counted++;
      if (!e.failedKind) ok++;
    },
  });
  clearTimeout(warm);
  // Process CPU over the measured window: every thread (VUs, SQL host, coordinator).
  const cpuUsPerTx = cpu0 ? (cpuMs(process.cpuUsage(cpu0)) * 1000) / Math.max(1, counted) : NaN;
  return { tps: (ok * 1000) / Math.max(1, last - from), errors: r.failedIterations, p99: Number(r.metrics.iteration_duration['p(99)'] ?? 0), cpuUsPerTx };
}

const script = fileURLToPath(new URL(`../workloads/k6/${workload}.js`, import.meta.url));

const server = await startScratchPostgres('statebench-bench-k6-');
try {
  const { engine } = server;
  const conn = engine.clientConn();
  const env = { STATEBENCH_DSN: dsnFor(conn), TABLE_SIZE: String(tableSize), BATCH: '10' };
  // setup() of the script loads the data both sides use.
  const loader = await K6Session.open(script, env, () => {});
  try {
    await loader.setup(loader.plan({ vus: clients, durationMs: seconds * 1000 }));
  } finally {
    await loader.close();
  }
  console.log(`${await engine.version()}, ${workload}, ${clients} clients, ${seconds}s per measurement after ${warmupMs / 1000}s warmup, ${rounds} round(s)`);
  const nat: number[] = [];
  const blt: number[] = [];
  const brg: number[] = [];
  const loads: number[] = [];
  const runBuiltinRound = async (sql: SqlMode) => {
    // A fresh session per round: VU threads, SQL host and connections start cold, as in a real run.
    const session = await K6Session.open(script, env, () => {}, { sql });
    try {
      return await builtin(session);
    } finally {
      await session.close();
    }
  };
  for (let r = 0; r < rounds; r++) {
    // Alternate which goes first, so drift within a round hits both alike.
    let n: Awaited<ReturnType<typeof native>>;
    let b: Awaited<ReturnType<typeof builtin>>;
    if (r % 2 === 0) {
      n = await native(conn);
      b = await runBuiltinRound('direct');
    } else {
      b = await runBuiltinRound('direct');
      n = await native(conn);
    }
    nat.push(n.tps);
    blt.push(b.tps);
    loads.push(loadavg()[0]);
    let line = `round ${r + 1}: native ${n.tps.toFixed(0)} tps (${n.errors} errors, ${n.cpuUsPerTx.toFixed(0)} µs client CPU/tx), built-in runner ${b.tps.toFixed(0)} tps (${b.errors} errors, p99 ${b.p99.toFixed(2)} ms, ${b.cpuUsPerTx.toFixed(0)} µs client CPU/tx)`;
    if (values.bridge) {
      const g = await runBuiltinRound('bridge');
      brg.push(g.tps);
      line += `, built-in runner in bridge mode ${g.tps.toFixed(0)} tps`;
    }
    console.log(`${line}, load average ${loadavg()[0].toFixed(2)}`);
  }
  // Each round's two measurements are back to back, so their ratio is the least disturbed by load
  // that comes and goes; the median of those ratios is the headline.
  const paired = rounds ? median(blt.map((b, i) => b / nat[i])) : NaN;
  if (rounds) console.log(`built-in runner TPS / native node-postgres TPS = ${paired.toFixed(3)} (median of per-round ratios; medians ${median(blt).toFixed(0)} / ${median(nat).toFixed(0)} tps; target >= 0.9)`);
  if (brg.length) console.log(`bridge mode TPS / native node-postgres TPS = ${median(brg.map((b, i) => b / nat[i])).toFixed(3)}`);
  const result: Record<string, unknown> = {
    bench: 'k6-runner',
    ratios: rounds ? [{ name: `k6 built-in runner ${workload} vs node-postgres`, ratio: paired, ours: median(blt), peer: median(nat), unit: 'tps', target: 0.9 }] : [],
    loadAverage: loads.length ? `${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}` : undefined,
  };
  if (values['vu-steps']) {
    const cpuSet = availableParallelism();
    const steps: Array<{ vus: number; tps: number; cpuCores: number; load: number }> = [];
    for (const vus of values['vu-steps'].split(',').map(Number)) {
      const session = await K6Session.open(script, env, () => {}, { sql: 'direct' });
      try {
        const plan = session.plan({ vus, durationMs: warmupMs + seconds * 1000 });
        let from = Infinity;
        let n = 0;
        let last = 0;
        let cpu0: NodeJS.CpuUsage | undefined;
        let cpuAt = 0;
        let warm: NodeJS.Timeout | undefined;
        await session.run(plan, JSON.stringify({ tableSize, batch: 10 }), {
          log: () => {},
          onStart: () => {
            from = performance.timeOrigin + performance.now() + warmupMs;
            warm = setTimeout(() => {
              cpu0 = process.cpuUsage();
              cpuAt = performance.now();
            }, warmupMs);
          },
          onIteration: (e) => {
            if (e.startAbs < from || e.failedKind) return;
            n++;
            last = Math.max(last, e.startAbs + e.durationMs);
          },
        });
        clearTimeout(warm);
        const cpu = cpu0 ? process.cpuUsage(cpu0) : { user: 0, system: 0 };
        const cpuCores = (cpu.user + cpu.system) / 1000 / Math.max(1, performance.now() - cpuAt);
        steps.push({ vus, tps: (n * 1000) / Math.max(1, last - from), cpuCores, load: loadavg()[0] });
        console.log(`${String(vus).padStart(4)} VUs: ${steps.at(-1)!.tps.toFixed(0)} tps, runner CPU ${cpuCores.toFixed(2)} of ${cpuSet} CPUs, load average ${loadavg()[0].toFixed(2)}`);
      } finally {
        await session.close();
      }
    }
    const sustained = steps.filter((x) => x.cpuCores < 0.8 * cpuSet).map((x) => x.vus);
    const best = steps.reduce((a, b) => (b.tps > a.tps ? b : a));
    console.log(
      `the runner's own CPU stays below 80 % of ${cpuSet} CPUs up to ${Math.max(0, ...sustained)} VUs; TPS peaks at ${best.vus} VUs (${best.tps.toFixed(0)} tps)` +
        (sustained.length === steps.length ? ': the database, not the runner, is the limit on this host' : ''),
    );
    result.vuSteps = { workload, cpuSet, steps, sustainedVus: Math.max(0, ...sustained) };
  }
  if (values.json) writeFileSync(values.json, JSON.stringify(result));
} finally {
  await server.release();
}
