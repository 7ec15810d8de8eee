// A run on a remote volume killed with SIGKILL leaves a mount, a loop device, nbdfuse and PostgreSQL
// behind; `statebench clean` finds them by run id and releases them in order.
import { describe, it, expect } from 'vitest';
import { writeFileSync, readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { startCli, cli, tempDir, until, processesMentioning, lines } from './cli.ts';
import { missing } from '../harness/testing/requirements.ts';

const skip = missing({ tools: ['nbdkit', 'nbdfuse', 'losetup', 'mkfs.ext4'], root: true, why: 'clean of remote volumes needs root, nbdkit and nbdfuse' });

const mounted = (dir: string) => readFileSync('/proc/self/mountinfo', 'utf8').includes(dir);
const looped = (dir: string) => execFileSync('losetup', ['-a'], { encoding: 'utf8' }).includes(dir);

describe.skipIf(skip)('statebench clean after SIGKILL', () => {
  it('removes the mount, the loop device and the processes of a remote volume', async () => {
    const dir = tempDir();
    // A short home keeps nbdkit's socket path under the 107-byte limit, as in a default run.
    const home = tempDir('sb-');
    writeFileSync(
      join(dir, 'p.yaml'),
      `name: killed
targets:
  - platform: baremetal
    storage: { kind: remote, latencyMs: 1, size: 256MiB }
io: { enabled: false }
workloads: [{ kind: oltp-tpcb, clients: 2, warmup: 0s, duration: 60s }]
`,
    );
    const out = join(dir, 'out');
    const { child, result } = startCli(['run', join(dir, 'p.yaml'), '--out', out], { STATEBENCH_HOME: home });
    await until(() => lines(join(out, 'samples.jsonl')).some((l) => l.includes('"workload"')), 90_000, 'a workload sample');
    child.kill('SIGKILL');
    await result;
    const [runId] = readdirSync(join(home, 'runs'));
    const ws = join(home, 'runs', runId);
    expect(mounted(ws)).toBe(true);
    expect(looped(ws)).toBe(true);
    expect(processesMentioning(ws).length).toBeGreaterThan(0);

    const r = await cli(['clean', '--run', runId], { STATEBENCH_HOME: home });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/mount/);
    expect(mounted(home)).toBe(false);
    expect(looped(home)).toBe(false);
    expect(processesMentioning(home)).toEqual([]);
    expect(readdirSync(join(home, 'runs'))).toEqual([]);
  });
});
