#!/bin/sh
# statebench Patroni node.
#   etcd [args]   an etcd member, as user etcd (data in ETCD_DATA_DIR, default /var/lib/statebench/etcd)
#   patroni       a PostgreSQL member under Patroni, as user postgres; the YAML configuration comes
#                 from PATRONI_CONFIG (text) or PATRONI_CONFIG_FILE (a path, e.g. a bind-mounted file)
#   anything else is executed as given
set -eu
: "${PGDATA:=/var/lib/statebench/pgdata}"

case "${1:-patroni}" in
  etcd)
    shift
    : "${ETCD_DATA_DIR:=/var/lib/statebench/etcd}"
    export ETCD_DATA_DIR
    mkdir -p "$ETCD_DATA_DIR"
    chown etcd:etcd "$ETCD_DATA_DIR"
    chmod 700 "$ETCD_DATA_DIR"
    export HOME=/var/lib/etcd
    exec setpriv --reuid=etcd --regid=etcd --init-groups /usr/bin/etcd "$@"
    ;;
  patroni)
    shift
    VOLUME=$(dirname "$PGDATA")
    mkdir -p "$VOLUME" /run/postgresql /etc/patroni
    chown postgres:postgres "$VOLUME" /run/postgresql
    CONFIG=${PATRONI_CONFIG_FILE:-/etc/patroni/statebench.yml}
    if [ -n "${PATRONI_CONFIG:-}" ]; then
      printf '%s\n' "$PATRONI_CONFIG" >"$CONFIG"
    fi
    if [ ! -r "$CONFIG" ]; then
      echo "statebench patroni: no configuration; set PATRONI_CONFIG or PATRONI_CONFIG_FILE" >&2
      exit 64
    fi
    chown postgres:postgres "$CONFIG"
    # setpriv keeps root's environment; Patroni writes its pgpass file under HOME.
    export HOME=/var/lib/postgresql
    exec setpriv --reuid=postgres --regid=postgres --init-groups /usr/bin/patroni "$CONFIG" "$@"
    ;;
  *)
    exec "$@"
    ;;
esac
