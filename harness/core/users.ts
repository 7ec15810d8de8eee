// PostgreSQL refuses to run as root. When statebench itself runs as root (CI, storage tests that
// mount filesystems), database processes run as an unprivileged user instead.
import { readFileSync } from 'node:fs';
import { run, type RunAs } from './exec.ts';

const DB_USER = 'postgres';

function lookup(name: string): RunAs | undefined {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const [user, , uid, gid] = line.split(':');
    if (user === name) return { name, uid: Number(uid), gid: Number(gid) };
  }
  return undefined;
}

/** The user database processes run as, or undefined to run them as ourselves (not root). */
export async function databaseUser(): Promise<RunAs | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const found = lookup(DB_USER);
  if (found) return found;
  await run('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', DB_USER]);
  return lookup(DB_USER);
}
