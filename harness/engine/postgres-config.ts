// postgresql.conf content for a node under test. Shared by every platform so the database is
// configured the same way everywhere and only the platform differs.

export type Settings = Record<string, string | number | boolean>;

/** Defaults sized for small benchmark machines; the profile's settings override them. */
export const BASE_SETTINGS: Settings = {
  max_connections: 200,
  shared_buffers: '256MB',
  wal_level: 'replica',
  max_wal_size: '1GB',
  checkpoint_timeout: '5min',
  logging_collector: false,
  log_min_messages: 'warning',
  fsync: true,
  synchronous_commit: 'on',
  full_page_writes: true,
  track_io_timing: true,
};

/**
 * A value as postgresql.conf reads it. Strings are single-quoted; inside quotes PostgreSQL's
 * configuration scanner treats a backslash as an escape (GUC_scanstr), so backslashes are doubled and
 * quotes doubled. A control character cannot be written safely at all: a newline would end the line
 * and start a new setting of the value's choosing. The profile schema refuses them; this refuses them
 * again for any other caller.
 */
export function quoteSetting(v: string | number | boolean): string {
  if (typeof v === 'boolean') return v ? 'on' : 'off';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`setting value ${v} is not a finite number`);
    return String(v);
  }
  if (/[\x00-\x1f\x7f]/.test(v)) throw new Error(`setting value ${JSON.stringify(v)} contains a control character`);
  return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

const SETTING_NAME = /^[a-z_][a-z0-9_.]*$/;

export function renderConf(settings: Settings): string {
  return (
    '# Written by statebench; later lines win.\n' +
    Object.entries(settings)
      .map(([k, v]) => {
        if (!SETTING_NAME.test(k)) throw new Error(`setting name ${JSON.stringify(k)} is not a PostgreSQL parameter name`);
        return `${k} = ${quoteSetting(v)}`;
      })
      .join('\n') +
    '\n'
  );
}
