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

function quote(v: string | number | boolean): string {
  if (typeof v === 'boolean') return v ? 'on' : 'off';
  if (typeof v === 'number') return String(v);
  return `'${v.replace(/'/g, "''")}'`;
}

export function renderConf(settings: Settings): string {
  return (
    '# Written by statebench; later lines win.\n' +
    Object.entries(settings)
      .map(([k, v]) => `${k} = ${quote(v)}`)
      .join('\n') +
    '\n'
  );
}
