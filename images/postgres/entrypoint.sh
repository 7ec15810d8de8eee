#!/bin/sh
# statebench PostgreSQL node. Runs as root only long enough to own the data volume, then execs the
# postmaster as user postgres (PID 1 of the container, so `docker stop`/`kill` signal it directly).
#   PGDATA           data directory, on the volume bind-mounted at its parent directory
#   STATEBENCH_CONF  postgresql.conf lines, rewritten on every start (the platform's rendered settings)
# Extra arguments are passed to postgres.
set -eu
PGBIN=/usr/lib/postgresql/15/bin
: "${PGDATA:=/var/lib/statebench/pgdata}"
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }

VOLUME=$(dirname "$PGDATA")
mkdir -p "$VOLUME" /run/postgresql
chown postgres:postgres "$VOLUME" /run/postgresql

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  # Same initdb as the bare-metal platform, so only the platform differs between targets.
  as_postgres "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --locale=C --no-sync
  echo "include_if_exists = 'statebench.conf'" >>"$PGDATA/postgresql.conf"
  # Clients reach the server through the published port, i.e. from the bridge gateway, not loopback.
  # The port is published on the host's 127.0.0.1 only.
  printf 'host all all 0.0.0.0/0 trust\nhost all all ::/0 trust\n' >>"$PGDATA/pg_hba.conf"
fi

printf '%s\n' "${STATEBENCH_CONF:-}" >"$PGDATA/statebench.conf"
chown postgres:postgres "$PGDATA/statebench.conf"

exec setpriv --reuid=postgres --regid=postgres --init-groups "$PGBIN/postgres" -D "$PGDATA" "$@"
