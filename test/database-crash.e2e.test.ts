// A database that crashes or PANICs during the measured phase of a run without faults: the run must
// not report `completed` with exit 0 (it did: a PostgreSQL whose data directory another run removed
// PANICked and the run still completed). Real runs through the CLI; the crash is made from outside.
import { describe, it, expect } from 'vitest';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { startCli, tempDir, until, lines } from './cli.ts';

const PROFILE = `
name: crash
targets:
  - platform: baremetal
io: { enabled: false }
workloads:
  - kind: oltp-tpcb
    clients: 2
    warmup: 1s
    duration: 8s
`;

function find(dir: string, name: string, depth = 0): string | undefined {
  if (depth > 6) return undefined;
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return undefined;
  }
  for (const e of entries) {
    const p = join(dir, e);
    if (e === name) return p;
    try {
      if (statSync(p).isDirectory()) {
        const f = find(p, name, depth + 1);
        if (f) return f;
      }
    } catch {
      /* gone */
    }
  }
  return undefined;
}

async function runUntilMeasuring() {
  const dir = tempDir();
  const home = tempDir();
  writeFileSync(join(dir, 'p.yaml'), PROFILE);
  const out = join(dir, 'out');
  const run = startCli(['run', join(dir, 'p.yaml'), '--out', out], { STATEBENCH_HOME: home });
  await until(() => lines(join(out, 'events.jsonl')).some((l) => l.includes('"measure-start"')), 120_000, 'the measured phase');
  const pidFile = await until(() => find(join(home, 'runs'), 'postmaster.pid'), 10_000, 'postmaster.pid');
  const [pid, dataDir, , port] = readFileSync(pidFile, 'utf8').split('\n');
  return { run, out, pid: Number(pid), dataDir, port: Number(port) };
}

describe('a database that crashes during the measured phase', () => {
  it('killed from outside: the run fails (exit 4), not completed', async () => {
    const { run, out, pid } = await runUntilMeasuring();
    process.kill(pid, 'SIGKILL');
    const r = await run.result;
    expect(r.code, r.stderr).toBe(4);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary.status).toBe('failed');
    expect(summary.targets[0].error).toMatch(/the database crashed during the run.*node-0 exited on its own/);
  }, 180_000);

  it('PANIC (its control file removed, then a checkpoint): the run fails, naming the PANIC', async () => {
    const { run, out, dataDir, port } = await runUntilMeasuring();
    rmSync(join(dataDir, 'global', 'pg_control'));
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
    c.on('error', () => {}); // the server PANICs under this connection
    await c.connect().catch(() => {});
    await c.query('CHECKPOINT').catch(() => {});
    await c.end().catch(() => {});
    const r = await run.result;
    expect(r.code, r.stderr).toBe(4);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary.status).toBe('failed');
    expect(summary.targets[0].error).toMatch(/PANIC:/);
  }, 180_000);
});
