// The README's folder tree of harness/ names every folder there is, and no folder that is not.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('..', import.meta.url).pathname;
const dirs = (rel: string) => readdirSync(join(ROOT, rel)).filter((e) => statSync(join(ROOT, rel, e)).isDirectory()).sort();

describe('README design section', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('```\nharness/\n');
  const tree = readme.slice(start, readme.indexOf('```', start + 4));

  it('lists exactly the top-level folders of harness/', () => {
    expect(start).toBeGreaterThan(-1);
    const listed = [...tree.matchAll(/^ {2}([a-z][a-z0-9-]*)\/ /gm)].map((m) => m[1]).sort();
    expect(listed).toEqual(dirs('harness'));
  });

  it('names every platform and every folder of the Kubernetes platform', () => {
    const line = tree.slice(tree.indexOf('  platforms/'), tree.indexOf('  run/'));
    for (const d of dirs('harness/platforms')) expect(line, `platforms/${d}`).toContain(`${d}/`);
    for (const d of dirs('harness/platforms/k8s')) expect(line, `platforms/k8s/${d}`).toContain(`${d}/`);
  });
});
