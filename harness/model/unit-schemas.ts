// Durations and sizes as zod schemas, for every module that declares profile fields.
import { z } from 'zod';
import { parseDuration, parseSize, type Parsed } from './units.ts';

function unit(parse: (v: unknown) => Parsed, what: string) {
  return z
    .union([z.string(), z.number()], { error: `expected a ${what}` })
    .transform((input, ctx) => {
      const r = parse(input);
      if (!r.ok) {
        ctx.addIssue({ code: 'custom', message: r.message });
        return z.NEVER;
      }
      return r.value;
    });
}

/** Milliseconds, written as "20s", "500ms", "1m30s". */
export const Duration = unit(parseDuration, 'duration like "20s"');
/** Bytes, written as "64MiB", "2GiB". */
export const Size = unit(parseSize, 'size like "64MiB"');

