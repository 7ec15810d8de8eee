// Loads a k6 script for the built-in runner. Every problem is reported before anything runs:
//  - a syntax error names file, line and column (esbuild parses each file);
//  - an import of anything but k6, k6/metrics, k6/x/sql and k6/x/sql/driver/postgres, or of a name
//    those modules do not export, names the import and where it is;
//  - local modules (`./lib/common.js`) are followed, as k6 does.
// The script is not bundled or transformed: each file is copied with only its import specifiers
// rewritten (to the statebench module implementations and to the copies of local modules), so line
// and column numbers in runtime errors are the script's own.
import { mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { transform } from 'esbuild';
import { init as lexerInit, parse as lexerParse } from 'es-module-lexer';
import { MODULES } from './runtime/modules.mjs';
import { StatebenchError, EXIT } from '../../errors.ts';

/** A problem with a k6 script: where it is, when known. A usage error unless it happened at run time. */
export class K6ScriptError extends StatebenchError {
  constructor(
    message: string,
    readonly file?: string,
    readonly line?: number,
    readonly column?: number,
    exitCode: number = EXIT.usage,
    hint?: string,
  ) {
    super(message, exitCode, hint);
  }
}

/** An import or call the built-in runner does not provide. */
export class K6UnsupportedError extends K6ScriptError {
  constructor(message: string, file?: string, line?: number, column?: number) {
    super(message, file, line, column, EXIT.usage, 'Use runner: k6 with a k6 built with xk6-sql, or change the script to what the built-in runner provides (workloads/k6/README.md)');
  }
}

export interface LoadedScript {
  /** file: URL of the rewritten entry module. */
  entryUrl: string;
  /** Original absolute path of the script. */
  path: string;
  /** Rewritten file URL → original path, to put the script's own paths into error messages. */
  pathMap: [string, string][];
  dir: string;
  dispose(): void;
}

const RUNTIME_DIR = fileURLToPath(new URL('./runtime/', import.meta.url));
const MAX_FILES = 200;
const SUPPORTED = Object.keys(MODULES).join(', ');

function lineCol(src: string, offset: number): { line: number; column: number } {
  let line = 1;
  let last = -1;
  for (let i = 0; i < offset && i < src.length; i++) {
    if (src.charCodeAt(i) === 10) {
      line++;
      last = i;
    }
  }
  return { line, column: offset - last };
}

/** Names a static import takes from its module: `import a, { b as c, "d" as e } from 'x'` → default, b, d. */
export function importedNames(statement: string): string[] | '*' {
  const text = statement.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\/\/[^\n]*/g, ' ');
  const m = /^\s*(import|export)\s*([\s\S]*?)\s*from\s*['"]/.exec(text);
  if (!m) return []; // `import 'x'`: evaluated for effects only
  const clause = m[2].trim();
  if (m[1] === 'export') {
    if (clause.startsWith('*')) return '*';
    const inner = /\{([\s\S]*)\}/.exec(clause)?.[1] ?? '';
    return inner
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean)
      .map((p) => p.split(/\s+as\s+/)[0].replace(/^['"]|['"]$/g, ''));
  }
  const names: string[] = [];
  const braces = /\{([\s\S]*)\}/.exec(clause);
  const outside = braces ? clause.replace(braces[0], '') : clause;
  for (const part of outside.split(',').map((p) => p.trim()).filter(Boolean)) {
    if (part.startsWith('*')) return '*';
    names.push('default');
  }
  if (braces) {
    for (const p of braces[1].split(',').map((x) => x.trim()).filter(Boolean)) {
      names.push(p.split(/\s+as\s+/)[0].replace(/^['"]|['"]$/g, ''));
    }
  }
  return names;
}

/** esbuild quotes the token it stopped at; punctuation says what was expected, a longer token may be a secret. */
function withoutTokens(text: string): string {
  return text.replace(/"([^"]*)"/g, (m, t: string) => (t.length <= 3 ? m : '"…"'));
}

/** Throws a K6ScriptError with file, line and column when `src` is not valid JavaScript. */
export async function syntaxCheck(path: string, src: string): Promise<void> {
  try {
    await transform(src, { loader: 'js', format: 'esm', target: 'esnext', sourcefile: path, logLevel: 'silent' });
  } catch (e) {
    const err = (e as { errors?: { text: string; location?: { line: number; column: number; lineText: string } | null }[] }).errors?.[0];
    if (!err) throw e;
    const loc = err.location;
    if (loc) {
      // File, line and column only: the file may not be a script at all (a .env named by mistake), and
      // this message reaches reports, so its text is never quoted.
      throw new K6ScriptError(`${path}:${loc.line}:${loc.column + 1}: syntax error: ${withoutTokens(err.text)}`, path, loc.line, loc.column + 1);
    }
    throw new K6ScriptError(`${path}: syntax error: ${err.text}`, path);
  }
}

/** Checks, rewrites and copies `scriptPath` and the local modules it imports into a temporary directory. */
export async function loadScript(scriptPath: string): Promise<LoadedScript> {
  const path = resolve(scriptPath);
  if (!existsSync(path) || !statSync(path).isFile()) throw new K6ScriptError(`k6 script ${scriptPath} not found`, scriptPath);
  await lexerInit;
  const dir = mkdtempSync(join(tmpdir(), 'statebench-k6-'));
  const done = new Map<string, string>(); // original path → rewritten file URL
  const pathMap: [string, string][] = [];
  let counter = 0;

  const visit = async (file: string, importer?: { file: string; line: number }): Promise<string> => {
    const seen = done.get(file);
    if (seen) return seen;
    if (done.size >= MAX_FILES) throw new K6ScriptError(`${path}: more than ${MAX_FILES} local modules`, path);
    if (!existsSync(file) || !statSync(file).isFile()) {
      throw new K6ScriptError(`${importer ? `${importer.file}:${importer.line}: ` : ''}cannot find module ${file}`, importer?.file, importer?.line);
    }
    const out = join(dir, `${counter++}-${basename(file).replace(/\.[cm]?js$/, '')}.mjs`);
    const url = pathToFileURL(out).href;
    done.set(file, url);
    pathMap.push([url, file]);

    const src = readFileSync(file, 'utf8');
    await syntaxCheck(file, src);
    let imports: ReturnType<typeof lexerParse>[0];
    try {
      [imports] = lexerParse(src, file);
    } catch (e) {
      const idx = (e as { idx?: number }).idx ?? 0;
      const { line, column } = lineCol(src, idx);
      throw new K6ScriptError(`${file}:${line}:${column}: syntax error: ${(e as Error).message}`, file, line, column);
    }

    const edits: { start: number; end: number; text: string }[] = [];
    for (const imp of imports) {
      const where = lineCol(src, imp.importStart ?? imp.start);
      const at = `${file}:${where.line}:${where.column}`;
      const type = (imp as { type?: string }).type;
      if (type === 'dynamic') {
        throw new K6UnsupportedError(`${at}: dynamic import() is not supported by the built-in runner; use a static import`, file, where.line, where.column);
      }
      const spec = (imp as { specifier?: string }).specifier;
      if (spec === undefined || type === 'import.meta' || type === 'meta') continue;
      const mod = (MODULES as Record<string, { file: string; exports: string[] }>)[spec];
      if (mod) {
        const statement = src.slice(imp.importStart, imp.importEnd);
        const names = importedNames(statement);
        if (names !== '*') {
          for (const n of names) {
            if (!mod.exports.includes(n)) {
              const label = n === 'default' ? `the default export of '${spec}'` : `'${n}' from '${spec}'`;
              throw new K6UnsupportedError(
                `${at}: import of ${label} is not supported by the built-in runner ('${spec}' provides ${mod.exports.filter((x) => x !== 'default').join(', ')}); run this script with k6`,
                file,
                where.line,
                where.column,
              );
            }
          }
        }
        edits.push({ start: imp.start, end: imp.end, text: pathToFileURL(join(RUNTIME_DIR, mod.file)).href });
        continue;
      }
      if (spec.startsWith('./') || spec.startsWith('../../') || spec.startsWith('/') || spec.startsWith('file:')) {
        const target = spec.startsWith('file:') ? fileURLToPath(spec) : resolve(dirname(file), spec);
        const rewritten = await visit(target, { file, line: where.line });
        edits.push({ start: imp.start, end: imp.end, text: rewritten });
        continue;
      }
      throw new K6UnsupportedError(
        `${at}: import of '${spec}' is not supported by the built-in runner (it provides ${SUPPORTED} and local modules); run this script with k6`,
        file,
        where.line,
        where.column,
      );
    }
    let text = src;
    for (const e of edits.sort((a, b) => b.start - a.start)) text = text.slice(0, e.start) + e.text + text.slice(e.end);
    writeFileSync(out, text);
    return url;
  };

  try {
    const entryUrl = await visit(path);
    return { entryUrl, path, pathMap, dir, dispose: () => rmSync(dir, { recursive: true, force: true }) };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

/** Puts the script's own paths back into a message or stack from the rewritten copies. */
export function mapPaths(text: string, pathMap: [string, string][]): string {
  let out = text;
  for (const [url, original] of pathMap) out = out.split(url).join(original).split(fileURLToPath(url)).join(original);
  return out;
}
