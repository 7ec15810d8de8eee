// Secrets in a profile stay out of every file a run writes and out of its output: a `{ fromEnv }`
// value the script prints, a literal under a secret-looking key, a password in a setting and in the
// description. A real run (embedded PostgreSQL, the built-in k6 runner) writes its results; every
// file under the run directory is then searched for each secret.
import { describe, it, expect } from 'vitest';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, tempDir, ROOT } from './cli.ts';

const FROM_ENV = 'fromenv-s3cret-4711';
const LITERAL = 'literal-t0ken-0815';
const SETTING = 'setting-pw-2342';
const DESCRIBED = 'described-pw-1337';

const PROFILE = `
name: secrets
description: "connects with password: ${DESCRIBED}"
targets:
  - platform: baremetal
io: { enabled: false }
engine:
  settings:
    application_name: "statebench password=${SETTING}"
workloads:
  - kind: k6
    script: ${join(ROOT, 'test/fixtures/secrets/print-env.js')}
    allowScriptOutside: true
    vus: 1
    duration: 2s
    env:
      PASSWORD: { fromEnv: STATEBENCH_TEST_SECRET }
      API_TOKEN: ${LITERAL}
`;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

describe('secrets', () => {
  it('no secret appears in any result file or in the output of a run', async () => {
    const dir = tempDir();
    const home = tempDir();
    writeFileSync(join(dir, 'p.yaml'), PROFILE);
    const out = join(dir, 'out');
    const r = await cli(['run', join(dir, 'p.yaml'), '--out', out], { STATEBENCH_HOME: home, STATEBENCH_TEST_SECRET: FROM_ENV });
    expect(r.code, r.stderr).toBe(0);
    const written = files(out);
    for (const f of ['profile.yaml', 'plan.json', 'summary.json', 'report.md', 'report.html', 'junit.xml', 'events.jsonl']) expect(written).toContain(join(out, f));
    // The script did print the secret: the redaction, not silence, keeps it out.
    const events = readFileSync(join(out, 'events.jsonl'), 'utf8');
    expect(events).toContain('connecting with [redacted] and [redacted]');
    const leaks: string[] = [];
    for (const f of written) {
      const text = readFileSync(f, 'latin1');
      for (const s of [FROM_ENV, LITERAL, SETTING, DESCRIBED]) if (text.includes(s)) leaks.push(`${f}: ${s}`);
    }
    for (const s of [FROM_ENV, LITERAL, SETTING, DESCRIBED]) if ((r.stdout + r.stderr).includes(s)) leaks.push(`output: ${s}`);
    expect(leaks).toEqual([]);
    // The reference itself is kept: the copy of the profile says where the value comes from.
    expect(readFileSync(join(out, 'profile.yaml'), 'utf8')).toContain('fromEnv: STATEBENCH_TEST_SECRET');
  }, 180_000);
});
