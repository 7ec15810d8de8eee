// The built-in runner's sandbox: a k6 script gets what k6 offers and nothing of the host. Each
// fixture tries one way out and, if it got out, would write a marker file; the test asserts the run
// failed with an error that says why, and that the marker does not exist.
import { describe, expect, it, beforeEach, afterEach } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { K6Session, runBuiltin } from './builtin.ts';
import { K6ScriptError } from './loader.ts';
import { EXIT } from '../../errors.ts';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/sandbox/${name}`, import.meta.url));
const SANDBOX = /sandbox/;

let dir: string;
let marker: string;
const logs: string[] = [];
const log = (l: string) => logs.push(l);

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'statebench-sandbox-'));
  marker = join(dir, 'escaped');
  logs.length = 0;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function failure(name: string): Promise<K6ScriptError> {
  const e = await runBuiltin(fixture(name), { env: { MARKER: marker }, log }).then(
    () => null,
    (x: unknown) => x,
  );
  expect(e, `${name} ran to the end`).toBeInstanceOf(K6ScriptError);
  expect(existsSync(marker), `${name} wrote its marker`).toBe(false);
  return e as K6ScriptError;
}

describe('a k6 script cannot reach the host', () => {
  it('process in the init context: the script is refused with a sandbox error', async () => {
    const e = await failure('process-init.js');
    expect(e.message).toMatch(/process is not defined: k6 scripts run in a sandbox/);
    expect(e.message).toContain(`${fixture('process-init.js')}:2`);
  });

  it('process in an iteration: the run fails (not counted as an iteration error)', async () => {
    const e = await failure('process-iteration.js');
    expect(e.message).toMatch(/process is not defined: k6 scripts run in a sandbox/);
    expect(e.exitCode).toBe(EXIT.runFailed);
  });

  it('require()', async () => {
    const e = await failure('require.js');
    expect(e.message).toMatch(/require\('fs'\) is not supported by the built-in runner/);
  });

  for (const [name, what] of [
    ['global-constructor.js', 'globalThis.constructor.constructor'],
    ['this-constructor.js', 'this.constructor.constructor'],
    ['env-constructor.js', '__ENV (built by the host).constructor.constructor'],
    ['host-function.js', 'a k6 module function.constructor'],
    ['host-object.js', "a database handle's method.constructor.constructor"],
    ['host-error.js', 'an error thrown by a k6 module .constructor.constructor'],
    ['callback-argument.js', "the argument the host passes to check()'s condition"],
    ['setup-data.js', 'setup() data in an iteration'],
    ['eval.js', 'eval()'],
    ['builtin-constructor.js', 'a built-in bound to the module (Math.max.constructor)'],
  ] as const) {
    it(`${what}: code generation from strings is refused`, async () => {
      const e = await failure(name);
      expect(e.message).toMatch(/code generation from strings \(eval, new Function\) is not available in the built-in runner's sandbox/);
      expect(e.message).toMatch(SANDBOX);
    });
  }

  it('CallSite objects of host frames: Error.prepareStackTrace cannot be set', async () => {
    const e = await failure('stack-trace.js');
    expect(e.message).toMatch(/Cannot assign to read only property 'prepareStackTrace'/);
  });

  it("import('node:fs') is refused when the script is loaded", async () => {
    const e = await failure('dynamic-import.js');
    expect(e.message).toMatch(/dynamic-import\.js:3:\d+: dynamic import\(\) is not supported by the built-in runner/);
  });

  it("open() outside the script's directory is refused; /etc/shadow is not read", async () => {
    const e = await failure('open-outside.js');
    expect(e.message).toMatch(/open\(\): \/etc\/shadow is outside the script's directory/);
  });
});

describe('what k6 offers still works in the sandbox', () => {
  it("open() of a file next to the script, as text and as bytes (a threshold on the counted lines passes)", async () => {
    const r = await runBuiltin(fixture('open-inside.js'), { env: {}, log });
    expect(r.thresholdsOk).toBe(true);
    expect(r.metrics.lines_seen?.count).toBe(3 * 1000 + 14);
  });

  it('a script that declares built-in names itself (Math, parseInt) runs as written', async () => {
    const r = await runBuiltin(fixture('builtin-shadowed.js'), { env: {}, log });
    expect(r.metrics.shadowed?.count).toBe(1029);
    expect(r.thresholdsOk).toBe(true);
  });

  it('console output of the script reaches the log as text', async () => {
    const s = await K6Session.open(fixture('open-inside.js'), {}, log);
    await s.close();
    expect(logs).toContain('[vu 0] lines 3 {"bytes":14}');
  });
});
