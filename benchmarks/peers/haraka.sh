#!/usr/bin/env bash
# Haraka instance for benchmarks.
#   haraka.sh start PORT WORKDIR   -> Haraka on 127.0.0.1:PORT, config in WORKDIR/haraka, mail in WORKDIR/spool
#   haraka.sh stop  PORT WORKDIR   -> stops the Haraka started here (pid in WORKDIR/server.pid)
# Mode: plugins are only bench_accept (accept any recipient, no rDNS lookup) and queue/durable_file
# (one file per message, fsync()ed and closed before the 250). No DNS, no TLS, no auth, no greylisting.
# One worker unless HARAKA_NODES is set (e.g. HARAKA_NODES=cpus). Logging to WORKDIR/haraka.out:
# PEER_LOGS=file (default) keeps Haraka's default level info; PEER_LOGS=min uses warn (nothing per message);
# HARAKA_LOGLEVEL overrides both.
set -euo pipefail
cmd="${1:?usage: haraka.sh start|stop PORT WORKDIR}"; PORT="${2:?PORT}"; WORK="${3:?WORKDIR}"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
mkdir -p "$WORK"; WORK=$(cd "$WORK" && pwd)
CONF="$WORK/haraka"; PIDF="$WORK/server.pid"

stop() { stop_pid "$PIDF" haraka; cg_remove; }

start() {
  if [ -f "$PIDF" ] && kill -0 "$(cat "$PIDF")" 2>/dev/null; then
    echo "haraka.sh: already running (pid $(cat "$PIDF"))" >&2; exit 1
  fi
  command -v haraka >/dev/null || { echo "haraka.sh: haraka not installed (run install.sh)" >&2; exit 1; }
  rm -rf "$CONF"; retire "$WORK/spool"
  haraka -i "$CONF" >/dev/null
  cp -r "$HERE/haraka/plugins/." "$CONF/plugins/"
  mkdir -p "$WORK/spool"
  printf 'bench_accept\nqueue/durable_file\n' > "$CONF/config/plugins"
  {
    echo "listen=127.0.0.1:$PORT"
    [ -n "${HARAKA_NODES:-}" ] && echo "nodes=$HARAKA_NODES"
    echo "force_shutdown_timeout=5"
  } > "$CONF/config/smtp.ini"
  printf '[main]\nlevel=%s\ntimestamps=false\nformat=default\n' "${HARAKA_LOGLEVEL:-$([ "${PEER_LOGS:-file}" = file ] && echo info || echo warn)}" > "$CONF/config/log.ini"
  printf '[main]\ndir=%s\n' "$WORK/spool" > "$CONF/config/durable_file.ini"
  echo "haraka-peer.localdomain" > "$CONF/config/me"
  : > "$CONF/config/host_list"
  cg_setup haraka
  launch "$WORK/haraka.out" haraka -c "$CONF"
  if wait_smtp "$PORT" "$(cat "$PIDF")"; then
    echo "haraka.sh: listening on 127.0.0.1:$PORT (pid $(cat "$PIDF"))" >&2; return 0
  fi
  echo "haraka.sh: did not start; haraka.out:" >&2; tail -30 "$WORK/haraka.out" >&2; stop; exit 1
}

case "$cmd" in start) start ;; stop) stop ;; *) echo "usage: haraka.sh start|stop PORT WORKDIR" >&2; exit 64 ;; esac
