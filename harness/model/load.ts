// Reads a profile file: YAML → schema → plan. Every problem is reported at once with its path and
// line, and nothing is started when there is one.
import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument, isMap, isNode, type Document } from 'yaml';
import { Profile } from './profile.ts';
import { buildPlan, type Plan, type Problem } from './plan.ts';
import { ProfileError, StatebenchError, EXIT, type ProfileProblem } from '../errors.ts';

export interface LoadedProfile {
  file: string;
  profile: Profile;
  plan: Plan;
  /** The profile text as read, kept with the results. */
  source: string;
  /** Problems found after planning (the run's preflight), as a ProfileError with their lines. */
  refuse(problems: Problem[]): ProfileError;
}

export async function loadProfile(file: string): Promise<LoadedProfile> {
  let source: string;
  try {
    source = await readFile(file, 'utf8');
  } catch (e) {
    throw new StatebenchError(`cannot read profile ${file}: ${(e as Error).message}`, EXIT.usage, 'Pass the path of a YAML profile, e.g. profiles/smoke.yaml');
  }
  return parseProfile(source, file);
}

export function parseProfile(source: string, file = '<profile>'): LoadedProfile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(source, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length) {
    throw new ProfileError(
      file,
      doc.errors.map((e) => ({ path: '', line: e.linePos?.[0]?.line, message: `YAML syntax error: ${e.message.split('\n')[0]}` })),
    );
  }
  const data = doc.toJS();
  if (!data || typeof data !== 'object' || Array.isArray(data)) {
    throw new ProfileError(file, [{ path: '', line: 1, message: 'a profile is a YAML mapping with at least name, targets and workloads' }]);
  }
  const parsed = Profile.safeParse(data);
  if (!parsed.success) {
    const problems: ProfileProblem[] = [];
    for (const issue of parsed.error.issues) {
      const path = issue.path as (string | number)[];
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) {
          problems.push(problem(doc, lineCounter, [...path, key], `unknown key "${key}"; profiles/README.md lists the fields allowed here`));
        }
      } else {
        problems.push(problem(doc, lineCounter, path, issue.message));
      }
    }
    throw new ProfileError(file, sortProblems(problems));
  }
  const { plan, problems } = buildPlan(parsed.data);
  if (!plan) {
    throw new ProfileError(file, sortProblems(problems.map((p) => problem(doc, lineCounter, p.path, p.message))));
  }
  const refuse = (found: Problem[]) => new ProfileError(file, sortProblems(found.map((p) => problem(doc, lineCounter, p.path, p.message))));
  return { file, profile: parsed.data, plan, source, refuse };
}

function problem(doc: Document, lc: LineCounter, path: (string | number)[], message: string): ProfileProblem {
  return { path: path.join('.'), line: lineOf(doc, lc, path), message };
}

/** The line of the deepest node on the path that exists in the document. */
function lineOf(doc: Document, lc: LineCounter, path: (string | number)[]): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const sub = path.slice(0, n);
    // For a mapping key, point at the key itself rather than its value.
    if (n > 0) {
      const parent = n === 1 ? doc.contents : doc.getIn(path.slice(0, n - 1), true);
      if (isMap(parent)) {
        const pair = parent.items.find((it) => isNode(it.key) && (it.key as { value?: unknown }).value === sub[n - 1]);
        const range = pair && isNode(pair.key) ? pair.key.range : undefined;
        if (range) return lc.linePos(range[0]).line;
      }
    }
    const node = n === 0 ? doc.contents : doc.getIn(sub, true);
    if (isNode(node) && node.range) return lc.linePos(node.range[0]).line;
  }
  return undefined;
}

function sortProblems(problems: ProfileProblem[]): ProfileProblem[] {
  return [...problems].sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
}
