#!/usr/bin/env bash
# Prepares a Debian host for the docker and kind platforms; idempotent, runs as root (.ci/run calls it).
#
#   1. installs the Debian packages the image builder and the docker platform need, when missing;
#   2. when root's capability bounding set lacks CAP_SYS_RESOURCE (some sandboxes and CI runners drop it),
#      installs a runc wrapper that removes that capability from every OCI spec and makes it dockerd's
#      default runtime: without it `docker run --privileged` (and so every kind node) fails with
#      "unable to apply caps: operation not permitted";
#   3. starts dockerd (`--iptables=false`), or reloads it when its configuration changed, and waits for it;
#   4. creates the `kind` docker network, IPv4 only (kind would first try an IPv6 subnet);
#   5. raises fs.inotify.max_user_instances to 512 and fs.inotify.max_user_watches to 524288 (never
#      lowers them): every kind node's systemd, kubelet and kube-proxy take inotify instances from the
#      host's one pool, and with Debian's default of 128 kube-proxy crash-loops with "too many open files".
#
# Prints one line per step and the host quirks it found. Environment:
#   STATEBENCH_HOST_PREP_NO_APT=1   never run apt-get (fail instead when a package is missing)
#   STATEBENCH_DOCKERD_LOG          dockerd's log file (default /var/log/statebench-dockerd.log)
set -euo pipefail

WRAPPER=/usr/local/libexec/statebench/runc-wrapper
RUNTIME_NAME=statebench-runc
DAEMON_JSON=/etc/docker/daemon.json
DOCKERD_LOG=${STATEBENCH_DOCKERD_LOG:-/var/log/statebench-dockerd.log}
PACKAGES=(docker.io debootstrap jq iptables ca-certificates)

say() { printf 'host-prep: %s\n' "$*"; }
die() { printf 'host-prep: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root"

# --- host quirks -------------------------------------------------------------------------------
capbnd=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)
# CAP_SYS_RESOURCE is capability 24.
if (( (16#$capbnd >> 24) & 1 )); then lacks_sys_resource=0; else lacks_sys_resource=1; fi
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then cgroup=v2
elif [ -d /sys/fs/cgroup/unified ] || grep -q ' /sys/fs/cgroup/systemd cgroup ' /proc/self/mounts; then cgroup="v1 (hybrid)"
else cgroup=v1; fi
say "CapBnd=$capbnd CAP_SYS_RESOURCE=$([ $lacks_sys_resource = 1 ] && echo missing || echo present) cgroup=$cgroup"

# --- packages ----------------------------------------------------------------------------------
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "${STATEBENCH_HOST_PREP_NO_APT:-}" = 1 ] && die "missing packages: ${missing[*]}"
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  say "packages present: ${PACKAGES[*]}"
fi
real_runc=$(command -v runc || true)
[ -n "$real_runc" ] || die "runc not found after installing docker.io"

# --- runtime wrapper ---------------------------------------------------------------------------
write_if_changed() { # path mode; content on stdin. Prints "changed" when the file was (re)written.
  local tmp; tmp=$(mktemp "$1.XXXXXX")
  cat >"$tmp"
  if [ -f "$1" ] && cmp -s "$tmp" "$1"; then rm -f "$tmp"; else chmod "$2" "$tmp"; mv -f "$tmp" "$1"; echo changed; fi
}

config_changed=
if [ $lacks_sys_resource = 1 ]; then
  mkdir -p "$(dirname "$WRAPPER")"
  r=$({
    printf '#!/bin/sh\n'
    printf '# Installed by statebench scripts/host-prep.sh as dockerd'"'"'s default runtime, because this host'"'"'s\n'
    printf '# bounding set lacks CAP_SYS_RESOURCE: removes that capability from the OCI spec (config.json of\n'
    printf '# the bundle on create/run, the --process file on exec), then runs runc with the same arguments.\n'
    printf 'REAL=%s\n' "$real_runc"
    cat <<'EOF'
strip() { # file jq-path
  [ -f "$1" ] || return 0
  grep -q CAP_SYS_RESOURCE "$1" || return 0
  tmp="$1.statebench.$$"
  if jq -c "$2 |= (if type == \"object\" then with_entries(.value |= (if type == \"array\" then map(select(. != \"CAP_SYS_RESOURCE\")) else . end)) else . end)" "$1" >"$tmp"; then
    mv -f "$tmp" "$1"
  else
    rm -f "$tmp"; echo "runc-wrapper: could not edit $1" >&2
  fi
}
cmd= bundle= process= prev=
for a in "$@"; do
  if [ -n "$prev" ]; then
    case "$prev" in bundle) bundle=$a ;; process) process=$a ;; esac
    prev=; continue
  fi
  if [ -z "$cmd" ]; then
    case "$a" in
      --root|--log|--log-format|--criu|--rootless) prev=skip ;;
      -*) ;;
      *) cmd=$a ;;
    esac
    continue
  fi
  case "$a" in
    --bundle|-b) prev=bundle ;;
    --bundle=*) bundle=${a#--bundle=} ;;
    --process|-p) prev=process ;;
    --process=*) process=${a#--process=} ;;
  esac
done
case "$cmd" in
  create|run) strip "${bundle:-.}/config.json" .process.capabilities ;;
  exec) [ -z "$process" ] || strip "$process" .capabilities ;;
