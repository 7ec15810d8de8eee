// `timeout … npx statebench run …`: the SIGTERM reaches npx (npm), which exits without passing it on.
// statebench must notice that its launcher died and stop as on SIGTERM: clean up, keep what it
// measured, exit — instead of running the whole benchmark on its own.
import { describe, it, expect } from 'vitest';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, tempDir, until, lines, processesMentioning } from './cli.ts';
import { launcherChain, isLauncher } from '../harness/run/launcher-watch.ts';

const PROFILE = `
name: npx-signal
targets:
  - platform: baremetal
io: { enabled: false }
workloads:
  - kind: oltp-tpcb
    clients: 2
    warmup: 1s
    duration: 60s
`;

describe('signals under npx', () => {
  it('recognizes npm/npx and the sh -c they start, not an ordinary shell', () => {
    expect(isLauncher(['npm exec statebench run p.yaml'])).toBe(true);
    expect(isLauncher(['/usr/bin/node', '/usr/lib/node_modules/npm/bin/npx-cli.js', 'statebench'])).toBe(true);
    expect(isLauncher(['sh', '-c', "'statebench' run p.yaml"])).toBe(true);
    expect(isLauncher(['bash'])).toBe(false);
    expect(isLauncher(['sh', '-c', 'make test'])).toBe(false);
    // This test process was not started by npx through a `sh -c statebench`: nothing to watch.
    expect(launcherChain()).toEqual([]);
  });

  it('SIGTERM to npx: statebench stops within seconds, cleans up, and leaves an interrupted summary', async () => {
    const dir = tempDir();
    const home = tempDir();
    writeFileSync(join(dir, 'p.yaml'), PROFILE);
    const out = join(dir, 'out');
    // npx from the checkout, as the README's first command does.
    const npx = spawn('npx', ['--no-install', 'statebench', 'run', join(dir, 'p.yaml'), '--out', out], {
      cwd: ROOT,
      env: { ...process.env, STATEBENCH_HOME: home },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    npx.stdout!.resume();
    npx.stderr!.resume();
    try {
      await until(() => lines(join(out, 'events.jsonl')).some((l) => l.includes('"measure-start"')), 180_000, 'the measured phase');
      const t0 = Date.now();
      npx.kill('SIGTERM');
      // statebench (and the PostgreSQL it started under the run's workspace) must be gone well
      // before the 60 s workload would have ended.
      await until(() => processesMentioning(home).length === 0 && processesMentioning(out).length === 0, 45_000, 'statebench and its database to exit');
      const stoppedAfter = Date.now() - t0;
      expect(stoppedAfter).toBeLessThan(45_000);
      const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
      expect(summary.status).toBe('interrupted');
      expect(lines(join(out, 'events.jsonl')).some((l) => l.includes('"run-end"'))).toBe(true);
      // Cleaned up: the run's workspace was removed.
      expect(existsSync(join(home, 'runs')) ? readdirSync(join(home, 'runs')) : []).toEqual([]);
    } finally {
      if (npx.exitCode === null) npx.kill('SIGKILL');
    }
  }, 300_000);
});
