// The shipped Kubernetes profiles: valid against the profile schema, plannable once the kind and
// kubernetes platforms are enabled, and renderable into manifests that validate.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { parse } from 'yaml';
import { Profile } from '../../model/profile.ts';
import { planWithKubernetes } from './testing/plan.ts';
import { renderPlanTo } from './render/render.ts';

for (const file of ['kind-local-vs-remote.yaml', 'cluster-vendor-eval.yaml']) {
  test(`profiles/${file} is a valid profile whose targets render`, async () => {
    const text = readFileSync(new URL(`../../../profiles/${file}`, import.meta.url), 'utf8');
    const parsed = Profile.safeParse(parse(text));
    expect(parsed.success ? [] : parsed.error.issues).toEqual([]);
    const plan = planWithKubernetes(text);
    expect(plan.targets.every((t) => t.platform === 'kind' || t.platform === 'kubernetes')).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'statebench-profile-render-'));
    try {
      const files = await renderPlanTo(plan, '20261127-143022-ab12', dir);
      expect(files.length).toBeGreaterThan(plan.targets.length * 10);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