esac
exec "$REAL" "$@"
EOF
  } | write_if_changed "$WRAPPER" 0755)
  [ -n "$r" ] && say "wrote $WRAPPER (wraps $real_runc)" || say "runtime wrapper up to date: $WRAPPER"
fi

# --- dockerd configuration ---------------------------------------------------------------------
mkdir -p "$(dirname "$DAEMON_JSON")"
current='{}'
[ -s "$DAEMON_JSON" ] && current=$(cat "$DAEMON_JSON")
if [ $lacks_sys_resource = 1 ]; then
  desired=$(jq --arg n "$RUNTIME_NAME" --arg p "$WRAPPER" '.runtimes[$n] = {path: $p} | ."default-runtime" = $n' <<<"$current")
else
  # The host has the capability: plain runc, and no trace of the wrapper.
  desired=$(jq --arg n "$RUNTIME_NAME" 'if ."default-runtime" == $n then del(."default-runtime") else . end | if .runtimes then .runtimes |= del(.[$n]) else . end | if .runtimes == {} then del(.runtimes) else . end' <<<"$current")
fi
r=$(jq . <<<"$desired" | write_if_changed "$DAEMON_JSON" 0644)
[ -n "$r" ] && { config_changed=1; say "wrote $DAEMON_JSON"; } || say "$DAEMON_JSON up to date"

# --- dockerd -----------------------------------------------------------------------------------
wait_docker() {
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && return 0; sleep 1; done
  tail -20 "$DOCKERD_LOG" >&2 || true
  die "dockerd did not answer within 60 s (log: $DOCKERD_LOG)"
}
if docker info >/dev/null 2>&1; then
  if [ -n "$config_changed" ]; then
    # runtimes and default-runtime are reloadable: SIGHUP keeps running containers.
    pid=$(cat /var/run/docker.pid 2>/dev/null || true)
    [ -n "$pid" ] || die "dockerd runs but /var/run/docker.pid is missing; restart it by hand"
    say "reloading dockerd (pid $pid) for the new configuration"
    kill -HUP "$pid"
    sleep 2
  else
    say "dockerd running"
  fi
else
  say "starting dockerd --iptables=false (log: $DOCKERD_LOG)"
  (setsid dockerd --iptables=false >>"$DOCKERD_LOG" 2>&1 </dev/null &)
fi
wait_docker
runtime=$(docker info --format '{{.DefaultRuntime}}')
say "docker $(docker version --format '{{.Server.Version}}'), default runtime $runtime"
if [ $lacks_sys_resource = 1 ] && [ "$runtime" != "$RUNTIME_NAME" ]; then
  die "dockerd's default runtime is $runtime, expected $RUNTIME_NAME (was dockerd started with other flags?)"
fi

# --- kind network ------------------------------------------------------------------------------
if docker network inspect kind >/dev/null 2>&1; then
  say "docker network kind exists ($(docker network inspect kind --format '{{range $i, $c := .IPAM.Config}}{{if $i}} {{end}}{{$c.Subnet}}{{end}}'))"
else
  mtu=$(docker network inspect bridge --format '{{index .Options "com.docker.network.driver.mtu"}}' 2>/dev/null || true)
  args=(network create -d=bridge -o com.docker.network.bridge.enable_ip_masquerade=true)
  [ -n "$mtu" ] && args+=(-o "com.docker.network.driver.mtu=$mtu")
  docker "${args[@]}" kind >/dev/null
  say "created docker network kind ($(docker network inspect kind --format '{{range $i, $c := .IPAM.Config}}{{if $i}} {{end}}{{$c.Subnet}}{{end}}'), IPv4 only)"
fi
# --- inotify limits (shared by every kind node) ------------------------------------------------
raise_sysctl() { # key minimum
  local cur; cur=$(sysctl -n "$1")
  if [ "$cur" -ge "$2" ]; then say "$1 = $cur (>= $2)"
  else sysctl -qw "$1=$2"; say "$1 raised from $cur to $2"; fi
}
raise_sysctl fs.inotify.max_user_instances 512
raise_sysctl fs.inotify.max_user_watches 524288
say "ready"
