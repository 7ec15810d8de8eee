// Profile schema of a k6 workload, for the profile's `workloads` union. Leaf module: zod and the unit
// parsers only, so a plan can be validated without loading any runner.
//
//   workloads:
//     - kind: k6
//       script: workloads/k6/oltp-read-write.js
//       runner: auto          # auto | k6 | builtin
//       vus: 8                # optional: replaces the script's scenarios with constant-vus…
//       duration: 60s         # …for this long (after warmup), like `k6 run --vus --duration`
//       warmup: 5s            # excluded from the results
//       env: { TABLE_SIZE: 100000 }
import { z } from 'zod';
import { Duration, DurationOrZero } from './unit-schemas.ts';

/** One worker thread a VU: past this, threads rather than the database are what a small machine measures. */
export const MAX_VUS = 400;
export const K6_RUNNERS = ['auto', 'k6', 'builtin'] as const;
export type K6Runner = (typeof K6_RUNNERS)[number];

export const K6WorkloadSpec = z.strictObject({
  kind: z.literal('k6'),
  /** Defaults to the kind; must be unique within the profile. */
  name: z.string().max(100, 'names are at most 100 characters').regex(/^[A-Za-z0-9._-]+$/, 'use letters, digits and . _ -').refine((s) => !/^\.+$/.test(s), 'a name made only of dots would name a directory such as . or ..').optional(),
  /**
   * Path of the k6 script (absolute, or relative to the working directory): a .js or .mjs file in the
   * profile's directory or the repository's workloads/ (checked by `plan`).
   */
  script: z.string().min(1, 'name the k6 script, e.g. workloads/k6/oltp-read-write.js').max(4096),
  /** Allow a script outside the profile's directory and workloads/. */
  allowScriptOutside: z.boolean().default(false),
  /** `auto`: k6 when a k6 with xk6-sql and its postgres driver is on PATH, the built-in runner otherwise. */
  runner: z.enum(K6_RUNNERS).default('auto'),
  /** With `duration`: one constant-vus scenario instead of the script's own. */
  vus: z.number().int().min(1).max(MAX_VUS).optional(),
  /** Measured time of the constant-vus override; the script's scenarios decide when it is absent. */
  duration: Duration.optional(),
  /** Leading part of the run excluded from results (added before `duration` when that is set). */
  warmup: DurationOrZero.default(0),
  /**
   * Extra __ENV for the script (STATEBENCH_DSN is always set by statebench). A secret is given as
   * `{ fromEnv: NAME }`: read from statebench's environment when the run starts, never written out.
   */
  env: z
    .record(
      z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'environment names are letters, digits and _'),
      z.union([z.string().max(65_536), z.number().finite(), z.boolean(), z.strictObject({ fromEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'environment names are letters, digits and _') })]),
    )
    .transform((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'object' ? v : String(v)])))
    .default({}),
});

export type K6WorkloadSpec = z.output<typeof K6WorkloadSpec>;
export type K6WorkloadInput = z.input<typeof K6WorkloadSpec>;
