// The sandbox a k6 script runs in under the built-in runner. A k6 script is code a user copies from a
// colleague, a vendor or a wiki, and statebench often runs as root; real k6 gives a script no access
// to the host, so neither may we. The script's modules are evaluated as vm.SourceTextModules in their
// own context (realm), which has only the JavaScript built-ins and what k6 offers: the k6 modules,
// open() of files under the script's directory, __VU, __ITER, __ENV and console. It has no process,
// require, Buffer or fetch; code generation from strings (eval, new Function) and WebAssembly are
// disabled in it, and dynamic import() is refused.
//
// Host objects never cross into the sandbox. A host object's prototype chain leads to the host
// realm's Function, whose constructor compiles code where `process` exists
// (`x.constructor.constructor('return process')()`), so every value the k6 modules return is copied
// into the sandbox's realm by code that itself runs in the sandbox (the membrane below): data is
// copied, functions and methods are wrapped, errors are re-created. Values the script passes to the
// host are the script's own objects; functions among them are wrapped so that what the host passes
// back to them is copied in as well.
import vm from 'node:vm';
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';

/** Names of Node.js globals a script may reach for; using one fails the run, not just an iteration. */
export const HOST_NAMES = ['process', 'require', 'module', 'exports', 'Buffer', '__dirname', '__filename', 'global', 'fetch', 'setImmediate'];

export class SandboxError extends Error {
  constructor(message) {
    super(message);
    this.name = 'SandboxError';
  }
}

// Runs in the sandbox's realm, before any script code, and captures the built-ins it uses, so a
// script that later replaces Object.keys or JSON.parse cannot change how values cross.
const MEMBRANE = String.raw`(function membrane(hostBridge) {
  'use strict';
  const { keys, getPrototypeOf, getOwnPropertyNames, getOwnPropertyDescriptor, defineProperty, freeze } = Object;
  const toString = Object.prototype.toString;
  const isArray = Array.isArray;
  const ObjectProto = Object.prototype;
  const parse = JSON.parse;
  const stringify = JSON.stringify;
  const apply = Reflect.apply;
  const construct = Reflect.construct;
  const has = Reflect.has;
  const ErrorCtors = { Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError };
  const AsyncFunction = (async function () {}).constructor;
  const fnCache = new WeakMap();
  const MAX_DEPTH = 64;

  // The sandbox must not be able to ask V8 for CallSite objects of host frames.
  defineProperty(Error, 'prepareStackTrace', { value: undefined, writable: false, configurable: false });

  // 'cut': the sandbox function the error surfaces from; frames from there up (the host's) are left out.
  function importError(e, cut) {
    if (e === null || (typeof e !== 'object' && typeof e !== 'function')) return e;
    let name = 'Error';
    let message = '';
    try { name = String(e.name); } catch {}
    try { message = String(e.message); } catch {}
    const Ctor = ErrorCtors[name] || Error;
    const out = new Ctor(message);
    if (!ErrorCtors[name]) defineProperty(out, 'name', { value: name, writable: true, configurable: true, enumerable: false });
    if (cut) Error.captureStackTrace(out, cut);
    try {
      for (const k of keys(e)) {
        const v = e[k];
        if (v === null || typeof v !== 'object' && typeof v !== 'function') out[k] = v;
      }
    } catch {}
    return out;
  }

  function importValue(v, depth) {
    if (v === null || (typeof v !== 'object' && typeof v !== 'function')) return v;
    if ((depth | 0) > MAX_DEPTH) throw new RangeError('value nested too deeply to pass into the script');
    const d = (depth | 0) + 1;
    if (typeof v === 'function') return importFunction(v, undefined);
    const tag = apply(toString, v, []);
    if (tag === '[object Error]') return importError(v);
    if (tag === '[object Date]') return new Date(+v.getTime());
    if (tag === '[object ArrayBuffer]') {
      const out = new ArrayBuffer(v.byteLength);
      new Uint8Array(out).set(new Uint8Array(v));
      return out;
    }
    if (ArrayBuffer.isView(v)) {
      const bytes = new Uint8Array(v.byteLength);
      bytes.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
      return bytes;
    }
    if (isArray(v)) {
      const n = v.length;
      const out = new Array(n);
      for (let i = 0; i < n; i++) out[i] = importValue(v[i], d);
      return out;
    }
    const out = {};
    for (const k of keys(v)) out[k] = importValue(v[k], d);
    // Methods of a host class instance (a metric, a database handle) live on its prototype chain.
    for (let p = getPrototypeOf(v); p !== null && getPrototypeOf(p) !== null; p = getPrototypeOf(p)) {
      for (const k of getOwnPropertyNames(p)) {
        if (k === 'constructor' || k in out) continue;
        const desc = getOwnPropertyDescriptor(p, k);
        if (desc && typeof desc.value === 'function') out[k] = importFunction(desc.value, v);
      }
    }
    // A member the host object does not have is looked up on it, so the k6 modules' "not supported"
    // errors still name the member.
    return new Proxy(out, {
      get(target, prop) {
        if (typeof prop === 'symbol' || has(target, prop) || prop === 'then' || prop === 'toJSON') return target[prop];
        try { return importValue(v[prop], d); } catch (e) { throw importError(e); }
      },
    });
  }

  function importFunction(hostFn, thisArg) {
    if (thisArg === undefined) {
      const cached = fnCache.get(hostFn);
      if (cached) return cached;
    }
    const wrapped = function (...args) {
      const exported = args.map((a) => exportValue(a, 0));
      let r;
      try {
        r = new.target ? construct(hostFn, exported) : apply(hostFn, thisArg, exported);
      } catch (e) {
        throw importError(e, wrapped);
      }
      return importValue(r, 0);
    };
    if (thisArg === undefined) fnCache.set(hostFn, wrapped);
    return wrapped;
  }

  // What the host gets: the script's own values, with functions wrapped so their arguments are
  // copied in. Containers are copied (in this realm) so nested functions (check()'s conditions) are
  // wrapped too.
  function exportValue(v, depth) {
    if (v === null || (typeof v !== 'object' && typeof v !== 'function')) return v;
    if (depth > 8) return v;
    if (typeof v === 'function') {
      const fn = v;
      const wrap = fn instanceof AsyncFunction
        ? async function (...a) { return fn(...a.map((x) => importValue(x, 0))); }
        : function (...a) { return fn(...a.map((x) => importValue(x, 0))); };
      return wrap;
    }
    if (isArray(v)) return v.map((x) => exportValue(x, depth + 1));
    const proto = getPrototypeOf(v);
    if (proto !== ObjectProto && proto !== null) return v;
    const out = {};
    for (const k of keys(v)) out[k] = exportValue(v[k], depth + 1);
    return out;
  }

  function show(a) {
    if (typeof a === 'string') return a;
    if (a === null || (typeof a !== 'object' && typeof a !== 'function')) return String(a);
    if (typeof a === 'function') return '[Function]';
    try {
      const tag = apply(toString, a, []);
      if (tag === '[object Error]') return String(a.stack || a.message);
      return stringify(a) ?? String(a);
    } catch {
      try { return String(a); } catch { return '[object]'; }
    }
  }

  const write = hostBridge.write;
  const console = {};
  for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
    console[level] = function (...args) { write(level, args.map(show).join(' ')); };
  }
  defineProperty(globalThis, 'console', { value: freeze(console), writable: true, configurable: true });

  const openFile = hostBridge.open;
  globalThis.open = function open(path, mode) {
    try {
      return importValue(openFile(String(path), mode === undefined ? undefined : String(mode)), 0);
    } catch (e) {
      throw importError(e, open);
    }
  };
  const requireFn = hostBridge.require;
  globalThis.require = function require(name) {
    try { requireFn(String(name)); } catch (e) { throw importError(e, require); }
  };

  // randomSeed() replaces Math.random, which must be the sandbox's own.
  function randomSeed(seed) {
    let a = Number(seed) >>> 0;
    Math.random = function random() {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  // The realm's own built-ins as they are before any script code runs, for the module that binds
  // them (see REALM_BUILTINS).
  const builtins = {};
  for (const name of hostBridge.builtinNames) builtins[name] = globalThis[name];

  return {
    builtins,
    importValue: (v) => importValue(v, 0),
    importError,
    parseJson: (s) => parse(s),
    randomSeed,
    setGlobal: (name, value) => { globalThis[name] = value; },
  };
})`;

