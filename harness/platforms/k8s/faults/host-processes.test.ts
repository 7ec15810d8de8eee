// The host's process list as the two-postmaster detector reads it: from a /proc tree (a fixture here,
// the real one in the second test), in the `pid ppid args` form postmastersOn parses.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, test } from 'vitest';
import { hostProcesses, postmastersOn } from './postmasters.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function fakeProc(procs: { pid: number; comm: string; ppid: number; argv: string[]; pod?: string }[]): string {
  const root = mkdtempSync(join(tmpdir(), 'statebench-proc-'));
  dirs.push(root);
  for (const p of procs) {
    mkdirSync(join(root, String(p.pid)));
    writeFileSync(join(root, String(p.pid), 'stat'), `${p.pid} (${p.comm}) S ${p.ppid} ${p.pid} ${p.pid} 0 -1 4194560\n`);
    writeFileSync(join(root, String(p.pid), 'cmdline'), p.argv.map((a) => `${a}\0`).join(''));
    const slice = p.pod ? `/kubelet-kubepods-besteffort-pod${p.pod.replace(/-/g, '_')}.slice/cri-containerd-0a1b.scope` : '';
    writeFileSync(join(root, String(p.pid), 'cgroup'), `6:freezer:/docker/5f3e/kubelet.slice/kubelet-kubepods.slice${slice}\n0::/\n`);
  }
  // Not a process: ignored.
  mkdirSync(join(root, 'sys'));
  return root;
}

const OLD = '5dbe81ff-0c3a-4b9e-9f4e-1d2c3b4a5f60';
const NEW = '12aedf93-f50b-4bc9-bd3c-248937fe862d';
const OTHER = '883d36ab-77aa-4f0e-8a51-0b1c2d3e4f50';

describe('hostProcesses', () => {
  test('two postmasters on one data directory in different nodes (PID namespaces) are both seen from the host', () => {
    const pgdata = '/var/lib/statebench/sb-x/pgdata';
    const root = fakeProc([
      // The frozen node's old server and its child, and the replacement on another node.
      { pid: 4100, comm: 'postgres', ppid: 4090, argv: ['/usr/lib/postgresql/17/bin/postgres', '-D', pgdata], pod: OLD },
      { pid: 4105, comm: 'postgres', ppid: 4100, argv: ['postgres: checkpointer '], pod: OLD },
      { pid: 7300, comm: 'postgres', ppid: 7290, argv: ['/usr/lib/postgresql/17/bin/postgres', '-D', pgdata, '--config-file=/x'], pod: NEW },
      // Another member of the same target: the same path inside its own container, on its own volume.
      { pid: 5200, comm: 'postgres', ppid: 5190, argv: ['/usr/lib/postgresql/17/bin/postgres', '-D', pgdata], pod: OTHER },
      // A comm with a space and a parenthesis does not shift the parent's pid.
      { pid: 55, comm: 'a) b', ppid: 1, argv: ['/bin/sleep', '60'] },
      // Kernel threads have no arguments.
      { pid: 2, comm: 'kthreadd', ppid: 0, argv: [] },
    ]);
    const list = hostProcesses(root);
    expect(list.split('\n')).toContain('55 1 /bin/sleep 60');
    expect(list).not.toMatch(/^2 /m);
    expect(postmastersOn(list, pgdata)).toEqual([4100, 5200, 7300]);
    expect(postmastersOn(list, '/elsewhere')).toEqual([]);
    // Only the member's old pod and its replacement count.
    expect(postmastersOn(hostProcesses(root, [OLD, NEW]), pgdata)).toEqual([4100, 7300]);
    expect(postmastersOn(hostProcesses(root, [NEW]), pgdata)).toEqual([7300]);
  });

  test('the real /proc lists a process this test started, with its parent', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      await new Promise((r) => child.once('spawn', r));
      expect(hostProcesses().split('\n')).toContain(`${child.pid} ${process.pid} sleep 30`);
    } finally {
      child.kill();
    }
  });
});
