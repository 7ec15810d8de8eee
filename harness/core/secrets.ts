// `{ fromEnv: NAME }` values of a profile: read from statebench's own environment when a run starts,
// so the secret is in neither the profile nor its results. Each value read is registered with the
// redactor, which replaces it wherever a run writes it (the script may print it, an error may quote it).
import { StatebenchError, EXIT } from '../errors.ts';
import { registerSecret } from './redact.ts';

export type EnvValue = string | { fromEnv: string };

export function resolveEnv(env: Record<string, EnvValue>, from: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (typeof v === 'string') {
      out[k] = v;
      continue;
    }
    const value = from[v.fromEnv];
    // The planner checks this too; the environment may have changed since.
    if (value === undefined) throw new StatebenchError(`${k}: environment variable ${v.fromEnv} is not set`, EXIT.usage, `export ${v.fromEnv}=… before running, or give the value in the profile`);
    registerSecret(value);
    out[k] = value;
  }
  return out;
}
