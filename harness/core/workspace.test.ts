// The workspace is per user and refused when someone else could have prepared it.
import { describe, expect, it, afterEach } from 'vitest';
import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { ensureHome, statebenchHome } from './workspace.ts';
import { StatebenchError, EXIT } from '../errors.ts';

const isRoot = process.getuid?.() === 0;
const dirs: string[] = [];
const scratch = () => {
  const d = mkdtempSync(join(tmpdir(), 'statebench-ws-test-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function refusal(home: string): StatebenchError {
  try {
    ensureHome(home);
  } catch (e) {
    expect(e).toBeInstanceOf(StatebenchError);
    expect((e as StatebenchError).exitCode).toBe(EXIT.environment);
    return e as StatebenchError;
  }
  throw new Error(`${home} was accepted`);
}

describe('workspace', () => {
  it('defaults to a per-user directory, created private', () => {
    const saved = process.env.STATEBENCH_HOME;
    delete process.env.STATEBENCH_HOME;
    try {
      expect(statebenchHome()).toBe(join(tmpdir(), `statebench-${process.getuid!()}`));
    } finally {
      if (saved !== undefined) process.env.STATEBENCH_HOME = saved;
    }
    const home = join(scratch(), 'home');
    ensureHome(home);
    const mode = lstatSync(home).mode & 0o777;
    expect(mode).toBe(isRoot ? 0o711 : 0o700);
    expect(lstatSync(join(home, 'runs')).isDirectory()).toBe(true);
  });

  it('a symlink in place of the workspace is refused', () => {
    const d = scratch();
    mkdirSync(join(d, 'elsewhere'), { mode: 0o700 });
    symlinkSync(join(d, 'elsewhere'), join(d, 'home'));
    expect(refusal(join(d, 'home')).message).toMatch(/is a symbolic link; refusing to use it/);
  });

  it('a workspace others can write is refused', () => {
    const home = join(scratch(), 'home');
    mkdirSync(home);
    chmodSync(home, 0o777);
    expect(refusal(home).message).toMatch(/writable by other users \(mode 777\)/);
  });

  it('a workspace owned by another user is refused (root: chowned to nobody)', (ctx) => {
    if (!isRoot) {
      if (process.env.CI === 'true') throw new Error('needs root to create a directory owned by another user');
      console.log('skipped: needs root to create a directory owned by another user');
      return ctx.skip();
    }
    const home = join(scratch(), 'home');
    mkdirSync(home, { mode: 0o700 });
    chownSync(home, 65534, 65534);
    expect(refusal(home).message).toMatch(/is owned by uid 65534, not by you \(uid 0\)/);
  });

  it("an ordinary user's first run after root's: its own workspace, no EACCES", (ctx) => {
    if (!isRoot) {
      if (process.env.CI === 'true') throw new Error('needs root to run as another user');
      console.log('skipped: needs root to run as another user');
      return ctx.skip();
    }
    const base = scratch();
    chmodSync(base, 0o1777); // like /tmp
    ensureHome(join(base, 'statebench-0'));
    // As nobody, with TMPDIR=base: the default workspace is base/statebench-65534, not root's.
    const out = execFileSync('runuser', ['-u', 'nobody', '--', process.execPath, '--import', 'tsx', '-e', "import('./harness/core/workspace.ts').then((m) => console.log(m.ensureHome()))"], {
      env: { PATH: process.env.PATH, TMPDIR: base },
      cwd: new URL('../..', import.meta.url).pathname,
      encoding: 'utf8',
    });
    expect(out.trim()).toBe(join(base, 'statebench-65534'));
    expect(lstatSync(join(base, 'statebench-65534')).uid).toBe(65534);
  });
});