/**
 * A fresh sandbox. `scriptDir` bounds open(); `write` receives console output as plain strings;
 * `inInit` says whether the script is in its init context (open() is allowed only there, as in k6).
 */
export function createSandbox({ scriptDir, write, inInit, unsupported }) {
  const context = vm.createContext(Object.create(null), {
    name: 'k6 script',
    codeGeneration: { strings: false, wasm: false },
  });
  const root = realpathSync(scriptDir);
  const bridge = {
    write: (level, line) => write(String(level), String(line)),
    open: (path, mode) => openUnder(root, path, mode, inInit),
    require: (name) => unsupported(`require('${name}')`),
    builtinNames: REALM_BUILTINS,
  };
  const membrane = vm.runInContext(MEMBRANE, context, { filename: 'statebench:sandbox' })(bridge);
  return { context, membrane };
}

/** k6's open(): a file under the script's directory, read in the init context; text, or bytes with 'b'. */
function openUnder(root, path, mode, inInit) {
  if (!inInit()) throw new Error('open() is only available in the init context (at the top level of the script), as in k6');
  if (mode !== undefined && mode !== 'b') throw new Error(`open(): mode must be 'b' or left out, got '${mode}'`);
  const target = isAbsolute(path) ? path : resolve(root, path);
  let real;
  try {
    real = realpathSync(target);
  } catch {
    throw new Error(`open(): ${path}: no such file`);
  }
  const rel = relative(root, real);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel) || rel.split(sep).includes('..')) {
    throw new SandboxError(`open(): ${path} is outside the script's directory; the built-in runner opens only files under ${root}`);
  }
  if (!statSync(real).isFile()) throw new Error(`open(): ${path} is not a file`);
  const buf = readFileSync(real);
  if (mode === 'b') return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  return buf.toString('utf8');
}

