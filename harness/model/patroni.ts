// Options of the `patroni` engine, as a profile writes them under `engine.patroni` (and, to compare
// settings side by side, per target under `targets[].patroni`, merged over the engine's). Timing
// values are whole seconds because that is what Patroni takes and documents. The rule Patroni
// documents between them (loop_wait + 2 × retry_timeout ≤ ttl) is checked on the merged result, so a
// profile that breaks it fails validation instead of producing spurious failovers mid-measurement.
// Leaf module: no runtime imports besides zod.
import { z } from 'zod';

export const REPLICATION_MODES = ['async', 'sync', 'sync-strict'] as const;
export const ACCESS_PATHS = ['haproxy', 'direct'] as const;

const seconds = (what: string, min: number, max: number) =>
  z
    .number({ error: `${what}: expected a whole number of seconds` })
    .int(`${what}: Patroni takes whole seconds`)
    .min(min, `${what}: at least ${min}s`)
    .max(max, `${what}: at most ${max}s`);

const fields = {
  /** Leader key lifetime, seconds: how long a silent leader keeps the lock. Patroni's default 30. */
  ttl: seconds('ttl', 5, 3_600),
  /** Seconds each Patroni sleeps between HA loops. Patroni's default 10. */
  loopWait: seconds('loopWait', 1, 600),
  /** Seconds DCS and PostgreSQL operations are retried before the leader demotes itself. Patroni's default 10. */
  retryTimeout: seconds('retryTimeout', 1, 600),
  /** Bytes a replica may lag and still be promoted. Patroni's default 1 MiB. */
  maximumLagOnFailover: z.number().int().min(0),
  /**
   * `async`: Patroni's default; a failover may lose what the replicas had not received.
   * `sync`: synchronous_mode; Patroni falls back to async when no synchronous replica is left.
   * `sync-strict`: synchronous_mode_strict; writes block rather than run without a synchronous replica.
   */
  replication: z.enum(REPLICATION_MODES),
  /** Rewind a former primary instead of re-cloning it; this is what discards its unreplicated writes. */
  usePgRewind: z.boolean(),
  /**
   * `haproxy`: clients connect through HAProxy, which health-checks Patroni's REST `/primary` (the
   * documented setup). `direct`: clients stay on the member that was primary at start: the worst
   * case, a client that does not follow the leader.
   */
  access: z.enum(ACCESS_PATHS),
};

export const PATRONI_DEFAULT_VALUES = {
  ttl: 30,
  loopWait: 10,
  retryTimeout: 10,
  maximumLagOnFailover: 1024 * 1024,
  replication: 'async',
  usePgRewind: true,
  access: 'haproxy',
} as const;

function timingRule(o: { ttl: number; loopWait: number; retryTimeout: number }, ctx: z.RefinementCtx): void {
  if (o.loopWait + 2 * o.retryTimeout > o.ttl) {
    ctx.addIssue({
      code: 'custom',
      path: ['ttl'],
      message: `Patroni requires loopWait + 2 × retryTimeout ≤ ttl; ${o.loopWait} + 2 × ${o.retryTimeout} = ${o.loopWait + 2 * o.retryTimeout} > ${o.ttl}`,
    });
  }
}

/** `engine.patroni`: every field optional, Patroni's defaults filled in. */
export const PatroniOptions = z
  .strictObject({
    ttl: fields.ttl.default(PATRONI_DEFAULT_VALUES.ttl),
    loopWait: fields.loopWait.default(PATRONI_DEFAULT_VALUES.loopWait),
    retryTimeout: fields.retryTimeout.default(PATRONI_DEFAULT_VALUES.retryTimeout),
    maximumLagOnFailover: fields.maximumLagOnFailover.default(PATRONI_DEFAULT_VALUES.maximumLagOnFailover),
    replication: fields.replication.default(PATRONI_DEFAULT_VALUES.replication),
    usePgRewind: fields.usePgRewind.default(PATRONI_DEFAULT_VALUES.usePgRewind),
    access: fields.access.default(PATRONI_DEFAULT_VALUES.access),
  })
  .superRefine(timingRule);

/**
 * `targets[].patroni`: the same fields, no defaults, merged over `engine.patroni` by
 * resolvePatroniOptions. The timing rule is checked after merging.
 */
export const PatroniOverrides = z.strictObject(fields).partial();

export type PatroniOptionsInput = z.input<typeof PatroniOptions>;
export type PatroniOptions = z.output<typeof PatroniOptions>;
export type PatroniOverrides = z.output<typeof PatroniOverrides>;
export type ReplicationMode = (typeof REPLICATION_MODES)[number];
export type AccessPath = (typeof ACCESS_PATHS)[number];

/** Patroni's own defaults, as a parsed value. */
export const PATRONI_DEFAULTS: PatroniOptions = PatroniOptions.parse({});

/**
 * The options one target runs with: the engine's, then the target's overrides. Problems carry a
 * path relative to the profile root (for buildPlan's problem list).
 */
export function resolvePatroniOptions(
  engine: PatroniOptionsInput | PatroniOptions | undefined,
  target: PatroniOverrides | undefined,
  targetIndex: number,
): { options?: PatroniOptions; problems: { path: (string | number)[]; message: string }[] } {
  const r = PatroniOptions.safeParse({ ...(engine ?? {}), ...(target ?? {}) });
  if (r.success) return { options: r.data, problems: [] };
  // Blame the target when it set the field, or any of the timings the ttl rule relates.
  const set = (k: string) => target !== undefined && Object.prototype.hasOwnProperty.call(target, k);
  const fromTarget = (key: unknown) => (typeof key === 'string' && set(key)) || (key === 'ttl' && (set('loopWait') || set('retryTimeout')));
  return {
    problems: r.error.issues.map((i) => {
      const path = i.path as (string | number)[];
      return { path: fromTarget(path[0]) ? ['targets', targetIndex, 'patroni', ...path] : ['engine', 'patroni', ...path], message: i.message };
    }),
  };
}
