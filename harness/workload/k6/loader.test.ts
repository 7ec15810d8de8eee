import { describe, expect, it } from 'vitest';
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadScript, importedNames, mapPaths, K6ScriptError, K6UnsupportedError } from './loader.ts';
import { MODULES } from './runtime/modules.mjs';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/scripts/${name}`, import.meta.url));
const shipped = (name: string) => fileURLToPath(new URL(`../../../workloads/k6/${name}`, import.meta.url));

async function loadError(path: string): Promise<K6ScriptError> {
  try {
    const s = await loadScript(path);
    s.dispose();
  } catch (e) {
    return e as K6ScriptError;
  }
  throw new Error(`${path} loaded without error`);
}

describe('importedNames', () => {
  it('reads every form of import clause', () => {
    expect(importedNames(`import sql from 'k6/x/sql'`)).toEqual(['default']);
    expect(importedNames(`import { check, sleep as nap } from "k6"`)).toEqual(['check', 'sleep']);
    expect(importedNames(`import k6, {\n  group, // the group\n  fail\n} from 'k6'`)).toEqual(['default', 'group', 'fail']);
    expect(importedNames(`import * as k6 from 'k6'`)).toBe('*');
    expect(importedNames(`import 'k6'`)).toEqual([]);
    expect(importedNames(`export { Counter as C } from 'k6/metrics'`)).toEqual(['Counter']);
  });
});

describe('loadScript', () => {
  it('names an unsupported module, with file, line and column, before anything runs', async () => {
    const e = await loadError(fixture('unsupported-import.js'));
    expect(e).toBeInstanceOf(K6UnsupportedError);
    expect(e.message).toContain(`${fixture('unsupported-import.js')}:1:1: import of 'k6/http' is not supported by the built-in runner`);
    expect(e.line).toBe(1);
  });

  it('names an unsupported export of a supported module', async () => {
    const e = await loadError(fixture('unsupported-name.js'));
    expect(e).toBeInstanceOf(K6UnsupportedError);
    expect(e.message).toMatch(/unsupported-name\.js:2:1: import of 'Histogram' from 'k6\/metrics' is not supported/);
    expect(e.message).toContain('Counter, Gauge, Rate, Trend');
  });

  it('reports a syntax error with file, line and column', async () => {
    const e = await loadError(fixture('syntax-error.js'));
    expect(e).toBeInstanceOf(K6ScriptError);
    expect(e.message).toMatch(new RegExp(`^${fixture('syntax-error.js').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:7:\\d+: syntax error: Expected "\\)"`));
    expect(e.line).toBe(7);
    // The source line is not quoted: messages reach reports.
    expect(e.message).not.toContain(`db.query('SELECT 1 AS one'`);
  });

  it('a file that is not a script (credentials named .js): file and line, none of its text', async () => {
    const e = await loadError(fixture('not-a-script.js'));
    expect(e).toBeInstanceOf(K6ScriptError);
    expect(e.line).toBe(3);
    expect(e.message).toMatch(/not-a-script\.js:3:\d+: syntax error/);
    expect(e.message).not.toMatch(/s3cr3t|password/);
  });

  it('follows local modules and reports a syntax error in one at its own file and line', async () => {
    const e = await loadError(fixture('lib-syntax-error.js'));
    expect(e.file).toBe(fixture('lib/broken.js'));
    expect(e.line).toBe(4);
  });

  it('rejects dynamic import() and npm packages', async () => {
    expect((await loadError(fixture('dynamic-import.js'))).message).toMatch(/dynamic-import\.js:2:\d+: dynamic import\(\) is not supported/);
    expect((await loadError(fixture('bare-package.js'))).message).toMatch(/import of 'uuid' is not supported/);
  });

  it('copies the script with only import specifiers rewritten, so line numbers stay the script’s own', async () => {
    const path = shipped('oltp-read-write.js');
    const s = await loadScript(path);
    try {
      const copy = readFileSync(fileURLToPath(s.entryUrl), 'utf8');
      const original = readFileSync(path, 'utf8');
      expect(copy.split('\n').length).toBe(original.split('\n').length);
      expect(copy).not.toMatch(/from '\.\/lib\/statebench\.js'/);
      expect(copy).toContain(`from 'file://`);
      // The local module was copied too, its k6 imports rewritten.
      expect(s.pathMap).toHaveLength(2);
      const lib = readFileSync(fileURLToPath(s.pathMap[1][0]), 'utf8');
      expect(lib).not.toMatch(/from 'k6\/x\/sql'/);
      expect(mapPaths(`at default (${s.entryUrl}:41:7)`, s.pathMap)).toBe(`at default (${path}:41:7)`);
    } finally {
      s.dispose();
    }
    expect(existsSync(fileURLToPath(s.entryUrl))).toBe(false);
  });

  it('declares exactly what the module implementations export', async () => {
    for (const [spec, m] of Object.entries(MODULES)) {
      const mod = await import(new URL(`./runtime/${m.file}`, import.meta.url).href);
      expect(Object.keys(mod).sort(), spec).toEqual([...m.exports].sort());
    }
  });
});
