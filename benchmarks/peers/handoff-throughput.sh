#!/usr/bin/env bash
# Handoff throughput to a private Postfix (hold queue, fsync per message): fill a spool with MSGS messages
# through smtpd, then time `bin/mailgate handoff` draining queue/ to Postfix, once per mode in MODES, in turn.
#   benchmarks/peers/handoff-throughput.sh
# Environment: MSGS (5000), WORKERS (4), MODES ("none required none required"; handoff.tls values, required
#   also verifies Postfix's certificate), PORT_SMTPD (14525), PORT_POSTFIX (14526), WORK (benchmarks/peers/work/handoff)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
. "$HERE/lib.sh"
MSGS="${MSGS:-5000}"; WORKERS="${WORKERS:-4}"; MODES="${MODES:-none required none required}"
PORT_SMTPD="${PORT_SMTPD:-14525}"; PORT_POSTFIX="${PORT_POSTFIX:-14526}"
WORK="${WORK:-$HERE/work/handoff}"
mkdir -p "$WORK"; WORK=$(cd "$WORK" && pwd)
export RETIRE_DIR="$WORK/retired.$$"
PEER_TLS=may "$HERE/postfix.sh" start "$PORT_POSTFIX" "$WORK/postfix" 2>>"$WORK/servers.log"
cleanup() { "$HERE/postfix.sh" stop "$PORT_POSTFIX" "$WORK/postfix" >/dev/null 2>&1 || true; rm -rf "$RETIRE_DIR"; }
trap cleanup EXIT
echo "| run | handoff.tls | drained in (s, incl. JVM start) | msgs/s | sent | deferred |"
echo "|---|---|---:|---:|---:|---:|"
run=0
for mode in $MODES; do
  run=$((run + 1))
  spool="$WORK/spool"; retire "$spool"; mkdir -m 700 "$spool"
  "$REPO/bin/mailgate" smtpd --listen "127.0.0.1:$PORT_SMTPD" --spool "$spool" > "$WORK/smtpd.log" 2>&1 &
  smtpd=$!
  wait_smtp "$PORT_SMTPD" "$smtpd"
  "$REPO/bin/mailgate" load --target "127.0.0.1:$PORT_SMTPD" --connections 10 --messages "$MSGS" --quiet --json \
    > "$WORK/load.json"
  kill "$smtpd"; wait "$smtpd" || true
  {
    echo "handoff.next-hop = smtp://127.0.0.1:$PORT_POSTFIX"
    echo "handoff.workers = $WORKERS"
    echo "handoff.tls = $mode"
    if [ "$mode" = required ]; then
      echo "handoff.tls-verify = true"
      echo "handoff.tls-trust = $WORK/postfix/etc/tls-cert.pem"
    fi
  } > "$WORK/handoff.conf"
  start=$(date +%s.%N)
  "$REPO/bin/mailgate" handoff --spool "$spool" --handoff-config "$WORK/handoff.conf" > "$WORK/handoff.$run.log" 2>&1 &
  handoff=$!
  while [ -n "$(ls -A "$spool/queue")" ]; do
    kill -0 "$handoff" 2>/dev/null || { echo "handoff died: $(tail -5 "$WORK/handoff.$run.log")" >&2; exit 1; }
    sleep 0.05
  done
  end=$(date +%s.%N)
  kill "$handoff"; wait "$handoff" || true
  sent=$(grep -c 'status=sent' "$WORK/handoff.$run.log" || true)
  deferred=$(grep -c 'status=deferred' "$WORK/handoff.$run.log" || true)
  python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); print('| %s | %s | %.2f | %.0f | %s | %s |' % (sys.argv[3], sys.argv[4], s, int(sys.argv[5])/s, sys.argv[6], sys.argv[7]))" \
    "$start" "$end" "$run" "$mode" "$MSGS" "$sent" "$deferred"
done
