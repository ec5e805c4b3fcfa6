#!/usr/bin/env bash
# smtpd alone vs smtpd asking one subsystem process over Aeron IPC, same machine, alternating rounds.
#   subsystem-overhead.sh filter     content filter at end of data, 1 KiB and 100 KiB messages
#   subsystem-overhead.sh router     router at MAIL and RCPT, 1 KiB messages
# Prints one line per run: "<alone|ROLE> size=N round=R <load generator --json summary>".
set -u
ROLE="${1:?usage: subsystem-overhead.sh filter|router}"
MG="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/bin/mailgate"
W=$(mktemp -d /tmp/mg-overhead.XXXXXX); AD=/dev/shm/mg-overhead-$$/aeron
SIZES=$([ "$ROLE" = filter ] && echo "1024 102400" || echo "1024")
ROLE_ARGS=(); [ "$ROLE" = filter ] && ROLE_ARGS=(--spool "$W/f/spool")
run_load() { "$MG" load --target "127.0.0.1:$1" --connections 20 --messages "$2" --per-connection 100 --size "$3" --json --quiet 2>/dev/null; }
wait_for() { until [ -f "$1" ] && grep -q "$2" "$1"; do sleep 0.1; done; }
for round in 1 2; do
  for size in $SIZES; do
    n=$([ "$size" = 1024 ] && echo 10000 || echo 2000)
    rm -rf "$W/a"; mkdir -p "$W/a"
    "$MG" smtpd --listen 127.0.0.1:2801 --spool "$W/a/spool" --set maillog.file="$W/a/maillog" > "$W/a/out" 2>&1 & P=$!
    wait_for "$W/a/out" "listening on"
    run_load 2801 1000 "$size" > /dev/null
    echo "alone size=$size round=$round $(run_load 2801 "$n" "$size")"
    kill $P; wait $P 2>/dev/null
    rm -rf "$W/f"; mkdir -p "$W/f"; chmod 700 "$W/f"
    "$MG" driver --aeron-dir "$AD" > "$W/f/driver.out" 2>&1 & D=$!
    wait_for "$W/f/driver.out" "running"
    "$MG" "$ROLE" "${ROLE_ARGS[@]}" --set ipc.aeron-dir="$AD" --set ipc.secret-file="$W/f/secret" > "$W/f/role.out" 2>&1 & F=$!
    wait_for "$W/f/role.out" "ready"
    "$MG" smtpd --listen 127.0.0.1:2802 --spool "$W/f/spool" --set maillog.file="$W/f/maillog" --set "$ROLE.mode=aeron" \
      --set ipc.aeron-dir="$AD" --set ipc.secret-file="$W/f/secret" > "$W/f/out" 2>&1 & P=$!
    wait_for "$W/f/out" "listening on"
    run_load 2802 1000 "$size" > /dev/null
    echo "$ROLE size=$size round=$round $(run_load 2802 "$n" "$size")"
    kill $P $F; wait $P $F 2>/dev/null; kill $D; wait $D 2>/dev/null
  done
done
rm -rf "$W" "$(dirname "$AD")"
