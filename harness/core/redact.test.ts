import { describe, expect, it } from 'vitest';
import { redact, redactString, redactYaml, registerSecret, REDACTED } from './redact.ts';

describe('redaction', () => {
  it('replaces values under secret-looking keys, keeps numbers and other keys', () => {
    expect(redact({ env: { PASSWORD: 'pw1', API_TOKEN: 'tk', TABLE_SIZE: '100' }, tokens: 3, name: 'x' })).toEqual({
      env: { PASSWORD: REDACTED, API_TOKEN: REDACTED, TABLE_SIZE: '100' },
      tokens: 3,
      name: 'x',
    });
  });

  it('replaces passwords in URLs and key=value text, and registered values anywhere', () => {
    registerSecret('registered-value-99');
    expect(redactString('postgres://bench:pw@127.0.0.1:5432/db')).toBe(`postgres://bench:${REDACTED}@127.0.0.1:5432/db`);
    expect(redactString('host=x password=abc port=1')).toBe(`host=x password=${REDACTED} port=1`);
    expect(redactString('error near "registered-value-99"')).toBe(`error near "${REDACTED}"`);
  });

  it('a profile copy keeps comments and references, not values', () => {
    const y = redactYaml('# comment\nenv:\n  PASSWORD: hunter2 # why\n  REF: { fromEnv: X }\n');
    expect(y).toContain('# comment');
    expect(y).toContain(`PASSWORD: "${REDACTED}"`);
    expect(y).not.toContain('hunter2');
    expect(y).toContain('fromEnv: X');
  });
});
