// junit.xml: one testcase per check per target, so CI systems show conformance natively.
import type { Summary } from '../model/summary.ts';
import { repetitionLabel } from './markdown.ts';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function renderJunit(s: Summary): string {
  const label = repetitionLabel(s);
  const suites = s.targets.map((t) => {
    const name = label(t);
    const cases = t.checks.map((c) => {
      const body = c.passed ? '' : `<failure message="${esc(c.message)}">${esc(`value=${c.value} threshold=${c.threshold}\n${c.message}`)}</failure>`;
      return `    <testcase classname="${esc(`statebench.${s.profile}.${name}`)}" name="${esc(c.name)}">${body}</testcase>`;
    });
    if (t.status !== 'completed') {
      cases.push(`    <testcase classname="${esc(`statebench.${s.profile}.${name}`)}" name="run"><error message="${esc(t.error ?? t.status)}"/></testcase>`);
    }
    const failures = t.checks.filter((c) => !c.passed).length;
    return `  <testsuite name="${esc(name)}" tests="${cases.length}" failures="${failures}" errors="${t.status !== 'completed' ? 1 : 0}">\n${cases.join('\n')}\n  </testsuite>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="statebench ${esc(s.profile)} ${esc(s.runId)}">\n${suites.join('\n')}\n</testsuites>\n`;
}
