// Durations and sizes as zod schemas, for every module that declares profile fields.
import { z } from 'zod';
import { parseDuration, parseSize, type Parsed } from './units.ts';

function unit(parse: (v: unknown) => Parsed, what: string) {
  // Any input reaches the parser, so .inf, .nan and null get its messages rather than a bare type error.
  void what;
  return z
    .unknown()
    .transform((input, ctx) => {
      const r = parse(input);
      if (!r.ok) {
        ctx.addIssue({ code: 'custom', message: r.message });
        return z.NEVER;
      }
      return r.value;
    });
}

/**
 * Milliseconds, written as "20s", "500ms", "1m30s": more than zero (a zero duration, timeout or period
 * measures nothing or fails at once) and at most a week.
 */
export const Duration = unit(parseDuration, 'duration like "20s"').pipe(z.number().min(1, 'must be longer than 0 (e.g. "20s")'));
/** A duration where 0 means "none": an offset, a warmup, a toleration. */
export const DurationOrZero = unit(parseDuration, 'duration like "20s"');
/** Bytes, written as "64MiB", "2GiB": more than zero and at most 16TiB. */
export const Size = unit(parseSize, 'size like "64MiB"').pipe(z.number().min(1, 'must be larger than 0 (e.g. "64MiB")'));

