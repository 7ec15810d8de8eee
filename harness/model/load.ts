// A profile's text: YAML → schema → plan, and the problems of the files it names (checked by the
// caller: run/profile-files.ts looks at the machine, this module does not). Every problem is
// reported at once with its path and line, and nothing is started when there is one.
import { LineCounter, parseDocument, isMap, isSeq, isNode, isAlias, isScalar, visit, type Document, type Node } from 'yaml';
import { Profile } from './profile.ts';
import { buildPlan, type Plan, type Problem } from './plan.ts';
import { ProfileError, type ProfileProblem } from '../errors.ts';

export interface LoadedProfile {
  file: string;
  profile: Profile;
  plan: Plan;
  /** The profile text as read, kept with the results (redacted when written). */
  source: string;
  /** Problems found after planning (the run's preflight), as a ProfileError with their lines. */
  refuse(problems: Problem[]): ProfileError;
}

/**
 * A profile is a page or two of YAML (the largest shipped one is under 4 KiB); half a megabyte or
 * 10,000 lines is a mistake or an attack on the parser, which needs about 70 µs a line on a busy
 * 2-core machine.
 */
export const MAX_PROFILE_BYTES = 512 * 1024;
export const MAX_PROFILE_LINES = 10_000;
/** Alias expansions allowed in one profile: anchors for reuse, not exponential "billion laughs". */
const MAX_ALIAS_COUNT = 100;

export interface ParseOptions {
  /** Problems of the files and environment variables the profile names, reported with the plan's own. */
  checkFiles?(profile: Profile): Problem[];
}

export function parseProfile(source: string, file = '<profile>', o: ParseOptions = {}): LoadedProfile {
  if (source.length > MAX_PROFILE_BYTES) {
    throw new ProfileError(file, [{ path: '', line: 1, message: `the profile is ${source.length} characters; a profile may be at most ${MAX_PROFILE_BYTES} (512 KiB)` }]);
  }
  let lineCount = 1;
  for (let i = source.indexOf('\n'); i !== -1 && lineCount <= MAX_PROFILE_LINES; i = source.indexOf('\n', i + 1)) lineCount++;
  if (lineCount > MAX_PROFILE_LINES) {
    throw new ProfileError(file, [{ path: '', line: MAX_PROFILE_LINES + 1, message: `a profile may have at most ${MAX_PROFILE_LINES} lines` }]);
  }
  const lineCounter = new LineCounter();
  // uniqueKeys is checked below in one pass: the yaml library's check compares every key with every
  // other (40,000 keys took minutes).
  const doc = parseDocument(source, { lineCounter, prettyErrors: true, uniqueKeys: false });
  if (doc.errors.length) {
    throw new ProfileError(
      file,
      doc.errors.map((e) => {
        // An unclosed quote is found at the end of the file; the user needs the line it opens on.
        const quote = e.code === 'MISSING_CHAR' ? /(["'])quote/.exec(e.message)?.[1] : undefined;
        const opened = quote ? source.lastIndexOf(quote, e.pos[0] - 1) : -1;
        if (opened >= 0) return { path: '', line: lineCounter.linePos(opened).line, message: `YAML syntax error: a ${quote === '"' ? 'double' : 'single'}-quoted value opened here is never closed` };
        return { path: '', line: e.linePos?.[0]?.line ?? 1, message: `YAML syntax error: ${e.message.split('\n')[0]}` };
      }),
    );
  }
  const aliasProblems = [...checkAliases(doc, lineCounter), ...duplicateKeys(doc, lineCounter)];
  if (aliasProblems.length) throw new ProfileError(file, sortProblems(aliasProblems));
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    // The yaml library throws for alias expansion past maxAliasCount and for unresolvable aliases.
    const first = firstAlias(doc);
    throw new ProfileError(file, [{ path: '', line: first ? lineCounter.linePos(first.range?.[0] ?? 0).line : 1, message: `YAML aliases cannot be expanded: ${(e as Error).message.split('\n')[0]}` }]);
  }
  if (!data || typeof data !== 'object' || Array.isArray(data)) {
    const at = isNode(doc.contents) && doc.contents.range ? lineCounter.linePos(doc.contents.range[0]).line : 1;
    throw new ProfileError(file, [{ path: '', line: at, message: 'a profile is a YAML mapping with at least name, targets and workloads' }]);
  }
  const lines = new LineIndex(doc, lineCounter);
  const parsed = Profile.safeParse(data);
  if (!parsed.success) {
    const problems: ProfileProblem[] = [];
    for (const issue of parsed.error.issues) {
      const path = issue.path as (string | number)[];
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) {
          problems.push(lines.problem([...path, key], `unknown key "${key.length > 60 ? `${key.slice(0, 60)}…` : key}"; profiles/README.md lists the fields allowed here`));
        }
      } else {
        problems.push(lines.problem(path, issue.message));
      }
    }
    throw new ProfileError(file, sortProblems(problems));
  }
  const { plan, problems } = buildPlan(parsed.data);
  // Files and environment variables the profile names: checked now, not after a database started.
  const fileProblems = o.checkFiles?.(parsed.data) ?? [];
  if (!plan || fileProblems.length) {
    throw new ProfileError(file, sortProblems([...problems, ...fileProblems].map((p) => lines.problem(p.path, p.message))));
  }
  const refuse = (found: Problem[]) => new ProfileError(file, sortProblems(found.map((p) => lines.problem(p.path, p.message))));
  return { file, profile: parsed.data, plan, source, refuse };
}

