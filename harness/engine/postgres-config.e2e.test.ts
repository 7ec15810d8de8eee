// postgresql.conf as PostgreSQL itself reads it: values with quotes and backslashes come back
// unchanged (read with `postgres -C`, which parses the configuration without starting a server), and
// a value that would end the line early is refused.
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderConf } from './postgres-config.ts';
import { resolveBinDir } from '../platforms/baremetal/platform.ts';
import { databaseUser } from '../core/users.ts';

const execFileP = promisify(execFile);
let dir: string;
let bin: string;

beforeAll(async () => {
  bin = await resolveBinDir();
  dir = mkdtempSync(join(tmpdir(), 'statebench-conf-'));
  chmodSync(dir, 0o755);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The value PostgreSQL reads for `name` from a postgresql.conf holding `settings`. */
async function readBack(settings: Record<string, string>, name: string): Promise<string> {
  const data = join(dir, 'data');
  mkdirSync(data, { recursive: true, mode: 0o700 });
  for (const f of ['hba', 'ident']) writeFileSync(join(dir, f), '');
  const conf = join(dir, 'postgresql.conf');
  writeFileSync(conf, renderConf({ data_directory: data, hba_file: join(dir, 'hba'), ident_file: join(dir, 'ident'), ...settings }));
  const user = await databaseUser();
  if (user) chownSync(data, user.uid, user.gid);
  for (const f of ['hba', 'ident', 'postgresql.conf']) chmodSync(join(dir, f), 0o644);
  // PostgreSQL refuses to run as root: as root, read the file as the database user.
  const [cmd, args] = user
    ? ['runuser', ['-u', user.name, '--', join(bin, 'postgres'), `--config-file=${conf}`, '-C', name]]
    : [join(bin, 'postgres'), [`--config-file=${conf}`, '-C', name]];
  const { stdout } = await execFileP(cmd, args as string[]);
  return stdout.replace(/\n$/, '');
}

describe('postgresql.conf quoting', () => {
  for (const value of [String.raw`a\b`, "it's", String.raw`ends with \\`, String.raw`\'; fsync = off #`, String.raw`C:\new\table`]) {
    it(`reads back ${JSON.stringify(value)} unchanged`, async () => {
      expect(await readBack({ 'statebench.note': value }, 'statebench.note')).toBe(value);
    });
  }

  it('a backslash-quote cannot end the value and add a setting', async () => {
    expect(await readBack({ 'statebench.note': String.raw`x\' , fsync = off , y = '` }, 'fsync')).toBe('on');
  });

  it('a value with a newline (which would start a new line of its own choosing) is refused', () => {
    expect(() => renderConf({ application_name: "x'\nfsync = off\n#" })).toThrow(/control character/);
  });
});
