// Entry point and readiness check of the database container, shipped in the target's ConfigMap. They
// are fixed text: every value they use (engine, data directory, passwords) arrives through the
// container's environment, which the manifests set from typed fields and the Secret, so nothing from
// a profile is ever spliced into shell.

/** Where the data volume is mounted; the data directory is a subdirectory (the root may hold lost+found). */
export const DATA_ROOT = '/var/lib/statebench';
export const PGDATA = `${DATA_ROOT}/pgdata`;
/** Where the ConfigMap is mounted. */
export const CONFIG_DIR = '/etc/statebench';

export const START_SCRIPT = `#!/bin/sh
# statebench database node: runs PostgreSQL (STATEBENCH_ENGINE=postgres) or Patroni
# (STATEBENCH_ENGINE=patroni) as the postgres user on the data volume, started as root or as postgres.
set -eu

find_pgbin() {
  if [ -n "\${PGBIN:-}" ]; then echo "$PGBIN"; return; fi
  for d in /usr/lib/postgresql/*/bin /usr/local/pgsql/bin /usr/local/bin /usr/bin; do
    if [ -x "$d/postgres" ] && [ -x "$d/initdb" ]; then echo "$d"; return; fi
  done
  echo "statebench: no postgres/initdb binaries in the image (looked in /usr/lib/postgresql/*/bin, /usr/local/bin, /usr/bin); set PGBIN" >&2
  exit 64
}
PGBIN=$(find_pgbin)
export PGBIN

# Started as root (the image's default user): own the volume, then become postgres with setpriv, which
# execs in place. The database (or this script, for a single PostgreSQL) stays PID 1 and gets the
# kubelet's SIGTERM itself; runuser would stay as a parent that forwards it and SIGKILLs its child 2 s
# later, before PostgreSQL or Patroni could shut down.
if [ "$(id -u)" = 0 ]; then
  if ! id postgres >/dev/null 2>&1; then
    echo "statebench: the image has no postgres user" >&2
    exit 64
  fi
  # PGDATA sits in the run's own directory on the volume (<volume>/<run>/pgdata).
  mkdir -p "$PGDATA"
  chown postgres:postgres "$(dirname "$PGDATA")" "$PGDATA"
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups -- /bin/sh "$0" "$@"
fi
# Started as the database user (runAsUser with fsGroup, as restricted Pod Security requires): the
# kubelet made the volume group-writable; the data directory is ours and PostgreSQL wants it 0700.
mkdir -p "$PGDATA"
chmod 700 "$PGDATA"
[ -w "\${HOME:-/nonexistent}" ] || export HOME=/tmp

case "$STATEBENCH_ENGINE" in
  postgres)
    if [ ! -s "$PGDATA/PG_VERSION" ]; then
      pwfile=$(mktemp)
      printf '%s\\n' "$POSTGRES_PASSWORD" > "$pwfile"
      "$PGBIN/initdb" -D "$PGDATA" -U postgres --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C
      rm -f "$pwfile"
      printf '%s\\n' "host all all 0.0.0.0/0 scram-sha-256" "host all all ::/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
      # The same postgresql.conf every platform renders; later lines win over initdb's defaults.
      printf "include '%s'\\n" "$STATEBENCH_CONFIG_DIR/postgresql.conf" >> "$PGDATA/postgresql.conf"
    fi
    unset POSTGRES_PASSWORD
    # PostgreSQL reads SIGTERM as a smart shutdown, which waits for every client to disconnect and so
    # ends in the kubelet's SIGKILL: the kubelet's SIGTERM becomes a fast shutdown (SIGINT) instead.
    "$PGBIN/postgres" -D "$PGDATA" &
    pid=$!
    trap 'kill -INT "$pid" 2>/dev/null || :' TERM INT
    # wait returns early when a trapped signal arrives; wait again until the postmaster is gone.
    while :; do
      if wait "$pid"; then status=0; else status=$?; fi
      kill -0 "$pid" 2>/dev/null || break
    done
    state=$("$PGBIN/pg_controldata" -D "$PGDATA" 2>/dev/null | sed -n 's/^Database cluster state: *//p' || :)
    echo "statebench: postgres exited with status $status, cluster state: \${state:-unknown}" >&2
    exit "$status"
    ;;
  patroni)
    export PATRONI_POSTGRESQL_BIN_DIR="$PGBIN"
    # Patroni itself gets SIGTERM: it stops PostgreSQL (fast) and, as leader, deletes its leader key.
    exec patroni "$STATEBENCH_CONFIG_DIR/patroni.yml"
    ;;
  *)
    echo "statebench: unknown STATEBENCH_ENGINE '$STATEBENCH_ENGINE'" >&2
    exit 64
    ;;
esac
`;

/** Readiness of a plain PostgreSQL node: accepting connections on its own port. */
export const READY_SCRIPT = `#!/bin/sh
set -eu
for d in \${PGBIN:-} /usr/lib/postgresql/*/bin /usr/local/bin /usr/bin; do
  if [ -x "$d/pg_isready" ]; then exec "$d/pg_isready" -q -h 127.0.0.1 -p 5432 -U postgres -d postgres; fi
done
echo "statebench: pg_isready not found in the image" >&2
exit 1
`;
