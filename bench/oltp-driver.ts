// Measures statebench's OLTP driver against pgbench on the same server, same scale, same clients, in
// one run, and prints the ratio statebench TPS / pgbench -M prepared TPS (target ≥ 0.9).
//
//   npx tsx bench/oltp-driver.ts [--clients 8] [--scale 1] [--seconds 15] [--rounds 2]
//
// Rounds alternate pgbench and statebench so drift (page cache, checkpoints) hits both alike.
import { parseArgs } from 'node:util';
import { startScratchPostgres, median } from '../harness/testing/scratch-postgres.ts';
import { RunClock } from '../harness/core/clock.ts';
import { run } from '../harness/core/exec.ts';
import { OltpTpcb } from '../harness/workload/oltp-tpcb.ts';
import { hasTool } from '../harness/core/tools.ts';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '8' },
    scale: { type: 'string', default: '1' },
    seconds: { type: 'string', default: '15' },
    rounds: { type: 'string', default: '2' },
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


const server = await startScratchPostgres('statebench-bench-');
try {
  const { engine } = server;
  const conn = engine.clientConn();
  const clock = new RunClock();
  const rt = { clock, signal: new AbortController().signal, sample() {}, event() {}, status() {} };
  const spec = { kind: 'oltp-tpcb' as const, scale, clients, duration: seconds * 1000, warmup: 1000, statementTimeout: 10_000 };
  const workload = new OltpTpcb('bench', spec);
  await workload.load(conn, rt);
  console.log(`${await engine.version()}, scale ${scale}, ${clients} clients, ${seconds}s per measurement, ${rounds} round(s)`);

  const pgbench = async (mode: string) => {
    const args = ['-h', conn.host, '-p', String(conn.port), '-U', conn.user, '-n', '-M', mode, '-c', String(clients), '-j', String(Math.min(clients, 2)), '-T', String(seconds), conn.database];
    const out = (await run('pgbench', args, { timeoutMs: seconds * 1000 + 60_000 })).stdout;
    const m = /tps = ([\d.]+) \((?:without initial connection time|excluding connections establishing)\)/.exec(out);
    if (!m) throw new Error(`cannot read pgbench output:\n${out}`);
    return Number(m[1]);
  };

  const prepared: number[] = [];
  const simple: number[] = [];
  const ours: number[] = [];
  for (let r = 0; r < rounds; r++) {
    prepared.push(await pgbench('prepared'));
    const s = await workload.run(() => conn, rt);
    ours.push(s.tps);
    simple.push(await pgbench('simple'));
    console.log(`round ${r + 1}: pgbench -M prepared ${prepared.at(-1)!.toFixed(0)} tps, statebench ${ours.at(-1)!.toFixed(0)} tps (p99 ${s.latencyMs.p99} ms), pgbench -M simple ${simple.at(-1)!.toFixed(0)} tps`);
  }
  const ratio = median(ours) / median(prepared);
  console.log(`statebench TPS / pgbench -M prepared TPS = ${ratio.toFixed(3)} (median ${median(ours).toFixed(0)} / ${median(prepared).toFixed(0)}; target >= 0.9)`);
  console.log(`statebench TPS / pgbench -M simple TPS   = ${(median(ours) / median(simple)).toFixed(3)}`);
} finally {
  await server.release();
}