/** An alias used as a mapping key, or one naming no anchor, is refused with its line. */
function checkAliases(doc: Document, lc: LineCounter): ProfileProblem[] {
  const problems: ProfileProblem[] = [];
  const anchors = new Set<string>();
  visit(doc, {
    Node(_, node) {
      if (!isAlias(node) && node.anchor) anchors.add(node.anchor);
    },
    Pair(_, pair) {
      if (isAlias(pair.key)) {
        problems.push({ path: '', line: lc.linePos((pair.key as Node).range?.[0] ?? 0).line, message: `an alias (*${pair.key.source}) cannot be a mapping key; write the key out` });
      }
    },
    Alias(_, node) {
      if (!anchors.has(node.source)) problems.push({ path: '', line: lc.linePos(node.range?.[0] ?? 0).line, message: `alias *${node.source} names no anchor defined before it` });
    },
  });
  return problems;
}

/** Each key once per mapping, checked with one set per mapping (linear in the number of keys). */
function duplicateKeys(doc: Document, lc: LineCounter): ProfileProblem[] {
  const problems: ProfileProblem[] = [];
  visit(doc, {
    Map(_, map) {
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        const key = isScalar(pair.key) ? pair.key.value : pair.key;
        if (seen.has(key)) {
          const at = isNode(pair.key) && pair.key.range ? lc.linePos(pair.key.range[0]).line : 1;
          problems.push({ path: '', line: at, message: `YAML syntax error: map keys must be unique; "${String(key).slice(0, 60)}" is repeated` });
        }
        seen.add(key);
      }
    },
  });
  return problems;
}

function firstAlias(doc: Document): Node | undefined {
  let found: Node | undefined;
  visit(doc, {
    Alias(_, node) {
      found = node;
      return visit.BREAK;
    },
  });
  return found;
}

/**
 * Line of every node and mapping key by path, built in one walk of the document, so looking up the
 * lines of many problems (a file with thousands of unknown keys) stays linear.
 */
class LineIndex {
  private readonly lines = new Map<string, number>();
  constructor(doc: Document, lc: LineCounter) {
    const walk = (node: unknown, path: string, depth: number) => {
      if (!isNode(node) || depth > 64) return;
      if (node.range && !this.lines.has(path)) this.lines.set(path, lc.linePos(node.range[0]).line);
      if (isMap(node)) {
        for (const pair of node.items) {
          const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
          if (key === undefined) continue;
          const sub = `${path}\u0000${key}`;
          // For a mapping key, point at the key itself rather than its value.
          if (isNode(pair.key) && pair.key.range) this.lines.set(sub, lc.linePos(pair.key.range[0]).line);
          walk(pair.value, sub, depth + 1);
        }
      } else if (isSeq(node)) {
        node.items.forEach((item, i) => walk(item, `${path}\u0000${i}`, depth + 1));
      }
    };
    walk(doc.contents, '', 0);
  }

  /** The line of the deepest node on the path that exists in the document. */
  lineOf(path: (string | number)[]): number {
    for (let n = path.length; n >= 0; n--) {
      const line = this.lines.get(path.slice(0, n).map((p) => `\u0000${p}`).join(''));
      if (line !== undefined) return line;
    }
    return 1;
  }

  problem(path: (string | number)[], message: string): ProfileProblem {
    return { path: path.join('.'), line: this.lineOf(path), message };
  }
}

function sortProblems(problems: ProfileProblem[]): ProfileProblem[] {
  return [...problems].sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
}
