// Measures statebench's OLTP driver against pgbench on the same server, same scale, same clients, in
// one run. The like-for-like peer is pgbench running the same five TPC-B statements prepared and
// pipelined in one round trip (`-M prepared`, `\startpipeline … \endpipeline`), as the driver sends
// them; plain `pgbench -M prepared` (seven round trips) is measured beside it.
//
//   npx tsx bench/oltp-driver.ts [--clients 8] [--scale 8] [--seconds 12] [--rounds 3] [--json FILE]
//
// Targets: ≥ 0.9× of pipelined pgbench, ≥ 1.0× of pgbench -M prepared. Rounds alternate the order of
// the three measurements so drift (page cache, checkpoints, other work on the host) hits all alike;
// medians are compared. The load average is printed beside every figure.
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { startScratchPostgres, median } from '../harness/testing/scratch-postgres.ts';
import { RunClock } from '../harness/core/clock.ts';
import { run } from '../harness/core/exec.ts';
import { OltpTpcb } from '../harness/workload/oltp-tpcb.ts';
import { hasTool } from '../harness/core/tools.ts';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '8' },
    scale: { type: 'string', default: '8' },
    seconds: { type: 'string', default: '12' },
    rounds: { type: 'string', default: '3' },
    json: { type: 'string' },
  },
});
const clients = Number(values.clients);
const scale = Number(values.scale);
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);

if (!hasTool('pgbench')) {
  console.error('pgbench not found: apt-get install postgresql-contrib (Debian) to run this benchmark');
  process.exit(3);
}

/** pgbench's built-in tpcb-like script, prepared and pipelined: the driver's protocol. */
const PIPELINED_SCRIPT = `\\set aid random(1, 100000 * :scale)
\\set bid random(1, 1 * :scale)
\\set tid random(1, 10 * :scale)
\\set delta random(-5000, 5000)
\\startpipeline
BEGIN;
UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
UPDATE pgbench_tellers SET tbalance = tbalance + :delta WHERE tid = :tid;
UPDATE pgbench_branches SET bbalance = bbalance + :delta WHERE bid = :bid;
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (:tid, :bid, :aid, :delta, CURRENT_TIMESTAMP);
END;
\\endpipeline
`;

const load = () => loadavg()[0];

const server = await startScratchPostgres('statebench-bench-');
try {
  const { engine, dir } = server;
  const conn = engine.clientConn();
  const clock = new RunClock();
  const rt = { clock, signal: new AbortController().signal, sample() {}, event() {}, status() {} };
  const spec = { kind: 'oltp-tpcb' as const, scale, clients, duration: seconds * 1000, warmup: 1000, statementTimeout: 10_000 };
  const workload = new OltpTpcb('bench', spec);
  await workload.load(conn, rt);
  const script = join(dir, 'tpcb-pipelined.sql');
  writeFileSync(script, PIPELINED_SCRIPT);
  console.log(`${await engine.version()}, scale ${scale}, ${clients} clients, ${seconds}s per measurement, ${rounds} round(s), ${cpus().length} CPUs`);

  const pgbench = async (extra: string[]) => {
    const args = ['-h', conn.host, '-p', String(conn.port), '-U', conn.user, '-n', '-M', 'prepared', '-c', String(clients), '-j', String(Math.min(clients, cpus().length)), '-T', String(seconds), ...extra, conn.database];
    const out = (await run('pgbench', args, { timeoutMs: seconds * 1000 + 60_000 })).stdout;
    const m = /tps = ([\d.]+) \((?:without initial connection time|excluding connections establishing)\)/.exec(out);
    if (!m) throw new Error(`cannot read pgbench output:\n${out}`);
    return Number(m[1]);
  };

  type Peer = 'pipelined' | 'prepared' | 'statebench';
  const figures: Record<Peer, number[]> = { pipelined: [], prepared: [], statebench: [] };
  const loads: number[] = [];
  const measure: Record<Peer, () => Promise<string>> = {
    pipelined: async () => {
      const tps = await pgbench(['-D', `scale=${scale}`, '-f', script]);
      figures.pipelined.push(tps);
      return `pgbench pipelined ${tps.toFixed(0)} tps`;
    },
    prepared: async () => {
      const tps = await pgbench([]);
      figures.prepared.push(tps);
      return `pgbench -M prepared ${tps.toFixed(0)} tps`;
    },
    statebench: async () => {
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const s = await workload.run(() => conn, rt);
      const cpu = process.cpuUsage(cpu0);
      const cpuShare = (cpu.user + cpu.system) / 1000 / (performance.now() - t0);
      figures.statebench.push(s.tps);
      return `statebench ${s.tps.toFixed(0)} tps (p99 ${s.latencyMs.p99} ms, driver CPU ${(cpuShare * 100).toFixed(0)}% of a core)`;
    },
  };
  const order: Peer[] = ['pipelined', 'statebench', 'prepared'];
  for (let r = 0; r < rounds; r++) {
    for (const peer of r % 2 === 0 ? order : [...order].reverse()) {
      const line = await measure[peer]();
      loads.push(load());
      console.log(`round ${r + 1}: ${line}, load average ${load().toFixed(2)}`);
    }
  }
  const ours = median(figures.statebench);
  const vsPipelined = ours / median(figures.pipelined);
  const vsPrepared = ours / median(figures.prepared);
  const loadRange = `${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}`;
  console.log(`statebench / pgbench pipelined  = ${vsPipelined.toFixed(3)} (median ${ours.toFixed(0)} / ${median(figures.pipelined).toFixed(0)} tps; target >= 0.9)`);
  console.log(`statebench / pgbench -M prepared = ${vsPrepared.toFixed(3)} (median ${ours.toFixed(0)} / ${median(figures.prepared).toFixed(0)} tps; target >= 1.0)`);
  console.log(`load average during the run: ${loadRange}`);
  if (values.json) {
    writeFileSync(
      values.json,
      JSON.stringify({
        bench: 'oltp-driver',
        ratios: [
          { name: 'OLTP vs pgbench pipelined', ratio: vsPipelined, ours, peer: median(figures.pipelined), unit: 'tps', target: 0.9 },
          { name: 'OLTP vs pgbench -M prepared', ratio: vsPrepared, ours, peer: median(figures.prepared), unit: 'tps', target: 1.0 },
        ],
        loadAverage: loadRange,
        figures,
      }),
    );
  }
} finally {
  await server.release();
}
