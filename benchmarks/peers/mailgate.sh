#!/usr/bin/env bash
# mailgate instance for benchmarks.
#   mailgate.sh start PORT WORKDIR   -> mailgate smtpd on 127.0.0.1:PORT, spool in WORKDIR/spool
#   mailgate.sh stop  PORT WORKDIR   -> SIGTERM to the JVM started here (pid in WORKDIR/server.pid)
# Mode: the daemon's defaults (accept any recipient, no DNS, no TLS, every message fsync'd and renamed into
# the spool's queue/ before the 250, with group commit). Runs the jars in $MAILGATE_LIB, or a private copy
# of dist/target/lib made in WORKDIR/lib (built by bin/mailgate first if needed), with bin/mailgate's JVM
# flags. Logging: PEER_LOGS=file (default) writes the maillog to WORKDIR/maillog; PEER_LOGS=min sends it to
# /dev/null. MAILGATE_ARGS adds daemon flags (e.g. "--profile low-cpu").
set -euo pipefail
cmd="${1:?usage: mailgate.sh start|stop PORT WORKDIR}"; PORT="${2:?PORT}"; WORK="${3:?WORKDIR}"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
mkdir -p "$WORK"; WORK=$(cd "$WORK" && pwd)
PIDF="$WORK/server.pid"

stop() { stop_pid "$PIDF" "mailgate.reactor.SmtpdMain"; cg_remove; }

start() {
  if [ -f "$PIDF" ] && kill -0 "$(cat "$PIDF")" 2>/dev/null; then
    echo "mailgate.sh: already running (pid $(cat "$PIDF"))" >&2; exit 1
  fi
  if [ -z "${MAILGATE_LIB:-}" ]; then MAILGATE_LIB=$(snapshot_mailgate "$WORK/lib"); fi
  export MAILGATE_LIB
  retire "$WORK/spool"; rm -rf "$WORK/maillog"; mkdir -m 700 "$WORK/spool"
  if [ "${PEER_LOGS:-file}" = file ]; then echo "maillog.file = $WORK/maillog" > "$WORK/mailgate.conf"
  else echo "maillog.file = /dev/null" > "$WORK/mailgate.conf"; fi
  cg_setup mailgate
  # shellcheck disable=SC2086
  launch "$WORK/mailgate.out" bash -c '. "$1"; shift; mg run "$@"' _ "$HERE/lib.sh" \
    --listen "127.0.0.1:$PORT" --spool "$WORK/spool" --config "$WORK/mailgate.conf" ${MAILGATE_ARGS:-}
  if wait_smtp "$PORT" "$(cat "$PIDF")" 600; then
    echo "mailgate.sh: listening on 127.0.0.1:$PORT (pid $(cat "$PIDF"))" >&2; return 0
  fi
  echo "mailgate.sh: did not start; mailgate.out:" >&2; tail -30 "$WORK/mailgate.out" >&2; stop; exit 1
}

case "$cmd" in start) start ;; stop) stop ;; *) echo "usage: mailgate.sh start|stop PORT WORKDIR" >&2; exit 64 ;; esac
