// The fault catalog is the one place fault types are described: the schema's names, the capability
// table and the documentation table in profiles/README.md all agree with it.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FAULT_CATALOG, FAULT_TYPES, faultCatalogMarkdown, type FaultKind } from '../harness/model/faults.ts';
import { CAPABILITIES } from '../harness/model/capabilities.ts';
import { Fault } from '../harness/model/profile.ts';

describe('fault catalog', () => {
  it('profiles/README.md shows the catalog as it is', () => {
    const readme = readFileSync(new URL('../profiles/README.md', import.meta.url), 'utf8');
    const start = readme.indexOf('| type | held for |');
    expect(start, 'the fault table is missing from profiles/README.md').toBeGreaterThan(-1);
    const end = readme.indexOf('\n\n', start);
    expect(readme.slice(start, end), 'regenerate the table from faultCatalogMarkdown() in harness/model/faults.ts').toBe(faultCatalogMarkdown());
  });

  it('the profile schema accepts exactly the catalog types', () => {
    for (const type of FAULT_TYPES) expect(Fault.safeParse({ type, at: '1s' }).success, type).toBe(true);
    expect(Fault.safeParse({ type: 'meteor', at: '1s' }).success).toBe(false);
  });

  it('the capability table lists, per platform and engine, the catalog types that need no particular volume', () => {
    for (const [platform, caps] of Object.entries(CAPABILITIES)) {
      for (const engine of ['postgres', 'patroni'] as const) {
        const expected = FAULT_TYPES.filter((t) => {
          const k: FaultKind = FAULT_CATALOG[t];
          return !k.needs.includes('emulated-volume') && caps.engines.includes(engine) && (k.on[platform as keyof FaultKind['on']] ?? []).includes(engine);
        });
        expect(caps.faults[engine], `${platform}/${engine}`).toEqual(expected);
      }
    }
  });
});