// Why the script's modules import the realm's built-ins. A vm context's global object answers every
// lookup through Node's interceptor (a call into C++ that searches two objects), so each `Math` in
// `Math.floor(Math.random() * n)` is a slow lookup instead of a cached one. A script that builds its
// payload character by character (filler() in the shipped insert-heavy script) spent most of its
// CPU there: ~970 µs a transaction against ~340 µs with the import. Each module is compiled with one
// import of the built-ins it names, from a module of this realm (appended after its last line), so
// those names are module bindings and the lookups stay in JavaScript. The values are the sandbox
// realm's own objects, captured before any script code runs; nothing of the host crosses. A script
// that declares one of these names itself is compiled as it is (the import would clash). A script
// that replaces a built-in on globalThis (rather than a member of it, as randomSeed does with
// Math.random) keeps seeing the original under that name: a difference from k6 only for code that
// does this.
export const REALM_BUILTINS = [
  'Math', 'JSON', 'Object', 'Array', 'String', 'Number', 'Boolean', 'Date', 'Symbol', 'BigInt',
  'Map', 'Set', 'WeakMap', 'WeakSet', 'Promise', 'RegExp', 'Reflect', 'Proxy', 'Intl',
  'Error', 'TypeError', 'RangeError', 'SyntaxError', 'ReferenceError', 'EvalError', 'URIError',
  'parseInt', 'parseFloat', 'isNaN', 'isFinite',
  'encodeURIComponent', 'decodeURIComponent', 'encodeURI', 'decodeURI',
  'ArrayBuffer', 'DataView', 'Uint8Array', 'Int8Array', 'Uint8ClampedArray', 'Uint16Array', 'Int16Array',
  'Uint32Array', 'Int32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array',
  'undefined', 'NaN', 'Infinity',
];
const REALM_MODULE = 'statebench:realm';

/** The module the script's modules import the realm's built-ins from. */
function realmModule(context, membrane) {
  return new vm.SyntheticModule(
    REALM_BUILTINS,
    function () {
      for (const n of REALM_BUILTINS) this.setExport(n, membrane.builtins[n]);
    },
    { context, identifier: REALM_MODULE },
  );
}

/**
 * The import of the built-ins `source` names (as a whole word, not after a dot), appended after the
 * script's last line: imports are hoisted, and the script's own lines and columns stay as they are.
 */
function builtinsImport(source) {
  const used = REALM_BUILTINS.filter((n) => new RegExp(`(?<![.\\w$])${n}(?![\\w$])`).test(source));
  return used.length ? `\n;import { ${used.join(', ')} } from '${REALM_MODULE}';\n` : '';
}

/** A module the sandbox links to for a k6 module: the host implementation's exports, copied in. */
export function syntheticModule(context, membrane, hostNamespace, identifier, overrides = {}) {
  const names = Object.keys(hostNamespace);
  return new vm.SyntheticModule(
    names,
    function () {
      for (const n of names) this.setExport(n, n in overrides ? overrides[n] : membrane.importValue(hostNamespace[n]));
    },
    { context, identifier },
  );
}

/** The script's modules, linked in the sandbox: k6 modules by their runtime URL, local modules by file URL. */
export async function loadModules({ context, membrane, entryUrl, pathMap, k6Modules, refuse }) {
  const originals = new Map(pathMap);
  const cache = new Map();
  const realm = realmModule(context, membrane);
  /** Modules compiled with the built-ins import: only they may link to the realm module. */
  const withBuiltins = new WeakSet();
  const load = (url) => {
    let m = cache.get(url);
    if (m) return m;
    const k6 = k6Modules.get(url);
    if (k6) m = k6;
    else {
      const path = new URL(url).pathname;
      const source = readFileSync(path, 'utf8');
      const compile = (suffix) =>
        new vm.SourceTextModule(source + suffix, {
          context,
          identifier: originals.get(url) ?? url,
          // import() is refused with a clear error (the loader rejects it statically as well).
          importModuleDynamically: (specifier) => {
            refuse(`import('${specifier}')`);
          },
        });
      const suffix = builtinsImport(source);
      if (suffix) {
        try {
          m = compile(suffix);
          withBuiltins.add(m);
        } catch (e) {
          // The script declares one of the names itself: compile it as it is (and report its own
          // syntax errors with its own positions).
          if (!(e instanceof SyntaxError) && e?.name !== 'SyntaxError') throw e;
          m = compile('');
        }
      } else {
        m = compile('');
      }
    }
    cache.set(url, m);
    return m;
  };
  const entry = load(entryUrl);
  // The loader rewrote every specifier to a k6 module's runtime URL or a local module's copy.
  await entry.link((specifier, referencing) => {
    if (specifier === REALM_MODULE && withBuiltins.has(referencing)) return realm;
    if (k6Modules.has(specifier) || originals.has(specifier)) return load(specifier);
    refuse(`import of '${specifier}'`);
  });
  return entry;
}
